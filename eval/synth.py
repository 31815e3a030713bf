"""Seeded facts of one synthetic bill: who, when, how much, and the golden NormalizedBill.

Charges are computed from usage and rates, so every well-formed bill adds up: items sum
to current charges, and previous - payments + current = total.
"""

from __future__ import annotations

import dataclasses
import random
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from eval.brands import Brand
from shared.bill import (
    Commodity,
    LineItem,
    LineItemCategory,
    NormalizedBill,
    UsageReading,
    UsageUnit,
)

CENT = Decimal("0.01")
FIRST_NAMES = ("Jane", "Omar", "Mei", "Carlos", "Priya", "Tom", "Aisha", "Luis", "Grace", "Ivan")
LAST_NAMES = ("Doe", "Haddad", "Chen", "Alvarez", "Patel", "Becker", "Okafor", "Silva", "Kim")
STREETS = ("Oak St", "Maple Ave", "Mission St", "Elm Dr", "Cedar Ln", "Bay Rd", "Pine Ct")
CITIES = ("Springfield, IL 62704", "Fairview, CA 94110", "Riverside, NY 10025", "Ashland, NC 27601")

# (low, high) usage per period, and the per-unit rate range, by unit
_USAGE_RANGE = {
    UsageUnit.KWH: (180, 1400),
    UsageUnit.THERM: (8, 140),
    UsageUnit.CCF: (3, 24),
    UsageUnit.GAL: (1800, 14000),
}
_RATE = {
    UsageUnit.KWH: (Decimal("0.11"), Decimal("0.34")),
    UsageUnit.THERM: (Decimal("1.10"), Decimal("2.40")),
    UsageUnit.CCF: (Decimal("8.50"), Decimal("14.20")),
    UsageUnit.GAL: (Decimal("0.004"), Decimal("0.011")),
}


@dataclass(frozen=True)
class Meter:
    commodity: Commodity
    unit: UsageUnit
    number: str
    previous_read: int
    current_read: int

    @property
    def usage(self) -> int:
        return self.current_read - self.previous_read


@dataclass(frozen=True)
class BillFacts:
    """Everything a renderer prints; ``bill`` is the golden answer."""

    brand: Brand
    bill: NormalizedBill
    customer: str
    street: str
    city: str
    meters: tuple[Meter, ...]
    rates: dict[Commodity, Decimal] = field(default_factory=dict)


def rng_for(seed: int | str) -> random.Random:
    return random.Random(f"minimeter-eval:{seed}")


def account_number(rng: random.Random, pattern: str) -> str:
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in pattern)


ACCOUNT_MONTHS = 317
"""How many monthly periods an account's mock bills are spread over: February 2000 to June 2026. Two bills of an
account fall in one period (a copy, a re-issue) about as often as when their dates were drawn anywhere."""


def in_an_accounts_month(facts: BillFacts, account: str, rng: random.Random) -> BillFacts:
    """``facts`` moved to one of ``account``'s monthly periods, which follow one another as a utility's do, each read
    on the account's own day of the month. Drawn anywhere, the mock connector's bills of one account overlapped (28-34
    days anywhere in 18 months), which a utility's never do, and persist holds an overlap for a reviewer."""
    bill = facts.bill
    assert bill.bill_period_end and bill.statement_date and bill.due_date  # make_facts dates every bill
    read_day = 1 + zlib.crc32(account.encode()) % 28
    month = 1 + rng.randrange(ACCOUNT_MONTHS)  # months after January 2000
    end = date(2000 + month // 12, month % 12 + 1, read_day)
    start = date(2000 + (month - 1) // 12, (month - 1) % 12 + 1, read_day) + timedelta(days=1)
    statement = end + (bill.statement_date - bill.bill_period_end)
    due = statement + (bill.due_date - bill.statement_date)
    moved = bill.model_copy(
        update={"bill_period_start": start, "bill_period_end": end, "statement_date": statement, "due_date": due}
    )
    return dataclasses.replace(facts, bill=moved)


def make_facts(
    brand: Brand, rng: random.Random, *, account: str | None = None, credit: bool | None = None
) -> BillFacts:
    """A consistent bill for ``brand``: dates in order, charges that add up."""
    end = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 540))
    start = end - timedelta(days=rng.randrange(28, 34))
    statement = end + timedelta(days=rng.randrange(1, 6))
    due = statement + timedelta(days=rng.randrange(14, 26))
    meters = tuple(_meter(rng, commodity, unit) for commodity, unit in brand.commodities)
    rates = {m.commodity: _rate(rng, m.unit) for m in meters}
    items = [item for m in meters for item in _charges(rng, m, rates[m.commodity])]
    wants_credit = credit if credit is not None else (brand.credit is not None and rng.random() < 0.4)
    if wants_credit and brand.credit:
        items.append(
            LineItem(
                description=brand.credit,
                category=LineItemCategory.OTHER,
                amount=-Decimal(rng.randrange(800, 3500)) / 100,
            )
        )
    current = sum((i.amount for i in items), Decimal("0"))
    if current <= 0:
        items.append(LineItem(description="Minimum charge", category=LineItemCategory.FEE, amount=Decimal("25.00")))
        current = sum((i.amount for i in items), Decimal("0"))
    previous = Decimal(rng.randrange(2500, 32000)) / 100
    paid = rng.choice([previous, previous, previous, Decimal(rng.randrange(1000, 2400)) / 100, Decimal("0.00")])
    customer = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    street = f"{rng.randrange(10, 9999)} {rng.choice(STREETS)}"
    city = rng.choice(CITIES)
    bill = NormalizedBill(
        provider=brand.provider,
        provider_name=brand.name,
        account_number=account or account_number(rng, brand.account_format),
        customer_name=customer,
        service_address=f"{street}, {city}",
        statement_date=statement,
        bill_period_start=start,
        bill_period_end=end,
        due_date=due,
        total_amount=previous - paid + current,
        previous_balance=previous,
        payments_received=paid,
        current_charges=current,
        usage=[
            UsageReading(commodity=m.commodity, quantity=Decimal(m.usage), unit=m.unit, meter_number=m.number)
            for m in meters
        ],
        line_items=items,
    )
    return BillFacts(brand, bill, customer, street, city, meters, rates)


def _meter(rng: random.Random, commodity: Commodity, unit: UsageUnit) -> Meter:
    low, high = _USAGE_RANGE[unit]
    previous = rng.randrange(1000, 90000)
    return Meter(
        commodity,
        unit,
        f"{rng.randrange(10**7, 10**8)}",
        previous,
        previous + rng.randrange(low, high),
    )


def _rate(rng: random.Random, unit: UsageUnit) -> Decimal:
    low, high = _RATE[unit]
    step = (high - low) / 50
    return (low + step * rng.randrange(0, 51)).quantize(Decimal("0.00001"))


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _charges(rng: random.Random, meter: Meter, rate: Decimal) -> list[LineItem]:
    commodity = meter.commodity
    energy = _money(rate * meter.usage)
    noun = {Commodity.ELECTRICITY: "Electric", Commodity.GAS: "Gas", Commodity.WATER: "Water"}[commodity]
    items = [
        LineItem(
            description=f"{noun} customer charge",
            category=LineItemCategory.FEE,
            amount=Decimal(rng.randrange(500, 1800)) / 100,
            commodity=commodity,
        ),
        LineItem(
            description=f"{noun} usage charge" if commodity is Commodity.WATER else f"{noun} energy charge",
            category=LineItemCategory.SUPPLY,
            amount=energy,
            commodity=commodity,
        ),
    ]
    if commodity is Commodity.WATER:
        items.append(
            LineItem(
                description="Sewer charge",
                category=LineItemCategory.DELIVERY,
                amount=_money(energy * Decimal("1.3")),
                commodity=commodity,
            )
        )
    else:
        items.append(
            LineItem(
                description=f"{noun} delivery charge",
                category=LineItemCategory.DELIVERY,
                amount=_money(energy * Decimal("0.45")),
                commodity=commodity,
            )
        )
    subtotal = sum((i.amount for i in items), Decimal("0"))
    items.append(
        LineItem(
            description=f"{noun} taxes and surcharges",
            category=LineItemCategory.TAX,
            amount=_money(subtotal * Decimal("0.0725")),
            commodity=commodity,
        )
    )
    return items
