"""Usage readings: a quantity with a unit, labelled as usage on its line or in its column.

Rate lines ("512 kWh @ $0.12") and tier bounds ("0-500 kWh") name quantities too; only lines that say
usage (or sit under a "Usage" column) count, and "total" wordings win. Last year's usage,
averages and unit notes ("1 CCF = 748 gallons") are never the reading; a thousand-gallon note
("Usage (1,000 gal)   8") multiplies the figure it labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from extraction.rules.layout import Cell, Line, cells
from extraction.values import (
    CONVERSION_BEFORE,
    GALLON_SCALE_RE,
    UNIT_RE,
    allowance,
    normalize_unit,
    scaled_figure,
    signed_quantity,
    take_account_number,
    within,
)
from shared.bill import Commodity, UsageReading, UsageUnit

_TOTAL = r"total\s+(?:usage|consumption|kwh|energy\s+used)"
_USAGE = r"usage|used|consumption|billed|units"
_RATE = re.compile(r"[@$\u00d7]|\bx\s|\bper\b|/\s*(?:1,?0+\s*)?(?:kwh|therm|ccf|hcf|k?gal)", re.IGNORECASE)
"""A rate's cell: "$0.12/kWh", "5.20 per kgal", "5.20/1,000 gal"."""
_COMMODITY_WORD = re.compile(r"\b(electric(?:ity)?|gas|water|sewer)\b", re.IGNORECASE)
_OTHER_PERIOD = re.compile(
    r"\b(?:previous|prior|last\s+(?:year|month|period|bill|cycle)|year\s+ago|same\s+(?:period|month|time)"
    r"|average|avg|daily|per\s+day|history"
    r"|(?:last|past)\s+(?:\d+|twelve)\s+months|(?:12|13|24|twelve)[-\s]months?|annual|yearly|year[-\s]to[-\s]date"
    r"|ytd)\b",
    re.IGNORECASE,
)
_METER_READ = re.compile(
    r"\b(?:current|present|end(?:ing)?|start(?:ing)?|beginning|meter)\s+read(?:ing)?s?\b", re.IGNORECASE
)
"""A meter's register ("Current read 23,239 kWh"): where the meter stands, not what was used."""
_SCALE = re.compile(r"(?:\(|\b(?:in|of|per))\s*$", re.IGNORECASE)
_TIER_BOUND = re.compile(
    r"(?:\b(?:over|above|first|next|up\s+to|excess\s+of|exceeding|beyond|from)|[<>\u2264\u2265]"
    r"|\d\s*(?:[-\u2013\u2014]|to|through|thru))\s*$",
    re.IGNORECASE,
)
_POWER_OF_TEN = re.compile(r"10*(?:\.0*)?")
_LAST_FIGURE = re.compile(r"\d(?!\s*-?\s*months?\b)(?=\D*$)")
"""The figure a wording starts after; not a count of months ("last 12 months", "12-month"), which is wording."""
_CLAUSE_END = re.compile(r"[(,;]")
_METER = re.compile(r"meter\s*(?:number|no\.?|#|id)?\s*:?\s*", re.IGNORECASE)
_BY_UNIT = {
    UsageUnit.KWH: Commodity.ELECTRICITY,
    UsageUnit.THERM: Commodity.GAS,
    UsageUnit.GAL: Commodity.WATER,
}
_BY_WORD = {
    "electric": Commodity.ELECTRICITY,
    "electricity": Commodity.ELECTRICITY,
    "gas": Commodity.GAS,
    "water": Commodity.WATER,
    "sewer": Commodity.WATER,
}


@dataclass(frozen=True)
class _Seen:
    commodity: Commodity
    quantity: Decimal
    unit: UsageUnit
    priority: int
    line: int


def read_usage(
    lines: Sequence[Line], *, extra_labels: Sequence[str], ccf_default: Commodity | None
) -> tuple[list[UsageReading], bool]:
    """One reading per commodity, and whether usage lines disagreed."""
    labels = re.compile("|".join([_TOTAL, *extra_labels, _USAGE]), re.IGNORECASE)
    total = re.compile("|".join([_TOTAL, *extra_labels]), re.IGNORECASE)
    seen: list[_Seen] = []
    for index in range(len(lines)):
        for column, quantity, unit, wording in _quantities(lines, index):
            if _OTHER_PERIOD.search(wording) or _METER_READ.search(wording):
                continue
            priority = _priority(lines, index, column, labels, total)
            if priority is None:
                continue
            commodity = _commodity(lines, index, unit, ccf_default)
            if commodity is None:
                continue
            seen.append(_Seen(commodity, quantity, unit, priority, index))
    readings: list[UsageReading] = []
    conflict = False
    for commodity in Commodity:
        mine = [s for s in seen if s.commodity is commodity]
        if not mine:
            continue
        best = min(mine, key=lambda s: (s.priority, s.line))
        conflict |= _disagree(best, mine)
        meter = _meter_near(lines, best.line)
        readings.append(UsageReading(commodity=commodity, quantity=best.quantity, unit=best.unit, meter_number=meter))
    return readings, conflict


def _disagree(best: _Seen, seen: Sequence[_Seen]) -> bool:
    """Readings as well labelled as the best that differ from it; or less well labelled ones that
    differ and do not add up to it (on-peak 150 and off-peak 200 under a total of 350 agree).

    Only in the best reading's unit: a gas bill prints its 92 CCF and the 95.3 therms they make,
    a water bill its 12 CCF and their 8,976 gallons; neither is a conflict."""
    seen = [s for s in seen if s.unit is best.unit]
    if any(s.quantity != best.quantity for s in seen if s.priority == best.priority):
        return True
    parts = [s.quantity for s in seen if s.priority != best.priority and s.quantity != best.quantity]
    return bool(parts) and sum(parts, Decimal(0)) != best.quantity


def _quantities(lines: Sequence[Line], index: int) -> Iterator[tuple[int, Decimal, UsageUnit, str]]:
    """The quantities on a line that could be a reading: where each stands, its value, unit and wording.

    A thousand-gallon note ("Usage (1,000 gal)   8", "Usage (kgal)   8") gives the figure it heads,
    multiplied out; see ``_unit_quantities`` for the rest."""
    text = lines[index].text
    line_cells = cells(text)
    notes = list(GALLON_SCALE_RE.finditer(text)) if "gal" in lines[index].folded else []
    for note, cell in _reading_notes(text, line_cells, notes):
        gallons = _gallons_noted(lines, index, note, cell, line_cells)
        if gallons is not None:  # a column heading: "Previous" a column away is another heading
            yield note.start(), gallons, UsageUnit.GAL, cell.text
    for match, cell in _unit_quantities(text, line_cells, notes):
        quantity = signed_quantity(match.group("sign"), match.group("q"))
        yield match.start(), quantity, UsageUnit(normalize_unit(match.group("u"))), _wording(text, match, cell)


def gallons_read(text: str) -> Iterator[Decimal]:
    """The gallons that could be a reading, printed ("4,500 gallons") or a note's own figure multiplied
    out ("4.5 kgal"), line by line of ``text``: what the evidence check confirms a gallon reading by on
    a bill counting in thousands of gallons. Any gallons on the page let a Gemini reading of a rate's
    "per 1,000 gallons", a tier's "first 3,000 gallons" or a minimum's "Minimum 2,000 gallons" through."""
    for text_line in text.splitlines():
        if "gal" not in text_line.lower():
            continue
        line_cells = cells(text_line)
        notes = list(GALLON_SCALE_RE.finditer(text_line))
        for note, _ in _reading_notes(text_line, line_cells, notes):
            if note["own"]:
                gallons = scaled_figure(note, "")
                if gallons is not None:
                    yield gallons
        for match, _ in _unit_quantities(text_line, line_cells, notes):
            if normalize_unit(match.group("u")) == UsageUnit.GAL:
                yield signed_quantity(match.group("sign"), match.group("q"))


def _reading_notes(
    text: str, line_cells: Sequence[Cell], notes: Sequence[re.Match[str]]
) -> Iterator[tuple[re.Match[str], Cell]]:
    """The thousand-gallon notes on a line that could give a reading, and their cells: not a rate's
    ("8 kgal @ $5.20"), a tier's bound ("over 3 kgal"), nor a minimum's ("Minimum 2 kgal")."""
    for note in notes:
        cell = next((c for c in line_cells if c.start <= note.start() < c.end), None)
        if cell is None or _RATE.search(cell.text) or _tier_bound(text, note):
            continue
        if allowance(text, note.start(), note.end()):
            continue
        yield note, cell


def _unit_quantities(
    text: str, line_cells: Sequence[Cell], notes: Sequence[re.Match[str]]
) -> Iterator[tuple[re.Match[str], Cell]]:
    """The quantities with a unit on a line that could be a reading, and their cells: not a rate's, a
    tier's bound, a minimum's, a unit's size, nor part of a thousand-gallon note (``notes``)."""
    spans = [note.span() for note in notes]
    for match in UNIT_RE.finditer(text):
        if within(spans, match.start()):
            continue
        cell = next((c for c in line_cells if c.start <= match.start() < c.end), None)
        if cell is None or _RATE.search(cell.text) or _tier_bound(text, match) or _unit_scale(text, match):
            continue
        if allowance(text, match.start(), match.end()):
            continue
        yield match, cell


def _unit_scale(text: str, match: re.Match[str]) -> bool:
    """ "in 100 CCF", "(1,000 gal minimum)", "1 CCF = 748 gallons": a unit or its size, not a reading."""
    before = text[: match.start()]
    if CONVERSION_BEFORE.search(before):
        return True
    return _POWER_OF_TEN.fullmatch(match.group("q").replace(",", "")) is not None and _SCALE.search(before) is not None


def _gallons_noted(
    lines: Sequence[Line], index: int, note: re.Match[str], cell: Cell, line_cells: Sequence[Cell]
) -> Decimal | None:
    """The gallons a scale note gives: its own figure ("8 kgal"), else the one it heads in the rest of its
    cell ("Usage (1,000 gal): 8"), else in the next cell, else in the one cell under it. The evidence check
    finds all but the last beside the note (in a table it could be any column's: a person looks)."""
    rest = lines[index].text[note.end() : cell.end]
    if note["own"] or rest.strip(" ):"):
        return scaled_figure(note, rest)
    after = next((c.text for c in line_cells if c.start >= cell.end), "")
    beside = scaled_figure(note, after)
    return beside if beside is not None else scaled_figure(note, _cell_under(lines, index, cell))


def _cell_under(lines: Sequence[Line], index: int, cell: Cell) -> str:
    """The one cell under ``cell`` on the next non-blank line of its page ("" if none or several)."""
    below = next((line for line in lines[index + 1 :] if line.text.strip()), None)
    if below is None or below.page != lines[index].page:
        return ""
    under = [c.text for c in cells(below.text) if c.start < cell.end and cell.start < c.end]
    return under[0] if len(under) == 1 else ""


def _tier_bound(text: str, match: re.Match[str]) -> bool:
    """ "0-500 kWh", "over 500 kWh", "first 20 therms": where a rate tier starts or ends, not a reading.

    Read as one, a tier line's bound was a third part beside the tiers' quantities, and a bill whose
    tiers add up to its total went to review as conflicting."""
    return _TIER_BOUND.search(text[: match.start()]) is not None


def _wording(text: str, match: re.Match[str], cell: Cell) -> str:
    """The words around a figure: from the figure before it on the line, to the end of its cell or
    of its clause.

    Not the whole line: a grid row reads "Previous 22,495   Current 22,739   Total usage 244 kWh";
    and not an aside: "744 kWh (same period last year: 690 kWh)" is this period's 744.
    """
    before = text[: match.start()]
    figure = _LAST_FIGURE.search(before)
    after = _CLAUSE_END.split(text[match.end() : cell.end], maxsplit=1)[0]
    return before[figure.end() if figure else 0 :] + after


def _priority(
    lines: Sequence[Line], index: int, column: int, labels: re.Pattern[str], total: re.Pattern[str]
) -> int | None:
    """0 for a "total usage" line, 1 for a usage line, 2 under a usage column, else None."""
    text = lines[index].text
    if total.search(text):
        return 0
    if labels.search(text):
        return 1
    for above in reversed(lines[max(0, index - 3) : index]):
        for cell in cells(above.text):
            label = labels.search(cell.text) if cell.start <= column < cell.end + 4 else None
            if label is not None:
                return None if _OTHER_PERIOD.search(_label_phrase(cell.text, label)) else 2
    return None


def _label_phrase(text: str, label: re.Match[str]) -> str:
    """A column label with the two words before it and the one after ("Average Daily Usage",
    "Usage History"), not the whole cell: a merged heading reads "Previous Read Current Read Usage"."""
    before = text[: label.start()].split()[-2:]
    after = text[label.end() :].split()[:1]
    return " ".join([*before, label.group(), *after])


def _commodity(lines: Sequence[Line], index: int, unit: UsageUnit, ccf_default: Commodity | None) -> Commodity | None:
    if unit in _BY_UNIT:
        return _BY_UNIT[unit]
    for line in reversed(lines[max(0, index - 8) : index + 1]):
        words = _COMMODITY_WORD.findall(line.text)
        if words:
            return _BY_WORD[words[-1].lower()]
    return ccf_default


def _meter_near(lines: Sequence[Line], index: int) -> str | None:
    """The meter number printed on, or a few lines above, the usage line (or under its label)."""
    for at in range(index, max(-1, index - 5), -1):
        match = _METER.search(lines[at].text)
        if match is None:
            continue
        found = take_account_number(lines[at].text[match.end() :])
        if found is None and at + 1 < len(lines):
            under = [c for c in cells(lines[at + 1].text) if c.start <= match.start() < c.end]
            found = take_account_number(under[0].text) if under else None
        if found is not None:
            return found.value
    return None
