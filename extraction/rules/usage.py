"""Usage readings: a quantity with a unit, labelled as usage on its line or in its column.

Rate lines ("512 kWh @ $0.12") and tier bounds ("0-500 kWh") name quantities too; only lines that say
usage (or sit under a "Usage" column) count, and "total" wordings win, then a meter table's usage column.
Last year's usage, the neighbours', averages and unit notes ("1 CCF = 748 gallons") are never the reading; a
thousand-gallon note ("Usage (1,000 gal)   8") multiplies the figure it labels. The evidence check's
``readings_printed`` takes these, and what a person reads off layouts the reader does not ("Therms used  45").
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum

from extraction.rules.layout import Cell, Line, cells
from extraction.rules.vocabulary import without_false_commodities
from extraction.values import (
    CONVERSION_BEFORE,
    GALLON_SCALE_RE,
    METRIC_UNIT,
    MONTH_NAME,
    MONTHS,
    SCALED_UNIT,
    UNIT_RE,
    allowance_at,
    iter_money,
    normalize_unit,
    only_currency_marks,
    scaled_figure,
    scaled_quantity,
    signed_quantity,
    take_account_number,
    within,
)
from shared.bill import UNITS_BY_COMMODITY, Commodity, UsageReading, UsageUnit

_TOTAL = r"total\s+(?:usage|consumption|kwh|energy\s+used)"
_USAGE = r"usage|used|consumption|consumed|billed|units"
_UNIT_WORD = rf"(?:kwh|therms?|ccf|hcf|gallons?|gal|{METRIC_UNIT}|{SCALED_UNIT})"
_FACTOR_MAKES = rf"(?P<factor>\s*\d[\d.,]*(?:\s+[a-z]+){{0,3}}\s*)=\s*\d[\d.,]*\s*{_UNIT_WORD}\b"
"""After a heat factor's times sign, the factor, maybe named, and what the count makes: "96 CCF x| 1.0245 = 98.4
Therms", "113 CCF x| 1.0290 therm factor = 116.3 therms"."""
_HEAT_FACTOR = re.compile(rf"\s*(?:\u00d7|\bx\s|\*){_FACTOR_MAKES}", re.IGNORECASE)
"""What follows a gas meter's count that a heat factor converts: the therms it makes are the reading, neither the
count before them nor the factor ("1.0290 therm factor")."""
_RATE = re.compile(
    rf"[@$]|(?:\u00d7|\bx\s)(?!{_FACTOR_MAKES})|\bper\b|/\s*(?:1,?0+\s*)?(?:kwh|therm|ccf|hcf|k?gal|{METRIC_UNIT})",
    re.IGNORECASE,
)
"""A rate's cell: "$0.12/kWh", "5.20 per kgal", "5.20/1,000 gal", "512 kWh x 0.1123"; not a heat factor's."""
_COMMODITY_WORD = re.compile(r"\b(electric(?:ity)?|gas|water|sewer)\b", re.IGNORECASE)
_ANOTHER_PERIOD = (
    rf"\b(?:previous|prior|last\s+(?:year|month|period|bill|cycle|{MONTH_NAME})|year\s+ago|same\s+(?:period|month|time)"
    r"|average|avg|daily|per\s+day|history"
    r"|next\s+(?:month|period|bill(?:ing)?|cycle|year)|projected|forecast|expected\s+(?:usage|use|consumption)"
    r"|months?\s+ago|carr(?:y|ied)\s*(?:over|forward|to)|carryover|unbilled"
    r"|neighbou?rs?|similar\s+(?:homes?|households?)|efficient\s+(?:homes?|households?))\b"
)
"""Another period's usage, or another home's: a comparison's "Efficient neighbors used 610 kWh" was the reading, as
were "Projected usage next month: 1,310 kWh" and "Usage 12 months ago" where this period's went unread (75B)."""
_LONGER_PERIOD = (
    r"\b(?:(?:last|past)\s+(?:\d+|twelve)\s+months|(?:12|13|24|twelve)[-\s]months?|annual|yearly"
    r"|year[-\s]to[-\s]date|ytd)\b"
)
_SEWER = re.compile(r"\bsewer\b", re.IGNORECASE)
_WATER = re.compile(r"\bwater\b", re.IGNORECASE)
"""A sewer volume ("Sewer usage: 5,000 gallons (winter cap)") is billed on a cap or a winter average, not the meter:
it witnesses against the water reading, never is it (an extraction probe, 75B: the meter row unread, it was stored)."""
_OTHER_PERIOD = re.compile(_ANOTHER_PERIOD, re.IGNORECASE)
_OVER_A_YEAR = re.compile(_LONGER_PERIOD, re.IGNORECASE)
"""Wording that names a year's usage ("Annual usage", "last 12 months") or a year's plan ("12-month budget
billing"): only the former, next to its figure, makes the figure another period's (``_PERIOD_TAIL``)."""
_OTHER_HEADING = re.compile(f"{_ANOTHER_PERIOD}|{_LONGER_PERIOD}", re.IGNORECASE)
_READING_LABELS = re.compile(f"{_TOTAL}|{_USAGE}", re.IGNORECASE)
"""Any usage label: whatever labels a figure, a register's or a minimum's wording makes it no reading."""
_PART = re.compile(r"\b(?:(?:super\s+)?(?:on|off|mid)[-\s]?peak|shoulder)\b", re.IGNORECASE)
"""A time-of-use part's wording: on its line, Duke's total wording ("On-peak energy used 400 kWh") names a part."""
_TOTAL_LINE, _IN_A_METER_TABLE, _USAGE_LINE, _UNDER_A_LABEL = range(4)
"""How well a figure is labelled as the reading, best first. A meter table's usage column is the meter's own count:
a usage line in prose (a neighbours' comparison, an on-peak part) must not replace it, only disagree with it."""
_REGISTER_HEADING = re.compile(
    r"(?:prev(?:ious)?|pres(?:ent)?|curr(?:ent)?|prior|beginning|start(?:ing)?|end(?:ing)?)\b", re.IGNORECASE
)
_METER_HEADING = re.compile(r"meter\b", re.IGNORECASE)
"""A meter table's column headings: its meter's ("Meter #") and a register's ("Previous", "Present Read", or cut
short as a co-op's "Prev Read   Pres Read"), which make its usage column the meter's count; a history's
("Month   Previous   kWh Used") is no meter's."""
_PREVIOUS = re.compile(r"(?:prev(?:ious)?|prior|beginning|start(?:ing)?|last)\b", re.IGNORECASE)
_PRESENT = re.compile(r"(?:pres(?:ent)?|curr(?:ent)?|end(?:ing)?|this)\b", re.IGNORECASE)
"""The two registers a count is the difference of ("Previous   Present", "Beginning   Ending")."""
_METER_ROW = re.compile(
    r"\bmeter\b.*?\b(?:prev(?:ious)?|prior|beginning)\b.*?\b(?:pres(?:ent)?|curr(?:ent)?|end(?:ing)?)\b", re.IGNORECASE
)
"""A meter's row naming both its registers ("Gas  Meter G-9930215  Previous 7,102  Present 7,215  113 CCF"): the
quantity it prints in a unit is the meter's count, as a usage word's would be."""
_START_REGISTER = re.compile(r"\b(?:prev(?:ious)?|prior|beginning|from)\b", re.IGNORECASE)
_END_REGISTER = re.compile(r"\b(?:pres(?:ent)?|curr(?:ent)?|end(?:ing)?|to)\b", re.IGNORECASE)
_METER_WORD = re.compile(r"\bmeter\b", re.IGNORECASE)
"""A meter's row naming both its registers ("Previous 40,012 kWh   Present 41,190 kWh", or "From ... To ..." after
its meter): the figures their words stand right before are where the meter stood and stands, not what was used.
The present register had been the reading, accepted."""
_METER_READ = re.compile(
    r"\b(?:curr(?:ent)?|pres(?:ent)?|prev(?:ious)?|prior|last|end(?:ing)?|start(?:ing)?|beginning|meter)\s+read(?:ing)?s?\b",
    re.IGNORECASE,
)
"""A meter's register ("Current read 23,239 kWh"): where the meter stands, not what was used."""
_SEPARATORS = r"[\s:,.()#/'\u2019\u2013\u2014-]|\bs\b"
_UNITS = rf"\b(?:kwh|therms?|ccf|hcf|k?gal(?:lons?)?|{METRIC_UNIT}|{SCALED_UNIT})\b"
_CELL_GAP = re.compile(r"[ \t]{2,}|\t")
_READ_TYPE = r"\b(?:actual|act|estimated|est|customer|e|a)\b"
"""A register's read-type note: "Current read (actual) 23,729", "Present Reading (Est.) 23,729", "reading E 23,729"."""
_REGISTER_TAIL = re.compile(rf"(?:{_SEPARATORS}|{_UNITS}|{_READ_TYPE})*", re.IGNORECASE)
_PERIOD_TAIL = re.compile(
    rf"(?:{_SEPARATORS}|{_UNITS}|\b(?:period|total|daily|monthly|usage|use|used|consumption|billed|energy|water"
    r"|gas|sewer|electric(?:ity)?)\b)*",
    re.IGNORECASE,
)
"""What may stand between a qualifier and its figure: "Annual usage: ", "last 12 months: ", "Current read "; not
"12-month budget billing): ", where the qualifier is the billing plan's and the figure this period's usage."""
_SCALE = re.compile(r"(?:\(|\b(?:in|of|per))\s*", re.IGNORECASE)
"""What stands before a unit's size ("in 100 CCF", "(1,000 gal"): a match ends where the size starts."""
_TIER_BOUND = re.compile(
    r"(?:\b(?:over|above|first|next|up\s+to|excess\s+of|exceeding|beyond|from)|[<>\u2264\u2265]"
    r"|\d\s*(?:[-\u2013\u2014]|to|through|thru))\s*$",
    re.IGNORECASE,
)
_TIER_WORDS_WITHIN = 80
"""How far before a quantity ``_tier_bound`` looks: a tier's wording stands next to its bound, and a search
of the whole line before every quantity and note was quadratic on a long line."""
_WORDING_WITHIN = 200
"""How far from a figure its wording reaches, each way (see ``_wording``)."""
_NAMES_A_UNIT = re.compile(rf"\b{_UNIT_WORD}\b", re.IGNORECASE)
_UNIT_ALONE = re.compile(_UNIT_WORD, re.IGNORECASE)
_UNIT_LABEL_END = re.compile(
    rf"\b(?:(?:{_UNIT_WORD}|{_TOTAL}|{_USAGE}|total|energy|water|gas|electric(?:ity)?)\b[\s:()]*)+$", re.IGNORECASE
)
"""A label naming a figure's unit that ends where the figure starts ("Therms used: ", "Consumption (CCF)   "):
not one a register's or another period's wording ends ("Usage (kWh): Current ")."""
_BARE_FIGURE = re.compile(
    r"(?<![\w.,$/\u2212-])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    rf"(?![\w.,/%:$-])(?![ \u00a0\u2009\u202f]?{_UNIT_WORD}\b)(?!\s*(?:days?|months?)\b)",
    re.IGNORECASE,
)
"""A figure with no unit of its own, no amount, date, account or count of days."""
_MINIMUM_WORDING = re.compile(r"\b(?:minimum|min\b|allowance|includ)", re.IGNORECASE)
_TIER_WORDING = re.compile(r"\b(?:tier|block|step)\b", re.IGNORECASE)
_BRACKETED = re.compile(r"\s*(?:\(([^()]*)\))?\s*")
"""What may follow a figure in its cell on a row comparing periods: nothing, or the period in brackets."""
_HEADING_LINES = 3
"""How far above a figure its column's heading may stand (the reader's ``_under_a_label`` looks as far); in a meter
table, as far as its rows run (``_Page.meter_table_heads``)."""
_DIGIT = re.compile(r"\d")
_POWER_OF_TEN = re.compile(r"10*(?:\.0*)?")
_LAST_FIGURE = re.compile(r"\d(?!\s*+(?:-\s*+)?months?\b)(?=\D*$)")
"""The figure a wording starts after; not a count of months ("last 12 months", "12-month"), which is wording.
Possessive: "spaces, dash, spaces" tried every split of a run of spaces after each digit (a 500-line page of
"Usage 1 <985 spaces> 5 kWh" took 3 s)."""
_CLAUSE_END = re.compile(r"[(,;]")
_METER = re.compile(r"meter\s*(?:number|no\.?|#|id)?\s*:?\s*", re.IGNORECASE)
_BY_UNIT = {
    UsageUnit.KWH: Commodity.ELECTRICITY,
    UsageUnit.THERM: Commodity.GAS,
    UsageUnit.GAL: Commodity.WATER,
    UsageUnit.GJ: Commodity.GAS,
}
_BY_WORD = {
    "electric": Commodity.ELECTRICITY,
    "electricity": Commodity.ELECTRICITY,
    "gas": Commodity.GAS,
    "water": Commodity.WATER,
    "sewer": Commodity.WATER,
}


class _Aside(Enum):
    """A figure that is no reading: another period's, a register's or a minimum's (``DROP``); or one that a
    usage label names before the register or minimum wording, or before another period's wording after it
    (``DOUBT``: "Total usage (actual meter read): 744 kWh", "Total usage above minimum 1,234 gallons", "Total
    usage 1,234 gallons daily average 41 gallons"), which another line's reading must not quietly beat."""

    DROP = "drop"
    DOUBT = "doubt"
    ROW = "row"
    """A register in a grid row whose usage label is an earlier cell's ("Water usage   Current read 23,729
    gallons   Used 1,234 gallons"): doubted unless the reading is that row's."""


@dataclass(frozen=True)
class _Figure:
    column: int
    cell: int
    """Where its cell starts."""
    quantity: Decimal
    unit: UsageUnit
    before: str
    """Its wording before it: from the figure before it on the line (in its cell, for a note)."""
    after: str
    """Its wording after it: to the end of its cell or clause."""
    minimum: int | None
    """Where in ``before`` a minimum's wording starts (its length when the wording follows the figure)."""


class _Page(list[Line]):
    """The lines read for usage, with the meter table each line stands in."""

    @functools.cached_property
    def meter_table_heads(self) -> tuple[int | None, ...]:
        """For each line, the meter table's heading row (``_heads_a_meter_table``) over the run of table rows just
        above it, if any: a table's rows below its third stood too far under its heading, and a five-meter table's
        later meters were neither read nor confirmed. Found in one pass, since every figure of every line asks."""
        heads: list[int | None] = []
        head: int | None = None
        for index, line in enumerate(self):
            heads.append(head)
            if _heads_a_meter_table(line.text):
                head = index
            elif not _table_row(line.text):
                head = None
        return tuple(heads)

    @functools.cached_property
    def charged_commodities(self) -> dict[UsageUnit, frozenset[Commodity]]:
        """By unit, the commodities the page's charge rows that price a quantity in it name ("Water usage 9 CCF @
        $3.12  $28.08"), wherever they stand: found once, since every reading of a unit two commodities share may
        ask. A row naming no quantity names no reading's commodity: a gas bill's "Hot Water Tank Rental  $2.00"
        made its "88 CCF" water."""
        found: dict[UsageUnit, set[Commodity]] = {}
        for line in self:
            if not _charge_row(line.text):
                continue
            named = set(_commodities_named(line.text))
            for match in UNIT_RE.finditer(line.text) if named else ():
                found.setdefault(UsageUnit(normalize_unit(match.group("u"))), set()).update(named)
        return {unit: frozenset(commodities) for unit, commodities in found.items()}

    @functools.cached_property
    def charged_units(self) -> frozenset[UsageUnit]:
        """The units the page's charge rows name a quantity in ("Gas Supply Charge   91.3 therms   $0.52100   47.57"):
        found once, and only for a meter table whose headings name two units (``_charged_column``)."""
        return frozenset(
            UsageUnit(normalize_unit(match.group("u")))
            for line in self
            if _charge_row(line.text)
            for match in UNIT_RE.finditer(line.text)
        )


def _table_row(text: str) -> bool:
    """Whether a line reads as a row of a table: figures, in two cells or more."""
    return _DIGIT.search(text) is not None and _CELL_GAP.search(text.strip()) is not None


@dataclass(frozen=True)
class _Seen:
    commodity: Commodity
    quantity: Decimal
    unit: UsageUnit
    priority: int
    line: int
    cell: int = 0
    row: bool = False
    """Doubted only against another line's reading (``_Aside.ROW``)."""
    table: int | None = None
    """A meter table row's table: the line of its heading row."""


CONFLICTING = "conflicting_values:usage"
UNKNOWN_COMMODITY = "unknown_commodity:usage"
"""A reading the bill does not say the utility of ("HEATING SERVICE ... Previous 4410  Present 4473  Used 63 CCF":
gas or water?). It was dropped unsaid, and a dual-fuel bill was stored with its electricity alone (75B)."""
GAS_IN_KWH = "unit_mismatch:gas"
"""A gas reading printed in kWh ("Gas used: 2,610 kWh"), which no store holds as gas: it was stored as electricity
(75B)."""


def read_usage(
    lines: Sequence[Line], *, extra_labels: Sequence[str], ccf_default: Commodity | None
) -> tuple[list[UsageReading], list[str]]:
    """One reading per commodity, and the doubts about them (review reasons): usage lines that disagree, a reading of
    no utility named, a gas reading in kWh."""
    labels = re.compile("|".join([_TOTAL, *extra_labels, _USAGE]), re.IGNORECASE)
    total = re.compile("|".join([_TOTAL, *extra_labels]), re.IGNORECASE)
    lines = _Page(lines)
    seen: list[_Seen] = []
    doubted: list[_Seen] = []
    letterhead = _letterhead(lines)
    doubts: set[str] = set()
    for index in range(len(lines)):
        text = lines[index].text
        if _DIGIT.search(text) is None and "gal" not in lines[index].folded:
            continue  # no figure of its own, nor a thousand-gallon note heading one: most of a PDF's layout lines
        figures = _kept(_quantities(lines, index), _table_figures(lines, index), labels=labels, line=text)
        if not figures:
            figures = _kept(_labelled_on_its_line(lines, index), labels=labels, line=text)
        labelled = (
            None
            if not figures
            else _TOTAL_LINE
            if total.search(text)
            else _USAGE_LINE
            if labels.search(text) or _METER_ROW.search(text)
            else None
        )
        for figure, aside in figures:
            priority = _priority(lines, index, figure, labelled, labels)
            if priority is None:
                continue
            if aside is None and _gas_in_kwh(text, figure):
                doubts.add(GAS_IN_KWH)
                continue
            commodity = _commodity(lines, index, figure.unit, (ccf_default, letterhead))
            if commodity is None:
                if aside is None:
                    doubts.add(UNKNOWN_COMMODITY)
                continue
            table = _table_head(lines, index) if priority == _IN_A_METER_TABLE else None
            used = _meters_use(lines, index, figure) if table is not None else None
            if used is not None:
                figure, aside = replace(figure, quantity=used), _Aside.DOUBT
            found = _Seen(
                commodity, figure.quantity, figure.unit, priority, index, figure.cell, aside is _Aside.ROW, table
            )
            (seen if aside is None else doubted).append(found)
    readings: list[UsageReading] = []
    conflict = False
    reading_lines = {s.line for s in (*seen, *doubted)}
    for commodity in Commodity:
        mine = [s for s in seen if s.commodity is commodity]
        if not mine:
            continue
        best = _sum_of_rows(_best_reading(lines, mine), mine)
        conflict |= (
            _disagree(best, mine)
            or _rivals_disagree(best, mine)
            or _meters_disagree(lines, best, mine)
            or any(
                (d.line, d.cell) != (best.line, best.cell)
                and (d.quantity, d.unit) != (best.quantity, best.unit)
                and not _same_water_in_another_unit(best, d)
                for d in doubted
                if d.commodity is commodity and not (d.row and d.line == best.line)
            )
        )  # one cell's "Water usage: Present reading 23,729 gallons, 1,234 gallons used" names its reading
        rows = [*mine, *(d for d in doubted if d.commodity is commodity)]  # a table's doubted row agreeing names it
        meter = _meter_near(lines, best.line, best.cell, reading_lines) or _agreeing_rows_meter(
            lines, best, rows, reading_lines
        )
        readings.append(UsageReading(commodity=commodity, quantity=best.quantity, unit=best.unit, meter_number=meter))
    return readings, sorted(doubts | ({CONFLICTING} if conflict else set()))


def _gas_in_kwh(line: str, figure: _Figure) -> bool:
    """Whether a kWh figure's own cell names gas, and not electricity, before it ("Gas used: 2,610 kWh"): a gas
    reading in kWh. Its cell's alone: a line's other cells name gas on electric bills ("Natural gas generation 40%
    Total usage 640 kWh", "Total usage 640 kWh   Gas Meter 112233")."""
    label = line[figure.cell : figure.column]
    return figure.unit is UsageUnit.KWH and set(_commodities_named(label)) == {Commodity.GAS}


def _best_reading(lines: _Page, mine: Sequence[_Seen]) -> _Seen:
    """The best labelled reading, the first printed of those as well labelled; of as well labelled ones in several
    units (a gas bill's CCF and therms), the one in the unit the charge rows alone name a quantity in: "CCF used 118"
    above "Therms billed 122.4", charged "Distribution 122.4 therms @ $0.3120", stored the meter's 118 CCF."""
    first = min(mine, key=lambda s: (s.priority, s.line))
    rivals = [s for s in mine if s.priority == first.priority]
    units = {s.unit for s in rivals}
    if len(units) < 2:
        return first
    charged = units & lines.charged_units
    if len(charged) != 1 or first.unit in charged:
        return first
    return next(s for s in rivals if s.unit in charged)


def _rivals_disagree(best: _Seen, mine: Sequence[_Seen]) -> bool:
    """Whether readings as well labelled as the best, in another unit of it, differ among themselves: the best's unit
    chosen by the charges (``_best_reading``), "CCF used 118" beside "CCF billed 181" were still two readings."""
    rivals = [s for s in mine if s.priority == best.priority and s.unit is not best.unit]
    return any(len({s.quantity for s in rivals if s.unit is unit}) > 1 for unit in {s.unit for s in rivals})


def _kept(*found: Iterable[_Figure], labels: re.Pattern[str], line: str) -> list[tuple[_Figure, _Aside | None]]:
    """The figures found on ``line`` that are not dropped (``_set_aside``), each with its doubt if any."""
    asides = ((figure, _set_aside(figure, labels, line)) for figures in found for figure in figures)
    return [(figure, aside) for figure, aside in asides if aside is not _Aside.DROP]


def _sum_of_rows(best: _Seen, seen: Sequence[_Seen]) -> _Seen:
    """A usage line that adds up the meter table's rows, if the best reading is one of several rows: the rows are its
    parts. Two meters' rows with no total line disagreed with each other beside "Usage this period" adding them up."""
    if best.priority != _IN_A_METER_TABLE:
        return best
    rows = {(s.line, s.cell): s.quantity for s in seen if s.priority == best.priority and s.unit is best.unit}
    whole = sum(rows.values(), Decimal(0))
    lines = (s for s in seen if s.priority == _USAGE_LINE and s.unit is best.unit and s.quantity == whole)
    return next(lines, best) if len(rows) > 1 else best


def _agreeing_rows_meter(
    lines: Sequence[Line], best: _Seen, seen: Sequence[_Seen], reading_lines: set[int]
) -> str | None:
    """The meter of the meter table's rows that read what ``best`` reads: Duke's "Energy used" total beats the
    table's usage column, and printed apart from the table's meter, it was filed under none. Rows of several meters
    name none of them."""
    rows = [s for s in seen if s.priority == _IN_A_METER_TABLE and s.line != best.line]
    rows = [s for s in rows if (s.quantity, s.unit) == (best.quantity, best.unit)]
    meters = {meter for row in rows if (meter := _meter_near(lines, row.line, row.cell, reading_lines)) is not None}
    return meters.pop() if len(meters) == 1 else None


def _priority(lines: _Page, index: int, figure: _Figure, labelled: int | None, labels: re.Pattern[str]) -> int | None:
    """How well ``figure`` is labelled as the reading (``_TOTAL_LINE`` best): by its line's total label (a time-of-use
    part's total wording is a usage line's), else by its meter table's usage column, else by its line's usage label,
    else by a usage label over it. A meter row's own usage label ("Electric usage   1111   100   400   300 kWh")
    ranked it as a line in prose, and an on-peak line above it was as good a reading."""
    if labelled == _TOTAL_LINE and not _PART.search(figure.before):
        return _TOTAL_LINE
    if _in_a_meter_table(lines, index, figure):
        return _IN_A_METER_TABLE
    if labelled is not None:
        return _USAGE_LINE
    return _under_a_label(lines, index, figure.column, labels)


def _disagree(best: _Seen, seen: Sequence[_Seen]) -> bool:
    """Readings as well labelled as the best that differ from it; or less well labelled ones that
    differ and do not add up to it (on-peak 150 and off-peak 200 under a total of 350 agree).

    A gas bill prints its 92 CCF and the 95.3 therms they make (by a heat factor of the month's): only
    readings in the best one's unit are compared. Water's CCF and gallons are one measure, so a water bill's
    12 CCF and their 8,976 gallons agree, while a sewer line's "1 CCF" above "Water usage: 1,234 gallons"
    does not (``_water_disagrees``)."""
    if _water_disagrees(best, seen):
        return True
    seen = [s for s in seen if s.unit is best.unit]
    if any(s.quantity != best.quantity for s in seen if s.priority == best.priority):
        return True
    parts = [s.quantity for s in seen if s.priority != best.priority and s.quantity != best.quantity]
    return bool(parts) and sum(parts, Decimal(0)) != best.quantity and not _tables_add_up(best, seen)


def _tables_add_up(best: _Seen, seen: Sequence[_Seen]) -> bool:
    """Whether each meter table's rows, all of them, add up to the best reading (and any other parts do too): a
    second meter's 0 beside the first's 523 under "Total energy used 523 kWh" was a part of 0 that disagreed."""
    parts = [s for s in seen if s.priority != best.priority]
    rows = [s for s in parts if s.table is not None]
    if not rows:
        return False
    others = [s.quantity for s in parts if s.table is None and s.quantity != best.quantity]
    tables: dict[int | None, Decimal] = {}
    for row in rows:
        tables[row.table] = tables.get(row.table, Decimal(0)) + row.quantity
    agree = all(total == best.quantity for total in tables.values())
    return agree and (not others or sum(others, Decimal(0)) == best.quantity)


def _meters_disagree(lines: _Page, best: _Seen, seen: Sequence[_Seen]) -> bool:
    """Whether meter table rows of several meters do not add up to the best reading: each meter's count is a part
    of the bill's usage. Two meters reading 150 each never differed, and 150 was stored as one meter's usage. A
    meter printed in two tables (a stub repeating it) counts once; a row naming no meter continues the one above."""
    rows = sorted((s for s in seen if s.table is not None and s.unit is best.unit), key=lambda s: s.line)
    if len(rows) < 2:
        return False
    counts: dict[str, dict[int | None, Decimal]] = {}
    last: dict[int | None, str | None] = {}
    for row in rows:
        meter = last[row.table] = _row_meter(lines, row) or last.get(row.table)
        if meter is not None:
            tables = counts.setdefault(meter, {})
            tables[row.table] = tables.get(row.table, Decimal(0)) + row.quantity
    if len(counts) < 2:
        return False
    each = [set(tables.values()) for tables in counts.values()]
    return any(len(values) > 1 for values in each) or sum((v.pop() for v in each), Decimal(0)) != best.quantity


def _row_meter(lines: _Page, row: _Seen) -> str | None:
    """The meter number a meter table row prints under its table's meter heading, however far down the table."""
    if row.table is None:
        return None
    heading = next((c for c in _line_cells(lines[row.table].text) if _METER_HEADING.match(c.text)), None)
    if heading is None:
        return None
    under = [c for c in _cells_over(lines[row.line].text, heading.start, heading.end) if c.start != row.cell]
    found = take_account_number(under[0].text) if under else None
    return None if found is None else found.value


def _table_head(lines: _Page, index: int) -> int | None:
    """The line of the meter table heading over a row: the one over the table rows above it, else one a few lines
    above it. A search for a column's heading, made for every figure of every line, doubled the time a page of a long
    table took: the rows' heading is found once per page (``_Page.meter_table_heads``)."""
    head = lines.meter_table_heads[index]
    if head is not None:
        return head
    above = range(index - 1, max(-1, index - 1 - _HEADING_LINES), -1)
    head = next((at for at in above if _heads_a_meter_table(lines[at].text)), None)
    if head is None or sum(1 for cell in cells(lines[index].text) if _DIGIT.search(cell.text)) < 2:
        return None  # a labelled figure below the table ("Prev Bal   142.66") is no row of it: it was read as kWh
    return head


_GALLONS_IN = {UsageUnit.GAL: Decimal(1), UsageUnit.CCF: Decimal("748.052")}
"""A water unit's size in gallons (a CCF is 100 cubic feet)."""


def _water_disagrees(best: _Seen, seen: Sequence[_Seen]) -> bool:
    """Whether a water reading in the other unit differs from the best one by more than their printed
    figures' rounding: each such reading as well labelled, or else all of the less well labelled ones added up
    (as ``_disagree`` adds up a reading's parts)."""
    if best.commodity is not Commodity.WATER or best.unit not in _GALLONS_IN:
        return False
    others = [s for s in seen if s.unit is not best.unit and s.unit in _GALLONS_IN]
    if any(not _same_water(best, [s]) for s in others if s.priority == best.priority):
        return True
    parts = [s for s in others if s.priority != best.priority]
    return bool(parts) and not _same_water(best, parts) and not all(_same_water(best, [s]) for s in parts)


_FACTOR_SLACK = Decimal("0.0001")
"""Bills convert at 748 gallons a CCF as often as at 748.052: 95.27 CCF is printed as 71,262 gallons."""
_KGAL = 3
"""Gallons ending in zeros may be thousands of gallons multiplied out: "10 kgal" is 10,000, "4.5 kgal" 4,500.0."""


def _same_water_in_another_unit(best: _Seen, doubted: _Seen) -> bool:
    """Whether a doubted water figure (a sewer line's) is the best reading in the other water unit, to their rounding:
    "Sewer billed usage: 12 CCF" witnesses for "Water usage: 9,300 gallons", as a water line's would."""
    return (
        best.commodity is Commodity.WATER
        and best.unit in _GALLONS_IN
        and doubted.unit in _GALLONS_IN
        and doubted.unit is not best.unit
        and _same_water(best, [doubted])
    )


def _same_water(best: _Seen, others: Sequence[_Seen]) -> bool:
    """Whether readings in the other water unit add up to the best one, to half the last digit each prints
    ("12 CCF" is anything from 11.5 to 12.5 CCF: 8,602 to 9,351 gallons) and to the conversion's own factor."""
    gallons = sum((_GALLONS_IN[s.unit] * s.quantity for s in others), Decimal(0))
    own = _GALLONS_IN[best.unit] * best.quantity
    slack = sum((_rounding(s) for s in (best, *others)), Decimal(0)) + _FACTOR_SLACK * max(gallons, own)
    return abs(gallons - own) <= slack


def _rounding(seen: _Seen) -> Decimal:
    """Half the last printed digit of a water reading, in gallons; of gallons, the last digit that is not a
    trailing zero, up to the thousands (``_KGAL``)."""
    quantity = seen.quantity.normalize() if seen.unit is UsageUnit.GAL and seen.quantity else seen.quantity
    exponent = quantity.as_tuple().exponent
    step = min(exponent, _KGAL) if isinstance(exponent, int) else 0
    return _GALLONS_IN[seen.unit] * Decimal(1).scaleb(step) / 2


def _quantities(lines: Sequence[Line], index: int) -> Iterator[_Figure]:
    """The quantities on a line that could be a reading: where each stands, its value, unit and wording.

    A thousand-gallon note ("Usage (1,000 gal)   8", "Usage (kgal)   8") gives the figure it heads,
    multiplied out; see ``_unit_quantities`` for the rest."""
    text = lines[index].text
    line_cells = cells(text)
    notes = list(GALLON_SCALE_RE.finditer(text)) if "gal" in lines[index].folded else []
    for note, cell, minimum in _reading_notes(text, line_cells, notes):
        gallons = _gallons_noted(lines, index, note, cell, line_cells)
        if gallons is not None:  # a column heading: "Previous" a column away is another heading
            yield _note_figure(text, note, cell, minimum, gallons)
    for match, cell, minimum in _unit_quantities(text, line_cells, notes):
        yield _unit_figure(text, match, cell, minimum)


def _table_figures(lines: _Page, index: int) -> Iterator[_Figure]:
    """Bare figures in a meter table's usage column whose heading names their unit ("kWh Used" over a row's 523):
    unread, the bill's usage was whatever usage line the page had, a neighbours' comparison too."""
    if not _under_a_meter_tables_heading(lines, index):
        return
    head = lines.meter_table_heads[index]
    if head is not None and not _heads_a_usage_column(lines[head].text) and len(_units_alone(lines[head].text)) < 2:
        return  # a table whose usage column names no unit ("Meter   Previous   Present   Usage"), however long
    text = lines[index].text
    line_cells = _line_cells(text)
    for bare in _BARE_FIGURE.finditer(text):
        cell = _cell_at(line_cells, bare.start())
        if cell is None or cell.text != bare.group():
            continue
        heading, unit = _meter_table_column(lines, index, cell) or ("", None)
        if unit is not None:
            quantity = _labelled_quantity(bare.group(), heading)
            yield _Figure(bare.start(), cell.start, quantity, unit, heading, "", None)


_MULTIPLIER = re.compile(r"\b(?:mult(?:iplier)?|constant)\b", re.IGNORECASE)
"""A meter table's multiplier column ("Multiplier", "Mult", "Meter Constant"): an electric meter's registers advance
by its use over the multiplier (a current transformer's ratio)."""


def _meters_use(lines: _Page, index: int, count: _Figure) -> Decimal | None:
    """What an electric meter table's row says its meter used, where its kWh ``count`` is not that: its registers'
    advance times the multiplier its row prints (other than 1), to the registers' rounding. "Previous 1,204
    Present 1,220   Multiplier 40   kWh 16" used 640 kWh, and 16 was accepted; the meter's 640 is then doubted
    (``read_usage``), so that only another line printing it is the reading, never one printing something else.
    Registers that rolled over past their last digit count on from zero."""
    head = lines.meter_table_heads[index]
    if count.unit is not UsageUnit.KWH or head is None or not _MULTIPLIER.search(lines[head].text):
        return None
    columns: dict[str, Cell] = {}
    for cell in _line_cells(lines[index].text):
        found = _heading_row(lines, index, cell.start, cell.end) if _BARE_FIGURE.fullmatch(cell.text) else None
        if found is not None:
            kind = "multiplier" if _MULTIPLIER.search(found[1]) else _register(found[1])
            if kind is not None:
                columns.setdefault(kind, cell)
    if not {"multiplier", "previous", "present"} <= columns.keys():
        return None
    multiplier = signed_quantity(None, columns["multiplier"].text)
    previous, present = (signed_quantity(None, columns[kind].text) for kind in ("previous", "present"))
    if multiplier in (0, 1):
        return None
    advance = present - previous
    if advance < 0:  # rolled over: "9,950" to "0,058" on a four-dial meter
        advance += Decimal(10) ** sum(ch.isdigit() for ch in columns["previous"].text.split(".")[0])
    step = Decimal(1).scaleb(exponent) if isinstance(exponent := previous.as_tuple().exponent, int) else Decimal(1)
    used = advance * multiplier
    return None if abs(count.quantity - used) <= step * abs(multiplier) else used


def _register(heading: str) -> str | None:
    """Which register a meter table's column heading heads, if either."""
    if _PREVIOUS.match(heading.strip()):
        return "previous"
    return "present" if _PRESENT.match(heading.strip()) else None


def _in_a_meter_table(lines: _Page, index: int, figure: _Figure) -> bool:
    """Whether ``figure`` is alone in its cell ("523 kWh", or a bare 523) under a meter table's usage heading."""
    if not _under_a_meter_tables_heading(lines, index):
        return False
    cell = _cell_at(_line_cells(lines[index].text), figure.column)
    if cell is None or cell.start != figure.column:
        return False
    alone = UNIT_RE.fullmatch(cell.text) is not None or _BARE_FIGURE.fullmatch(cell.text) is not None
    return alone and _meter_table_column(lines, index, cell) is not None


def _meter_table_column(lines: _Page, index: int, cell: Cell) -> tuple[str, UsageUnit | None] | None:
    """The usage heading over ``cell`` ("kWh Used", "Total Usage", a unit alone) on a row that heads the meter and
    its registers too ("Meter   Previous   Present   kWh Used"), and the unit it names: not a history's ("Month   kWh
    Used"), nor a rate's. Of two units alone ("CCF" and "Therms"), the one the bill charges in (``_charged_column``)."""
    found = _heading_row(lines, index, cell.start, cell.end)
    if found is None:
        return None
    column = _meter_column(found[0].text, found[1])
    if column is None and (charged := _charged_column(found[0].text, found[1], lines)) is not None:
        return found[1], charged
    return column


def _charged_column(row: str, heading: str, lines: _Page) -> UsageUnit | None:
    """The unit a meter table's column heading is alone where another heading is a unit alone too (a gas table's
    "CCF" and "Therms", which ``_unit_alone`` leaves unread: they do not say which is billed), if it is the one of
    them the bill's charge rows name quantities in ("Distribution Charge   91.3 therms   $0.41250   37.66"). Such a
    bill went to review with no usage read."""
    unit = _registers_unit_alone(heading, row)
    alone = _units_alone(row)
    return unit if unit is not None and len(alone) > 1 and alone & lines.charged_units == {unit} else None


@functools.lru_cache(maxsize=32)
def _heads_a_usage_column(row: str) -> bool:
    """Whether a meter table's heading row heads a usage column that names its unit (``_meter_column``)."""
    columns = (_meter_column(row, cell.text) for cell in _line_cells(row) if not _DIGIT.search(cell.text))
    return any(column is not None and column[1] is not None for column in columns)


@functools.lru_cache(maxsize=32)
def _meter_column(row: str, heading: str) -> tuple[str, UsageUnit | None] | None:
    """``_meter_table_column`` of a ``heading`` in its ``row``: asked again for every row of a long table."""
    if _RATE.search(heading) or not _heads_a_meter_table(row):
        return None
    if _READING_LABELS.search(heading) and _UNIT_LABEL_END.fullmatch(heading.strip()):
        return heading, _unit_named(heading)
    alone = _unit_alone(heading, row)
    return None if alone is None else (heading, alone)


def _unit_alone(heading: str, row: str) -> UsageUnit | None:
    """The unit a meter table's column heading is alone ("kWh" over a row's 523): the table's other columns are its
    meter's and registers', this one its count. Not where another heading names a unit too: of a gas table's "CCF"
    and "Therms", its headings do not say which is billed. Nor where a previous and a present register are not both
    headed: "Meter #   Current Read Date   kWh" over "54,513" is the meter's reading, accepted as its usage."""
    unit = _registers_unit_alone(heading, row)
    if unit is None or sum(1 for cell in _line_cells(row) if _NAMES_A_UNIT.search(cell.text)) != 1:
        return None
    return unit


def _registers_unit_alone(heading: str, row: str) -> UsageUnit | None:
    """The unit ``heading`` is alone, in a meter table's heading row that heads its previous and present registers
    both: what ``_unit_alone`` and ``_charged_column`` each take a unit's column from."""
    if not _UNIT_ALONE.fullmatch(heading.strip()) or not _heads_a_meter_table(row):
        return None
    headings = _line_cells(row)
    if not all(any(register.match(cell.text) for cell in headings) for register in (_PREVIOUS, _PRESENT)):
        return None
    return UsageUnit(normalize_unit(heading.strip()))


@functools.lru_cache(maxsize=32)
def _units_alone(row: str) -> frozenset[UsageUnit]:
    """The units a heading row's cells are alone ("CCF", "Therms"): of two or more, ``_charged_column`` may take one."""
    return frozenset(
        UsageUnit(normalize_unit(cell.text.strip()))
        for cell in _line_cells(row)
        if _UNIT_ALONE.fullmatch(cell.text.strip())
    )


def _under_a_meter_tables_heading(lines: _Page, index: int) -> bool:
    """Whether a meter table's heading row stands over the line (``_table_head``)."""
    return _table_head(lines, index) is not None


@functools.lru_cache(maxsize=_HEADING_LINES + 1)
def _heads_a_meter_table(text: str) -> bool:
    """Whether a line heads a meter's table: a cell heads its meter, another a register."""
    if not _METER_HEADING.search(text):
        return False  # asked of every line of a long table: most name no meter, and need not be split into cells
    headings = cells(text)
    meter = any(_METER_HEADING.match(cell.text) for cell in headings)
    return meter and any(_REGISTER_HEADING.match(cell.text) for cell in headings)


def _note_figure(text: str, note: re.Match[str], cell: Cell, minimum: int | None, gallons: Decimal) -> _Figure:
    start = _wording_start(text, cell.start, note.start())
    before, after = text[start : note.start()], _clause_after(text, note.end(), cell)
    return _Figure(note.start(), cell.start, gallons, UsageUnit.GAL, before, after, _within(minimum, start, before))


def _unit_figure(text: str, match: re.Match[str], cell: Cell, minimum: int | None) -> _Figure:
    quantity = scaled_quantity(signed_quantity(match.group("sign"), match.group("q")), match.group("u"))
    unit = UsageUnit(normalize_unit(match.group("u")))
    start, after = _wording(text, match, cell)
    before = text[start : match.start()]
    return _Figure(match.start(), cell.start, quantity, unit, before, after, _within(minimum, start, before))


def _within(at: int | None, start: int, before: str) -> int | None:
    """``at``, a position on the line, as one in ``before`` (which starts at ``start``)."""
    return None if at is None else min(max(at - start, 0), len(before))


def _set_aside(figure: _Figure, labels: re.Pattern[str], line: str) -> _Aside | None:
    """Whether ``figure`` is no reading, or a doubtful one (see ``_Aside``).

    A year's wording or a register's before the figure counts only when nothing but labels and separators
    stand between them ("Annual usage: 14,800", "Current read 23,729"): "Total usage (12-month budget
    billing): 744 kWh" is this period's usage. A register's or a minimum's wording after a usage label is
    doubted, not dropped: dropped, a total line's figure let a sub-line's win with no conflict ("Total usage
    (actual meter read): 744 kWh" above "On-peak usage: 300 kWh")."""
    before, after = figure.before, figure.after
    if _OTHER_PERIOD.search(before) or _a_register(before, line):
        return _Aside.DROP
    if _OTHER_HEADING.search(after):  # after a usage label: "Total usage 1,234 gallons daily average 41 gallons"
        return _Aside.DOUBT if labels.search(before) else _Aside.DROP
    if any(_PERIOD_TAIL.fullmatch(before, q.end()) for q in _OVER_A_YEAR.finditer(before)):
        return _Aside.DROP
    if _SEWER.search(before) and not _WATER.search(before):
        return _Aside.DOUBT
    registers = [q.start() for q in _METER_READ.finditer(before) if _REGISTER_TAIL.fullmatch(before, q.end())]
    qualifiers = registers.copy()
    if _METER_READ.search(after):
        qualifiers.append(len(before))
    if figure.minimum is not None:
        qualifiers.append(figure.minimum)
    if not qualifiers:
        return None
    if not labels.search(before, 0, min(qualifiers)):
        return _Aside.DROP
    if len(qualifiers) == len(registers) and not any(
        labels.search(before, _cell_start(before, q), q) for q in registers
    ):
        return _Aside.ROW
    return _Aside.DOUBT


def _a_register(before: str, line: str) -> bool:
    """Whether the figure ``before`` leads to is one of a meter's registers, its word right before it, on a
    ``line`` that names the other register too (``_START_REGISTER``)."""
    for register, other in ((_END_REGISTER, _START_REGISTER), (_START_REGISTER, _END_REGISTER)):
        named = [q for q in register.finditer(before) if _REGISTER_TAIL.fullmatch(before, q.end())]
        if not named:
            continue
        if named[-1].group().lower() in ("from", "to") and not _METER_WORD.search(line):
            return False  # "usage went from 900 kWh to 1,178 kWh" is no meter's
        return any(q.group().lower() not in ("from", "to") or _METER_WORD.search(line) for q in other.finditer(line))
    return False


def _cell_start(before: str, at: int) -> int:
    """Where the cell of ``before[at]`` starts: a grid row's "Water usage   Current read (actual) 23,729
    gallons   Used 1,234 gallons" labels its own cell's 1,234, not the register in the next cell."""
    gaps = list(_CELL_GAP.finditer(before, 0, at))
    return gaps[-1].end() if gaps else 0


def readings_printed(text: str) -> Iterator[tuple[Decimal, UsageUnit]]:
    """The quantities the rules reader could take for a reading, with their units, line by line of ``text``:
    printed ("512 kWh", "4,500 gallons") or a thousand-gallon note's own figure multiplied out ("4.5 kgal");
    not a rate's, a tier's bound, a unit's size, a minimum, a meter's register nor another period's (the
    reader's own filters, ``_set_aside`` among them, and its headings: "Usage History" over "480 kWh"). What
    the evidence check confirms a reading by: any figure on the page let a Gemini reading of a register
    ("Current read 23,239 kWh"), a tier's bound ("first 500 kWh") or a dollar amount through, in any unit.

    And, read by a person though not by the rules, a figure whose label or column heading names its unit
    ("Therms used  45", "Consumption (CCF)  12"), and the quantity a bill's one rate in that unit prices
    ("Energy charge 512 kWh @ $0.1123/kWh"; tiers price several, none of them the reading)."""
    yield from printed_and_priced(text)[0]


def printed_and_priced(text: str) -> tuple[list[tuple[Decimal, UsageUnit]], dict[UsageUnit, Decimal]]:
    """``readings_printed``'s quantities, and apart the quantity each unit's rates price where they price one
    (``_one_price_a_unit``, among the former too): what the bill charged for, which a reading in that unit must be."""
    lines = _Page(Line(0, text_line) for text_line in text.splitlines())
    printed: list[tuple[Decimal, UsageUnit]] = []
    priced: list[_Figure] = []
    for index in range(len(lines)):
        figures, priced_here = _printed_figures(lines, index)
        priced += priced_here
        printed += [(figure.quantity, figure.unit) for figure in figures]
    once = list(_one_price_a_unit(priced))
    return printed + once, {unit: quantity for quantity, unit in once}


def _printed_figures(lines: _Page, index: int) -> tuple[list[_Figure], list[_Figure]]:
    """The figures on a line that are evidence of a reading, and those a rate prices (``_priced_quantities``).

    Nothing on a line without a digit: every figure has one. Three lines of four in a PDF's layout text have none
    (its blank lines and labels), and ruling them out took about a fifth of the time."""
    text_line = lines[index].text
    if _DIGIT.search(text_line) is None:
        return [], []
    line_cells = cells(text_line)
    folded = lines[index].folded
    notes = list(GALLON_SCALE_RE.finditer(text_line)) if "gal" in folded else []
    rates = _rate_cells(line_cells) if notes or UNIT_RE.search(text_line) or _NAMES_A_UNIT.search(folded) else {}
    figures = [
        _note_figure(text_line, note, cell, minimum, gallons)
        for note, cell, minimum in _reading_notes(text_line, line_cells, notes, rates)
        if note["own"] and (gallons := scaled_figure(note, "")) is not None
    ]
    figures += [_unit_figure(text_line, *found) for found in _unit_quantities(text_line, line_cells, notes, rates)]
    if not notes:
        labelled = _labelled_figures(lines, index, line_cells, rates)
        figures += [figure for figure, _ in labelled]
        if _NAMES_A_UNIT.search(folded):  # of a row comparing periods, the one the reader takes: this period's
            figures += _for_this_period(lines, index, line_cells, [figure for figure, own in labelled if own])
    unlabelled = _READING_LABELS.search(text_line) is None
    kept = [f for f in figures if _set_aside(f, _READING_LABELS, text_line) is None]
    if unlabelled:  # a labelled line is the reader's whatever heads it
        kept = [f for f in kept if not _another_periods_column(lines, index, f)]
    priced = [
        f for f in _priced_quantities(text_line, line_cells, rates) if _set_aside(f, _READING_LABELS, text_line) is None
    ]
    return kept, priced


def _labelled_on_its_line(lines: _Page, index: int) -> list[_Figure]:
    """For a line with no quantity in a unit: the bare figures its own label names the unit of ("Usage (kWh)   646
    Estimated", "Total kWh 572"), read as a person reads them. Not by a column's heading: a usage history's "kWh Used"
    heads other months' figures."""
    folded = lines[index].folded
    if not _NAMES_A_UNIT.search(folded) or ("gal" in folded and GALLON_SCALE_RE.search(lines[index].text)):
        return []  # a thousand-gallon note's figure is ``_quantities``'
    line_cells = cells(lines[index].text)
    labelled = _labelled_figures(lines, index, line_cells, _rate_cells(line_cells), by_heading=False)
    return _for_this_period(lines, index, line_cells, [figure for figure, _ in labelled])


def _for_this_period(lines: _Page, index: int, line_cells: Sequence[Cell], own: list[_Figure]) -> list[_Figure]:
    """The figures their own labels name the unit of, or, of a row comparing periods, the one of this period
    (``_this_periods``)."""
    return _this_periods(lines, index, line_cells, own[0]) if len(own) == 1 else own


def _this_periods(lines: _Page, index: int, line_cells: Sequence[Cell], labelled: _Figure) -> list[_Figure]:
    """A labelled figure, or the figure of this period on a row comparing periods: "Total kWh   1,320   1,140" under
    "Last year   This year", or "kWh used   1,320 (last year)   1,140 (this year)". The first figure was the reading,
    last year's, and the bill accepted.

    The row is the label's figure and those after it, each a cell of its own (but for a bracket after it) up to the
    first cell of words (another label's: "Billing days:   30"); it compares periods when each figure's column heading
    or bracket names one (``_period_named``), not days, a rate or a multiplier. Those another period's are dropped;
    two or more left ("Jun 2025   Jun 2026") are all read, and disagree (a review)."""
    text = lines[index].text
    row: list[tuple[_Figure, _Period]] = []
    for cell in line_cells:
        if cell.end <= labelled.column:
            continue
        bare = _BARE_FIGURE.match(text, cell.start)
        rest = _BRACKETED.fullmatch(cell.text, bare.end() - cell.start) if bare is not None else None
        if bare is None or rest is None:
            break  # another label's cell, or wording: the row ends
        period = _period_named(_headings_over(lines, index, bare.start(), bare.end()), rest.group(1) or "")
        if period is None:
            return [labelled]  # days, a rate, a multiplier, an average beside the reading: no comparison
        quantity = signed_quantity(None, bare.group())
        row.append((replace(labelled, column=bare.start(), cell=cell.start, quantity=quantity, after=""), period))
    if len(row) < 2:
        return [labelled]
    kept = [(figure, period) for figure, period in row if period is not _ANOTHER]
    totals = [figure for figure, period in kept if period is _WHOLE]
    if totals:
        return _whole(row, totals)
    dated = [period for _, period in kept if isinstance(period, tuple)]
    if len(dated) == len(kept) > 1 and len(set(dated)) == len(dated) and _a_year_before(max(dated), dated):
        return [figure for figure, period in kept if period == max(dated)]  # "Jun 2025   Jun 2026": the latest
    return [figure for figure, _ in kept]  # "Oct 2026   Nov 2026": a period's parts, or months compared: review


def _whole(row: Sequence[tuple[_Figure, _Period]], totals: Sequence[_Figure]) -> list[_Figure]:
    """Of a row with a "Total" column, its total where it is its two months' sum ("Oct 2026   Nov 2026   Total" over
    "430   82   512": a proration's), else all its figures, which disagree (a review): a "Total" beside one month, three
    or an average may be a year's or a quarter's ("Nov 2026   Total" over "512   6,240", "Sep 2026   Oct 2026   Nov
    2026   Total", "Monthly Average   Total")."""
    parts = [(figure, period) for figure, period in row if period not in (_WHOLE, _ANOTHER)]
    months = sorted(period for _, period in parts if isinstance(period, tuple))
    consecutive = len(months) == len(parts) == 2 and _month_after(months[0]) == months[1]
    if len(totals) == 1 and consecutive and sum(f.quantity for f, _ in parts) == totals[0].quantity:
        return list(totals)  # a monthly bill's period spans two months at most: three or more are a history's
    return [figure for figure, _ in row]


def _month_after(month: tuple[int, int]) -> tuple[int, int]:
    year, number = month
    return (year + 1, 1) if number == 12 else (year, number + 1)


def _a_year_before(latest: tuple[int, int], dated: Sequence[tuple[int, int]]) -> bool:
    """Whether the dated columns compare the latest with its month a year before ("Nov 2025   Oct 2026   Nov 2026",
    "2025   2026"): other months alone ("Oct 2026   Nov 2026") may be the period's parts, a proration's."""
    year, month = latest
    return (year - 1, month) in dated


_THIS_PERIOD = re.compile(r"\b(?:this|current|present)\b", re.IGNORECASE)
_DATED = re.compile(
    rf"\b(?:(?P<month>{MONTH_NAME})\.?\s+(?P<year>(?:19|20)\d\d)\b|^\s*(?P<alone>(?:19|20)\d\d)\s*$)", re.IGNORECASE
)
_ANOTHER = "another"
_THIS = "this"
_WHOLE = "whole"
"""A column headed "Total": the period's whole beside its parts (a proration's months), or a year's (``_whole``)."""
_Period = str | tuple[int, int]
"""A column's period: another's, this one, or a dated one (year, month; 0 for a year alone)."""
_PAST = re.compile(
    rf"\b(?:previous|prior|last\s+(?:year|month|period|bill|cycle|{MONTH_NAME})|year\s+ago|same\s+(?:period|month|time))\b",
    re.IGNORECASE,
)
"""Another period, as a bracket after a figure names it: "(last year)"; not "(avg 38/day)", the figure's own."""


def _period_named(heading: str, bracket: str) -> _Period | None:
    """The period a figure's column ``heading`` or ``bracket`` names: another (``_ANOTHER``), this one (``_THIS``:
    "This year", "Current"), a dated one ("Jun 2026", "2025": its year and month), or none (None). A heading naming
    an average or a history is another period's, as the reader's ``_another_periods_column`` reads one."""
    if re.fullmatch(r"\s*total\s*", heading, re.IGNORECASE):
        return _WHOLE
    if _OTHER_HEADING.search(heading) or _PAST.search(bracket):
        return _ANOTHER
    if _THIS_PERIOD.search(heading) or _THIS_PERIOD.search(bracket):
        return _THIS
    for words in (heading, bracket):
        if (dated := _DATED.search(words)) is not None:
            if dated["alone"]:
                return int(dated["alone"]), 0
            return int(dated["year"]), MONTHS[dated["month"].lower()]
    return None


def _headings_over(lines: _Page, index: int, start: int, end: int) -> str:
    """The words over columns ``start``-``end`` in the lines just above, top to bottom: a two-line heading ("This" over
    "Period") read whole, a dated one ("Jun 2026") too, where ``_heading_over`` takes cells without digits only."""
    words: list[str] = []
    for above in reversed(lines[max(0, index - _HEADING_LINES) : index]):
        over = _cells_over(above.text, start, end)
        if not words and _another_labelled_row(above.text, start):
            continue  # "Days Billed   29   31" between the headings and the reading's row: the table's too
        if not over or not all(re.search(r"[^\W\d]", c.text) or _DATED.search(c.text) for c in over):
            break  # a row of figures, or nothing over it: the heading, if any, is below
        words.insert(0, " ".join(c.text for c in over))
    return " ".join(words)


def _another_labelled_row(text: str, start: int) -> bool:
    """Whether ``text`` is another row of the reading's table: a label of words left of the column, then bare figures
    alone ("Days Billed   29   31" under "Last Month   This Month"). Read as the end of the headings, it hid them, and
    last month's kWh was the reading."""
    row = _line_cells(text)
    return (
        len(row) >= 2
        and row[0].end < start
        and re.search(r"[^\W\d]{2}", row[0].text) is not None
        and all(_BARE_FIGURE.fullmatch(cell.text) for cell in row[1:])
    )


def _labelled_figures(
    lines: _Page, index: int, line_cells: Sequence[Cell], rates: Mapping[int, int], *, by_heading: bool = True
) -> list[tuple[_Figure, bool]]:
    """Bare figures whose unit their label names, before them on the line ("Therms used: 45", "Consumption
    (CCF)      12") or, ``by_heading``, as the heading of their column ("Therms Used" over a meter row's "45"); each
    with whether its own label named it (True), which the evidence check reads a row comparing periods from too."""
    text = lines[index].text
    head = lines.meter_table_heads[index]
    above = lines[max(0, index - _HEADING_LINES) : index] + ([lines[head]] if head is not None else [])
    if not _NAMES_A_UNIT.search(lines[index].folded) and not any(_NAMES_A_UNIT.search(line.folded) for line in above):
        return []
    figures = []
    for bare in _BARE_FIGURE.finditer(text):
        cell = _cell_at(line_cells, bare.start())
        if cell is None:
            continue
        start = _wording_start(text, 0, bare.start())
        label = _UNIT_LABEL_END.search(text, start, bare.start())
        label_cell = _cell_at(line_cells, label.start()) if label is not None else None
        own = False
        if label is not None and label_cell is not None and not {label_cell.start, cell.start} & rates.keys():
            own = True
            before, unit = text[start : bare.start()], _unit_named(label.group())
        elif by_heading and cell.text == bare.group():  # a figure alone in its cell: its column's heading, if any
            found = _heading_row(lines, index, bare.start(), bare.end())
            if found is None:
                continue
            before, unit = found[1], _column_unit(found[0].text, found[1])
        else:
            continue
        if unit is not None:
            quantity = _labelled_quantity(bare.group(), before)
            after = _clause_after(text, bare.end(), cell)
            minimum = _MINIMUM_WORDING.search(before)
            at = minimum.start() if minimum is not None else None
            figures.append((_Figure(bare.start(), cell.start, quantity, unit, before, after, at), own))
    return figures


@functools.lru_cache(maxsize=32)
def _column_unit(row: str, heading: str) -> UsageUnit | None:
    """The unit a column's ``heading`` in its ``row`` names, as a usage label or a meter table's unit alone; not a
    rate's. Asked again for every row of a long table."""
    if _RATE.search(heading) or not _UNIT_LABEL_END.fullmatch(heading.strip()):
        return None
    return _unit_named(heading) or _unit_alone(heading, row)


def _labelled_quantity(figure: str, label: str) -> Decimal:
    """A bare ``figure`` in the unit ``normalize_unit`` stores its ``label``'s unit as: "Energy Usage (MWh): 0.64"
    used 640 kWh, and went to review with no usage read."""
    quantity = signed_quantity(None, figure)
    units = _NAMES_A_UNIT.findall(label)
    one_scale = len({scaled_quantity(Decimal(1), unit) for unit in units}) == 1
    return scaled_quantity(quantity, units[0]) if one_scale else quantity


def _unit_named(label: str) -> UsageUnit | None:
    """The one unit a usage label names ("Therms used", "Consumption (CCF)"); none without a usage word."""
    if not _READING_LABELS.search(label):
        return None
    units = {normalize_unit(unit) for unit in _NAMES_A_UNIT.findall(label)}
    return UsageUnit(units.pop()) if len(units) == 1 else None


def _heading_over(lines: _Page, index: int, start: int, end: int) -> str | None:
    """The heading of the column ``start``-``end`` of a line (``_heading_row``)."""
    found = _heading_row(lines, index, start, end)
    return None if found is None else found[1]


def _heading_row(lines: _Page, index: int, start: int, end: int) -> tuple[Line, str] | None:
    """The heading of the column ``start``-``end`` of a line, and its line: the nearest cell above it, within a
    few lines, with no figure in it (rows of a table stand between a heading and a figure of its column). In a
    meter table, the cell over it in the table's heading row, however many rows down: the rows between, looked
    through for every figure of a long table, made it slow."""
    head = lines.meter_table_heads[index]
    rows = [lines[head]] if head is not None else list(reversed(lines[max(0, index - _HEADING_LINES) : index]))
    for above in rows:
        over = [c.text for c in _cells_over(above.text, start, end) if not _DIGIT.search(c.text)]
        if over:
            return above, over[-1]
    for above in rows:  # none over it: a right-aligned figure just past its heading's end
        ragged = [c.text for c in _cells_over(above.text, start - _RAGGED, start) if not _DIGIT.search(c.text)]
        if ragged:
            return above, ragged[-1]
    return None


_RAGGED = 2
"""How far past its heading's end a right-aligned figure may start: a PDF's layout text places each piece of text
where it starts, so a column's figures, aligned on their right, start where their widths leave them ("kWh Used" over
cols 136-144, its "912" at 144-147), and the meter's reading went unread."""


def _cells_over(text: str, start: int, end: int) -> list[Cell]:
    """The cells of ``text`` that span any of ``start``-``end``: found by a search, since every figure of a
    long row asks of the same lines above it."""
    line_cells = _line_cells(text)
    index = bisect.bisect_left(line_cells, end, key=lambda cell: cell.start)
    over: list[Cell] = []
    while index > 0 and line_cells[index - 1].end > start:
        index -= 1
        over.insert(0, line_cells[index])
    return over


@functools.lru_cache(maxsize=_HEADING_LINES + 1)
def _line_cells(text: str) -> tuple[Cell, ...]:
    return tuple(cells(text))


def _another_periods_column(lines: _Page, index: int, figure: _Figure) -> bool:
    """Whether ``figure`` stands under a heading naming another period ("Usage History", "Last month"), as
    the reader's ``_under_a_label`` reads one."""
    heading = _heading_over(lines, index, figure.column, figure.column + 1)
    if heading is None:
        return False
    label = _READING_LABELS.search(heading)
    return _OTHER_HEADING.search(heading if label is None else _label_phrase(heading, label)) is not None


def _priced_quantities(text: str, line_cells: Sequence[Cell], rates: Mapping[int, int]) -> Iterator[_Figure]:
    """The quantity a rate prices, before the rate in its cell ("Energy charge 512 kWh @ $0.1123/kWh"): on a
    line with no tier's wording, and not a tier's bound ("First 500 kWh @ $0.10")."""
    if not rates or _TIER_WORDING.search(text):
        return
    for match in UNIT_RE.finditer(text):
        cell = _cell_at(line_cells, match.start())
        if cell is None or cell.start not in rates or match.start() >= cell.start + rates[cell.start]:
            continue
        if not _tier_bound(text, match):
            yield _unit_figure(text, match, cell, allowance_at(text, match.start(), match.end()))


def _one_price_a_unit(priced: Sequence[_Figure]) -> Iterator[tuple[Decimal, UsageUnit]]:
    """The priced quantity of each unit the bill prices one quantity of: several are its tiers (or its
    periods, or its meters), and none of them the reading."""
    for unit in UsageUnit:
        quantities = {figure.quantity for figure in priced if figure.unit is unit}
        if len(quantities) == 1:
            yield quantities.pop(), unit


def _reading_notes(
    text: str, line_cells: Sequence[Cell], notes: Sequence[re.Match[str]], rates: Mapping[int, int] | None = None
) -> Iterator[tuple[re.Match[str], Cell, int | None]]:
    """The thousand-gallon notes on a line that could give a reading, their cells, and where a minimum's
    wording stands if one makes the note a minimum's ("Minimum 2 kgal"): not a rate's ("8 kgal @ $5.20"),
    nor a tier's bound ("over 3 kgal")."""
    if rates is None:
        rates = _rate_cells(line_cells) if notes else {}
    for note in notes:
        cell = _cell_at(line_cells, note.start())
        if cell is None or cell.start in rates or _tier_bound(text, note):
            continue
        yield note, cell, allowance_at(text, note.start(), note.end())


def _unit_quantities(
    text: str, line_cells: Sequence[Cell], notes: Sequence[re.Match[str]], rates: Mapping[int, int] | None = None
) -> Iterator[tuple[re.Match[str], Cell, int | None]]:
    """The quantities with a unit on a line that could be a reading, their cells, and where a minimum's
    wording stands if one makes the quantity a minimum's: not a rate's, a tier's bound, a unit's size,
    nor part of a thousand-gallon note (``notes``). ``rates``: the line's ``_rate_cells``, if known."""
    spans = [note.span() for note in notes]
    figures = [match for match in UNIT_RE.finditer(text) if not within(spans, match.start())]
    if not figures:
        return
    rates, sizes = _rate_cells(line_cells) if rates is None else rates, _SizeMarks.of(text)
    factors = [factor.span("factor") for factor in _HEAT_FACTOR.finditer(text)] if "=" in text else []
    for match in figures:
        cell = _cell_at(line_cells, match.start())
        if cell is None or cell.start in rates or _tier_bound(text, match) or _unit_scale(match, sizes):
            continue
        if factors and (within(factors, match.start()) or _HEAT_FACTOR.match(text, match.end())):
            continue
        yield match, cell, allowance_at(text, match.start(), match.end())


def _cell_at(line_cells: Sequence[Cell], position: int) -> Cell | None:
    """The cell of ``line_cells`` (in order, apart) that ``position`` falls in, if any."""
    index = bisect.bisect_right(line_cells, position, key=lambda cell: cell.start) - 1
    return line_cells[index] if index >= 0 and position < line_cells[index].end else None


def _rate_cells(line_cells: Sequence[Cell]) -> dict[int, int]:
    """Where a line's rate cells start ("$0.12/kWh", "5.20 per kgal"), each with where in it its rate's wording
    starts. Each cell is searched once: searched once a figure, a 4.5 kB line of 300 figures in one cell took
    ~170 ms."""
    return {cell.start: rate.start() for cell in line_cells if (rate := _RATE.search(cell.text)) is not None}


@dataclass(frozen=True)
class _SizeMarks:
    """Where on a line a conversion's result ("1 CCF = |748 gallons") or a unit's size ("in |100 CCF") would
    start: found once a line; looked for in all of the line before each figure, the cost grew with the
    line's length times its figures."""

    conversions: frozenset[int]
    scales: frozenset[int]

    @classmethod
    def of(cls, text: str) -> _SizeMarks:
        return cls(_match_ends(CONVERSION_BEFORE, text), _match_ends(_SCALE, text))


def _match_ends(pattern: re.Pattern[str], text: str) -> frozenset[int]:
    """Where ``pattern``'s matches end: its trailing spaces taken whole, at the next word or figure."""
    return frozenset(match.end() for match in pattern.finditer(text))


def _unit_scale(match: re.Match[str], sizes: _SizeMarks) -> bool:
    """ "in 100 CCF", "(1,000 gal minimum)", "1 CCF = 748 gallons": a unit or its size, not a reading."""
    if match.start() in sizes.conversions:
        return True
    return match.start() in sizes.scales and _POWER_OF_TEN.fullmatch(match.group("q").replace(",", "")) is not None


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
    return _TIER_BOUND.search(text, max(0, match.start() - _TIER_WORDS_WITHIN), match.start()) is not None


def _wording(text: str, match: re.Match[str], cell: Cell) -> tuple[int, str]:
    """The words around a figure: where they start, from the figure before it on the line; and those
    after it, to the end of its cell or of its clause.

    Not the whole line: a grid row reads "Previous 22,495   Current 22,739   Total usage 244 kWh";
    and not an aside: "744 kWh (same period last year: 690 kWh)" is this period's 744.
    """
    return _wording_start(text, 0, match.start()), _clause_after(text, match.end(), cell)


def _clause_after(text: str, at: int, cell: Cell) -> str:
    """The wording after ``text[at]``: to the end of its cell or of its clause, within ``_WORDING_WITHIN``."""
    return _CLAUSE_END.split(text[at : min(cell.end, at + _WORDING_WITHIN)], maxsplit=1)[0]


def _wording_start(text: str, start: int, at: int) -> int:
    """Where the wording before ``text[at]`` starts: after the figure before it, from ``start``, and within
    ``_WORDING_WITHIN`` (a line of a thousand figures is read once, not once a figure)."""
    start = max(start, at - _WORDING_WITHIN)
    figure = _LAST_FIGURE.search(text, start, at)
    return figure.end() if figure else start


def _under_a_label(lines: Sequence[Line], index: int, column: int, labels: re.Pattern[str]) -> int | None:
    """A figure's priority on a line with no usage label, not in a meter table: ``_UNDER_A_LABEL`` under a usage
    column, else None. A charge row above is no column's heading: a refuse cart's "96 gal" under "Sewer Usage 7,480
    gal @ $5.05 ...  $37.77" was stored as the water bill's usage."""
    for above in reversed(lines[max(0, index - 3) : index]):
        for start, end, heading in _column_headings(above.text, labels):
            if start <= column < end + 4:
                return heading
    return None


@functools.lru_cache(maxsize=8)
def _column_headings(text: str, labels: re.Pattern[str]) -> tuple[tuple[int, int, int | None], ...]:
    """The cells of ``text`` a usage label heads, each with the priority a figure under it takes (None under another
    heading); none on a charge row. Once a line, not once a figure under it: a line of a thousand figures under a
    long one read it (and all its amounts) for each, seconds of a worker's CPU for one crafted upload."""
    if _charge_row(text):
        return ()
    headings = []
    for cell in cells(text):
        if (label := labels.search(cell.text)) is not None:
            other = _OTHER_HEADING.search(_label_phrase(cell.text, label))
            headings.append((cell.start, cell.end, None if other else _UNDER_A_LABEL))
    return tuple(headings)


def _label_phrase(text: str, label: re.Match[str]) -> str:
    """A column label with the two words before it and the one after ("Average Daily Usage",
    "Usage History"), not the whole cell: a merged heading reads "Previous Read Current Read Usage"."""
    before = text[: label.start()].split()[-2:]
    after = text[label.end() :].split()[:1]
    return " ".join([*before, label.group(), *after])


_NEAR = 8
"""How far above a reading the wording that names its commodity may stand."""


def _commodity(lines: _Page, index: int, unit: UsageUnit, defaults: Sequence[Commodity | None]) -> Commodity | None:
    """A reading's commodity: its unit's; else one measured in it that its line, or the nearest line above that is
    no charge row, names (a section's "Gas Usage"); else the first of ``defaults`` (the template's, the
    letterhead's); else the nearest charge row's ("Water usage charge  18 CCF x $9.526  $171.47" above a meter
    table's 18 CCF); else the one measured in it that the page's charge rows pricing it name, wherever they stand:
    a city's meter table ("Meter #   Previous   Current   Usage" over "9 CCF") above its water charges ("Water
    Usage 9 CCF @ $3.12") was read as no reading at all. A charge row names what it charges for: a gas bill's
    "Water heater rental  $12.00" was nearest its "88 CCF", and the gas was stored as water."""
    if unit in _BY_UNIT:
        return _BY_UNIT[unit]
    near = list(reversed(lines[max(0, index - _NEAR) : index + 1]))
    rows = [line for at, line in enumerate(near) if at > 0 and _charge_row(line.text)]
    named = [_named(line.text, unit) for line in near if not any(line is row for row in rows)]
    for commodity in (*named, *defaults):
        if commodity is not None and unit in UNITS_BY_COMMODITY[commodity]:
            return commodity
    nearest = next((c for c in (_named(row.text, unit) for row in rows) if c is not None), None)
    if nearest is not None:
        return nearest
    charged = [c for c in lines.charged_commodities.get(unit, ()) if unit in UNITS_BY_COMMODITY[c]]
    return charged[0] if len(charged) == 1 else None


def _named(text: str, unit: UsageUnit) -> Commodity | None:
    """The last commodity ``text`` names that is measured in ``unit``: not a greenhouse gas, nor a water heater."""
    fits = [commodity for commodity in _commodities_named(text) if unit in UNITS_BY_COMMODITY[commodity]]
    return fits[-1] if fits else None


def _commodities_named(text: str) -> list[Commodity]:
    """The commodities ``text``'s words name, in order: not a greenhouse gas, nor a water heater."""
    return [_BY_WORD[word.lower()] for word in _COMMODITY_WORD.findall(without_false_commodities(text))]


def _charge_row(text: str) -> bool:
    """Whether a line is a charge's row: an amount closes it ("Water heater rental  $12.00")."""
    amounts = list(iter_money(text))
    return bool(amounts) and only_currency_marks(text[amounts[-1].end :])


def _letterhead(lines: Sequence[Line]) -> Commodity | None:
    """The one commodity the bill's first line names in its first cell ("Summit Natural Gas Co.", "From: Cascade
    Water District <...>"); none where it names several ("Pacific Gas and Electric Company") or none."""
    first = next((cells(line.text) for line in lines if line.text.strip()), [])
    head = first[0].text if first else ""
    named = set(_commodities_named(head))
    return named.pop() if len(named) == 1 else None


def _meter_near(lines: Sequence[Line], index: int, reading_cell: int, reading_lines: set[int]) -> str | None:
    """The meter number printed on, or a few lines above, the usage line ("(meter 44732410)" too), or under its
    label: under a table's heading ("Meter #   Previous Read ...   Total usage"), the cell of the reading's own row
    first, the first row's having been every reading's (a gas reading filed under the electric meter); under a
    label alone on its line, the next line's. Never the reading's own cell (``reading_cell``, where it starts), nor,
    past another reading's line (``reading_lines``: a register's or an average's is none), a meter of that reading's
    ("Electric meter 1111 / Electric usage 640 kWh / Gas usage 45 therms": the gas was filed under 1111); only a
    table's heading over both."""
    past_a_reading = False
    for at in range(index, max(-1, index - 5), -1):
        if at < index and at in reading_lines:
            past_a_reading = True
            continue  # another reading's line: its meter is its own
        match = _METER.search(lines[at].text)
        if match is None or (past_a_reading and len(cells(lines[at].text)) < 2):
            continue
        after = lines[at].text[match.end() :].lstrip(" :#.\t")  # "Meter ID#: 55512345"
        found = take_account_number(_METER_END.split(after, maxsplit=1)[0])
        heading = at < index and len(cells(lines[at].text)) > 1
        own_row = [index] if heading else []
        next_row = [at + 1] if at + 1 < len(lines) and at + 1 != index and not past_a_reading else []
        for row in own_row + next_row if found is None else []:
            under = [
                c
                for c in cells(lines[row].text)
                if c.start <= match.start() < c.end and not (row == index and c.start == reading_cell)
            ]
            found = take_account_number(under[0].text) if under else None
            if found is not None:
                break
        if found is not None:
            return found.value
    return None


_METER_END = re.compile(r"[),;:]")
"""Where a meter number ends: an aside's "534 kWh (meter 39323734)", a row's "Meter # 37719985: 27,525 to 28,703"."""
