"""The usage reader's work on a long line dense with figures: counted, never timed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extraction.rules import usage
from extraction.rules.layout import to_lines
from extraction.rules.usage import gallons_read, read_usage
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
    assert list(gallons_read(gallons)) == [Decimal(512), Decimal(100), Decimal(512)] * 100
    assert {name: counter.scanned for name, counter in counters.items()} == dict.fromkeys(counters, len(gallons))
