"""to_bill: Gemini's wire answer as a NormalizedBill."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from extraction.wire import WireBill, to_bill
from shared.bill import Commodity, UsageUnit
from tests.extraction.test_gemini import wire_fields


@pytest.mark.parametrize("zero", ["-0.00", "-0", "-0.0", "\u22120"])
def test_a_zero_gemini_writes_with_a_minus_is_stored_as_zero(zero: str) -> None:
    """Its "-0" was stored and published as negative zero: "-0.00" due, in the analytics rows and the API."""
    fields = wire_fields(total_amount=zero, previous_balance=zero, payments_received=zero, current_charges=zero)
    fields["line_items"] = [{**fields["line_items"][0], "amount": zero}]
    bill = to_bill(WireBill(**fields), provider=None)
    published = json.loads(bill.model_dump_json())
    money = ("total_amount", "previous_balance", "payments_received", "current_charges")
    assert [published[name] for name in money] == ["0.00"] * 4
    assert published["line_items"][0]["amount"] == "0.00"


@pytest.mark.parametrize(
    ("unit", "stored"),
    [
        *[(unit, UsageUnit.M3) for unit in ("m3", "m\u00b3", "Cubic metres", "kL")],
        *[(unit, UsageUnit.GJ) for unit in ("GJ", "gigajoules")],
    ],
)
def test_gemini_s_metric_units_are_stored(unit: str, stored: UsageUnit) -> None:
    """A metric bill's reading as Gemini writes its unit: it was refused as usage in unknown terms."""
    fields = wire_fields()
    fields["usage"] = [{"commodity": "gas", "quantity": "64", "unit": unit, "meter_number": None}]
    bill = to_bill(WireBill(**fields), provider=None)
    assert [(u.commodity, u.quantity, u.unit) for u in bill.usage] == [(Commodity.GAS, Decimal(64), stored)]
