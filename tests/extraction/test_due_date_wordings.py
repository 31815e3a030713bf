"""A due date asked for with the amount ("Please pay $148.37 by 03/25/2026") is read where the bill labels none, but
not a notice's deadline for a part of it; a due date read only under a label in a notice's deadline goes to review.
Read whole, as the offline pipeline reads an upload."""

from __future__ import annotations

from datetime import date

import pytest

from api.review_reasons import describe, fields_for
from extraction.pipeline import analyze
from shared.settings import Settings

OFFLINE = Settings(gemini_api_key=None)

WILLOW = """\
Willow Creek Electric
FINAL NOTICE
Account Number: 3381-22-09
Statement Date: 11/09/2026
Service Period: 10/06/2026 - 11/05/2026
{due}

Previous Balance    $149.40
Payment             -$99.40
Current Charges     $118.76
Amount Due          $168.76
Payment should reach us by 11/30/2026.

  Customer Charge   $14.00
  Energy 948 kWh    $97.69
  Tax                $7.07
Usage 948 kWh
"""


def _read(due: str) -> tuple[str, date | None]:
    return _report(due)[:2]


def _report(due: str) -> tuple[str, date | None, list[str]]:
    report = analyze(WILLOW.format(due=due).encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None
    return report.decision, report.bill.due_date, report.reasons


@pytest.mark.parametrize(
    "deadline",
    [
        "Pay $50.00 by 11/20/2026 to avoid disconnection of service.",
        "Please pay $50.00 before 11/20/2026 to avoid shut-off.",
        "Pay $50.00 by 11/20/2026 to avoid termination of your service.",
    ],
)
def test_a_notices_deadline_for_a_part_is_no_due_date(deadline: str) -> None:
    """The bill's own due date is in a wording the reader does not know ("should reach us by"): the notice's date
    for the past-due part was accepted as the due date (a wrong-accept hunt, session 67). Now a reviewer reads it."""
    assert _read(deadline) == ("review", None)


def test_a_request_to_pay_warning_of_a_late_charge_is_still_the_due_date() -> None:
    assert _read("Please pay $168.76 by 11/30/2026 to avoid a late payment charge.") == ("accept", date(2026, 11, 30))


@pytest.mark.parametrize(
    ("deadline", "read"),
    [
        ("Past due amount due by 12/15/2026 to avoid disconnection: $50.00", date(2026, 12, 15)),
        ("Amount due by 12/15/2026 to avoid disconnection: $50.00 (your past due balance)", date(2026, 12, 15)),
        ("Installment due by 12/20/2026: $45.00 (not included above)", date(2026, 12, 20)),
        # session 68's, a re-read of session 67's doubt: wordings it did not know
        ("Past due balance: $50.00. Pay by 12/15/2026 to prevent disconnection of your service.", date(2026, 12, 15)),
        ("Your past due amount of $50.00 is due by 12/15/2026 or service will be disconnected.", date(2026, 12, 15)),
        ("Pay $50.00 by 12/15/2026 to keep your service on.", date(2026, 12, 15)),
        ("Arrears of $50.00 due by 12/15/2026 to avoid termination of service.", date(2026, 12, 15)),
        ("Pay by 12/15/2026 to avoid having your electric service disconnected.", date(2026, 12, 15)),
        ("Payment Plan: installment of $45.00 due by 12/20/2026 (not included above)", date(2026, 12, 20)),
        ("Deferred Payment Arrangement: next payment due 12/20/2026 ($45.00, not included above)", date(2026, 12, 20)),
        ("Past due: $50.00. Amount due by 12/15/2026\nto avoid disconnection of electric service.", date(2026, 12, 15)),
        ("DISCONNECT NOTICE\nPlease pay by 12/15/2026 the past due amount of $50.00.", date(2026, 12, 15)),
        ("SHUT-OFF NOTICE      Due by: 12/15/2026      Balance: $50.00", date(2026, 12, 15)),
        ("Past due balance of $50.00 - Payment Due Date: 12/15/2026", date(2026, 12, 15)),
        # session 68's re-read: a notice's deadline under the bill's own label's name, and more wordings
        ("Due Date: 11/30/2026 - pay by this date to avoid shut-off", date(2026, 11, 30)),
        ("PAST DUE\nPayment Due Date: 12/15/2026 to avoid disconnection.", date(2026, 12, 15)),
        ("*** FINAL NOTICE ***\nDue Date: 12/16/2026 - pay by then", date(2026, 12, 16)),
        ("Disconnect notice - Pay by: 12/15/2026    Amount Enclosed: ________", date(2026, 12, 15)),
        ("NOTICE OF TERMINATION\nPay by 12/17/2026.", date(2026, 12, 17)),
        ("Disconnection scheduled: the unpaid balance of $61.20 is due on 12/15/2026.", date(2026, 12, 15)),
        ("Pay by 12/16/2026 to avoid having your gas turned off.", date(2026, 12, 16)),
        ("Installment plan: next payment of $45.00 due on 12/20/2026.", date(2026, 12, 20)),
        ("Promise to Pay: $45.00 due on 12/08/2026.", date(2026, 12, 8)),
        ("Pay $61.20, due on 12/15/2026, to remain connected.", date(2026, 12, 15)),
        # and a second re-read's (68C)
        ("Pay by 12/15/2026 to avoid late fees, collection, or disconnection of service.", date(2026, 12, 15)),
        ("NOTICE OF INTENT TO DISCONNECT\nPay by 12/17/2026.", date(2026, 12, 17)),
        ("48-HOUR SHUT-OFF NOTICE\nPay by 12/17/2026.", date(2026, 12, 17)),
        ("DISCONNECT NOTICE\nPlease act now.\nPay By: 12/15/2026", date(2026, 12, 15)),
        ("Pay $50.00 by 12/15/2026 or your gas may be shut off.", date(2026, 12, 15)),
        ("Pay $50.00 by 12/15/2026 or we may disconnect your service.", date(2026, 12, 15)),
        ("Pay by 12/15/2026 to avoid loss of service.", date(2026, 12, 15)),
        ("Overdue balance of $50.00 due by 12/15/2026.", date(2026, 12, 15)),
        ("Deferred balance $180.00 - next payment of $30.00 due on 12/20/2026.", date(2026, 12, 20)),
        ("Payment extension granted: $50.00 now due by 12/15/2026.", date(2026, 12, 15)),
        (
            "Past due balance of $50.00 is due by 12/15/2026 to avoid disconnection and removal from Budget Billing.",
            date(2026, 12, 15),
        ),
        # and a third's (68D): a budget plan's name is no exception
        ("Past due amount due by 12/15/2026 or you will be removed from Budget Billing.", date(2026, 12, 15)),
        ("Equal Payment Plan: past due balance due by 12/16/2026 to keep your plan active.", date(2026, 12, 16)),
        ("Pay $50.00 by 12/15/2026 or termination of service may occur.", date(2026, 12, 15)),
        (
            "DEFERRED PAYMENT ARRANGEMENT\nInstallment due on 12/20/2026 under your arrangement: $40.00 (six equal"
            " installments)",
            date(2026, 12, 20),
        ),
        # and session 69's re-reads (68E's, 69E's, 69F's): headings and demands it did not know
        ("SECOND NOTICE\nPay by: 12/15/2026", date(2026, 12, 15)),
        ("REMINDER NOTICE\nDue by: 12/15/2026", date(2026, 12, 15)),
        ("LATE NOTICE\nPay by: 12/15/2026", date(2026, 12, 15)),
        ("NOTICE OF PENDING DISCONNECTION\nPayment Due: 12/15/2026", date(2026, 12, 15)),
        ("DISCONNECTION WARNING\nPay by: 12/15/2026", date(2026, 12, 15)),
        ("Pay by 12/15/2026 or services may be discontinued.", date(2026, 12, 15)),
        ("Your outstanding balance of $50.00 is due by 12/15/2026.", date(2026, 12, 15)),
        ("Unpaid balance of $50.00 due on 12/15/2026.", date(2026, 12, 15)),
        ("Minimum payment of $50.00 due by 12/15/2026 to keep your account in good standing.", date(2026, 12, 15)),
        ("Payment agreement: next payment due on 12/20/2026 ($45.00).", date(2026, 12, 20)),
    ],
)
def test_a_due_date_read_only_in_a_notices_deadline_goes_to_review(deadline: str, read: date) -> None:
    """The notice's date may be the bill's due date or not: hunts found each accepted with it, the bill's own printed
    in a wording the reader does not know ("should reach us by"). A reviewer tells them apart. The notice is the
    label's sentence, going on over the next line, or a notice's heading on its row or the line above."""
    assert _report(deadline) == ("review", read, ["notice_deadline:due_date"])


@pytest.mark.parametrize(
    "due",
    [
        "Due Date: 11/30/2026\nPay by 11/30/2026 to avoid disconnection.",
        "Budget installment due on 11/30/2026: $168.76",
        "Amount due by 11/30/2026 to avoid service shut-off: $168.76",
        "TO KEEP YOUR SERVICE ON, PAY $168.76 BY 11/30/2026.",
        "Due Date: 11/30/2026\nPast due balance: $0.00",
        # session 68's re-read: innocent words that its first version sent to review
        "Past Due Balance: $0.00 | Due Date: 11/30/2026",
        "A past due notice will be mailed if payment is not received by the due date.\nDue Date: 11/30/2026",
        "Due Date: 11/30/2026            Received a disconnect notice? Call us.",
        "Due Date: 11/30/2026            Final notice fee (if unpaid): $5.00",
        "Budget Payment Plan - Payment Due Date: 11/30/2026",
        "Pay by 11/30/2026 - no past due balance on this account.",
        "Please pay by 11/30/2026\nor enroll in our arrears forgiveness program.",
        "Pay by 11/30/2026 - enroll in AutoPay to keep your service worry-free.",
        "Please pay $168.76 by 11/30/2026 to avoid a late fee or service interruption.",
        # and a second re-read's (68C)
        "Due Date: 11/30/2026 | Arrears: $0.00",
        "Payment Due Date: 11/30/2026 - Past Due Balance: None",
        "Due Date: 11/30/2026 | Pre-Authorized Payment Plan: not enrolled",
        "Due Date: 11/30/2026 | Payment Arrangement: None",
        "Please pay by 11/30/2026, including any arrears shown above.",
        "NOTICE OF INTERRUPTION - Water main replacement on Elm St, Dec 3, 2026\nDue Date: 11/30/2026",
        "Due Date: 11/30/2026                 INTERRUPTION NOTICE",
        "Due Date: 11/30/2026 | Planned interruption scheduled 12/03/2026, 9 AM - 1 PM",
        "Pay by 11/30/2026 - thank you, there is no outstanding past due balance.",
        # and a third's (68D)
        "Pay by 11/30/2026 - a late payment charge of 1.5% per month applies to overdue amounts.",
        "Due Date: 11/30/2026 - need a payment extension? Call us.",
        "Due Date: 11/30/2026\nNote: service will be interrupted on Dec 3 for line maintenance.",
        "SHUT-OFF NOTICE - Planned water main work on Elm St\nDue Date: 11/30/2026",
        "Due Date: 11/30/2026            Final Notice - N/A",
        "Due Date: 11/30/2026. Medical accounts are not subject to disconnection.",
        "Due Date: 11/30/2026\nsafety tip: trim trees near lines to prevent loss of service in storms.",
        # and a fourth's (68E)
        "Per your lease agreement, payment is due by 11/30/2026.",
        "Due Date: 11/30/2026 (brief interruptions may occur on Dec 3 while we upgrade meters)",
        "Payment Due: 11/30/2026 (your introductory bill credit will terminate after this statement)",
        "Due Date: 11/30/2026. Medical customers will not be subject to disconnection.",
        "Your water heater installment plan payment is included in the amount due by 11/30/2026.",
        "10/20/2026   Past Due Notice\nDue Date: 11/30/2026",
        "Due Date: 11/30/2026\nor set up AutoPay and never risk late fees or service interruption again.",
    ],
)
def test_a_due_date_printed_outside_a_notice_or_for_the_amount_due_is_accepted(due: str) -> None:
    """The bill's own: printed with its amount due (a budget bill's installment is its amount due), or with words a
    notice uses in no notice's sense; a line under it is no notice's sentence going on unless it goes on in lower
    case, with a warning."""
    assert _report(due) == ("accept", date(2026, 11, 30), [])


OWN_DATE_WORDINGS = [
    "Please remit by 11/30/2026.",
    "Remit payment by: 11/30/2026",
    "Remit on or before November 30, 2026",
    "Payment must be received by 11/30/2026",
    "Date Due: 11/30/2026",
    "Pay on or before 11/30/2026",
    "Please pay before 11/30/2026",
    "Your payment is due 11/30/2026.",
    "Payable by 11/30/2026",
    "Please submit your payment by 11/30/2026",
    "Last day to pay: 11/30/2026",
    "Payment Deadline: 11/30/2026",
    "Pay no later than 11/30/2026",
    # and an adversarial re-read's (69E) layouts and wordings the first version missed
    "Please remit by Monday, November 30, 2026.",
    "Date Due ........ 11/30/2026",
    "Date Due          11/30/2026",
    "Date Due: 11/30/2026        Deposit Held: $150.00",
    "Amount due must be received by 11/30/2026.",
    "Your bill is payable by November 30, 2026.",
    "Please remit payment no later than 11/30/2026.",
    "Pay on or before Nov. 30, 2026",
    # and a third's (69F)
    "IMPORTANT: Please remit by 11/30/2026.",
    "Payment of $168.76 must be received by 11/30/2026.",
    "Amount Due $168.76 - Please remit by 11/30/2026",
    "Payment must be received in our office by 11/30/2026.",
    "The last day to pay is 11/30/2026.",
    "Payment Deadline \u2014 11/30/2026",
    "Reminder: your payment is due 11/30/2026.",
    "Please remit by 11/30/2026 to avoid a 1.5% late payment charge.",
]
"""Requests to pay in wordings no label reads, the hunts' bills' own due date (sessions 67, 68): each was accepted
with a notice's date a label read."""


@pytest.mark.parametrize("own", OWN_DATE_WORDINGS)
@pytest.mark.parametrize(
    "notice",
    [
        "Your outstanding balance of $50.00 is due by 12/14/2026.",
        "LATE NOTICE\nPay by: 12/15/2026",
        "Minimum payment of $50.00 due by 12/15/2026 to keep your account in good standing.",
        "Past due: $50.00 due by 12/14/2026\nOtherwise your electric service will be disconnected.",
    ],
)
def test_a_request_to_pay_by_another_date_than_the_one_read_conflicts(own: str, notice: str) -> None:
    """The notice's date is read; the request to pay by another date says one of the two is not the bill's."""
    decision, read, reasons = _report(f"{own}\n{notice}")
    assert (decision, "conflicting_values:due_date" in reasons) == ("review", True), (read, reasons)


@pytest.mark.parametrize("own", OWN_DATE_WORDINGS)
def test_a_request_to_pay_never_makes_a_reading(own: str) -> None:
    """Read as labels, these wordings read a deposit's, a rebate's or a plan's date in place of the bill's own (an
    adversarial re-read, 69D: 23 wrong accepts). They only doubt a reading: alone, the bill has no due date read."""
    decision, read, reasons = _report(own)
    assert (decision, read, "missing_field:due_date" in reasons) == ("review", None, True), reasons


@pytest.mark.parametrize(
    "other",
    [
        "A security deposit of $150.00 is payable by 12/20/2026.",
        "Rebate applications must be received by 01/31/2027.",
        "Walk-in payments must be received by 5:00 p.m. on 12/04/2026 to post the same day.",
        "Pay on or before 11/22/2026 and save $2.13 (2% prompt payment discount).",
        "Seasonal reconnection: pay before 04/01/2027 and we waive the $35.00 reconnect fee.",
        "Budget Billing enrollment: pay no later than 12/10/2026 to start in January.",
        "Solid waste fees are billed by the County; remit by 12/15/2026 to the County Treasurer.",
        "PAYMENT PLAN    Installment 4 of 6    Date Due 12/22/2026",
        "Your payment is due 12/05/2026 and will be drafted from your bank account.",
        "Please remit by 12/15/2026 to avoid disconnection of service.",
        # and a second re-read's (69E)
        "ANNUAL CHARGES   Fire hydrant availability fee $36.00   Payable by 12/20/2026 on this or next bill",
        "BACKFLOW PREVENTION - annual test report required      Deadline: 03/15/2027",
        "LAST BILL    Issued 10/09/2026    Date Due 10/30/2026    Amount $117.62    Paid 10/27/2026",
        # and a third's (69F)
        "YOUTH TOUR 2027 - essays welcome. Deadline: 12/11/2026",
        "Must be received by 12/08/2026 to be counted.",
        "Payments must be received by 12/23/2026 to post before the holiday closure.",
        "Mailing a check? Remit by 11/23/2026 so it reaches us by the due date.",
        "NET METERING ANNUAL TRUE-UP      Balance $212.40      Payable by 12/21/2026",
    ],
)
def test_another_things_date_after_a_request_to_pay_leaves_the_due_date(other: str) -> None:
    """A request to pay about something else (its subject, an offer, a plan's row, a draft, a notice's sentence) or
    with no date right after it is no doubt of the bill's own due date (an adversarial re-read's, 69D)."""
    assert _report(f"Due Date: 11/30/2026\n{other}") == ("accept", date(2026, 11, 30), [])


@pytest.mark.parametrize(
    "grace",
    [
        "Payment must be received by 12/10/2026 to avoid a 10% late payment penalty.",
        "Pay no later than 12/16/2026 to avoid a $5.00 late charge.",
    ],
)
def test_a_grace_periods_end_beside_the_due_date_is_a_reviewers_call(grace: str) -> None:
    """A late charge's date is how bills print their own due date ("Please remit by 11/30/2026 to avoid a late payment
    charge", a re-read's miss while it was left out, 69F), and a grace period's end beside another due date is the
    date a payment is late by as much: which is the due date, a reviewer decides."""
    decision, _, reasons = _report(f"Due Date: 11/30/2026\n{grace}")
    assert (decision, reasons) == ("review", ["conflicting_values:due_date"])


def test_a_request_to_pay_warning_of_a_cut_off_is_not_dropped_for_another_request() -> None:
    """Dropping the bill's own request for its warning left a deposit's "pay $45.00 by" alone, and accepted it (a
    re-read, 68E): both are read, and their dates conflict."""
    own = "Please pay $168.76 by 11/30/2026 to prevent late fees and service interruption."
    decision, _, reasons = _report(f"{own}\nNew account deposit: pay $45.00 by 12/14/2026.")
    assert (decision, "conflicting_values:due_date" in reasons) == ("review", True)


def test_the_bills_own_request_naming_its_past_due_part_still_conflicts_with_a_notices() -> None:
    """A re-read found the request to pay skipped for naming the past-due part, and the notice's date accepted."""
    own = "Please pay $168.76 by 11/30/2026, including your past due balance due of $50.00."
    decision, _, reasons = _report(f"{own}\nPay $50.00 by 12/15/2026 to keep your service on.")
    assert (decision, reasons) == ("review", ["conflicting_values:due_date"])


def test_the_review_page_says_what_to_check() -> None:
    assert fields_for("notice_deadline:due_date") == ("due_date",)
    assert "this bill's own due date" in describe("notice_deadline:due_date")
