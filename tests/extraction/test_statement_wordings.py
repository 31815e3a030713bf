"""Wordings of ordinary bills a data-quality probe wrote by hand (session 63): a usage row comparing periods, a gas
bill charging therms beside its meter's CCF, section subtotals, a payment thanked for in prose, a due date labelled
"Due:". Read whole, as the offline pipeline reads an upload."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from extraction.pipeline import analyze
from shared.bill import Commodity, UsageUnit
from shared.settings import Settings

OFFLINE = Settings(gemini_api_key=None)

HILLCREST = """\
Hillcrest Power
Customer: Victor Lindqvist
Account number: 5521-0093
Statement date: 07/07/2026
Billing period: 06/03/2026 - 07/02/2026
Due date: 07/28/2026

{usage}

Charges
  Customer charge          $14.00
  {energy}
  Taxes                     $9.66
  Total current charges   $149.06

Amount due               $149.06
"""


@pytest.mark.parametrize(
    "usage",
    [
        "Usage comparison        Last year    This year\nTotal kWh               1,320        1,140\n"
        "Days                    30           30",
        "Usage comparison        Previous period    This period\nkWh used                1,320              1,140",
        "kWh used   1,320 (last year)   1,140 (this year)",
        "This           Last\nPeriod         Period\nTotal kWh   1,140          1,320",
        "                        Jun 2025   Jun 2026\nTotal kWh               1,320      1,140",
        "                        2026       2025\nTotal kWh               1,140      1,320",
        "Usage comparison        Last Month    This Month\nDays Billed                 29            30\n"
        "kWh Used                 1,320         1,140",
        "                        Jun 2025   Jun 2026\nDays                          30         30\n"
        "Total kWh               1,320      1,140",
    ],
    ids=["headings", "previous-period", "brackets", "two-line-headings", "months", "years", "days-first", "dated-days"],
)
@pytest.mark.parametrize("energy", ["Energy                  $125.40", "Energy 1,140 kWh        $125.40"])
def test_a_usage_row_comparing_periods_reads_this_periods_figure(usage: str, energy: str) -> None:
    """Last year's 1,320, the row's first figure, was stored and the bill accepted."""
    report = analyze(HILLCREST.format(usage=usage, energy=energy).encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert [(u.quantity, u.unit) for u in report.bill.usage] == [(Decimal(1140), UsageUnit.KWH)]


@pytest.mark.parametrize(
    "usage",
    [
        "Total kWh used:   1,140          Meter number:   4471203",
        "Total kWh:   1,140      Billing days:   30",
        "Total kWh   1,140   1",
        "kWh Used       Days    Temp\nTotal kWh      1,140   30      74",
        "This period    Daily average    Last year\nTotal kWh      1,140          38               1,320",
        "kWh used   1,140 (avg 38/day)   1,320 (last year)",
        "Total kWh   1,140   Last year   1,320",
    ],
    ids=["meter-number", "billing-days", "bare", "days-temp", "average", "bracket-of-its-own", "labelled-after"],
)
def test_a_usage_row_with_figures_of_no_other_period_reads_its_labelled_figure(usage: str) -> None:
    """Days, a meter number, a temperature or an average beside the reading compare no periods: read as one, the
    row's figures disagreed and ordinary bills went to review."""
    report = analyze(
        HILLCREST.format(usage=usage, energy="Energy  $125.40").encode(), provider_hint=None, settings=OFFLINE
    )
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert [(u.quantity, u.unit) for u in report.bill.usage] == [(Decimal(1140), UsageUnit.KWH)]


PRAIRIE_GAS = """\
Prairie Natural Gas
Customer: Lena Fischer
Account number: 88-2031-4456
Bill date: January 12, 2026
Service period: December 8, 2025 to January 7, 2026
Due date: February 2, 2026
Gas usage
  Meter 7730021   Previous 5,412   Current 5,530   CCF used 118
  Therm multiplier 1.037    Therms billed 122.4
Charges
  Customer charge                         $15.50
  Distribution {billed} @ $0.3120     $38.19
  Gas supply {billed} @ $0.5480       $67.08
  Purchased gas / fuel adjustment          $4.90
  Sales tax                                $7.61
  Total current gas charges              $133.28
Previous balance        $98.40
Payment - thank you    -$98.40
Total amount due       $133.28
"""


@pytest.mark.parametrize(
    ("billed", "reading"),
    [("122.4 therms", (Decimal("122.4"), UsageUnit.THERM)), ("118 CCF", (Decimal(118), UsageUnit.CCF))],
    ids=["therms-charged", "ccf-charged"],
)
def test_of_a_gas_bills_ccf_and_therms_as_well_labelled_the_charged_unit_is_the_reading(
    billed: str, reading: tuple[Decimal, UsageUnit]
) -> None:
    """The meter's 118 CCF, printed first, was stored for a bill charging 122.4 therms: a month of no therms."""
    report = analyze(PRAIRIE_GAS.format(billed=billed).encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None
    assert [(u.quantity, u.unit) for u in report.bill.usage] == [reading]
    assert (report.decision, report.reasons) == ("accept", [])


SUMMIT_ENERGY = """\
Summit Energy Services
Customer: Rachel Kim
Account number: 3309-1120
Statement date: 03/09/2026
Billing period: 02/05/2026 - 03/06/2026
Due date: 03/30/2026
Usage: 930 kWh
Delivery services
  Basic charge                  $11.00
  Distribution 930 kWh          $31.20
  {delivery}                $42.20
Supply services
  Generation 930 kWh            $97.65
  {supply}                  $97.65
Taxes
  Sales tax                     $13.32
Total current charges          $153.17
Amount due                     $153.17
"""


@pytest.mark.parametrize(
    ("delivery", "supply"),
    [("Delivery subtotal", "Supply subtotal"), ("Delivery services subtotal", "Supply sub-total")],
)
def test_a_sections_subtotal_is_no_line_item(delivery: str, supply: str) -> None:
    """Read as items, the subtotals counted their sections twice: a sum mismatch, and a review."""
    text = SUMMIT_ENERGY.format(delivery=delivery, supply=supply)
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert [item.amount for item in report.bill.line_items] == [
        Decimal("11.00"),
        Decimal("31.20"),
        Decimal("97.65"),
        Decimal("13.32"),
    ]


WESTBROOK = """\
Westbrook Electric
Account number: 1200-884-3
Customer: Sam Porter
Statement date: 04/08/2026
Billing period: 03/06/2026 - 04/05/2026
Due date: 04/29/2026
Thank you for your payment of $88.10 received 03/20/2026.
Charges
  Customer charge     $10.00
  Energy 720 kWh      $78.50
  Taxes                $7.80
  Total current charges  $96.30
Amount due  {due}
Usage: 720 kWh
"""


def test_a_charge_mentioning_a_subtotal_or_a_services_one_row_of_charges_is_an_item() -> None:
    """A tax on the subtotal is a charge, and a summary's "Gas total" its service's only row: dropped, the bill's
    charges did not add up, or a gas charge without a gas reading went unnoticed."""
    text = SUMMIT_ENERGY.format(delivery="Delivery subtotal", supply="Supply subtotal").replace(
        "  Sales tax                     $13.32", "  Sales tax on subtotal         $13.32"
    )
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and report.bill.line_items[-1].description == "Sales tax on subtotal"
    summary = "Electric usage: 930 kWh\nSummary of charges\n  Electric total   $96.30\n  Gas total   $54.10\n"
    combined = SUMMIT_ENERGY.split("Usage:")[0] + summary + "Current charges   $150.40\nTotal amount due   $150.40\n"
    report = analyze(combined.encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == "review" and "missing_field:usage" in report.reasons, "gas charged, no gas read"


def test_a_payment_beside_no_previous_balance_is_checked_against_the_total() -> None:
    """Payments printed where no previous balance is read are the sign of an unread one: an unpaid balance listed
    among the charges ("Unpaid charges from your last bill") made an amount due the charges did not."""
    report = analyze(WESTBROOK.format(due="$184.40").encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == "review" and "balance_mismatch" in report.reasons


@pytest.mark.parametrize(
    "paid",
    [
        "Thank you for your payment of $88.10 received 03/20/2026.",
        "Payments of $25.00 or more can be made at any office.",
        "Amount to be paid by AutoPay on 04/29/2026: $96.30",
    ],
)
def test_a_payment_beside_no_previous_balance_is_checked_against_printed_charges_too(paid: str) -> None:
    """Let off where the printed charges are the total, whatever a line naming a payment printed was stored as paid,
    unchecked (an adversarial re-read): a thanked-for payment in prose goes to review with them."""
    text = WESTBROOK.format(due="$96.30").replace("Thank you for your payment of $88.10 received 03/20/2026.", paid)
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == "review" and "balance_mismatch" in report.reasons


UNPAID_AMONG_CHARGES = """\
Westbrook Electric
Account number: 1200-884-3
Customer: Sam Porter
Statement date: 04/08/2026
Billing period: 03/06/2026 - 04/05/2026
Due date: 04/29/2026
{payment}
Charges
  {unpaid}   $90.00
  Customer charge     $10.00
  Energy 720 kWh      $78.50
  Taxes                $7.80
{note}
Amount due  $186.30
Usage: 720 kWh
"""


@pytest.mark.parametrize(
    "unpaid",
    [
        "Unpaid charges",
        "Unpaid amount from your last bill",
        "Unpaid balance from last bill",
        "Previous unpaid balance",  # a second re-read: lost once "unpaid" had to open its cell
        "Your unpaid balance",
    ],
)
def test_an_unpaid_amount_listed_among_the_charges_is_the_previous_balance(unpaid: str) -> None:
    """Read as a charge, last bill's unpaid $90.00 was stored, accepted, as this bill's cost ($186.30)."""
    text = UNPAID_AMONG_CHARGES.format(payment="", unpaid=unpaid, note="")
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert (report.bill.previous_balance, report.bill.current_charges) == (Decimal("90.00"), Decimal("96.30"))
    assert [item.amount for item in report.bill.line_items] == [Decimal("10.00"), Decimal("78.50"), Decimal("7.80")]


@pytest.mark.parametrize("unpaid", ["Unpaid charges", "Carried over from March"])
def test_charges_implied_by_items_beside_a_payment_and_no_previous_balance_go_to_review(unpaid: str) -> None:
    """Items adding up to the amount due beside a payment: an unpaid balance among them ("Carried over from March", a
    wording the reader does not know) would be this bill's cost."""
    text = UNPAID_AMONG_CHARGES.format(payment="Payment received 03/20 - thank you   -$60.00", unpaid=unpaid, note="")
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == "review" and "balance_mismatch" in report.reasons


@pytest.mark.parametrize(
    "charge", ["Unpaid check charge", "Returned (unpaid) check fee", "1.5% charge on unpaid amount"]
)
def test_a_charge_for_something_unpaid_is_an_item(charge: str) -> None:
    """Dropped as an unpaid balance, the charges did not add up (an adversarial re-read)."""
    text = UNPAID_AMONG_CHARGES.format(payment="", unpaid=charge, note="Current charges  $186.30")
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and report.bill.previous_balance is None
    assert report.bill.line_items[0].amount == Decimal("90.00")


def test_a_sentence_about_unpaid_charges_is_no_previous_balance() -> None:
    text = UNPAID_AMONG_CHARGES.format(
        payment="", unpaid="Late payment charge", note="Unpaid charges may be subject to a late fee of $5.00."
    ).replace("Amount due  $186.30", "Current charges  $186.30\nAmount due  $186.30")
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert (report.bill.previous_balance, report.bill.current_charges) == (None, Decimal("186.30"))


EASTFIELD = """\
Eastfield Gas Co.
Account: 4471-0092-11
Customer: Omar Haddad
Bill date: 01/05/26
Period: 11/28/25 - 12/29/25
{due}
Gas used: 96 therms
Customer charge     $14.00
Gas supply 96 therms  $55.68
Delivery 96 therms    $31.10
Tax                   $6.05
Current charges     $106.83
Amount due          $106.83
"""


def test_a_due_date_labelled_due_alone_is_read() -> None:
    report = analyze(EASTFIELD.format(due="Due: 01/26/26").encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and report.bill.due_date == date(2026, 1, 26)


@pytest.mark.parametrize(
    "due",
    [
        "Past due: $0.00",
        "Amount due upon receipt\nNext meter reading due: 01/27/26",
        "Next installment due: Feb 25, 2026",
    ],
)
def test_another_dates_due_or_an_amount_due_is_no_due_date(due: str) -> None:
    report = analyze(EASTFIELD.format(due=due).encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None and report.bill.due_date is None


LAKESHORE = """\
Lakeshore Electric Company
Account No. 9001 4477 21
Bill date: 11/03/2026
Billing period: 09/30/2026 to 10/29/2026
Due date: 11/24/2026
Previous balance           $0.00
Payments received       -$250.00
Current charges           $86.40
Credit balance - do not pay   {credit}
Charges this period
  Basic service charge          $10.00
  Energy 640 kWh                $64.00
  Sales tax                      $12.40
  Total current charges          $86.40
Electric usage: 640 kWh
"""


def test_a_credit_balance_not_to_pay_is_the_amount_due() -> None:
    """Unread, the bill went to review for a missing total ("163.60 CR" and "($163.60)" were read)."""
    report = analyze(LAKESHORE.format(credit="-$163.60").encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and report.bill.total_amount == Decimal("-163.60")


def test_a_credit_balance_printed_without_its_sign_does_not_balance() -> None:
    """Read as 163.60 owed, it is no credit: the balance check sends it to a person."""
    report = analyze(LAKESHORE.format(credit="$163.60").encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == "review" and "balance_mismatch" in report.reasons


def test_ccf_readings_that_disagree_beside_the_charged_therms_still_go_to_review() -> None:
    """The therms chosen for the charges, the meter's two CCF readings left unread were no conflict."""
    text = PRAIRIE_GAS.format(billed="122.4 therms").replace(
        "  Therm multiplier", "  CCF billed 181\n  Therm multiplier"
    )
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == "review" and "conflicting_values:usage" in report.reasons


FAIRVIEW = """\
Fairview Public Power
Account Number: FPP-705      {dated}
Billing Period: 10/06/2026 - 11/05/2026
Due Date: 11/30/2026
{mailed}
Previous Balance     $142.10
Payments Received   -$142.10
Current Charges      $156.33
Amount Due           $156.33
Total Usage: 1,122 kWh
"""


def test_a_statement_dated_by_mailed_alone_is_read() -> None:
    """Accepted with no statement date, which analytics publishes."""
    text = FAIRVIEW.format(dated="", mailed="Mailed: 11/09/2026")
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and report.bill.statement_date == date(2026, 11, 9)


@pytest.mark.parametrize(
    "mailed",
    [
        "Payment posted on date: 10/25/2026\nMailed to: 12 Elm St",
        "Disconnection notice mailed 11/06/2026",
        "Meter 13713670   Date: 11/04/2026   Reading: 45632",
        "Your last payment      Date: 10/15/2026",
    ],
)
def test_a_date_in_a_sentence_or_of_a_payment_or_a_read_is_no_statement_date(mailed: str) -> None:
    """A bare "Date:" read as a statement's took a meter read's, a payment's or a stub's date (an adversarial
    re-read)."""
    report = analyze(FAIRVIEW.format(dated="", mailed=mailed).encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None and report.bill.statement_date is None


@pytest.mark.parametrize(
    ("second", "decision", "paid"),
    [
        ("Payment 10/28/2026  Thank You  -$100.00", "accept", Decimal("142.10")),
        ("Payment 10/28/2026  Thank You  -$90.00", "review", Decimal("42.10")),
        ("Payment Arrangement Credit     -$100.00", "review", Decimal("42.10")),  # a credit, not paid
        ("Prompt Payment Discount        -$100.00", "review", Decimal("42.10")),
        ("Payment - thank you (credit card)  -$100.00", "accept", Decimal("142.10")),  # a payment's method
        ("Payment - Electronic Transfer      -$100.00", "accept", Decimal("142.10")),
        ("Balance moved to Payment Plan      -$100.00", "review", Decimal("42.10")),  # moved, not paid
        ("Payment Pending (credit card)      -$100.00", "review", Decimal("42.10")),
    ],
    ids=["adding-up", "not-adding-up", "arrangement-credit", "discount", "credit-card", "transfer", "plan", "pending"],
)
def test_payments_printed_one_by_one_are_their_sum_where_it_adds_up(second: str, decision: str, paid: Decimal) -> None:
    """A bill paid in two parts was read with its first payment alone, and went to review. A credit on a row naming
    a payment is no payment: summed, it overstated what was paid (an adversarial re-read)."""
    text = FAIRVIEW.format(dated="Statement Date: 11/09/2026", mailed="").replace(
        "Payments Received   -$142.10", f"Payment 10/12/2026  Thank You   -$42.10\n{second}"
    )
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == decision
    assert report.bill is not None and report.bill.payments_received == paid


MID_STATE = """\
Mid-State Energy
Combined Electric & Gas Statement

Customer: Helen Park
Account number: 8821-443-90
Statement date: 11/12/2026
Billing period: 10/08/2026 - 11/06/2026
Due date: 12/03/2026

ELECTRIC - Meter E7712
  Usage 455 kWh
  Customer charge              $10.50
  Energy charge                $54.60
  Electric total               $65.10

GAS - Meter G3390
  Usage 61 therms
  Customer charge              $12.00
  Gas charges                  $58.56
  Gas total                    $70.56

Total current charges         $135.66
Previous balance              $120.04
Payment received 10/25       -$120.04
Amount due                    $135.66
"""


def test_a_services_section_headed_by_its_meter_gives_its_charges_without_its_total() -> None:
    """Under "ELECTRIC - Meter E7712" and no "Charges" heading, the bill was accepted with no line items."""
    report = analyze(MID_STATE.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert [(i.description, i.amount, i.commodity) for i in report.bill.line_items] == [
        ("Customer charge", Decimal("10.50"), Commodity.ELECTRICITY),
        ("Energy charge", Decimal("54.60"), Commodity.ELECTRICITY),
        ("Customer charge", Decimal("12.00"), Commodity.GAS),
        ("Gas charges", Decimal("58.56"), Commodity.GAS),
    ]


def test_a_sections_total_that_is_not_its_items_sum_stays_an_item() -> None:
    """Not dropped on its word alone: the charges then do not add up, and a person looks."""
    report = analyze(MID_STATE.replace("$65.10", "$66.10").encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == "review" and "sum_mismatch" in report.reasons


@pytest.mark.parametrize(
    ("usage", "read", "decision"),
    [
        (
            "                        Oct 2026   Nov 2026   Total\nTotal kWh                 900        240   1,140",
            "1140",
            "accept",
        ),
        ("                        Daily Average   Total\nTotal kWh                   38        1,140", None, "review"),
        ("                        Jun 2026   Total\nTotal kWh               1,140      6,240", None, "review"),
        (
            "                        Apr 2026   May 2026   Jun 2026   Total\n"
            "Total kWh               1,000      1,100      1,140      3,240",
            None,
            "review",
        ),
        (
            "                        Jun 2025   May 2026   Jun 2026\n"
            "Total kWh               1,320      1,200      1,140",
            "1140",
            "accept",
        ),
        (
            "                        Oct 2026   Nov 2026\nDays                          25          5\n"
            "Total kWh                 900        240",
            None,
            "review",
        ),
    ],
    ids=[
        "months-and-total",
        "average-and-total",
        "month-and-a-years-total",
        "three-months-and-total",
        "year-over-year",
        "months-alone",
    ],
)
def test_a_row_of_a_periods_parts_reads_its_total_or_goes_to_review(
    usage: str, read: str | None, decision: str
) -> None:
    """A proration's months ("Oct 2026   Nov 2026", the period's parts) read as a comparison gave the latest month's
    240 kWh, accepted; beside a "Total" column its first figure was. A "Total" not its parts' sum may be a year's, and
    is no reading either (two adversarial re-reads)."""
    text = HILLCREST.format(usage=usage, energy="Energy                  $125.40")
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == decision, report.reasons
    if read is not None:
        assert report.bill is not None and [u.quantity for u in report.bill.usage] == [Decimal(read)]
    else:
        assert "conflicting_values:usage" in report.reasons
