"""Tolerant parsers for the values printed on bills: money, dates, quantities, account numbers.

Stdlib only, because ``extraction.checks`` (imported by workflow code) reuses the formats.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

from shared.bill import MONEY_LIMIT, QUANTITY_LIMIT

T = TypeVar("T")

MONTHS: dict[str, int] = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
MONTH_NAME = "|".join(sorted(MONTHS, key=len, reverse=True))
"""Any spelling of a month ``MONTHS`` knows, longest first, for a regex."""

DATE_RE = re.compile(
    rf"""
    (?:(?<![\w/-])|(?<=\d{{4}}-)|(?<=[/.-]\d{{2}}-))(?:  # after a date's year and a bare hyphen too:
                                                     # "01/05/2026-02/04/2026", "01/05/26-02/04/26"
        (?P<iy>\d{{4}})(?P<isep>[-/])(?P<im>\d{{1,2}})(?P=isep)(?P<id>\d{{1,2}})  # "2026-01-05", "2026/01/05"
      | (?P<hd>\d{{1,2}})(?P<hsep>-?)(?P<hm>{MONTH_NAME})(?P=hsep)(?P<hy>\d{{4}}|\d{{2}})  # "05-Jan-2026",
                                                     # "05-JAN-26", "05JAN2026": billing systems
      | (?P<nm>\d{{1,2}})[/.-](?P<nd>\d{{1,2}})[/.-](?P<ny>\d{{4}}|\d{{2}})
      | (?P<tm>{MONTH_NAME})(?:\.?\s+(?P<td>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<ty>\d{{4}})
                              |-(?P<xd>\d{{1,2}})-(?P<xy>\d{{4}}|\d{{2}}))  # "Jan 5, 2026"; "Jan-05-2026"
      | (?P<dd>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<dm>{MONTH_NAME})\.?,?\s+(?P<dy>\d{{4}})
    )(?![\w/])
    """,
    re.IGNORECASE | re.VERBOSE,
)

_NUMERIC_DATE_RE = re.compile(
    r"(?:(?<![\w/-])|(?<=\d{4}-)|(?<=[/.-]\d{2}-))(?P<nm>\d{1,2})[/.-](?P<nd>\d{1,2})[/.-](?P<ny>\d{4}|\d{2})(?![\w/])"
)
"""DATE_RE's numeric form alone, for ``numeric_day_first``: scanning a bill with all of DATE_RE's
alternatives twice per bill cost ~1 ms each."""

MONEY_RE = re.compile(
    r"""
    (?<![\w,$\u20ac\u00a3\-\u2212])
    (?<!\d\.)  # a dot after a digit joins numbers ("1.2.34"); a dot leader ("Total.....$160.09") does not
    (?P<usd0>\$\s*(?=\())?  # "$(14.20)": the sign's parentheses after the dollar sign
    (?P<open>\(\s*)?
    # U+2212 too: typeset PDFs print it for credits. Touching its figure ("-$9.58", "-9.58"), or a cell's own
    # mark ("Payments      - $50.00"); not a leader's last dash ("Customer charge - - - $9.58") nor a dash
    # between a word and its amount ("Amount due - $179.86"): read so, a whole bill was accepted as a credit.
    # Either way round such a dash may be a separator or a credit's sign: ``ambiguous_signs`` finds it for review.
    # A euro's or a pound's sign as a dollar's: "-\u20ac8.71" is a credit (the bill's currency is told apart elsewhere).
    (?P<minus>[-\u2212](?=[$\u20ac\u00a3\d])|(?<![^\s]\s)(?<!\A\s)[-\u2212]\s+)?
    (?:(?P<usd>[$\u20ac\u00a3]\s*)(?P<minus2>[-\u2212]\s*)?)?  # "$-20.00"; a bare figure's dash is ``minus``'s alone
    (?P<num>\d{1,3}(?:,\d{3})+|\d+)\.(?P<cents>\d{2})
    (?![\d%]|,\d|\.\d)  # not a longer figure's part; a comma before a blank is prose's ("$168.41, due by ...")
    (?P<close>\s*\))?
    # "20.00 CR" (as ever, even a column away), "20.00 cr", "20.00 CREDIT" in its own cell; not
    # "Credit Balance", "Credit: $5.00" or "Credit/Adjustments" in the next column.
    (?P<cr>(?:[ \t]*CR|[ \t]?(?i:cr|credit))\b(?![ \t]\w|[:/]))?
    (?P<trail>[-\u2212](?![\w.$]))?  # a trailing minus, as some billing systems print credits: "25.00-"
    """,
    re.VERBOSE,
)

MINUS_SIGNS = "-\u2212"
"""A hyphen-minus or U+2212 (typeset PDFs print the latter): a net-metering reading is negative."""

NOT_BEFORE_A_SIGN = MINUS_SIGNS + "\u2013\u2014"
"""A minus after another dash (a rule "--1,234 gallons", an en or em dash) is layout, not a sign."""

METRIC_UNIT = r"m\u00b3|(?<![^\s/(])(?:m3|kl|gj|cubic\s+met(?:re|er)s?|kilolit(?:re|er)s?|gigajoules?)"
"""The units a metric bill counts gas and water in: cubic metres (a kilolitre is one) and gigajoules. Spliced into
each unit pattern below and in the rules reader, beside the US units. Their letters only apart from a figure
("29 m3", "$2.19/m3", "Usage (m3)"): glued to one they end an identifier ("Meter 0045123M3", "20260914KL")."""

SCALED_UNIT = r"mwh|mcf|cu\.?[ \t]?ft|cubic\s+f(?:ee|oo)t"
"""Units a bill may count in that a reading is stored in another of: megawatt-hours as kWh, thousands of cubic
feet (gas) and cubic feet (water) as CCF (``scaled_quantity``). An industrial bill's "12.4 MWh" and a gas bill's
"5.2 Mcf" went to review for a missing usage."""

UNIT_RE = re.compile(
    rf"(?:(?<![\w.{re.escape(NOT_BEFORE_A_SIGN)}])(?P<sign>[{MINUS_SIGNS}]))?"
    r"(?<![\w.])(?<!\d,)(?!0{2,}(?![\d]|[.,]\d))"
    r"(?P<q>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+,\d{1,2}(?!\d)|\d+(?:\.\d+)?)[ \u00a0\u2009\u202f]?"
    rf"(?P<u>kwh|therms?|ccf|hcf|gallons|gal|{METRIC_UNIT}|{SCALED_UNIT})\b",
    re.IGNORECASE,
)
"""A quantity and its unit, apart by a space or none; a typeset PDF's no-break or thin space too ("512\\u00a0kWh").
A decimal comma's "12,5 kWh" whole: its "5 kWh" was read as the reading. Not zeros after a zero: "Water usage (000
gal): 4.5" counts in thousands of gallons (``GALLON_SCALE_RE``), and "000 gal" was read as a reading of 0 gallons."""


GALLON_SCALE_RE = re.compile(
    r"(?<!per )(?<!/)(?<!/ )"  # "$5.20 per kgal", "/1,000 gal": a rate, not the unit the usage is counted in
    r"(?:\(\s*(?:in\s+)?(?P<n>1,?0{2,}|0{2,})\s*gal(?:lons?)?\s*\)"
    r"|\bin\s+(?:units\s+of\s+)?(?P<m>1,?0{2,}|0{2,})\s*gal(?:lons?)?\b(?!\s*min)"
    r"|(?<![\w.,$])(?P<own>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?) ?"
    r"(?:(?:kgal|thousands?\s+(?:of\s+)?gallons)\b(?!\s*=)|\(\s*(?P<o>1,?0{2,}|0{2,})\s*gal(?:lons?)?\s*\))"
    r"|(?<![\d.,] )(?<![\d.,])\b(?:kgal|thousands?\s+(?:of\s+)?gallons)\b)",
    re.IGNORECASE,
)
"""A note that usage is counted in multiples of a gallon: "Usage (1,000 gal)", "in units of 1,000
gallons", "(kgal)", "(000 gal)" and "in 000 gallons" (the zeros the figure leaves out), or a figure in
them, its ``own``: "8 kgal", and a meter table's "8 (1000 GAL)" (a city's bill in the eval set); not a rate's
"per 1,000 gal" or "/kgal", an allowance's "(1,000 gal minimum)" or a conversion's "1 kgal = 1,000 gallons". The
rules reader and the evidence check share it: each had its own, and one multiplied out what the other refused to
confirm."""


CONVERSION_BEFORE = re.compile(
    rf"\b(?:units?|kwh|therms?|ccf|hcf|k?gal(?:lons?)?|{METRIC_UNIT}|{SCALED_UNIT})\s*=\s*", re.IGNORECASE
)
"""What stands before a conversion's result ("1 CCF = 748 gallons", "1 kgal = 1,000 gallons"): the size
of a unit, never a reading. A match ends where the result starts: found once a line, not looked for in
all of the line before each figure."""


_ALLOWANCE_BEFORE = re.compile(
    r"\b(?:minimum|min\.?|allowance|includ(?:es?|ed|ing))(?:\s*(?:of|usage|use|charge|bill|for|[:(]|\$?[\d,]+\.\d\d))*\s*$",
    re.IGNORECASE,
)
_ALLOWANCE_AFTER = re.compile(r"[ \t]?\)?[ \t]?(?:minimum|min\b|included|allowance)", re.IGNORECASE)


def allowance(text: str, start: int, end: int) -> bool:
    """Whether the quantity at ``text[start:end]`` is what a minimum charge covers: "Minimum 2,000 gallons",
    "Minimum charge $12.00 (2,000 gal)", "includes 2,000 gallons", "(2,000 gal minimum)"; never a reading.
    The rules reader and the evidence check share it: a gallon reading of a minimum went through both."""
    return allowance_at(text, start, end) is not None


def allowance_at(text: str, start: int, end: int) -> int | None:
    """Where the word that makes ``text[start:end]`` a minimum stands ("Minimum 2,000 gallons"), if any:
    the rules reader doubts a minimum printed after a usage label ("Total usage above minimum 1,234")."""
    before = _ALLOWANCE_BEFORE.search(text, max(0, start - 80), start)
    if before is not None:
        return before.start()
    after = _ALLOWANCE_AFTER.match(text, end)
    return after.end() if after is not None else None


def gallon_scale(note: re.Match[str]) -> Decimal:
    """The gallons one unit of a ``GALLON_SCALE_RE`` note holds: 1,000 for "(1,000 gal)", "(000 gal)" and "kgal"."""
    size = (note["n"] or note["m"] or note["o"] or "1000").replace(",", "")
    return Decimal(10) ** len(size) if size.startswith("0") else Decimal(size)


def within(spans: Sequence[tuple[int, int]], position: int) -> bool:
    """Whether ``position`` falls in one of ``spans`` (in order, apart): a search, since a crafted text
    holds thousands of notes and quantities and comparing each with each grew with their product."""
    index = bisect.bisect_right(spans, position, key=lambda span: span[0]) - 1
    return index >= 0 and position < spans[index][1]


def scaled_figure(note: re.Match[str], after: str) -> Decimal | None:
    """The figure a ``GALLON_SCALE_RE`` note is about, in gallons: its own ("8 kgal"), else the bare
    figure ``after`` it starts with (7.995 in "): 7.995 est."); none for a word ("Days") or an amount
    ("$12.00": a note on a charge line)."""
    if note["own"]:
        figure: Decimal | None = parse_quantity(note["own"])
    else:
        tokens = after.lstrip(" ):").split(maxsplit=1)
        figure = parse_quantity(tokens[0]) if tokens else None
    return figure * gallon_scale(note) if figure is not None and figure >= 0 else None


@dataclass(frozen=True)
class Found(Generic[T]):
    """A value found in a line, with where it was, so callers can reason about columns."""

    value: T
    start: int
    end: int


def iter_dates(text: str, *, day_first: bool = False) -> Iterator[Found[date]]:
    """Dates in ``text``; ``day_first`` reads "04/03/2026" as 4 March (see ``numeric_day_first``)."""
    for match in DATE_RE.finditer(text):
        parsed = _date_from_match(match, day_first=day_first)
        if parsed is not None:
            yield Found(parsed, match.start(), match.end())


RANGE_GAP = re.compile(r"\s*(?:-|\u2013|\u2014|(?:to|through|thru|until):?)\s*", re.IGNORECASE)
"""What joins a period's two dates: "Jan 5 - Feb 4, 2026", "Dec 3, 2025 through Jan 2, 2026"."""
_YEARLESS_START_RE = re.compile(
    rf"""(?<![\w/-])(?:
        (?P<m>{MONTH_NAME})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?  # "Jan 5", "Jan. 5th"
      | (?P<dd>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<dm>{MONTH_NAME})\b\.?  # "5 Jan", "5th January"
      | (?P<sm>\d{{1,2}})/(?P<sd>\d{{1,2}})(?![/\d])  # "10/01" of "10/01-10/31/26"
    )(?!\w)""",
    re.IGNORECASE | re.VERBOSE,
)
_DAY_AND_YEAR_RE = re.compile(r"(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})(?![\w/])")
"""A period's end in its start's month, its day and year alone: the "31, 2026" of "Oct 1 - 31, 2026"."""
_DATE_WITHIN = 40
"""How far a date may reach (at most ~25 characters: "September 30th, 2026")."""


def iter_yearless_periods(text: str, *, day_first: bool = False) -> Iterator[Found[tuple[date, date]]]:
    """Periods whose start is printed without its year ("Jan 5 - Feb 4, 2026"): in the end's year, or the
    year before when its day of the year comes after the end's ("Dec 5 - Jan 4, 2026", "Jan 20 - Jan 19, 2026")."""
    for start in _YEARLESS_START_RE.finditer(text):
        period = _yearless_period(text, start, day_first=day_first)
        if period is not None:
            yield period


def _yearless_period(text: str, start: re.Match[str], *, day_first: bool) -> Found[tuple[date, date]] | None:
    gap = RANGE_GAP.match(text, start.end())
    if gap is None:
        return None
    # From a slice: in "Jan 5-Feb 4, 2026" the end follows a hyphen, where DATE_RE does not start a date.
    end = DATE_RE.match(text[gap.end() : gap.end() + _DATE_WITHIN])
    end_date = _date_from_match(end, day_first=day_first) if end else None
    if end is None or end_date is None:
        return _within_its_month(text, start, gap.end())
    if start["sm"]:  # "10/01": read in the order the end's numbers are
        first_number, second_number = int(start["sm"]), int(start["sd"])
        month, day = (second_number, first_number) if day_first else (first_number, second_number)
    else:
        month, day = MONTHS[(start["m"] or start["dm"]).lower()], int(start["d"] or start["dd"])
    try:
        first = date(end_date.year - 1 if (month, day) > (end_date.month, end_date.day) else end_date.year, month, day)
    except ValueError:  # "Feb 30"
        return None
    return Found((first, end_date), start.start(), gap.end() + end.end())


def _within_its_month(text: str, start: re.Match[str], at: int) -> Found[tuple[date, date]] | None:
    """A period within one month, its end the day and year alone ("Oct 1 - 31, 2026"): a label's only period, and
    the bill went to review with none."""
    end = _DAY_AND_YEAR_RE.match(text, at, at + _DATE_WITHIN) if start["m"] else None
    if end is None or not _plausible_year(end["y"]) or int(end["d"]) <= int(start["d"]):
        return None
    month = MONTHS[start["m"].lower()]
    try:
        period = (date(int(end["y"]), month, int(start["d"])), date(int(end["y"]), month, int(end["d"])))
    except ValueError:  # "Feb 1 - 30, 2026"
        return None
    return Found(period, start.start(), end.end())


_DAYS_ENDING_RE = re.compile(r"\b(?P<n>\d{1,3})\s+days?\s+(?:ending|ended|through|thru|to)\s+", re.IGNORECASE)
_MOST_DAYS = 400
"""A longer count is no billing period's ("999 days ending ...")."""


def iter_days_ending(text: str, *, day_first: bool = False) -> Iterator[Found[tuple[date, date]]]:
    """The periods counts of days ending on a date cover, both days counted: "31 days ending 10/31/2026" is
    October. A label's only period, and the bill went to review with none."""
    for counted in _DAYS_ENDING_RE.finditer(text):
        end = DATE_RE.match(text, counted.end(), counted.end() + _DATE_WITHIN)
        end_date = _date_from_match(end, day_first=day_first) if end else None
        if end is not None and end_date is not None and 0 < int(counted["n"]) <= _MOST_DAYS:
            yield Found((end_date - timedelta(days=int(counted["n"]) - 1), end_date), counted.start(), end.end())


def parse_date(text: str, *, day_first: bool = False) -> date | None:
    """The single date ``text`` consists of (surrounding spaces allowed), else None."""
    match = DATE_RE.fullmatch(text.strip())
    return _date_from_match(match, day_first=day_first) if match else None


@dataclass(frozen=True)
class DateOrder:
    """How a text writes its numeric dates: ``day_first`` or not, and whether nothing says."""

    day_first: bool
    two_way: frozenset[date] = frozenset()
    """When no date decides the order: the month-first readings of the numeric dates that are other dates
    read day first ("04/03/2026": 3 April, or 4 March). A US bill whose every day is 12 or less and a
    British one alike; read month first, the British one's dates were silently wrong."""


def numeric_date_order(text: str) -> DateOrder:
    """Whether ``text`` writes numeric dates day first: one of them ("18/03/2026") can only be read so,
    and none ("03/18/2026") only month first. Australian and Canadian bills print "$" and day-first
    dates; read month first, their dates were missing or, when every day was 12 or less, wrong."""
    day_only: set[str] = set()
    month_only = False
    two_way: set[date] = set()
    for match in _NUMERIC_DATE_RE.finditer(text):
        if _plausible_year(match["ny"]):
            first, second = int(match["nm"]), int(match["nd"])
            if 12 < first <= 31 and 1 <= second <= 12:
                day_only.add(match[0])
            month_only |= 12 < second <= 31 and 1 <= first <= 12
            if 1 <= first <= 12 and 1 <= second <= 12 and first != second:
                year = int(match["ny"])
                two_way.add(date(full_year(year), first, second))
    # Two different such dates: one could be something else that looks like one (a reference
    # "25-10-26", a meter read "14.02.26"), and it would turn every date of a US bill around.
    if len(day_only) >= 2 and not month_only:
        return DateOrder(day_first=True)
    return DateOrder(day_first=False, two_way=frozenset() if month_only else frozenset(two_way))


def numeric_day_first(text: str) -> bool:
    """Whether ``text`` writes numeric dates day first (see ``numeric_date_order``)."""
    return numeric_date_order(text).day_first


def swap_day_and_month(value: date) -> date:
    """``value`` as its numeric form reads the other way round: 4 March 2026 for 3 April 2026."""
    return value.replace(month=value.day, day=value.month)


_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND"
    "|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_MONTH_FIRST_PLACE = re.compile(rf"\b(?:{_US_STATES}),?\s+\d{{5}}(?:-\d{{4}})?(?!\d)")
"""A US address ("Sacramento, CA 95899-7300"): the US writes dates month first."""
_DAY_FIRST_PLACE = re.compile(
    r"[\u00a3\u20ac]|\b(?:GBP|EUR|AUD|NZD|VAT|ABN)\b|\b(?:United\s+Kingdom|Australia|New\s+Zealand|Ireland)\b"
)
"""Pounds, euros, a VAT or an Australian business number, a country that writes dates day first."""


def day_first_place(text: str) -> bool | None:
    """Whether ``text`` places the bill where dates are written day first (True) or month first (False);
    None when it says neither, or both."""
    day_first, month_first = _DAY_FIRST_PLACE.search(text), _MONTH_FIRST_PLACE.search(text)
    if bool(day_first) == bool(month_first):
        return None
    return bool(day_first)


def _plausible_year(year: str) -> bool:
    """A bill's year: an account number "24-07-5531" is no date of 5531."""
    return len(year) == 2 or 2000 <= int(year) <= 2099


def full_year(year: int) -> int:
    """A year as printed, two digits in full as ``strptime``'s ``%y`` reads them: 69-99 the 1900s, 00-68 the 2000s.
    "04/13/99" was read as 2099, and its bill sent to review as dated in the future."""
    if year >= 100:
        return year
    return year + (1900 if year >= 69 else 2000)


def _date_from_match(match: re.Match[str], *, day_first: bool = False) -> date | None:
    g = match.groupdict()
    try:
        if g["iy"]:
            return date(int(g["iy"]), int(g["im"]), int(g["id"]))
        if g["nm"]:
            year = full_year(int(g["ny"]))
            month, day = (int(g["nd"]), int(g["nm"])) if day_first else (int(g["nm"]), int(g["nd"]))
            return date(year, month, day)
        if g["hd"]:
            year = int(g["hy"])
            return date(full_year(year), MONTHS[g["hm"].lower()], int(g["hd"]))
        if g["tm"]:
            year = int(g["ty"] or g["xy"])
            day = int(g["td"] or g["xd"])
            return date(full_year(year), MONTHS[g["tm"].lower()], day)
        return date(int(g["dy"]), MONTHS[g["dm"].lower()], int(g["dd"]))
    except ValueError:
        return None


def iter_money(text: str) -> Iterator[Found[Decimal]]:
    """Amounts in ``text``; a figure too large for any bill to hold is not one."""
    for match in MONEY_RE.finditer(text):
        g = match.groupdict()
        amount = Decimal(f"{g['num'].replace(',', '')}.{g['cents']}")
        if amount >= MONEY_LIMIT:
            continue
        negative = bool(g["minus"] or g["minus2"] or g["cr"] or g["trail"] or (g["open"] and g["close"]))
        start = match.start("num") if g["open"] and not g["close"] else match.start()
        yield Found(-amount if negative else amount, start, match.end())


_SPACED_DASH_FIGURE = re.compile(
    r"(?<=[^\s\-\u2212])(?<!\d\.\d\d)[ \t][-\u2212][ \t]+\$?[ \t]*(?P<num>\d{1,3}(?:,\d{3})+|\d+)\.(?P<cents>\d{2})"
    r"(?![\d%]|,\d|\.\d)"
)
"""Not after an amount: "$150.00 - $265.05" is a range."""


def ambiguous_signs(text: str) -> set[Decimal]:
    """The amounts a dash between single blanks stands before ("Amount due - $179.86", "Current charges - $30.40"):
    ``MONEY_RE`` reads them as owed, the dash a separator, but a bill may print a credit so. Not a leader's last
    dash ("Customer charge - - - $9.58")."""
    matches = _SPACED_DASH_FIGURE.finditer(text)
    figures = {Decimal(f"{match['num'].replace(',', '')}.{match['cents']}") for match in matches}
    return {figure for figure in figures if figure}  # a zero has no sign to get wrong


def parse_money(text: str) -> Decimal | None:
    """The amount ``text`` consists of: "$1,234.56", "-20.00", "20.00 CR", "20.00-", "($20.00)"."""
    stripped = text.strip()
    for found in iter_money(stripped):
        if found.start == 0 and found.end == len(stripped):
            return found.value
    return None


_POINT_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_COMMA_NUMBER = r"\d{1,3}(?:\.\d{3})+,\d+|\d+,\d+"
_COMMA_NUMBER_RE = re.compile(_COMMA_NUMBER)
_QUANTITY_RE = re.compile(rf"(?P<sign>[{MINUS_SIGNS}])?(?P<q>{_POINT_NUMBER}|{_COMMA_NUMBER})")


_CURRENCY_MARK = r"(?:[\u20ac\u00a3\u00a5]|\b(?:USD|EUR|GBP|CHF|CAD|AUD)\b)"
_MARKS_RE = re.compile(rf"[\s:#]*(?:{_CURRENCY_MARK}[\s:#]*)?")
_MARK_AT_END_RE = re.compile(rf"{_CURRENCY_MARK}\Z")


def only_currency_marks(text: str) -> bool:
    """Whether ``text``, beside an amount in its cell, is blanks and a currency's sign or code at most: "€ 1.234,50",
    "1.234,50 EUR" are amounts as "$1,234.50" is (``MONEY_RE`` takes the dollar sign in)."""
    return _MARKS_RE.fullmatch(text) is not None


def without_currency_mark(text: str) -> str:
    """``text`` without the currency sign or code that ends it: an item's wording before its "€ 24,50".

    Blanks stripped first, the mark then looked for at the end only: a pattern with blanks on both sides of
    the mark, tried at each of a padded column's blanks, took seconds over a bill's rows of a thousand."""
    end = _blank_end(text, len(text))
    mark = _MARK_AT_END_RE.search(text, 0, end)
    return text if mark is None else text[: _blank_end(text, mark.start())]


def _blank_end(text: str, end: int) -> int:
    """Where ``text[:end]`` ends without its trailing blanks, colons and "#"."""
    while end and (text[end - 1].isspace() or text[end - 1] in ":#"):
        end -= 1
    return end


def signed_quantity(sign: str | None, digits: str) -> Decimal:
    """``digits`` ("1,234.5") as a Decimal, negated when a minus sign is attached. A comma no thousands group
    follows is a decimal comma ("12,5", "1.234,56"): "12,5" was read as 125."""
    if _COMMA_NUMBER_RE.fullmatch(digits) and not re.fullmatch(_POINT_NUMBER, digits):
        digits = digits.replace(".", "").replace(",", ".")
    quantity = Decimal(digits.replace(",", ""))
    return quantity.copy_negate() if sign else quantity  # unary minus rounds in the context: Overflow past its range


def parse_quantity(text: str) -> Decimal | None:
    """A plain number such as "1,234", "512.5", "12,5", "1.234,56" or "-245" (net metering); None for
    anything else ("1,2,3"). "1,234" is read the US way, as a text whose numbers write a decimal comma is
    read once ``us_number_text`` has turned them round."""
    match = _QUANTITY_RE.fullmatch(text.strip())
    if match is None:
        return None
    try:
        quantity = signed_quantity(match.group("sign"), match.group("q"))
    except InvalidOperation:
        return None
    return quantity if quantity.copy_abs() < QUANTITY_LIMIT else None  # abs() overflows past the context's range


_COMMA_DECIMALS_RE = re.compile(
    r"(?<![\d.,])(?:\d{1,3}(?:\.\d{3})+,\d+|\d{1,3}(?:\.\d{3}){2,}|\d+,(?:\d{1,2}|(?!(?:19|20)\d\d(?!\d))\d{4,}))"
    r"(?![.,]?\d)"
)
"""A number only a decimal comma writes so: "1.234,56", "1.234.567", "85,00", "0,1123"; not a date's "Jan
5,2026"."""
_BLANK = "[ \u00a0\u2009\u202f]"
_MARK_BEFORE_RE = re.compile(rf"{_CURRENCY_MARK}{_BLANK}?\Z")
_MARK_OR_UNIT_AFTER_RE = re.compile(
    rf"{_BLANK}?(?:{_CURRENCY_MARK}|ct/|(?i:kwh|mwh|therms?|ccf|hcf|gal(?:lons)?|{METRIC_UNIT})(?![A-Za-z]))"
)
_RANGE_BEFORE_RE = re.compile(r"\d[ \t]?[-\u2013][ \t]?\Z")
_RANGE_AFTER_RE = re.compile(r"[ \t]?[-\u2013][ \t]?\d")
_POINT_DECIMALS_RE = re.compile(
    r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+\.\d+|\d{1,3}(?:,\d{3}){2,}|\d+\.(?:\d{1,2}|\d{4,}))(?![.,]?\d)"
)
"""A number only a decimal point writes so: "1,234.56", "1,234,567", "85.00", "0.1123". Neither counts "1,234"
nor "1.234", which read either way, nor a date's "15.03.2026"."""
CLEAR_MAJORITY = 3
"""How many times the numbers of one convention must outnumber the other's for it to be the bill's: a US bill
may print a "1,5" (a list), a European one a version's "2.1"."""
MIN_COMMA_DECIMALS = 2
"""How many telling decimal commas (``_telling_comma``) a text needs before its convention is looked at: one
stray "8,30" turned a whole-dollar US bill's "1,234" into 1.234."""


@dataclass(frozen=True)
class NumberFormat:
    """How a text writes its decimals: ``decimal_comma`` ("1.234,56"), or not; ``mixed`` when it prints both
    and neither clearly more: then none of its numbers that read either way ("1.234") can be trusted."""

    decimal_comma: bool
    mixed: bool = False


@functools.lru_cache(maxsize=8)
def number_format(text: str) -> NumberFormat:
    """Whether ``text`` writes decimal commas: by the numbers only one convention writes (see
    ``_COMMA_DECIMALS_RE``), decimal commas only where they tell (``_telling_comma``). European bills do
    ("1.234,56 kWh", "€ 1.234,56"); the rules read them as 56 kWh and no amount. Decided once per text:
    the rules reader, the evidence and the checks all ask it of a bill's text (cached)."""
    commas = sum(_telling_comma(text, number) for number in _COMMA_DECIMALS_RE.finditer(text))
    if commas < MIN_COMMA_DECIMALS:
        return NumberFormat(decimal_comma=False)
    points = len(_POINT_DECIMALS_RE.findall(text))
    if commas >= CLEAR_MAJORITY * points:
        return NumberFormat(decimal_comma=True)
    return NumberFormat(decimal_comma=False, mixed=points < CLEAR_MAJORITY * commas)


def _telling_comma(text: str, number: re.Match[str]) -> bool:
    """Whether a number only a decimal comma writes is one of a bill's: beside a currency's mark or a unit
    ("€ 12,50", "2.412,5 kWh", "0,3012 €/kWh"), or with cents ("85,00") outside a range of times ("Office
    hours 8,30-5,00"). A US bill's "Meters 1,2" and a date's "Jan 5,2026" tell nothing."""
    start, end = number.span()
    if _MARK_BEFORE_RE.search(text, max(0, start - 5), start) or _MARK_OR_UNIT_AFTER_RE.match(text, end):
        return True
    if number.group()[-3:-2] != ",":  # no cents ("0,1123", "1.234.567"): a rate, a reading beside no unit
        return False
    return not (_RANGE_BEFORE_RE.search(text, max(0, start - 4), start) or _RANGE_AFTER_RE.match(text, end))


_COMMA_NUMBER_IN_TEXT_RE = re.compile(
    r"(?<![\d.,])(?:\d{1,3}(?:\.\d{3})+(?:,\d+)?"
    r"|(?<!\d[\u00a0\u2009\u202f])\d{1,3}(?:[\u00a0\u2009\u202f]\d{3})+,\d+"
    r"|(?<!\d )(?P<spaced>\d{1,3}(?: \d{3})+,\d+)|\d+,\d+)(?![.,]?\d)"
)
"""A decimal-comma text's number: its thousands apart by dots, or by a typeset no-break or thin space ("1\u00a0234,56"),
or by a plain space where it starts a cell (``spaced``: see ``_as_points``). A group run is taken from its first group
only: from each, it was scanned to its end."""
_TO_POINTS = str.maketrans({".": ",", ",": ".", " ": ",", "\u00a0": ",", "\u2009": ",", "\u202f": ","})
_VALUE_START_RE = re.compile(rf"(?:\A|[\n\t]|  |[:|(] ?|{_CURRENCY_MARK}{_BLANK}?|(?<!\w)[{MINUS_SIGNS}])\Z")
"""What stands right before a figure that starts a cell: a line's start, a column's gap (two blanks, a tab), a
label's colon, a parenthesis, a currency's mark ("\u20ac 1 125,00") or a sign ("-1 125,00")."""
_GROUP_BEFORE_RE = re.compile(r"(?<![\d.,])\d{1,3} \Z")
"""A group of one to three digits and a plain space, before a figure: "31 125,00" may be 31,125.00."""
_GROUP_AND_DECIMALS_RE = re.compile(r"\d{3},\d+")
_FIGURE_GROUPS = 5
"""The most groups a bill's figure has (``QUANTITY_LIMIT``): a longer run's own figures are no bill's."""


def decimal_commas_as_points(text: str) -> str:
    """``text``'s numbers written the US way ("1.234,56" as "1,234.56", "1\u00a0234,56" as "1,234.56", "12,5" as
    "12.5"), each as long as before so columns stay: for a text of which ``number_format`` said so (a page
    of a document it said so of, which alone may tell nothing)."""
    return _COMMA_NUMBER_IN_TEXT_RE.sub(lambda number: _as_points(number, None), text)


_UNIT_AHEAD = rf"(?={_BLANK}?(?:kwh|therms?|ccf|hcf|gallons|gal|{METRIC_UNIT})\b)"
_SPACED_QUANTITY_RE = re.compile(
    # A digit first, what stands before it looked at from after it: re then skips to digits (3x as fast).
    rf"\d(?<![\w.,\u00a0\u2009\u202f]\d)(?<!\d \d)\d{{0,2}}(?P<sep>{_BLANK})\d{{3}}(?:(?P=sep)\d{{3}})*(?:\.\d+)?"
    + _UNIT_AHEAD,
    re.IGNORECASE,
)
"""A quantity before its unit, its thousands apart by one kind of space ("12 345 kWh", "12\u00a0345 kWh"):
``UNIT_RE`` read its last group alone (345 kWh). Matched in text whose decimal commas are turned round
(``decimal_commas_as_points``); a run is taken from its first group only, as ``_COMMA_NUMBER_IN_TEXT_RE``'s."""
_GROUP_AND_QUANTITY_RE = re.compile(rf"(?<![\w.,])(?P<group>\d{{1,3}}) (?P<q>\d{{3}}(?:\.\d+)?){_UNIT_AHEAD}", re.I)
"""A group of one to three digits, a plain space and a quantity's three before its unit, in text whose runs read
whole are written with commas: "Zeile 2 31 125 kWh", whose "31 125" began no run, may be 31,125 kWh."""


def spaced_quantities_as_commas(text: str, *, decimal_comma: bool) -> str:
    """``text`` with each quantity grouped by spaces before its unit written with commas ("12\u00a0345 kWh" as
    "12,345 kWh"), as long as before, where it reads one way (``_spaced_quantity``)."""
    return _SPACED_QUANTITY_RE.sub(lambda run: _spaced_quantity(run, decimal_comma=decimal_comma), text)


def _spaced_quantity(run: re.Match[str], *, decimal_comma: bool) -> str:
    """``run`` with commas for its spaces where they group thousands. A typeset no-break or thin space always does.
    A plain space does only in a ``decimal_comma`` text, whose amounts group so too ("1 125,00"), and where the
    figure starts its cell (``_VALUE_START_RE``), as in ``_as_points``; after a word and one space ("Verbrauch
    12 345 kWh") the first group may be the label's: left to be read as before (345), and doubted
    (``ambiguous_quantities``). In any other text a plain space groups nothing, and is doubted as well: "30 512 kWh"
    may be a column of days and the reading."""
    text, start, digits = run.string, run.start(), run.group()
    if run["sep"] != " ":
        return digits.replace(run["sep"], ",")
    if decimal_comma and _VALUE_START_RE.search(text, max(0, start - 8), start):
        return digits.replace(" ", ",")
    return digits


_TYPESET_GROUPED_DECIMAL_RE = re.compile(
    # A digit first, what stands before it looked at from after it, as in ``_SPACED_QUANTITY_RE``.
    r"\d(?<![\w.,\u00a0\u2009\u202f]\d)\d{0,2}(?P<sep>[\u00a0\u2009\u202f])\d{3}(?:(?P=sep)\d{3})*(?=\.\d)"
)
"""A decimal point's figure, its thousands apart by one kind of typeset space ("$1\u00a0234.56", "1\u2009234.56"):
``MONEY_RE`` read its last group alone (234.56), every amount of the bill alike, and they added up."""


_DOLLARS_SPACE_GROUPED_RE = re.compile(r"(?P<sign>\$ ?)(?P<groups>\d{1,3}(?: \d{3})+)(?=\.\d\d(?![\d%]|,\d|\.\d))")
"""A dollar amount its thousands apart by plain spaces ("$1 318.75"): a dollar sign's "$1" is no amount of its own
(an amount has cents), so the space groups. ``MONEY_RE`` read 318.75, every amount of the bill alike, and the bill
added up a thousand dollars short."""


def typeset_groups_as_commas(text: str) -> str:
    """A decimal-point ``text``'s figures grouped by a typeset no-break, thin or narrow no-break space, or by plain
    spaces right after a dollar sign, written with commas ("$1\u00a0234.56", "$1 234.56" as "$1,234.56"), as long as
    before. Not another figure's plain spaces: "30 512.00" may be a column of days and an amount, or 30,512.00
    (``ambiguous_figures`` doubts a bill read with either)."""
    text = _TYPESET_GROUPED_DECIMAL_RE.sub(lambda run: run.group().replace(run["sep"], ","), text)
    return _DOLLARS_SPACE_GROUPED_RE.sub(lambda run: run["sign"] + run["groups"].replace(" ", ","), text)


_APOSTROPHE_GROUPED_RE = re.compile(
    # A digit first, what stands before it looked at from after it, as in ``_SPACED_QUANTITY_RE``.
    r"\d(?<![\w.,'\u2019]\d)\d{0,2}(?P<sep>['\u2019])\d{3}(?:(?P=sep)\d{3})*(?![\w'\u2019])"
)
"""A figure its thousands apart by apostrophes, as Swiss bills print them ("CHF 1'234.56", "12’345 kWh"):
``MONEY_RE`` and ``UNIT_RE`` read its last group alone (234.56, 345 kWh)."""


def apostrophe_groups_as_marks(text: str, *, decimal_comma: bool) -> str:
    """``text``'s figures grouped by apostrophes written with the thousands mark of its convention ("1'234.56" as
    "1,234.56"; "1'234,56" as "1.234,56", which ``decimal_commas_as_points`` turns round), as long as before."""
    mark = "." if decimal_comma else ","
    return _APOSTROPHE_GROUPED_RE.sub(lambda run: run.group().replace(run["sep"], mark), text)


def us_numbers(text: str, *, decimal_comma: bool) -> str:
    """``text``'s numbers as the rules read them, each as long as before so columns stay: figures grouped by
    apostrophes written with its thousands mark (``apostrophe_groups_as_marks``), then a ``decimal_comma``
    text's turned round (``decimal_commas_as_points``), another's figures grouped by typeset spaces written with
    commas (``typeset_groups_as_commas``), and a quantity grouped by spaces before its unit written with commas
    (``spaced_quantities_as_commas``)."""
    text = apostrophe_groups_as_marks(text, decimal_comma=decimal_comma)
    turned = decimal_commas_as_points(text) if decimal_comma else typeset_groups_as_commas(text)
    return spaced_quantities_as_commas(turned, decimal_comma=decimal_comma)


_PLAIN_SPACED_DECIMAL_RE = re.compile(
    r"(?<![\w.,$\u00a0\u2009\u202f])(?<!\$ )(?<!\d )(?P<groups>\d{1,3}(?: \d{3})+)\.(?P<cents>\d+)(?![\d%]|,\d|\.\d)"
)
"""A decimal-point text's figure whose thousands a plain space may group ("Total amount due 1 318.75"), or which
is two figures ("Days 30 512.00"): not after a dollar sign, where the space groups (``typeset_groups_as_commas``)."""


_DATE_BEFORE_RE = re.compile(r"(?:(?<=\d)[/-]|\b[A-Za-z]{3,9}\.?[ \t])\Z")
"""What before a group of digits makes it a date's day ("10/15 120.00", "Nov 30 142.31", "10/06-11/04 512 kWh"): the
figure after the blank is an amount or a reading of its own, not the group's thousands. A word other than a month's
("due 1 318.75") leaves it doubted; only a month's name counts (``_after_a_date``). Not a minus ("-1 200.00")."""
_DAY_THEN_GROUPS = rf"(?:\d[/-]|\b(?i:{MONTH_NAME})\.?[ \t])\d{{1,2}} (?P<groups>\d{{1,3}}(?: \d{{3}})+)"
_GROUPS_AFTER_A_DAY_RE = re.compile(rf"{_DAY_THEN_GROUPS}\.(?P<cents>\d+)(?![\d%]|,\d|\.\d)")
_QUANTITY_AFTER_A_DAY_RE = re.compile(rf"{_DAY_THEN_GROUPS}(?P<decimals>\.\d+)?{_UNIT_AHEAD}", re.IGNORECASE)
"""A date's day, then a figure its thousands a plain space may group ("Amount due 11/30 1 318.75", "Usage 10/06-11/04
5 120 kWh"): the day is no group of it, but the groups after it are doubted as any others (``ambiguous_figures``)."""


def _after_a_date(text: str, start: int) -> bool:
    """Whether the digit group at ``start`` is a date's day or month: after a slash or a dash, or a month's name."""
    before = _DATE_BEFORE_RE.search(text, max(0, start - 11), start)
    if before is None:
        return False
    word = before.group().strip(" \t.").lower()
    return word in ("/", "-") or word in MONTHS


_DIGITS_SPACED = re.compile(r"\d[ \u00a0\u2009\u202f]\d{3}")
"""A digit, a blank and three more: where none is, no figure is grouped by a space."""


def _suffixes(groups: Sequence[str], decimals: str = "") -> set[Decimal]:
    """What a run of digit groups may be: the whole, or its last groups alone ("1 318" and ".75": 1318.75, 318.75)."""
    kept = groups[-_FIGURE_GROUPS:]
    return {Decimal("".join(kept[i:]) + decimals) for i in range(len(kept))}


def ambiguous_figures(text: str) -> frozenset[Decimal]:
    """The figures a ``text``'s numbers grouped by a plain space may be, where the space may as well set two figures
    apart (a decimal-comma text's "Grundpreis 1 125,00 \u20ac": 1,125.00 or 125.00; a decimal-point text's "Amount
    due 1 318.75", or "Days 30 512.00"): a bill read with one of them goes to review (``check_bill``). The rules read
    a decimal-point text's such figure as its last group: every amount of a bill printing its thousands so ("1 318.75")
    was read a thousand short, and added up."""
    if not number_format(text).decimal_comma:
        if _DIGITS_SPACED.search(text) is None:  # most bills: the scans below cost a bill's worth of regex time
            return frozenset()
        spaced = [run for run in _PLAIN_SPACED_DECIMAL_RE.finditer(text) if not _after_a_date(text, run.start())]
        spaced += _GROUPS_AFTER_A_DAY_RE.finditer(text)
        return frozenset(figure for run in spaced for figure in _suffixes(run["groups"].split(" "), f".{run['cents']}"))
    figures: set[Decimal] = set()
    for number in _COMMA_NUMBER_IN_TEXT_RE.finditer(text):
        _as_points(number, figures)
    return frozenset(figures)


def ambiguous_quantities(text: str) -> frozenset[Decimal]:
    """The quantities a ``text``'s figures before a unit, their thousands apart by a plain space the rules do not
    read as grouping, may be: after a word or a figure in a decimal-comma text ("Verbrauch 12 345 kWh": 12,345 or
    345 kWh; "Zeile 2 31 125 kWh": 31,125 or 125), anywhere in a decimal-point one ("Total Usage: 11 200 kWh" was
    read as 200 kWh and accepted; "Days 30 512 kWh" may be a column of days). A bill whose usage reads one of them goes
    to review (``check_bill``); its amounts do not."""
    if not number_format(text).decimal_comma:
        if _DIGITS_SPACED.search(text) is None:
            return frozenset()
        runs = _SPACED_QUANTITY_RE.finditer(turned := typeset_groups_as_commas(text))
        spaced = [run.group() for run in runs if run["sep"] == " " and not _after_a_date(turned, run.start())]
        spaced += (run["groups"] + (run["decimals"] or "") for run in _QUANTITY_AFTER_A_DAY_RE.finditer(turned))
        return frozenset(quantity for run in spaced for quantity in _suffixes(run.split()))
    quantities: set[Decimal] = set()
    for run in _SPACED_QUANTITY_RE.finditer(turned := decimal_commas_as_points(text)):
        if run["sep"] == " " and _spaced_quantity(run, decimal_comma=True) == run.group():  # not read whole
            quantities.update(_suffixes(run.group().split(" ")))
    for pair in _GROUP_AND_QUANTITY_RE.finditer(spaced_quantities_as_commas(turned, decimal_comma=True)):
        quantities.update({Decimal(pair["q"]), Decimal(pair["group"] + pair["q"])})
    return frozenset(quantities)


def _as_points(number: re.Match[str], ambiguous: set[Decimal] | None) -> str:
    """``number`` written the US way; what it may be besides added to ``ambiguous`` (when given).

    A plain space groups thousands ("1 125,00" is 1,125.00) where the figure starts its cell (``_VALUE_START_RE``),
    since a column's gap is wider; after a word or a figure and one space ("Grundpreis 1 125,00 \u20ac", "Tage
    31 125,00") its first group may be the label's: read from the space on, as before (125.00), and doubted."""
    text, start, digits = number.string, number.start(), number.group()
    if number["spaced"] is not None and not _VALUE_START_RE.search(text, max(0, start - 8), start):
        head, _, tail = digits.rpartition(" ")
        if ambiguous is not None:
            groups = digits.split(" ")[-_FIGURE_GROUPS:]
            ambiguous.update(_comma_figure("".join(groups[i:])) for i in range(len(groups)))
        return f"{head} {tail.translate(_TO_POINTS)}"
    if ambiguous is not None and number["spaced"] is None and _GROUP_AND_DECIMALS_RE.fullmatch(digits):
        group = _GROUP_BEFORE_RE.search(text, max(0, start - 4), start)  # "2 31 125,00": "31 125,00" began no run
        if group is not None:
            ambiguous.update({_comma_figure(digits), _comma_figure(group.group()[:-1] + digits)})
    return digits.translate(_TO_POINTS)


def _comma_figure(digits: str) -> Decimal:
    """A decimal comma's digits ("1125,00") as a Decimal."""
    return Decimal(digits.replace(",", "."))


def us_number_text(text: str) -> str:
    """``text``'s numbers as the rules read them (``us_numbers``), in the convention ``number_format`` finds."""
    return us_numbers(text, decimal_comma=number_format(text).decimal_comma)


ACCOUNT_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def _account_token(token: str) -> bool:
    """Digits, or upper-case letters: "1234", "NW-0042", "SG"; not the word "Jan"."""
    return bool(ACCOUNT_TOKEN_RE.fullmatch(token)) and (any(ch.isdigit() for ch in token) or token.isupper())


_FIELD_WORDS = frozenset({"PIN", "REF", "METER", "INVOICE", "ACCOUNT", "ACCT", "CUSTOMER", "SERVICE", "BILL"})
"""Words in capitals that name the next field, whatever follows them: "4471-0023-9 PIN 1234"."""
_PHONE = re.compile(r"(?:1[-.])?\(?\d{3}\)?[-.]\d{3}[-.]\d{4}|\d{3}[-.]\d{4}")
"""A phone number's token: "1-800-555-1234", "(800)555-1234", "555-1234"."""
_NEXT_TOKEN = re.compile(r" (\S+)")


def _another_fields_value(token: str) -> bool:
    """Whether ``token``, after an account number's digits, is a date, a money amount or a phone number."""
    return parse_date(token) is not None or parse_money(token) is not None or _PHONE.fullmatch(token) is not None


def _next_fields_word(token: str, rest: str) -> bool:
    """Whether ``token``, a word after an account number's digits, starts the next field: any word of three
    letters or more ("4471-0023-9 JANE DOE", "0042-1177 PAGE 1 OF 2", "0042-1177 RATE R1"), a field's name
    ("PIN 1234"), or a letter group not followed by a digit group of the number ("0042-1177 SA ID 5512",
    "0042-1177 PO BOX 123"); not a letter group of the number ("0042 1177 A", "12 345 WR 678")."""
    if any(ch.isdigit() for ch in token):
        return False
    if token in _FIELD_WORDS or len(token) >= 3:
        return True
    following = _NEXT_TOKEN.match(rest)
    if following is None:
        return False  # the number's last group: "0042 1177 A"
    group = following.group(1)
    return not any(ch.isdigit() for ch in group) or _another_fields_value(group)


def take_account_number(text: str) -> Found[str] | None:
    """The account number at the start of ``text``: digit/upper-case tokens, at least one digit.

    Stops at the first ordinary word, so "1234 5678 Statement Date" yields "1234 5678", and at a word in
    capitals after the digits that no digit group follows ("1234 5678 JANE DOE"); letter groups of a number
    stay ("SG 12345 678", "0042 1177 A", "12 345 WR 678").
    """
    offset = len(text) - len(text.lstrip(" :#.\t"))
    tokens: list[str] = []
    digits = False
    position = offset
    end = offset
    for token_match in re.finditer(r"\S+", text[offset:]):
        token = token_match.group()
        gap = text[position : offset + token_match.start()]
        if (tokens and len(gap) > 1) or not _account_token(token):
            break
        if parse_date(token) is not None or parse_money(token) is not None:
            break
        if digits and _next_fields_word(token, text[offset + token_match.end() :]):
            break
        if not digits and len(token) >= 3 and token.isalpha():
            break  # a name, not a number's prefix ("SG 12345 678"): "Acct: JANE DOE 4471-0023-9"
        digits = digits or any(ch.isdigit() for ch in token)
        tokens.append(token)
        position = end = offset + token_match.end()
    value = " ".join(tokens).strip("-")
    if not value or not any(ch.isdigit() for ch in value) or len(value) > 64:
        return None
    return Found(value, offset, end)


def normalize_unit(raw: str) -> str:
    """Bill spellings of a unit mapped to ``shared.bill.UsageUnit`` values; a ``SCALED_UNIT`` to the one its
    figure is stored in (``scaled_quantity`` converts the figure)."""
    lowered = _unit_words(raw)
    if lowered in {"kwh", "mwh"}:
        return "kWh"
    if lowered == "mcf" or _in_cubic_feet(lowered):
        return "CCF"
    if lowered.startswith("therm"):
        return "therm"
    if lowered in {"ccf", "hcf"}:
        return "CCF"
    if lowered == "gj" or lowered.startswith("gigajoule"):
        return "GJ"
    if lowered in {"m3", "m\u00b3", "kl"} or lowered.startswith(("cubic m", "kilolit")):
        return "m3"
    return "gal"


def scaled_quantity(quantity: Decimal, raw_unit: str) -> Decimal:
    """``quantity`` in the unit ``normalize_unit`` stores ``raw_unit`` as: 12.4 MWh is 12,400 kWh, 5.2 Mcf is 52 CCF
    and 1,200 cubic feet 12 CCF; any other unit's as printed."""
    lowered = _unit_words(raw_unit)
    if lowered == "mwh":
        return _without_trailing_zeros(quantity * 1000)
    if lowered == "mcf":
        return _without_trailing_zeros(quantity * 10)
    if _in_cubic_feet(lowered):
        return _without_trailing_zeros(quantity / 100)
    return quantity


def _without_trailing_zeros(quantity: Decimal) -> Decimal:
    """12400 for the product's 12400.0: a reviewer reads the figure as printed, not the multiplication's places. A
    figure past any reading's size is left as it is, for the bill's validation to refuse (``quantize`` raised on one
    of 29 digits, and the step was retried: 73D)."""
    if quantity.copy_abs() >= QUANTITY_LIMIT:
        return quantity
    return quantity.quantize(Decimal(1)) if quantity == quantity.to_integral_value() else quantity.normalize()


def _unit_words(raw: str) -> str:
    """A unit as matched, lower case and its words one space apart: "cubic  metres" or "cu\tft", which the patterns
    match with any blanks between, were read as gallons (73D)."""
    return " ".join(raw.lower().split())


def _in_cubic_feet(lowered: str) -> bool:
    return lowered.startswith(("cubic f", "cu.", "cu ", "cuft"))
