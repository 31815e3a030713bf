"""Tolerant parsers for the values printed on bills: money, dates, quantities, account numbers.

Stdlib only, because ``extraction.checks`` (imported by workflow code) reuses the formats.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
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
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))

DATE_RE = re.compile(
    rf"""
    (?:(?<![\w/-])|(?<=\d{{4}}-)|(?<=[/.-]\d{{2}}-))(?:  # after a date's year and a bare hyphen too:
                                                     # "01/05/2026-02/04/2026", "01/05/26-02/04/26"
        (?P<iy>\d{{4}})(?P<isep>[-/])(?P<im>\d{{1,2}})(?P=isep)(?P<id>\d{{1,2}})  # "2026-01-05", "2026/01/05"
      | (?P<hd>\d{{1,2}})-(?P<hm>{_MONTH})-(?P<hy>\d{{4}}|\d{{2}})  # "05-Jan-2026", "05-JAN-26": billing systems' own
      | (?P<nm>\d{{1,2}})[/.-](?P<nd>\d{{1,2}})[/.-](?P<ny>\d{{4}}|\d{{2}})
      | (?P<tm>{_MONTH})\.?\s+(?P<td>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<ty>\d{{4}})
      | (?P<dd>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<dm>{_MONTH})\.?,?\s+(?P<dy>\d{{4}})
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
    (?<![\w,$\-\u2212])
    (?<!\d\.)  # a dot after a digit joins numbers ("1.2.34"); a dot leader ("Total.....$160.09") does not
    (?P<open>\(\s*)?
    (?P<minus>[-\u2212]\s*)?  # U+2212 too: typeset PDFs print it for credits
    (?P<usd>\$\s*)?
    (?P<minus2>[-\u2212]\s*)?
    (?P<num>\d{1,3}(?:,\d{3})+|\d+)\.(?P<cents>\d{2})
    (?![\d%,]|\.\d)
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

UNIT_RE = re.compile(
    rf"(?:(?<![\w.{re.escape(NOT_BEFORE_A_SIGN)}])(?P<sign>[{MINUS_SIGNS}]))?"
    r"(?<![\w.])(?P<q>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?) ?"
    r"(?P<u>kwh|therms?|ccf|hcf|gallons|gal)\b",
    re.IGNORECASE,
)


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


def parse_date(text: str, *, day_first: bool = False) -> date | None:
    """The single date ``text`` consists of (surrounding spaces allowed), else None."""
    match = DATE_RE.fullmatch(text.strip())
    return _date_from_match(match, day_first=day_first) if match else None


def numeric_day_first(text: str) -> bool:
    """Whether ``text`` writes numeric dates day first: one of them ("18/03/2026") can only be read so,
    and none ("03/18/2026") only month first. Australian and Canadian bills print "$" and day-first
    dates; read month first, their dates were missing or, when every day was 12 or less, wrong."""
    day_only: set[str] = set()
    month_only = False
    for match in _NUMERIC_DATE_RE.finditer(text):
        if _plausible_year(match["ny"]):
            first, second = int(match["nm"]), int(match["nd"])
            if 12 < first <= 31 and 1 <= second <= 12:
                day_only.add(match[0])
            month_only |= 12 < second <= 31 and 1 <= first <= 12
    # Two different such dates: one could be something else that looks like one (a reference
    # "25-10-26", a meter read "14.02.26"), and it would turn every date of a US bill around.
    return len(day_only) >= 2 and not month_only


def _plausible_year(year: str) -> bool:
    """A bill's year: an account number "24-07-5531" is no date of 5531."""
    return len(year) == 2 or 2000 <= int(year) <= 2099


def _date_from_match(match: re.Match[str], *, day_first: bool = False) -> date | None:
    g = match.groupdict()
    try:
        if g["iy"]:
            return date(int(g["iy"]), int(g["im"]), int(g["id"]))
        if g["nm"]:
            year = int(g["ny"])
            year = year + 2000 if year < 100 else year
            month, day = (int(g["nd"]), int(g["nm"])) if day_first else (int(g["nm"]), int(g["nd"]))
            return date(year, month, day)
        if g["hd"]:
            year = int(g["hy"])
            return date(year + 2000 if year < 100 else year, MONTHS[g["hm"].lower()], int(g["hd"]))
        if g["tm"]:
            return date(int(g["ty"]), MONTHS[g["tm"].lower()], int(g["td"]))
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


def parse_money(text: str) -> Decimal | None:
    """The amount ``text`` consists of: "$1,234.56", "-20.00", "20.00 CR", "20.00-", "($20.00)"."""
    stripped = text.strip()
    for found in iter_money(stripped):
        if found.start == 0 and found.end == len(stripped):
            return found.value
    return None


def signed_quantity(sign: str | None, digits: str) -> Decimal:
    """``digits`` ("1,234.5") as a Decimal, negated when a minus sign is attached."""
    quantity = Decimal(digits.replace(",", ""))
    return -quantity if sign else quantity


def parse_quantity(text: str) -> Decimal | None:
    """A plain number such as "1,234", "512.5" or "-245" (net metering); None for anything else."""
    match = re.fullmatch(rf"(?P<sign>[{MINUS_SIGNS}])?(?P<q>\d[\d,]*(?:\.\d+)?)", text.strip())
    if match is None:
        return None
    try:
        quantity = signed_quantity(match.group("sign"), match.group("q"))
    except InvalidOperation:
        return None
    return quantity if abs(quantity) < QUANTITY_LIMIT else None


ACCOUNT_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def _account_token(token: str) -> bool:
    """Digits, or upper-case letters: "1234", "NW-0042", "SG"; not the word "Jan"."""
    return bool(ACCOUNT_TOKEN_RE.fullmatch(token)) and (any(ch.isdigit() for ch in token) or token.isupper())


def take_account_number(text: str) -> Found[str] | None:
    """The account number at the start of ``text``: digit/upper-case tokens, at least one digit.

    Stops at the first ordinary word, so "1234 5678 Statement Date" yields "1234 5678".
    """
    offset = len(text) - len(text.lstrip(" :#.\t"))
    tokens: list[str] = []
    position = offset
    end = offset
    for token_match in re.finditer(r"\S+", text[offset:]):
        token = token_match.group()
        gap = text[position : offset + token_match.start()]
        if (tokens and len(gap) > 1) or not _account_token(token):
            break
        if parse_date(token) is not None or parse_money(token) is not None:
            break
        tokens.append(token)
        position = end = offset + token_match.end()
    value = " ".join(tokens).strip("-")
    if not value or not any(ch.isdigit() for ch in value) or len(value) > 64:
        return None
    return Found(value, offset, end)


def normalize_unit(raw: str) -> str:
    """Bill spellings of a unit mapped to ``shared.bill.UsageUnit`` values."""
    lowered = raw.lower()
    if lowered == "kwh":
        return "kWh"
    if lowered.startswith("therm"):
        return "therm"
    if lowered in {"ccf", "hcf"}:
        return "CCF"
    return "gal"
