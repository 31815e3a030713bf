"""Line items: the rows of the charges table, from its heading down to its total.

Subtotals and the account summary are not items; each item takes its commodity from its
own wording ("Gas delivery charge") or its section ("Gas Charges"), and a category from
its wording.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from extraction.rules.layout import Cell, Line, Wordings, cells
from extraction.rules.vocabulary import without_false_commodities
from extraction.values import iter_money, only_currency_marks, without_currency_mark
from shared.bill import Commodity, LineItem, LineItemCategory

_SECTION = re.compile(
    r"^(?:details?\s+of\s+|your\s+|current\s+|new\s+)?"
    r"(?:(?P<commodity>electric(?:ity)?|(?:natural\s+)?gas|water|sewer|wastewater)\s+"  # and "Water and Sewer"
    r"(?:(?:and|&)\s+(?P<commodity_and>electric(?:ity)?|(?:natural\s+)?gas|water|sewer|wastewater)\s+)?)?"
    r"(?:service\s+|delivery\s+|billing\s+)?charges(?:\s+details?)?(?:\s+[-\u2013\u2014]\s+(?:"  # a rate after a dash
    r"(?:residential|commercial|industrial|small|large|general|rate|schedule|tariff|service|continued)\b"
    r"|[a-z]{1,3}-?\d)[^:]*)?"  # "- Residential R-1", "- Schedule G-1", "- R-1"; not "- Where Your Dollar Goes"
    r"(?:\s*\(cont(?:inued|'d|\.)?\))?\s*:?$"  # "Electric Service Charges (continued)": a page's more of them
    r"|^(?:delivery|supply|generation|transmission|distribution)\s+services?(?:\s*:.*)?$"  # "Delivery Services: ..."
    r"|^description$|^details?\s+of\s+(?:current\s+)?charges"
    r"|^charges\s+for\s+(?:your\s+)?(?:(?P<commodity_for>electric(?:ity)?|(?:natural\s+)?gas|water|sewer|wastewater)\s+)?"
    r"(?:service|delivery|usage)\s*:?$"  # "Charges for Electric Service"; and "Water Service" alone, below
    r"|^(?P<commodity_of>electric(?:ity)?|(?:natural\s+)?gas|water|sewer|wastewater)\s+service\s*:?$"
    # A service's section by its meter: "ELECTRIC - Meter E7712", "Gas Service: Meter #G3390"
    r"|^(?P<commodity_meter>electric(?:ity)?|(?:natural\s+)?gas|water|sewer|wastewater)(?:\s+service)?\s*[-\u2013\u2014:]"
    r"\s*meter\b[^$]*$",
    re.IGNORECASE,
)
_COLUMNS_FIRST = re.compile(r"(?:service|description|item|charge\s+description)s?", re.IGNORECASE)
_COLUMNS_LAST = re.compile(r"(?:current\s+)?(?:charges?|amount)", re.IGNORECASE)
"""A charges table's column headings: its first a row's ("SERVICE", "Description"), its last the amount's ("CHARGE",
"Amount"), as in a city's "SERVICE   CONSUMPTION   CHARGE" over its rows."""
_SUBSECTION = re.compile(
    r"^[ \t]*(?:(?:[^\W\d]+[ \t]+){0,5}?charges[ \t]*:?"
    r"|(?:[^\W\d]+[ \t]+){0,3}?(?:refuse|trash|garbage|solid[ \t]+waste|recycling|storm[ \t]*water|other|miscellaneous"
    r"|additional)[ \t]+services?[ \t]*:?|other|misc(?:ellaneous|\.)?"
    r"|(?:taxes|fees)(?:[ \t]+(?:and|&)[ \t]+(?:taxes|fees|surcharges|other[ \t]+charges))?[ \t]*:?"
    r"|(?:natural[ \t]+)?(?:electric(?:ity)?|gas|water|sewer|wastewater)(?:[ \t]+service)?[ \t]+[-\u2013\u2014][ \t]+"
    r"(?:residential|commercial|industrial|small|large|general|rate|schedule|tariff)\b.*"  # "GAS SERVICE - Rate Rg-2"
    r"|(?:[^\W\d]+[ \t]+){0,3}?(?:electric(?:ity)?|gas|water|sewer|wastewater)(?:[ \t]+[^\W\d]+){0,3}?[ \t]*:?)[ \t]*$",
    re.IGNORECASE,
)
"""A heading within the charges ("Natural Gas Charges", "Gas Supply and Delivery Charges", "Refuse Charges",
"Solid Waste Services", "Water and Sewer", "Other", "Taxes and Fees", "Gas Service - Rate G-2"): words only (but a
rate's), its items are its commodity's, or none's, not the section's before it. Not a rate's line ("Rate Schedule: E1
Residential Service"), a usage line ("Gas used 41 therms") or a wrapped item ("Delivery services")."""
_NOT_ITEM = re.compile(
    r"^(?:sub)?total\b|balance|payment(?!\s+(?:charge|fee|penalty))|amount\s+due|previous|current\s+bill"
    r"|^(?!.*\b(?:tax|fee|surcharge|of|on)\b)(?:[^\W\d]+\s+){0,3}sub-?total\W*$"  # "Delivery subtotal"
    r"|amount\s+enclosed"  # a late payment charge is an item
    r"|^(?!.*(?:\bfee|penalty|interest|late\s+(?:payment\s+)?charge|\bcheck\s+charge|\bcharge\s+on\b"
    r"|\b(?:program|plan|management|forgiv|credit|agreement|installment)))"
    r".*(?:past[\s-]+due|\barrears?\b|overdue|\bunpaid\b)",
    re.IGNORECASE,
)
"""A row that is no charge of this bill: a total or a section's subtotal ("Delivery subtotal"; not "Sales tax on
subtotal", nor "Electric total", a summary's one row of a service's charges), the balance's parts, or what earlier bills
left unpaid ("Arrears", "Past Due Amount", "Unpaid charges"), which the implied current charges counted as this bill's
cost. A fee, penalty or interest for paying late is a charge ("Late charge on past due amount", "Late Payment Charge
(1.5% of past due)", "1.5% charge on unpaid amount", "Unpaid check charge"; not "Past due amount (check #1043 returned
unpaid)"), and so is an arrears programme's row ("Arrears Management Program credit", "Arrears payment plan
installment")."""
_CATEGORIES: tuple[tuple[LineItemCategory, re.Pattern[str]], ...] = tuple(
    (category, re.compile(pattern, re.IGNORECASE))
    for category, pattern in (
        (LineItemCategory.TAX, r"tax|surcharge|franchise|regulatory|puc\b|\b(?:[ghpq]st|vat)\b"),  # Canada's GST, HST
        (
            LineItemCategory.FEE,
            r"\bfee\b|customer\s+charge|basic\s+(?:service\s+)?charge|service\s+charge|meter\s+charge|minimum",
        ),
        (
            LineItemCategory.SUPPLY,
            r"generation|supply|energy\s+charge|commodity|procurement|water\s+usage|usage\s+charge",
        ),
        (
            LineItemCategory.DELIVERY,
            r"delivery|distribution|transmission|transport|sewer|wastewater",
        ),
    )
)
_COMMODITY_WORD = re.compile(r"\b(electric(?:ity)?|gas|water|sewer|wastewater)\b", re.IGNORECASE)
_WORD_COMMODITY = {
    "electric": Commodity.ELECTRICITY,
    "electricity": Commodity.ELECTRICITY,
    "gas": Commodity.GAS,
    "water": Commodity.WATER,
    "sewer": Commodity.WATER,
    "wastewater": Commodity.WATER,
}


def read_line_items(lines: Sequence[Line], *, end: Wordings, current: Wordings) -> list[LineItem]:
    """Rows between a charges heading and ``end`` (the current-charges or total label); with no heading, those above
    a ``current`` (current-charges) line that add up to it."""
    return _headed_items(lines, end) or _rows_adding_up_to(lines, current, end)


def _headed_items(lines: Sequence[Line], end: Wordings) -> list[LineItem]:
    """The rows under each charges heading; a box printed beside the charges (the bill's summary, or a second
    commodity's charges) read apart, once the charges end."""
    items: list[LineItem] = []
    section: list[LineItem] = []  # the items since the last heading, which a section's total adds up
    inside = False
    commodity: Commodity | None = None
    edge: int | None = None
    beside: list[Line] = []
    for at, line in enumerate(lines):
        if edge is not None and line.page != beside[0].page:  # the box ends with its page
            items += _headed_items(beside, end)
            edge, beside = None, []
        if edge is not None:
            line, right = _apart(line, edge)
            beside.append(right)
        row = cells(line.text)
        if not row:
            continue
        heading = _SECTION.match(row[0].text)
        if heading is not None and edge is None and (box := _box_beside(lines, at, row)) is not None:
            line, right = _apart(line, box)
            edge, beside, row = box, [right], cells(line.text)
        if (heading is not None or _heads_charge_columns(row)) and not any(iter_money(line.text)):
            inside = True
            commodity = _section_commodity(heading, commodity)
            section = []
            continue
        if not inside:
            continue
        if end.search(line.folded):
            inside = False
            if edge is not None:
                items += _headed_items(beside, end)
                edge, beside = None, []
            continue
        if _SUBSECTION.match(without_false_commodities(line.text)) and not any(iter_money(line.text)):
            commodity = _named_commodity(line.text)  # "Natural Gas Charges": gas; "Refuse Charges": none
            section = []
            continue
        item = _item(line.text, commodity, printed=line.printed)
        if item is not None and _totals(item, section):
            section = []  # "Electric total  $65.10" under its section's two charges: counted twice as an item
        elif item is not None:
            items.append(item)
            section.append(item)
    if edge is not None:
        items += _headed_items(beside, end)
    return items


_TOTAL_WORD = re.compile(r"\btotal\b", re.IGNORECASE)


def _totals(item: LineItem, section: Sequence[LineItem]) -> bool:
    """Whether ``item`` is its section's total: a row saying so whose amount is its section's two or more items'
    sum ("Electric total  $65.10" under "Customer charge  $10.50", "Energy charge  $54.60"). A summary's one row of a
    service ("Gas total  $70.56" under no items of its own) is an item."""
    return (
        len(section) >= 2
        and _TOTAL_WORD.search(item.description) is not None
        and item.amount == sum((i.amount for i in section), Decimal("0"))
    )


def _section_commodity(heading: re.Match[str] | None, before: Commodity | None) -> Commodity | None:
    """The commodity a heading names ("Natural Gas Charges": gas; "Water and Sewer Charges": water; "Electric and Gas
    Charges": neither, a row naming its own), or the one before it where it names none (column headings)."""
    if heading is None:
        return before
    first = heading["commodity"] or heading["commodity_for"] or heading["commodity_of"] or heading["commodity_meter"]
    named = {_WORD_COMMODITY[word.lower().split()[-1]] for word in (first, heading["commodity_and"]) if word}
    if not named:
        return before
    return named.pop() if len(named) == 1 else None


BOX_GUTTER = 4
"""Blanks at least this wide part a box printed beside the charges from them (cells are two blanks apart)."""
BOX_ROWS = 8
"""How many lines under a charges heading show whether a box stands beside it."""


def _box_beside(lines: Sequence[Line], at: int, row: Sequence[Cell]) -> int | None:
    """Where a box printed beside a charges heading begins (the summary's "YOUR BILL SUMMARY", or "WATER & SEWER
    CHARGES" beside "ELECTRIC CHARGES"), or None: the heading line's next cell, far right of it, where at least two of
    the rows below hold an item left of it and a label from it on (a column's heading, "Amount", heads figures). Read
    whole, such a row ended in the box's figure ("Basic Service Charge 12.00  Payments -118.20": no item), and the
    box's "Current Charges" ended the charges."""
    if len(row) < 2 or row[1].start - row[0].end < BOX_GUTTER or not re.search(r"[A-Za-z]{2}", row[1].text):
        return None
    beside = 0
    for below in lines[at + 1 : at + 1 + BOX_ROWS]:
        left, right = _apart(below, row[1].start)
        labelled = re.match(r"\S*[A-Za-z]{2}", right.text) is not None  # not an "Amount" column's "$97.00"
        beside += labelled and _item(left.text, None) is not None
    return row[1].start if beside >= 2 else None


def _apart(line: Line, edge: int) -> tuple[Line, Line]:
    """The line left of a box's edge and from it on: split before the first cell that starts near the edge (a box's
    rows start a column or two apart in layout text), so no cell is cut."""
    split = next((cell.start for cell in cells(line.text) if cell.start >= edge - 2), len(line.text))
    printed = line.printed
    left = Line(line.page, line.text[:split].rstrip(), printed[:split].rstrip() if printed is not None else None)
    right = Line(line.page, line.text[split:], printed[split:] if printed is not None else None)
    return left, right


def _rows_adding_up_to(lines: Sequence[Line], current: Wordings, end: Wordings) -> list[LineItem]:
    """Charges under no heading the reader knows ("METER ... THERMS 90.5" over them, or "THIS MONTH"): the run of
    item rows right above a current-charges line whose amounts add up to its amount, blank lines between them too (a
    PDF's layout text leaves one where a total stands a little lower than the rows' spacing). Such bills were
    accepted with no line items. Not above the amount due: a summary's "Final Electric Charges 183.52", "Security
    Deposit Applied -150.00" add up to it, and made the current charges 31.68."""
    for at, line in enumerate(lines):
        if not current.search(line.folded):
            continue
        amounts = list(iter_money(line.text))
        if not amounts:
            continue
        rows: list[LineItem] = []
        for above in reversed(lines[:at]):
            if not above.text.strip():
                continue
            item = None if end.search(above.folded) else _item(above.text, None, printed=above.printed)
            if item is None:  # nor the summary's "New charges" over its "Late fee": an aggregate is no item
                break
            rows.append(item)
        if len(rows) >= MIN_UNHEADED_ROWS and sum(item.amount for item in rows) == amounts[-1].value:
            return rows[::-1]
    return []


MIN_UNHEADED_ROWS = 2
"""Rows under no heading are the charges only where at least this many add up to the total below them: one row
matching it is its own total's restatement as often as an item."""


def _heads_charge_columns(row: Sequence[Cell]) -> bool:
    return (
        len(row) >= 2
        and _COLUMNS_FIRST.fullmatch(row[0].text) is not None
        and _COLUMNS_LAST.fullmatch(row[-1].text) is not None
    )


def _item(text: str, commodity: Commodity | None, *, printed: str | None = None) -> LineItem | None:
    """The row's item; its description as ``printed`` ("Energy charge 2.412,5 kWh", not the "2,412.5 kWh" the
    amounts are read in)."""
    amounts = list(iter_money(text))
    if not amounts or not only_currency_marks(text[amounts[-1].end :]):
        return None  # the amount must close the row, as in an "Amount" column ("24,50 €" too)
    last = amounts[-1]
    description = " ".join(without_currency_mark((printed or text)[: last.start]).split()).strip(" .:-\u2013\u2014")
    if _NOT_ITEM.search(description) or not re.search(r"[A-Za-z]{2}", description):
        return None
    return LineItem(
        description=description[:200],
        category=_category(description),
        amount=last.value,
        commodity=_named_commodity(description) or _priced_commodity(description) or commodity,
    )


def _named_commodity(description: str) -> Commodity | None:
    """The commodity a row names ("Gas delivery charge"), which beats its section's; not a greenhouse gas's."""
    word = _COMMODITY_WORD.search(without_false_commodities(description))
    return _WORD_COMMODITY[word.group(1).lower()] if word else None


_PRICED_IN = (
    (re.compile(r"\d\s*kwh\b", re.IGNORECASE), Commodity.ELECTRICITY),
    (re.compile(r"\d\s*therms?\b", re.IGNORECASE), Commodity.GAS),
    (re.compile(r"\d\s*(?:k?gal(?:lons?)?)\b", re.IGNORECASE), Commodity.WATER),
)


def _priced_commodity(description: str) -> Commodity | None:
    """The commodity of the one unit a row prices ("Distribution Charge 116.3 therms @ $0.19830": gas), which beats
    its section's: a gas section under a heading the reader did not know filed its items under the electric one's."""
    priced = {commodity for unit, commodity in _PRICED_IN if unit.search(description)}
    return priced.pop() if len(priced) == 1 else None


def _category(description: str) -> LineItemCategory:
    for category, pattern in _CATEGORIES:
        if pattern.search(description):
            return category
    return LineItemCategory.OTHER
