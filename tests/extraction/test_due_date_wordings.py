"""A due date printed in other wordings than a label's, read only where the bill labels none: each such bill went to
review for its due date alone. Read whole, as the offline pipeline reads an upload."""

from __future__ import annotations

from datetime import date

import pytest

from extraction.pipeline import analyze
from shared.settings import Settings

OFFLINE = Settings(gemini_api_key=None)

WILLOW = """\
Willow Creek Electric
Account Number: 3381-22-09
Statement Date: 11/09/2026
Service Period: 10/06/2026 - 11/05/2026
{due}

Previous Balance     $99.40
Payment             -$99.40
Current Charges     $118.76
Amount Due          $118.76

  Customer Charge   $14.00
  Energy 948 kWh    $97.69
  Tax                $7.07
Usage 948 kWh
"""
ISSUED = date(2026, 11, 9)


def _read(due: str, bill: str = WILLOW) -> tuple[str, date | None]:
    report = analyze(bill.format(due=due).encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None
    return report.decision, report.bill.due_date


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ("Past due after 11/30/2026", date(2026, 11, 30)),
        ("Amount Due: $118.76 by November 30, 2026", date(2026, 11, 30)),
        ("Total due $118.76 on or before 11/30/2026", date(2026, 11, 30)),
        ("PAST DUE AFTER 11/30/26", date(2026, 11, 30)),
        ("Payment Due: Upon Receipt", ISSUED),
        ("Amount due upon receipt", ISSUED),
    ],
)
def test_a_due_date_in_another_wording_is_read_where_none_is_labelled(due: str, expected: date) -> None:
    assert _read(due) == ("accept", expected)


@pytest.mark.parametrize(
    "due",
    [
        "Your previous balance was past due after 10/30/2026.",
        "Your last payment of $99.40 was drafted on 10/24/2026.",
        "Your next AutoPay payment will be drafted on 12/24/2026.",
        "Amount due $118.76 by 11/20/2026 to avoid disconnection.",
        "A reconnection fee of $50.00 is due upon receipt.",
        "The past due balance is due upon receipt.",
        "Next meter reading due 12/05/2026",
        "This Read  11/05/2026     Next Read  Due 12/05/2026",
        "Plan Review     Due 03/15/2027     Settle-up month: April 2027",
        # Under a due date's own label, or the request to pay by a date, all the same:
        "Amount due by 12/15/2026 to avoid disconnection: $50.00 (your past due balance)",
        "Installment due by 12/20/2026: $45.00 (not included above)",
        "Pay $50.00 by 11/20/2026 to avoid disconnection of service.",
        # An adversarial re-read found these accepted by the first version of the wordings above:
        "Service call and meter test charges are due upon receipt.",
        "FINAL NOTICE - the balance of $50.00 from your October bill is DUE UPON RECEIPT.",
        "Backflow Test     Due 01/15/2027",
        "Due 01/15/2027",
        "Your December bill will be drafted on 12/28/2026.",
        "AutoPay starts with your December bill: your first payment will be withdrawn on 12/28/2026.",
        "Minimum amount due $25.00 by 11/20/2026; remaining balance by 11/30/2026.",
        "Security Deposit Requested     $150.00     Due upon receipt",
        # Neither a bare "Due" cell nor an AutoPay's draft is read: each was as often another thing's.
        "City Sewer (billed separately)     Amount $42.10     Due 12/15/2026",
        "Thank you for scheduling a one-time payment: $50.00 will be deducted from your account on 11/15/2026.",
        # A label passed over for its notice's sentence leaves the due date to a reviewer, not to a weaker wording.
        "Payment due by 12/15/2026 to avoid disconnection.\nPast due after 12/20/2026",
        "Payment due by 12/15/2026 to avoid disconnection.\nPayment Due: Upon Receipt",
    ],
)
def test_another_dates_due_in_those_wordings_is_no_due_date(due: str) -> None:
    """An earlier bill's, a plan's, a fee's, a meter's or a notice's deadline, next month's draft: the bill goes to
    review (a wrong-accept hunt found the last three accepted with the notice's or the plan's date)."""
    assert _read(due) == ("review", None)


@pytest.mark.parametrize(
    "wording",
    [
        "Past due after 12/15/2026",
        "AutoPay Draft Date: 11/24/2026",
        "Payment Due: Upon Receipt",
        "Amount Due: $118.76 by December 15, 2026",
    ],
)
def test_a_labelled_due_date_wins_over_the_other_wordings(wording: str) -> None:
    assert _read(f"Due Date: 11/30/2026\n{wording}") == ("accept", date(2026, 11, 30))


@pytest.mark.parametrize(
    "due",
    [
        "Payment Due Date: 11/30/2026 - service may be disconnected if unpaid",
        "Please pay by 11/30/2026 to avoid a late payment charge.",
        "Due Date: 11/30/2026 (to avoid a late fee pay by then)",
        "Please pay $118.76 by 11/30/2026 to avoid a late payment charge.",
    ],
)
def test_a_warning_beside_the_bills_own_due_date_leaves_it_read(due: str) -> None:
    """A notice's deadline is no due date ("to avoid disconnection"), but the bill's own, warned of, is: the first
    version of that rule sent such bills to review, and read another date where one stood beside."""
    assert _read(f"{due}\nBackflow Test     Due 01/15/2027") == ("accept", date(2026, 11, 30))
