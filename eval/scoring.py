"""Scoring a run against golden files: per-field accuracy, accept rate and accept precision.

Accept precision is the number that matters: of the bills accepted without a human,
the share whose core fields all equal the golden bill.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

FIELDS = (
    "provider",
    "provider_name",
    "account_number",
    "customer_name",
    "statement_date",
    "bill_period_start",
    "bill_period_end",
    "due_date",
    "total_amount",
    "previous_balance",
    "payments_received",
    "current_charges",
    "usage",
    "line_items",
)
CORE = (
    "provider",
    "account_number",
    "statement_date",
    "bill_period_start",
    "bill_period_end",
    "due_date",
    "total_amount",
    "current_charges",
    "currency",
    "usage",
)
"""What an accepted bill must have right: what analytics publishes of it (its provider, dates, total, cost,
currency and usage: ``shared.analytics.rows``) and the account it is filed under. Current charges are the cost
analytics reports, and a bill in another currency accepted as dollars is wrong whatever its figures; a wrong
statement date or provider, published as they are, counted as right."""


@dataclass(frozen=True)
class Outcome:
    """One bill's result next to its golden file (bills as JSON-mode dicts)."""

    file: str
    decision: str
    reasons: list[str]
    bill: dict[str, Any] | None
    seconds: float
    pages: int
    golden: dict[str, Any]

    @property
    def category(self) -> str:
        return str(self.golden.get("category") or _category(self.golden))

    @property
    def core_correct(self) -> bool:
        """Whether accepting this bill was right: it is to be accepted (a bill that must go to review, read as
        printed, is no right accept) and what analytics publishes of it is as its golden file says."""
        gold = self.golden.get("bill")
        return (
            self.golden.get("decision") == "accept"
            and gold is not None
            and self.bill is not None
            and all(field_value(self.bill, f) == field_value(gold, f) for f in CORE)
        )


def _category(golden: dict[str, Any]) -> str:
    bill = golden.get("bill")
    if golden.get("decision") != "accept" or bill is None:
        return "adversarial"
    return "known" if bill.get("provider") else "unknown"


def field_value(bill: dict[str, Any], name: str) -> Any:
    """A comparable form: usage as a sorted (commodity, quantity, unit) list, items as amounts; the provider as
    analytics publishes it (``shared.analytics.rows``), a known provider's id else the name the bill prints."""
    value = bill.get(name)
    if name == "provider":
        return value or bill.get("provider_name")
    if name == "usage":
        return sorted(
            (u["commodity"], _number(u["quantity"]), u["unit"], _meter(u.get("meter_number"))) for u in value or []
        )
    if name == "line_items":
        return sorted(_number(i["amount"]) for i in value or [])
    if name == "account_number" and isinstance(value, str):
        return "".join(ch for ch in value.upper() if ch.isalnum())
    if name in ("total_amount", "previous_balance", "payments_received", "current_charges") and value is not None:
        return _number(value)
    return value


def _meter(value: Any) -> str:
    """A meter number as ``account_number`` is compared (its letters and digits), "" for none: analytics publishes
    it beside each reading, so another meter's number is as wrong as another quantity."""
    return "".join(ch for ch in str(value or "").upper() if ch.isalnum())


def _number(value: Any) -> str:
    return str(Decimal(str(value)).normalize())


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The run's figures. A field's accuracy is over the golden files that state it: a found bill's golden states
    what its finder checked by hand (its core fields), not its customer's name or line items."""
    with_gold = [o for o in outcomes if o.golden.get("bill") is not None]
    accuracy = {
        name: _ratio(
            sum(
                o.bill is not None and field_value(o.bill, name) == field_value(o.golden["bill"], name)
                for o in with_gold
                if name in o.golden["bill"]
            ),
            sum(name in o.golden["bill"] for o in with_gold),
        )
        for name in FIELDS
    }
    accepted = [o for o in outcomes if o.decision == "accept"]
    categories = sorted({o.category for o in outcomes})
    per_page = [o.seconds * 1000 / max(o.pages, 1) for o in outcomes if o.pages]
    return {
        "bills": len(outcomes),
        "field_accuracy": accuracy,
        "accept_rate": _ratio(len(accepted), len(outcomes)),
        "accept_precision": _ratio(sum(o.core_correct for o in accepted), len(accepted)),
        "wrong_accepts": [o.file for o in accepted if not o.core_correct],
        "decision_agreement": _ratio(sum(o.decision == o.golden.get("decision") for o in outcomes), len(outcomes)),
        "by_category": {
            c: {
                "bills": sum(o.category == c for o in outcomes),
                "accept_rate": _ratio(
                    sum(o.category == c and o.decision == "accept" for o in outcomes),
                    sum(o.category == c for o in outcomes),
                ),
                "golden_decision_matched": _ratio(
                    sum(o.category == c and o.decision == o.golden.get("decision") for o in outcomes),
                    sum(o.category == c for o in outcomes),
                ),
            }
            for c in categories
        },
        "median_ms_per_page": round(statistics.median(per_page), 2) if per_page else None,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def format_table(summary: dict[str, Any]) -> str:
    """The human-readable report printed by ``python -m eval.run``."""
    lines = [f"{'field':<20} accuracy"]
    for name, value in summary["field_accuracy"].items():
        lines.append(f"{name:<20} {_pct(value)}")
    lines.append("")
    lines.append(f"bills                {summary['bills']}")
    lines.append(f"accept rate          {_pct(summary['accept_rate'])}")
    lines.append(f"accept precision     {_pct(summary['accept_precision'])}")
    for category, figures in summary["by_category"].items():
        lines.append(
            f"  {category:<18} {figures['bills']:>3} bills, "
            f"accepted {_pct(figures['accept_rate'])}, "
            f"golden {_pct(figures['golden_decision_matched'])}"
        )
    if summary["wrong_accepts"]:
        lines.append(f"WRONG ACCEPTS        {', '.join(summary['wrong_accepts'])}")
    lines.append(f"median ms/page       {summary['median_ms_per_page']}")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:6.1f}%"
