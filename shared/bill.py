"""The normalized bill: the contract between extraction, storage, analytics and reviewers.

Field names are a public contract (eval golden files and analytics tables use them).
Money is ``Decimal`` rounded to cents, dates are ``date``.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

CENT = Decimal("0.01")
MONEY_LIMIT = Decimal(10) ** 12
"""Amounts stay below this in size: Postgres holds them as NUMERIC(14, 2)."""
MONEY_FIELDS = frozenset({"total_amount", "previous_balance", "payments_received", "current_charges"})
"""The bill's own amounts (``Money``); each line item's ``amount`` is one too."""
QUANTITY_STEP = Decimal("0.0001")
QUANTITY_LIMIT = Decimal(10) ** 14
"""Usage quantities: NUMERIC(18, 4) in Postgres, so four places and fourteen integer digits."""


def _held(value: Decimal, step: Decimal, limit: Decimal, what: str) -> Decimal:
    """``value`` rounded to ``step``, or a ValueError (a review reason, not a crash) when it cannot be stored.

    ``copy_abs``, not ``abs``: ``abs`` rounds in the decimal context, and an exponent beyond its range ("1e999999999")
    raised ``decimal.Overflow``, an ArithmeticError that pydantic does not turn into a validation error (a 500).
    """
    if not value.is_finite() or value.copy_abs() >= limit:
        raise ValueError(f"{what} must be finite and below {limit:,.0f} in size")
    held = value.quantize(step, rounding=ROUND_HALF_UP)
    if held.copy_abs() >= limit:
        raise ValueError(f"{what} must be below {limit:,.0f} in size")
    return held


def past_its_places(value: object, step: Decimal) -> bool:
    """Whether ``value`` as sent (a JSON number or string) has more places than ``step`` holds ("12.345" for
    cents): ``Money`` and ``Quantity`` round it, right for an extractor's reading, but a person's figure changed
    unseen. Not a number: False, for the model's own validation to say so."""
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        return False
    try:
        number = Decimal(str(value))
        return number.is_finite() and number != number.quantize(step, rounding=ROUND_HALF_UP)
    except ArithmeticError:  # not a number, or too large to hold its places: the model's validation says which
        return False


def _to_cents(value: Decimal) -> Decimal:
    return _held(value, CENT, MONEY_LIMIT, "amounts")


def _to_quantity(value: Decimal) -> Decimal:
    """Only a reading with more than four places is rounded: "1142" stays as written."""
    exponent = value.as_tuple().exponent  # 'n', 'N' or 'F' for NaN and infinities: _held refuses those
    if isinstance(exponent, int) and exponent >= -4 and value.copy_abs() < QUANTITY_LIMIT:
        return value
    return _held(value, QUANTITY_STEP, QUANTITY_LIMIT, "quantities")


Money = Annotated[Decimal, AfterValidator(_to_cents)]
"""A Decimal amount held to exactly two places."""

Quantity = Annotated[Decimal, AfterValidator(_to_quantity)]
"""A usage quantity of at most four places, as every store keeps it."""


def account_key(number: str) -> str:
    """An account number with its formatting dropped: "1234-5678 9012" and "123456789012" are one account.

    The same rule as the ``account_key`` SQL function (migration 0010) that the unique keys use.
    """
    return re.sub(r"[^A-Za-z0-9]", "", number).upper()


def same_account(expected: str | None, printed: str | None) -> bool:
    """Whether a bill is for the utility account a job is about (formatting aside; unknown on either side passes)."""
    if expected is None or printed is None:
        return True
    return account_key(expected) == account_key(printed)


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate, as JSON's "\udc00" escape gives
        raise ValueError("text must be valid Unicode (it holds a lone surrogate)") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]
"""Free text that Postgres can store (TEXT and JSONB refuse NUL characters, UTF-8 lone surrogates)."""


def _storable_if_text(value: object) -> object:
    """``_storable`` before pydantic's own check, whose refusal of a lone surrogate says less ("unable to parse raw
    data as a unicode string"); a value of another type is left to that check."""
    return _storable(value) if isinstance(value, str) else value


# An optional field's bound goes inside its type. ``Field(max_length=...)`` on ``Text | None`` bounds the union after
# validation, and pydantic's refusal then reads "Value should have at most 200 items", not "characters".
Text64 = Annotated[str, StringConstraints(max_length=64), BeforeValidator(_storable_if_text)]
Text200 = Annotated[str, StringConstraints(max_length=200), BeforeValidator(_storable_if_text)]
Text400 = Annotated[str, StringConstraints(max_length=400), BeforeValidator(_storable_if_text)]
Text2000 = Annotated[str, StringConstraints(max_length=2000), BeforeValidator(_storable_if_text)]


class Provider(StrEnum):
    PGE = "pge"
    CONED = "coned"
    DUKE = "duke"
    SFPUC = "sfpuc"


class Commodity(StrEnum):
    ELECTRICITY = "electricity"
    GAS = "gas"
    WATER = "water"


class UsageUnit(StrEnum):
    KWH = "kWh"
    THERM = "therm"
    CCF = "CCF"
    GAL = "gal"
    M3 = "m3"
    """Cubic metres, as metric bills count gas and water (a kilolitre is one)."""
    GJ = "GJ"
    """Gigajoules: a Canadian gas bill's energy, as a US one's is in therms."""


UNITS_BY_COMMODITY: dict[Commodity, frozenset[UsageUnit]] = {
    Commodity.ELECTRICITY: frozenset({UsageUnit.KWH}),
    Commodity.GAS: frozenset({UsageUnit.THERM, UsageUnit.CCF, UsageUnit.M3, UsageUnit.GJ}),
    Commodity.WATER: frozenset({UsageUnit.CCF, UsageUnit.GAL, UsageUnit.M3}),
}


class LineItemCategory(StrEnum):
    SUPPLY = "supply"
    DELIVERY = "delivery"
    TAX = "tax"
    FEE = "fee"
    OTHER = "other"


class UsageReading(BaseModel):
    model_config = ConfigDict(frozen=True)

    commodity: Commodity
    quantity: Quantity
    unit: UsageUnit
    meter_number: Text64 | None = None


class LineItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: Text = Field(min_length=1, max_length=200)
    category: LineItemCategory = LineItemCategory.OTHER
    amount: Money
    commodity: Commodity | None = None


class NormalizedBill(BaseModel):
    """One utility statement, as extracted or as corrected by a reviewer."""

    model_config = ConfigDict(frozen=True)

    provider: Provider | None = None
    provider_name: Text200 | None = None
    account_number: Text64 | None = None
    customer_name: Text200 | None = None
    service_address: Text400 | None = None
    statement_date: date | None = None
    bill_period_start: date | None = None
    bill_period_end: date | None = None
    due_date: date | None = None
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    total_amount: Money | None = None
    previous_balance: Money | None = None
    payments_received: Money | None = None
    current_charges: Money | None = None
    usage: list[UsageReading] = Field(default_factory=list)
    line_items: list[LineItem] = Field(default_factory=list)
