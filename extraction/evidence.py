"""Does a value really occur in the document text? The guard against invented values.

A value counts as present when any format the bill parsers recognise yields it
("01/05/2026" and "Jan 5, 2026" are the same date). Stdlib only (see ``checks``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from extraction.values import MINUS_SIGNS, NOT_BEFORE_A_SIGN, iter_dates, iter_money, signed_quantity

# A minus counts only where UNIT_RE would take it: not after a word ("NW-0042", "0-500").
_NUMBER_RE = re.compile(
    rf"(?:(?<![\w.,{re.escape(NOT_BEFORE_A_SIGN)}])(?P<sign>[{MINUS_SIGNS}]))?(?<![\d.,])(?P<q>(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?)(?![\d])"
)
_SEPARATORS = r"[\s\-./]*"


@dataclass
class Evidence:
    """The values a text contains, parsed once and queried per field."""

    text: str
    dates: set[date] = field(init=False)
    amounts: set[Decimal] = field(init=False)
    numbers: set[Decimal] = field(init=False)

    def __post_init__(self) -> None:
        flat = " ".join(self.text.split())
        self.dates = {found.value for found in iter_dates(flat)}
        self.amounts = {abs(found.value) for found in iter_money(flat)}
        self.numbers = {signed_quantity(match["sign"], match["q"]) for match in _NUMBER_RE.finditer(flat)}

    def has_date(self, value: date) -> bool:
        return value in self.dates

    def has_amount(self, value: Decimal) -> bool:
        return abs(value) in self.amounts

    def has_number(self, value: Decimal) -> bool:
        return value in self.numbers or value in self.amounts

    def has_account(self, value: str) -> bool:
        """Same characters in order; spaces, dashes, dots and slashes may differ."""
        chars = [re.escape(ch) for ch in value if ch.isalnum()]
        if not chars:
            return False
        pattern = r"(?<![A-Za-z0-9])" + _SEPARATORS.join(chars) + r"(?![A-Za-z0-9])"
        return re.search(pattern, self.text, re.IGNORECASE) is not None
