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
    r"(?<!per )(?<!/)(?<!/ )"  # "$5.20 per kgal", "/1,000 gal": a rate, not the unit the usage is counted in
    r"(?:\(\s*(?P<n>1,?0{2,})\s*gal(?:lons?)?\s*\)|\bin\s+(?:units\s+of\s+)?(?P<m>1,?0{2,})\s*gal(?:lons?)?\b"
    r"|\b(?P<k>kgal|thousand\s+gallons)\b)",
    re.IGNORECASE,
)
"""A bill that counts water in multiples of a gallon: "Usage (1,000 gal)", "in 1,000 gallons", "kgal"
(not "per 1,000 gal", a rate; not "(1,000 gal minimum)", an allowance)."""
_SCALED_FIGURE_WITHIN = 40
"""How far after the note its figure may stand ("Usage (1,000 gal)      8"), in the flattened text."""


@dataclass
class Evidence:
    """The values a text contains, parsed once and queried per field."""

    text: str
    dates: set[date] = field(init=False)
    amounts: set[Decimal] = field(init=False)
    numbers: set[Decimal] = field(init=False)
    gallon_scales: set[Decimal] = field(init=False)
    scaled_gallons: set[Decimal] = field(init=False)
    """Each scale note's own figure, multiplied out: "Usage (1,000 gal)  8" gives 8,000."""

    def __post_init__(self) -> None:
        flat = " ".join(self.text.split())
        self.dates = {found.value for found in iter_dates(flat, day_first=numeric_day_first(flat))}
        self.amounts = {abs(found.value) for found in iter_money(flat)}
        self.numbers = {signed_quantity(match["sign"], match["q"]) for match in _NUMBER_RE.finditer(flat)}
        self.gallon_scales = set()
        self.scaled_gallons = set()
        for match in _GALLON_SCALE.finditer(flat):
            note = match["n"] or match["m"]
            scale = Decimal(note.replace(",", "")) if note else Decimal(1000)
            self.gallon_scales.add(scale)
            figure = _NUMBER_RE.search(flat, match.end(), match.end() + _SCALED_FIGURE_WITHIN)
            if figure is not None:
                self.scaled_gallons.add(signed_quantity(figure["sign"], figure["q"]) * scale)

    def has_date(self, value: date) -> bool:
        return value in self.dates

    def has_amount(self, value: Decimal) -> bool:
        return abs(value) in self.amounts

    def has_number(self, value: Decimal) -> bool:
        return value in self.numbers or value in self.amounts

    def has_multiplied_out_gallons(self, quantity: Decimal) -> bool:
        """On a bill that counts in thousands of gallons, a reading in gallons must be the note's own
        figure multiplied out: "Usage (1,000 gal) 8" is 8,000 gal. 8 gal (a figure the text has) was
        accepted a thousandth of the truth; any figure on the page times 1,000 would let a reading a
        thousand times too big through instead."""
        return quantity in self.scaled_gallons

    def has_account(self, value: str) -> bool:
        """Same characters in order; spaces, dashes, dots and slashes may differ."""
        chars = [re.escape(ch) for ch in value if ch.isalnum()]
        if not chars:
            return False
        pattern = r"(?<![A-Za-z0-9])" + _SEPARATORS.join(chars) + r"(?![A-Za-z0-9])"
        return re.search(pattern, self.text, re.IGNORECASE) is not None
