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


@pytest.mark.parametrize(
    ("commodity", "quantity", "unit", "stored"),
    [
        ("electricity", "12.4", "MWh", (Decimal("12400"), UsageUnit.KWH)),
        ("gas", "5.2", "Mcf", (Decimal("52"), UsageUnit.CCF)),
        ("water", "1200", "cubic feet", (Decimal("12"), UsageUnit.CCF)),
        ("water", "1250", "cu ft", (Decimal("12.5"), UsageUnit.CCF)),
    ],
)
def test_gemini_s_readings_in_units_stored_as_others_are_converted(
    commodity: str, quantity: str, unit: str, stored: tuple[Decimal, UsageUnit]
) -> None:
    """A model that copies "12.4 MWh" as printed, against the prompt: stored as the rules reader stores it, where it
    was refused as usage in unknown terms."""
    fields = wire_fields()
    fields["usage"] = [{"commodity": commodity, "quantity": quantity, "unit": unit, "meter_number": None}]
    bill = to_bill(WireBill(**fields), provider=None)
    assert [(u.quantity, u.unit) for u in bill.usage] == [stored]
