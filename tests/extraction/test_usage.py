"""The usage reader's work on a long line dense with figures: counted, never timed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extraction.rules import usage
from extraction.rules.layout import to_lines
from extraction.rules.usage import read_usage, readings_printed
from extraction.values import iter_money
from shared.bill import Commodity, UsageReading, UsageUnit
from tests.extraction.scanning import ScanCounter


@pytest.fixture
def counters(monkeypatch: pytest.MonkeyPatch) -> dict[str, ScanCounter]:
    """The patterns once looked for per figure, each over its whole cell or all of the line before it."""
    counted = {name: ScanCounter(getattr(usage, name)) for name in ("_RATE", "CONVERSION_BEFORE", "_SCALE")}
    for name, counter in counted.items():
        monkeypatch.setattr(usage, name, counter)
    return counted


# 300 figures in one cell, some of them powers of ten ("in 100 CCF" is a unit's size): ~3 kB.
LINE = "Total usage " + " ".join(["512 kWh", "100 kWh", "512 kWh"] * 100)


def test_a_line_of_figures_is_searched_once_for_rates_and_unit_sizes(counters: dict[str, ScanCounter]) -> None:
    """A 4.5 kB line of 300 figures took ~230 ms to read: a rate's wording was looked for in each figure's
    whole cell, a conversion's "=" and a scale's "in" in all of the line before it, once a figure. Each is
    looked for once a line now (a rate once a cell), whatever the number of figures."""
    readings, conflict = read_usage(to_lines([LINE]), extra_labels=(), ccf_default=None)
    assert conflict  # 512 kWh and 100 kWh, equally labelled, disagree: every figure was read
    assert readings == [UsageReading(commodity=Commodity.ELECTRICITY, quantity=Decimal(512), unit=UsageUnit.KWH)]
    assert {name: counter.scanned for name, counter in counters.items()} == dict.fromkeys(counters, len(LINE))


def test_the_evidence_checks_gallons_are_found_with_the_same_work(counters: dict[str, ScanCounter]) -> None:
    gallons = LINE.replace("kWh", "gallons")
    read = [quantity for quantity, unit in readings_printed(gallons) if unit is UsageUnit.GAL]
    assert read == [Decimal(512), Decimal(100), Decimal(512)] * 100
    assert {name: counter.scanned for name, counter in counters.items()} == dict.fromkeys(counters, len(gallons))


CACHED = ("_heads_a_meter_table", "_heads_a_usage_column", "_meter_column", "_column_unit", "_line_cells")
"""The usage reader's caches of a line's or a heading's reading."""


@pytest.mark.parametrize("heading", ["kWh Used", "kWh"])
def test_each_row_of_a_long_meter_table_costs_the_same_work(monkeypatch: pytest.MonkeyPatch, heading: str) -> None:
    """Every row of a meter table is read under its heading, however far down (a 3,000-row table's too): each row
    costs what the one before it did, not a look through all the rows above it."""
    counters = {name: ScanCounter(getattr(usage, name)) for name in ("_DIGIT", "_METER_HEADING")}
    for name, counter in counters.items():
        monkeypatch.setattr(usage, name, counter)

    def work(rows: int) -> int:
        table = [f"Meter        Previous     Present      {heading}"]
        table += [f"{26_000_000 + row}     10,000       10,100       100" for row in range(rows)]
        for counter in counters.values():
            counter.scanned = 0
        for cached in CACHED:
            getattr(usage, cached).cache_clear()  # each count starts as cold as the others
        readings, _ = read_usage(to_lines(["\n".join(table)]), extra_labels=(), ccf_default=None)
        assert [reading.quantity for reading in readings] == [Decimal(100)]
        assert sum(1 for _ in usage.readings_printed("\n".join(table))) == rows
        return sum(counter.scanned for counter in counters.values())

    assert work(3000) - work(2000) == work(2000) - work(1000) > 0


def test_the_lines_above_a_line_of_unlabelled_figures_are_read_once_not_once_a_figure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each figure with no label of its own looked for a column heading in the three lines above, reading each of
    them, its amounts too, again: 8,400 figures in 70 lines of a crafted upload held a worker's CPU for 5 s (15 s in
    200 kB; a security probe). Each line above is read once now."""
    reads: list[str] = []
    counted = iter_money

    def counting(text: str) -> object:
        reads.append(text)
        return counted(text)

    monkeypatch.setattr(usage, "iter_money", counting)
    figures = " ".join(["12 CCF", "3 HCF", "100 gallons"] * 40)
    lines = ["Readings noted this month for the probe", *[f"{n} {figures}" for n in range(5)]]
    read_usage(to_lines(["\n".join(lines)]), extra_labels=(), ccf_default=None)
    per_line = {text: reads.count(text) for text in set(reads)}
    assert per_line and max(per_line.values()) <= 2, per_line
