"""Validation of a NormalizedBill: reason codes, [] meaning verified.

Pure and deterministic: workflow code calls ``check_bill(bill, text=None)`` in an update
validator, so this module and its imports stay stdlib + pydantic + ``shared.bill``
(``extraction.evidence`` and ``extraction.values`` are stdlib only).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from extraction.evidence import Evidence
from shared.bill import UNITS_BY_COMMODITY, NormalizedBill, UsageUnit, same_account

MAX_PERIOD_DAYS = 100
MAX_STATEMENT_LAG_DAYS = 180
"""A statement dated half a year after its period ends is a misread (or mistyped) year, not a bill."""
MAX_DUE_DAYS = 180
"""Likewise a due date half a year after the statement: bills are due in weeks."""
CORE_DATES = ("bill_period_start", "bill_period_end", "due_date")


def check_bill(bill: NormalizedBill, *, text: str | None) -> list[str]:
    """Every reason not to trust ``bill`` as-is; ``text`` adds the evidence checks."""
    reasons = _missing(bill)
    reasons += _arithmetic(bill)
    reasons += _dates(bill)
    reasons += _units(bill)
    if text is not None:
        reasons += _evidence(bill, Evidence(text))
    return reasons


OVERRIDABLE = frozenset(
    {
        "sum_mismatch",
        "balance_mismatch",
        "bad_period",
        "bad_statement_date",
        "bad_due_date",
        "missing_field:due_date",
        "missing_field:usage",
        "missing_field:current_charges",
    }
)
"""Checks of plausibility, not of shape: a true bill can fail them (an adjustment outside the charges,
a sewer-only bill with no reading, a catch-up period of four months), so a reviewer may store it as
entered. A bill without account, total or period, with a unit the commodity cannot have, or with a
period that ends on or before the day it starts, never is."""


def check_correction(bill: NormalizedBill, *, override: bool, account_number: str | None = None) -> list[str]:
    """What refuses a reviewer's bill: every check, or with ``override`` only those no bill may fail;
    and, given the job's ``account_number``, a bill for another account (never overridable)."""
    failing = check_bill(bill, text=None)
    if override:
        start, end = bill.bill_period_start, bill.bill_period_end
        backwards = start is not None and end is not None and end <= start
        failing = [r for r in failing if r not in OVERRIDABLE or (r == "bad_period" and backwards)]
    return failing + check_account(bill, account_number)


def check_account(bill: NormalizedBill, account_number: str | None) -> list[str]:
    """``account_mismatch`` when the bill reads another account's number than the job's (never overridable)."""
    return [] if same_account(account_number, bill.account_number) else ["account_mismatch"]


def overridden_checks(bill: NormalizedBill) -> list[str]:
    """The plausibility checks a bill stored by override fails (kept in the audit trail)."""
    return [r for r in check_bill(bill, text=None) if r in OVERRIDABLE]


def _missing(bill: NormalizedBill) -> list[str]:
    required: dict[str, object] = {
        "account_number": bill.account_number,
        "total_amount": bill.total_amount,
        "bill_period_start": bill.bill_period_start,
        "bill_period_end": bill.bill_period_end,
        "due_date": bill.due_date,
    }
    reasons = [f"missing_field:{name}" for name, value in required.items() if value is None]
    billed = {item.commodity for item in bill.line_items if item.commodity is not None}
    if not bill.usage or billed - {reading.commodity for reading in bill.usage}:
        # Gas charges without a gas reading: a usage line was missed, not a gas-free bill.
        reasons.append("missing_field:usage")
    if bill.current_charges is None and not bill.line_items:
        # Without charges nothing corroborates the total: it could be any number on the page.
        reasons.append("missing_field:current_charges")
    return reasons


def _arithmetic(bill: NormalizedBill) -> list[str]:
    reasons: list[str] = []
    items_sum = sum((item.amount for item in bill.line_items), Decimal("0"))
    if bill.line_items and bill.current_charges is not None and items_sum != bill.current_charges:
        reasons.append("sum_mismatch")
    current = bill.current_charges if bill.current_charges is not None else (items_sum if bill.line_items else None)
    if bill.total_amount is not None and current is not None:
        previous = bill.previous_balance or Decimal("0")
        paid = bill.payments_received or Decimal("0")
        if previous - paid + current != bill.total_amount:
            reasons.append("balance_mismatch")
    return reasons


def _dates(bill: NormalizedBill) -> list[str]:
    reasons: list[str] = []
    start, end = bill.bill_period_start, bill.bill_period_end
    if start is not None and end is not None and not 1 <= (end - start).days <= MAX_PERIOD_DAYS:
        reasons.append("bad_period")
    statement = bill.statement_date
    if statement is not None and end is not None and not 0 <= (statement - end).days <= MAX_STATEMENT_LAG_DAYS:
        reasons.append("bad_statement_date")
    issued: date | None = bill.statement_date or end
    # 0 days: "due upon receipt"
    if bill.due_date is not None and issued is not None and not 0 <= (bill.due_date - issued).days <= MAX_DUE_DAYS:
        reasons.append("bad_due_date")
    return reasons


def _units(bill: NormalizedBill) -> list[str]:
    return [
        f"unit_mismatch:{reading.commodity.value}"
        for reading in bill.usage
        if reading.unit not in UNITS_BY_COMMODITY[reading.commodity]
    ]


def _evidence(bill: NormalizedBill, evidence: Evidence) -> list[str]:
    reasons: list[str] = []
    if bill.account_number is not None and not evidence.has_account(bill.account_number):
        reasons.append("no_evidence:account_number")
    if bill.total_amount is not None and not evidence.has_amount(bill.total_amount):
        reasons.append("no_evidence:total_amount")
    for name in (*CORE_DATES, "statement_date"):
        value = getattr(bill, name)
        if value is not None and not evidence.has_date(value):
            reasons.append(f"no_evidence:{name}")
    # On a bill that counts in thousands of gallons, a gallon reading must be multiplied out.
    scaled = [r for r in bill.usage if r.unit is UsageUnit.GAL and evidence.gallon_scales]
    if any(not evidence.has_number(r.quantity) for r in bill.usage if r not in scaled):
        reasons.append("no_evidence:usage")
    if any(not evidence.has_multiplied_out_gallons(r.quantity) for r in scaled):
        reasons.append("unit_scale:usage")
    return reasons
