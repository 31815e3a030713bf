"""Does a value really occur in the document text? The guard against invented values.

A value counts as present when any format the bill parsers recognise yields it
("01/05/2026" and "Jan 5, 2026" are the same date). Stdlib only (see ``checks``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from extraction.values import (
    MINUS_SIGNS,
    NOT_BEFORE_A_SIGN,
    iter_dates,
    iter_money,
    numeric_day_first,
    signed_quantity,
)

# A minus counts only where UNIT_RE would take it: not after a word ("NW-0042", "0-500").
_NUMBER_RE = re.compile(
    rf"(?:(?<![\w.,{re.escape(NOT_BEFORE_A_SIGN)}])(?P<sign>[{MINUS_SIGNS}]))?(?<![\d.,])(?P<q>(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?)(?![\d])"
)
_SEPARATORS = r"[\s\-./]*"
_GALLON_SCALE = re.compile(
    r"(?:\(\s*|\bin\s+(?:units\s+of\s+)?)(?P<n>1,?0{2,})\s*gal(?:lons?)?\b|\b(?P<k>kgal|thousand\s+gallons)\b",
    re.IGNORECASE,
)
"""A bill that counts water in multiples of a gallon: "Usage (1,000 gal)", "in 1,000 gallons", "kgal"
(not "per 1,000 gal", a rate)."""


@dataclass
class Evidence:
    """The values a text contains, parsed once and queried per field."""

    text: str
    dates: set[date] = field(init=False)
    amounts: set[Decimal] = field(init=False)
    numbers: set[Decimal] = field(init=False)
    gallon_scales: set[Decimal] = field(init=False)

    def __post_init__(self) -> None:
        flat = " ".join(self.text.split())
        self.dates = {found.value for found in iter_dates(flat, day_first=numeric_day_first(flat))}
        self.amounts = {abs(found.value) for found in iter_money(flat)}
        self.numbers = {signed_quantity(match["sign"], match["q"]) for match in _NUMBER_RE.finditer(flat)}
        self.gallon_scales = {
            Decimal(match["n"].replace(",", "")) if match["n"] else Decimal(1000)
            for match in _GALLON_SCALE.finditer(flat)
        }

    def has_date(self, value: date) -> bool:
        return value in self.dates

    def has_amount(self, value: Decimal) -> bool:
        return abs(value) in self.amounts

    def has_number(self, value: Decimal) -> bool:
        return value in self.numbers or value in self.amounts

    def has_multiplied_out_gallons(self, quantity: Decimal) -> bool:
        """On a bill that counts in thousands of gallons, a reading in gallons must be multiplied out:
        "Usage (1,000 gal) 8" is 8,000 gal, and 8 gal (a figure the text has) was accepted a thousandth
        of the truth."""
        return any(quantity / scale in self.numbers for scale in self.gallon_scales)

    def has_account(self, value: str) -> bool:
        """Same characters in order; spaces, dashes, dots and slashes may differ."""
        chars = [re.escape(ch) for ch in value if ch.isalnum()]
        if not chars:
            return False
        pattern = r"(?<![A-Za-z0-9])" + _SEPARATORS.join(chars) + r"(?![A-Za-z0-9])"
        return re.search(pattern, self.text, re.IGNORECASE) is not None
