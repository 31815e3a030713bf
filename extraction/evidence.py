"""Does a value really occur in the document text? The guard against invented values.

A value counts as present when any format the bill parsers recognise yields it
("01/05/2026" and "Jan 5, 2026" are the same date). Imports stdlib, ``shared.bill`` and the rules
reader's parsers of lines (``extraction.rules.usage``, itself stdlib and ``shared.bill`` only; see ``checks``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from extraction.rules.usage import printed_and_priced
from extraction.rules.vocabulary import PAST_DUE_WORDINGS
from extraction.values import (
    GALLON_SCALE_RE,
    allowance,
    day_first_place,
    gallon_scale,
    iter_dates,
    iter_days_ending,
    iter_money,
    iter_yearless_periods,
    numeric_date_order,
    scaled_figure,
    swap_day_and_month,
    us_number_text,
)
from shared.bill import UsageUnit

_SEPARATORS = r"[\s\-./]*"
_ANY_SEPARATORS = r"[\W_]*"
"""Between a name's letters: blanks, line breaks, commas, apostrophes ("O'Brien" copied as "OBrien")."""
_SPELLED_EDGE = re.compile(r"[A-Za-z0-9]", re.IGNORECASE)
"""What may not stand right before or after a value ``_spelled`` finds: the pattern's own edges, which with
IGNORECASE match the letters it takes for ASCII ones too (ı, İ, ſ, the Kelvin sign)."""
_AS_WRITTEN_TRIES = 8
"""Occurrences of a value ``_printed_as_written`` looks at before the pattern decides: a short value printed
thousands of times inside longer figures ("1" in a crafted text) would cost a loop in Python per occurrence."""
_SCALED_FIGURE_WITHIN = 40
"""How far after a scale note its figure may stand ("Usage (1,000 gal)      8"), in the flattened text."""
_PAST_DUE_WITHIN = 40
"""How much of the text after a past-due label its amount is looked for in (it must start it)."""
_PAYMENT_LINE_RE = re.compile(r"^.*\b(?:payments?|paid)\b.*$", re.IGNORECASE | re.MULTILINE)
_PAST_DUE_LABEL_RE = re.compile(rf"\b(?:{'|'.join(PAST_DUE_WORDINGS)})\b[\s:.]*", re.IGNORECASE)
"""A label of what is unpaid of earlier bills, its amount right after it ("Past Due Amount  $50.00", "Arrears
$50.00"): not a sentence about past-due balances, whose figure (a late fee) comes words later."""


@dataclass
class Evidence:
    """The values a text contains, parsed once and queried per field."""

    text: str
    dates: set[date] = field(init=False)
    """The text's dates, its numeric ones read in the order it writes them (month first when nothing says)."""
    day_first_dates: set[date] = field(init=False)
    """When nothing says which order the text writes numeric dates in: its dates read day first."""
    written_day_first: bool = field(init=False)
    two_way: frozenset[date] = field(init=False)
    """See ``DateOrder.two_way``."""
    day_first_place: bool | None = field(init=False)
    """See ``day_first_place``: asked only when ``two_way`` has dates."""
    amounts: set[Decimal] = field(init=False)
    past_due: set[Decimal] = field(init=False)
    """The amounts printed under a past-due or arrears label (``_PAST_DUE_LABEL_RE``), not zero."""
    payment_lines_sum: Decimal = field(init=False)
    """The amounts of the lines that name a payment, added up: a bill's payments, printed one by one."""
    readings: set[tuple[Decimal, UsageUnit]] = field(init=False)
    """Quantities with their units that the rules reader could take for a reading, or a person reads off a
    label or a column heading naming the unit, or off a bill's one rate (``readings_printed``): not a
    rate's, a tier's bound, a minimum, a meter's register nor another period's."""
    priced: dict[UsageUnit, Decimal] = field(init=False)
    """The quantity each unit's rates price, where they price one (``printed_and_priced``)."""
    gallon_scales: set[Decimal] = field(init=False)
    scaled_gallons: set[Decimal] = field(init=False)
    """The figure beside each scale note, multiplied out: "Usage (1,000 gal)  8" gives 8,000; not a
    minimum's ("Minimum usage (1,000 gal)  2")."""
    printed_gallons: set[Decimal] = field(init=False)
    """Gallons that the rules reader could take for a reading, printed ("4,500 gallons") or a note's own
    figure ("4.5 kgal"): the gallons of ``readings``."""

    def __post_init__(self) -> None:
        numbers = us_number_text(self.text)  # "1.234,56" read as the rules reader reads it, as 1,234.56
        flat = " ".join(numbers.split())
        order = numeric_date_order(flat)
        self.dates = _dates(flat, day_first=order.day_first)
        self.written_day_first = order.day_first
        self.two_way = order.two_way
        self.day_first_dates = _dates(flat, day_first=True) if self.two_way else set()
        self.day_first_place = day_first_place(flat) if self.two_way else None
        self.amounts = {abs(found.value) for found in iter_money(flat)}
        self.past_due = _past_due(flat)
        self.payment_lines_sum = sum(
            (abs(found.value) for line in _PAYMENT_LINE_RE.findall(numbers) for found in iter_money(line)),
            Decimal("0"),
        )
        self.gallon_scales = set()
        self.scaled_gallons = set()
        for note in GALLON_SCALE_RE.finditer(flat):
            self.gallon_scales.add(gallon_scale(note))
            if note["own"] or allowance(flat, note.start(), note.end()):
                continue  # "8 kgal" is read on its line, with the reader's filters (``readings_printed``)
            gallons = scaled_figure(note, flat[note.end() : note.end() + _SCALED_FIGURE_WITHIN])
            if gallons is not None:
                self.scaled_gallons.add(gallons)
        readings, self.priced = printed_and_priced(numbers)
        self.readings = set(readings)
        self.printed_gallons = {quantity for quantity, unit in self.readings if unit is UsageUnit.GAL}

    def day_first_reading(self, values: list[date]) -> bool:
        """Whether ``values`` (a reading's dates) are the text's numeric dates read day first: so on a text
        that writes them so, or, when nothing says, where only that reading has them all."""
        if self.two_way and not all(v in self.dates for v in values):
            return all(v in self.day_first_dates for v in values)
        return self.written_day_first

    def has_date(self, value: date, day_first: bool = False) -> bool:
        return value in (self.day_first_dates if day_first and self.two_way else self.dates)

    def two_way_dates(self, *, day_first: bool) -> frozenset[date]:
        """The numeric dates that read as other dates the other way round, as the reading has them."""
        return frozenset(map(swap_day_and_month, self.two_way)) if day_first else self.two_way

    def has_amount(self, value: Decimal) -> bool:
        return abs(value) in self.amounts

    def has_payments(self, value: Decimal) -> bool:
        """Printed, or the sum of the payments printed one by one ("Payment 12/10  100.00 CR", "Payment 12/20 ...")."""
        return self.has_amount(value) or abs(value) == self.payment_lines_sum

    def has_reading(self, quantity: Decimal, unit: UsageUnit) -> bool:
        """Printed with its unit (or its label's) where it could be the reading: "Tier 0-500 kWh" or a
        register's "Current read 23,239 kWh" is no evidence for a reading, and "12 CCF" none for 12 gallons."""
        return (quantity, unit) in self.readings

    def has_gallon_reading(self, quantity: Decimal) -> bool:
        """On a bill that counts in thousands of gallons, a reading in gallons must be a scale note's own
        figure multiplied out ("Usage (1,000 gal) 8" is 8,000 gal), or be printed in gallons. 8 gal (a
        figure the text has) was accepted a thousandth of the truth; any figure on the page times 1,000
        would let a reading a thousand times too big through instead."""
        return quantity in self.scaled_gallons or quantity in self.printed_gallons

    def has_account(self, value: str) -> bool:
        """Same characters in order; spaces, dashes, dots and slashes may differ."""
        return _spelled(value, _SEPARATORS, self.text)

    def has_words(self, value: str) -> bool:
        """A name as a reader copies it: each of its comma-separated parts printed, in any case and punctuation, and
        across lines ("O'Brien, Jane Q." of "JANE Q. O'BRIEN"; "12 Elm Street, Springfield, IL" of an address on two
        lines beside another column). A part left out is no invention; a word the text does not print is."""
        parts = [part for part in value.split(",") if any(ch.isalnum() for ch in part)]
        return bool(parts) and all(_spelled(part, _ANY_SEPARATORS, self.text) for part in parts)


def _past_due(text: str) -> set[Decimal]:
    """See ``Evidence.past_due``."""
    amounts: set[Decimal] = set()
    for label in _PAST_DUE_LABEL_RE.finditer(text):
        found = next(iter_money(text[label.end() : label.end() + _PAST_DUE_WITHIN]), None)
        if found is not None and found.start == 0 and found.value:
            amounts.add(abs(found.value))
    return amounts


def _spelled(value: str, separators: str, text: str) -> bool:
    """Whether ``text`` prints ``value``'s letters and digits in order, as a whole, ``separators`` between them."""
    chars = [re.escape(ch) for ch in value if ch.isalnum()]
    if not chars:
        return False
    if _printed_as_written(value, separators, text):
        return True
    pattern = r"(?<![A-Za-z0-9])" + separators.join(chars) + r"(?![A-Za-z0-9])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _printed_as_written(value: str, separators: str, text: str) -> bool:
    """``_spelled``'s answer where ``text`` prints ``value`` character for character (the rules copy values off
    the text): a found string, not a pattern compiled anew for each account number, name and meter (their
    compiling was a quarter of ``check_bill``'s time). False says only that the pattern must decide."""
    alnum = [i for i, ch in enumerate(value) if ch.isalnum()]
    core = value[alnum[0] : alnum[-1] + 1]
    if not all(ch.isalnum() or re.fullmatch(separators, ch) for ch in core):
        return False  # "1234#5678": the pattern's 12345678 may be printed, this is no proof
    at = text.find(core)
    for _ in range(_AS_WRITTEN_TRIES):
        if at == -1:
            return False
        end = at + len(core)
        if not (_SPELLED_EDGE.match(text[at - 1 : at]) or _SPELLED_EDGE.match(text[end : end + 1])):
            return True
        at = text.find(core, at + 1)
    return False


def _dates(text: str, *, day_first: bool) -> set[date]:
    """The text's dates, with the ends of a period that leaves its year to its end ("Jan 5 - Feb 4, 2026", "Oct 1 -
    31, 2026") or counts its days ("31 days ending 10/31/2026")."""
    dates = {found.value for found in iter_dates(text, day_first=day_first)}
    periods = [*iter_yearless_periods(text, day_first=day_first), *iter_days_ending(text, day_first=day_first)]
    return dates | {end for found in periods for end in found.value}
