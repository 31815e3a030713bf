"""The normalized bill: the contract between extraction, storage, analytics and reviewers.

Field names are a public contract (eval golden files and analytics tables use them).
Money is ``Decimal`` rounded to cents, dates are ``date``.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

CENT = Decimal("0.01")


def _to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


Money = Annotated[Decimal, AfterValidator(_to_cents)]
"""A Decimal amount held to exactly two places."""


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
"""Free text that Postgres can store (TEXT and JSONB refuse NUL characters)."""


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


UNITS_BY_COMMODITY: dict[Commodity, frozenset[UsageUnit]] = {
    Commodity.ELECTRICITY: frozenset({UsageUnit.KWH}),
    Commodity.GAS: frozenset({UsageUnit.THERM, UsageUnit.CCF}),
    Commodity.WATER: frozenset({UsageUnit.CCF, UsageUnit.GAL}),
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
    quantity: Decimal
    unit: UsageUnit
    meter_number: Text | None = None


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
    provider_name: Text | None = Field(default=None, max_length=200)
    account_number: Text | None = Field(default=None, max_length=64)
    customer_name: Text | None = Field(default=None, max_length=200)
    service_address: Text | None = Field(default=None, max_length=400)
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
