"""check_bill: one test per reason code, on a bill that is otherwise verified."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from eval.generate import sample_bill
from extraction.checks import check_bill, check_correction
from extraction.document import read_document
from shared.bill import Commodity, NormalizedBill, Provider, UsageReading, UsageUnit


@pytest.fixture(scope="module")
def sample() -> tuple[NormalizedBill, str]:
    data, _, bill = sample_bill(Provider.PGE, seed="checks")
    return bill, read_document(data).text


def changed(bill: NormalizedBill, **update: Any) -> NormalizedBill:
    return NormalizedBill.model_validate({**bill.model_dump(), **update})


def test_sample_is_verified(sample: tuple[NormalizedBill, str]) -> None:
    bill, text = sample
    assert check_bill(bill, text=text) == []
    assert check_bill(bill, text=None) == []


@pytest.mark.parametrize(
    "field", ["account_number", "total_amount", "bill_period_start", "bill_period_end", "due_date"]
)
def test_missing_core_field(sample: tuple[NormalizedBill, str], field: str) -> None:
    assert f"missing_field:{field}" in check_bill(changed(sample[0], **{field: None}), text=None)


def test_missing_usage_and_charges(sample: tuple[NormalizedBill, str]) -> None:
    reasons = check_bill(changed(sample[0], usage=[], line_items=[], current_charges=None), text=None)
    assert {"missing_field:usage", "missing_field:current_charges"} <= set(reasons)


def test_every_billed_commodity_needs_usage(sample: tuple[NormalizedBill, str]) -> None:
    bill = sample[0]
    assert {u.commodity for u in bill.usage} == {Commodity.ELECTRICITY, Commodity.GAS}
    only_electric = [u for u in bill.usage if u.commodity is Commodity.ELECTRICITY]
    assert check_bill(changed(bill, usage=only_electric), text=None) == ["missing_field:usage"]


def test_statement_date_is_optional(sample: tuple[NormalizedBill, str]) -> None:
    assert check_bill(changed(sample[0], statement_date=None), text=None) == []


def test_sum_mismatch(sample: tuple[NormalizedBill, str]) -> None:
    bill = sample[0]
    first = bill.line_items[0]
    items = [first.model_copy(update={"amount": first.amount + 1}), *bill.line_items[1:]]
    assert check_bill(changed(bill, line_items=[i.model_dump() for i in items]), text=None) == ["sum_mismatch"]


def test_balance_mismatch(sample: tuple[NormalizedBill, str]) -> None:
    bill = sample[0]
    assert bill.total_amount is not None
    assert check_bill(changed(bill, total_amount=bill.total_amount + Decimal("0.01")), text=None) == [
        "balance_mismatch"
    ]


def test_balance_uses_line_items_when_current_charges_missing(
    sample: tuple[NormalizedBill, str],
) -> None:
    assert check_bill(changed(sample[0], current_charges=None), text=None) == []


@pytest.mark.parametrize(("start_offset", "reason"), [(0, "bad_period"), (-1, "bad_period"), (101, "bad_period")])
def test_bad_period(sample: tuple[NormalizedBill, str], start_offset: int, reason: str) -> None:
    bill = sample[0]
    assert bill.bill_period_end is not None
    start = bill.bill_period_end - timedelta(days=start_offset)
    assert reason in check_bill(changed(bill, bill_period_start=start), text=None)


def test_statement_before_period_end(sample: tuple[NormalizedBill, str]) -> None:
    bill = sample[0]
    assert bill.bill_period_end is not None
    reasons = check_bill(changed(bill, statement_date=bill.bill_period_end - timedelta(days=3)), text=None)
    assert "bad_statement_date" in reasons


def test_due_before_statement(sample: tuple[NormalizedBill, str]) -> None:
    bill = sample[0]
    assert bill.statement_date is not None
    assert check_bill(changed(bill, due_date=bill.statement_date - timedelta(days=1)), text=None) == ["bad_due_date"]
    assert check_bill(changed(bill, due_date=bill.statement_date), text=None) == []  # "due upon receipt"


@pytest.mark.parametrize(
    ("field", "days", "reason"),
    [
        ("statement_date", 180, None),
        ("statement_date", 181, "bad_statement_date"),
        ("due_date", 180, None),
        ("due_date", 181, "bad_due_date"),
    ],
)
def test_a_date_a_year_out_is_a_reason(
    sample: tuple[NormalizedBill, str], field: str, days: int, reason: str | None
) -> None:
    """A reviewer typing 2062 for 2026 (check_bill vets corrections too): half a year out is a misread year."""
    bill = sample[0]
    assert bill.bill_period_end is not None and bill.statement_date is not None
    base = bill.bill_period_end if field == "statement_date" else bill.statement_date
    moved = changed(bill, **{field: base + timedelta(days=days)})
    if field == "statement_date":  # keep the due date after the moved statement
        moved = changed(moved, due_date=base + timedelta(days=days + 20))
    assert check_bill(moved, text=None) == ([reason] if reason else [])


def test_unit_mismatch(sample: tuple[NormalizedBill, str]) -> None:
    usage = [UsageReading(commodity=Commodity.WATER, quantity=Decimal(5), unit=UsageUnit.KWH)]
    assert "unit_mismatch:water" in check_bill(changed(sample[0], usage=usage), text=None)


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        ({"account_number": "999999"}, "no_evidence:account_number"),
        ({"due_date": date(2031, 3, 3)}, "no_evidence:due_date"),
        ({"statement_date": date(2030, 1, 1)}, "no_evidence:statement_date"),
    ],
)
def test_no_evidence(sample: tuple[NormalizedBill, str], update: dict[str, Any], reason: str) -> None:
    assert reason in check_bill(changed(sample[0], **update), text=sample[1])


def test_no_evidence_total_and_usage(sample: tuple[NormalizedBill, str]) -> None:
    bill = sample[0]
    assert bill.total_amount is not None and bill.current_charges is not None
    shifted = changed(
        bill,
        total_amount=bill.total_amount + Decimal("1000.01"),
        current_charges=bill.current_charges + Decimal("1000.01"),
        line_items=[],
        usage=[u.model_copy(update={"quantity": Decimal("987654")}) for u in bill.usage],
    )
    reasons = check_bill(shifted, text=sample[1])
    assert "no_evidence:total_amount" in reasons and "no_evidence:usage" in reasons


def test_evidence_accepts_other_formats() -> None:
    bill = NormalizedBill(account_number="1234-5678", total_amount=Decimal("1234.50"), due_date=date(2026, 1, 26))
    text = "Acct 1234 5678. Please pay $1,234.50 by January 26, 2026."
    assert not [r for r in check_bill(bill, text=text) if r.startswith("no_evidence")]


def test_evidence_keeps_the_sign_of_a_usage_figure() -> None:
    """ "-245 kWh" is evidence for -245, not for 245; a hyphen after a word or digit is no minus."""
    text = "Net usage: \u2212245 kWh. Meter NW-0042. Tier 0-500 kWh."

    def usage(quantity: str) -> NormalizedBill:
        reading = UsageReading(commodity=Commodity.ELECTRICITY, quantity=Decimal(quantity), unit=UsageUnit.KWH)
        return NormalizedBill(usage=[reading])

    for found in ("-245", "42", "500"):
        assert "no_evidence:usage" not in check_bill(usage(found), text=text), found
    for missing in ("245", "-42", "-500"):
        assert "no_evidence:usage" in check_bill(usage(missing), text=text), missing


def test_empty_text_means_no_evidence(sample: tuple[NormalizedBill, str]) -> None:
    reasons = check_bill(sample[0], text="")
    assert "no_evidence:total_amount" in reasons and "no_evidence:account_number" in reasons


def test_an_override_lets_plausibility_checks_pass_not_shape_checks(sample: tuple[NormalizedBill, str]) -> None:
    bill = sample[0]
    assert bill.total_amount is not None and bill.bill_period_end is not None
    adjusted = changed(bill, total_amount=bill.total_amount + Decimal("15.00"), usage=[])
    assert sorted(check_correction(adjusted, override=False)) == ["balance_mismatch", "missing_field:usage"]
    assert check_correction(adjusted, override=True) == []
    catch_up = changed(bill, bill_period_start=bill.bill_period_end - timedelta(days=120))
    assert check_correction(catch_up, override=True) == []
    backwards = changed(bill, bill_period_start=bill.bill_period_end + timedelta(days=1))
    assert check_correction(backwards, override=True) == ["bad_period"]
    no_total = changed(bill, total_amount=None)
    assert "missing_field:total_amount" in check_correction(no_total, override=True)
    assert bill.account_number is not None
    assert check_correction(adjusted, override=True, account_number=bill.account_number) == []
    assert check_correction(adjusted, override=True, account_number="0000-0000") == ["account_mismatch"]
