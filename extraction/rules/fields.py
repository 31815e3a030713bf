"""Value takers: given the text right of (or below) a label, the value it starts with."""

from __future__ import annotations

import itertools
import re
from datetime import date
from decimal import Decimal

from extraction.values import (
    RANGE_GAP,
    Found,
    iter_dates,
    iter_days_ending,
    iter_money,
    iter_yearless_periods,
    take_account_number,
)

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9 .,'&#/-]{1,199}")
_ADDRESS_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .,'&#/-]{1,199}")
"""An address line may open with its house number ("88 Sycamore Lane"); a name may not."""
_HEADING = re.compile(
    r"(?:(?:meters?|account|acct|amount|date|dates|due|number|no|id|balance|total|period|service|read(?:ing)?s?"
    r"|usage|rate|type|charges?|bill(?:ing)?|statement|customer|name|address|location|phone|page|premises|kwh"
    r"|therms?|ccf|gallons?|days|current|previous|payments?)\b[\s.:#]*)+",
    re.IGNORECASE,
)
"""A column's heading, no name or address: a label's line may hold the next column's heading, which was read as the
label's value ("Meter" for "Service Address", the values under both)."""
_CITY_LINE = re.compile(
    r"(?!(?i:meter|account|acct|rate|no)\b)[A-Za-z][A-Za-z .'-]*(?:,?\s+[A-Z]{2}|,\s*[A-Z][a-z])\.?,?\s+"
    r"(?:\d{5}(?:-\d{4})?|[A-Z]\d[A-Z]\s?\d[A-Z]\d)"
)
"""An address's last line: city, state and ZIP ("Chico, CA 95926", "Chico, Ca 95926"), or a Canadian province and
postal code. Not a label's line that looks like one ("Meter No. EM 12345", "Rate Schedule, RS 12345")."""


def take_money(region: str) -> Found[Decimal] | None:
    return next(iter_money(region), None)


def take_date(region: str, *, day_first: bool = False) -> Found[date] | None:
    return next(iter_dates(region, day_first=day_first), None)


def take_period(region: str, *, day_first: bool = False) -> Found[tuple[date, date]] | None:
    """Two dates joined by "-", "to" or "through": the billing period; its start may leave out its year. Else a count
    of days and the day they end ("31 days ending 10/31/2026")."""
    dates = list(iter_dates(region, day_first=day_first))
    for first, second in itertools.pairwise(dates):
        if RANGE_GAP.fullmatch(region[first.end : second.start]):
            return Found((first.value, second.value), first.start, second.end)
    return next(iter_yearless_periods(region, day_first=day_first), None) or next(
        iter_days_ending(region, day_first=day_first), None
    )


def take_account(region: str) -> Found[str] | None:
    return take_account_number(region)


def take_text(region: str) -> Found[str] | None:
    """The first cell of free text that starts with a letter (a name)."""
    return _take_cell(region, _NAME_RE)


def take_address(region: str) -> Found[str] | None:
    """The first cell of an address line, house number and all; a number alone (an account's) is no address."""
    return _take_cell(region, _ADDRESS_RE)


def joined_address(street: str, city: str) -> str | None:
    """The address printed over two lines under its label ("88 Sycamore Lane" over "Chico, CA 95926"), where the
    second is a city line; else none, and two values under a label are rows of a column."""
    return f"{street}, {city}" if _CITY_LINE.fullmatch(city) else None


def _take_cell(region: str, shape: re.Pattern[str]) -> Found[str] | None:
    stripped = region.lstrip(" :#\t")
    offset = len(region) - len(stripped)
    cell = re.split(r"\s{2,}", stripped, maxsplit=1)[0].strip()
    if not shape.fullmatch(cell) or not re.search(r"[A-Za-z]{2}", cell) or _HEADING.fullmatch(cell):
        return None
    return Found(cell, offset, offset + len(cell))
