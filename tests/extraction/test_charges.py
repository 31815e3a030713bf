"""read_line_items: which rows of the charges table are this bill's charges."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extraction.pipeline import analyze
from extraction.rules.extractor import extract_with_rules
from shared.bill import Commodity, LineItemCategory
from shared.settings import ExtractorMode, Settings
from tests.extraction.test_pipeline import NO_CURRENT_CHARGES_LINE

RULES = Settings(extractor=ExtractorMode.RULES, gemini_api_key=None)
CHARGES = [("Energy", Decimal("60.00")), ("Customer charge", Decimal("25.00"))]
"""The charge rows of ``NO_CURRENT_CHARGES_LINE``."""


def _items(text: str) -> list[tuple[str, Decimal]]:
    bill = extract_with_rules([text], provider_hint=None).bill
    assert bill is not None
    return [(item.description, item.amount) for item in bill.line_items]


@pytest.mark.parametrize(
    "label", ["Arrears", "Past Due Amount", "Amount Past Due", "Past-due charges", "Overdue balance", "Overdue amount"]
)
def test_an_unpaid_amount_among_the_charges_is_no_charge(label: str) -> None:
    """ "Arrears $50.00" among the charges was read as one: the implied current charges ($135.00) counted what
    earlier bills left unpaid as this bill's cost."""
    text = NO_CURRENT_CHARGES_LINE.replace("   Customer charge", f"   {label:<16}$50.00\n   Customer charge")
    assert _items(text) == CHARGES


@pytest.mark.parametrize(
    "label",
    [
        "Late payment charge",
        "Late charge on past due amount",
        "Interest on arrears",
        "Past due fee",
        "Late Payment Charge (1.5% of past due)",
    ],
)
def test_a_charge_for_paying_late_is_a_charge(label: str) -> None:
    text = NO_CURRENT_CHARGES_LINE.replace("   Customer charge", f"   {label:<40}$5.00\n   Customer charge")
    assert _items(text) == [CHARGES[0], (label, Decimal("5.00")), CHARGES[1]]


@pytest.mark.parametrize(
    "label", ["Arrears Management Program credit", "AMP arrears forgiveness credit", "Arrears Forgiveness Credit"]
)
def test_an_arrears_programme_credit_is_a_charge(label: str) -> None:
    """A credit of an arrears programme lowers this bill's charges: dropped as an unpaid amount, the items overstated
    them."""
    text = NO_CURRENT_CHARGES_LINE.replace("   Customer charge", f"   {label:<36}($25.00)\n   Customer charge")
    assert _items(text) == [CHARGES[0], (label, Decimal("-25.00")), CHARGES[1]]


SUMMIT_GAS = """\
Summit Utilities
Account number: SG 48815 692
Statement date: 04/04/2026
Billing period: 03/02/2026 to 04/03/2026
Amount due: $248.84
Due date: 04/21/2026

{heading}
  Customer charge ..... $17.45
  Distribution charge ..... $231.39
  Total current charges ..... $248.84

Usage this period: 88 therms
"""


@pytest.mark.parametrize(
    "heading",
    ["Natural Gas Charges", "NATURAL GAS CHARGES:", "Your Natural Gas Service Charges", "Current Billing Charges"],
)
def test_a_gas_bills_natural_gas_charges_heading_opens_its_charges(heading: str) -> None:
    """A gas utility's everyday heading opened no charges: the bill was stored with no line items at all."""
    bill = extract_with_rules([SUMMIT_GAS.format(heading=heading)], provider_hint=None).bill
    assert bill is not None
    assert [(item.description, item.amount) for item in bill.line_items] == [
        ("Customer charge", Decimal("17.45")),
        ("Distribution charge", Decimal("231.39")),
    ]
    gas = {Commodity.GAS} if "Gas" in heading or "GAS" in heading else {None}
    assert {item.commodity for item in bill.line_items} == gas


@pytest.mark.parametrize("row", ["GST (5%)", "HST 13%", "PST", "QST on electricity", "VAT"])
def test_a_canadian_sales_tax_row_is_a_tax(row: str) -> None:
    """A Canadian bill's GST or HST row was filed under "other": its taxes were missing from the tax category."""
    text = SUMMIT_GAS.format(heading="Gas Charges").replace("Distribution charge ..... $231.39", f"{row} ..... $231.39")
    bill = extract_with_rules([text], provider_hint=None).bill
    assert bill is not None
    assert {item.description: item.category for item in bill.line_items}[row] is LineItemCategory.TAX


def test_charges_for_a_commodity_s_service_open_its_charges() -> None:
    """A commercial bill's "Charges for Electric Service" opened no charges: stored with no line items at all."""
    text = SUMMIT_GAS.format(heading="Charges for Electric Service").replace("88 therms", "880 kWh")
    bill = extract_with_rules([text], provider_hint=None).bill
    assert bill is not None
    assert [(item.amount, item.commodity) for item in bill.line_items] == [
        (Decimal("17.45"), Commodity.ELECTRICITY),
        (Decimal("231.39"), Commodity.ELECTRICITY),
    ]


def test_an_other_heading_ends_the_commodity_before_it() -> None:
    """A city bill's "Other" heading over its solid waste and sales tax left them water's, as the sewer rows above."""
    text = SUMMIT_GAS.format(heading="Water Charges").replace(
        "  Distribution charge ..... $231.39", "Other\n  Solid Waste ..... $231.39"
    )
    bill = extract_with_rules([text], provider_hint=None).bill
    assert bill is not None
    assert [(item.description, item.commodity) for item in bill.line_items] == [
        ("Customer charge", Commodity.WATER),
        ("Solid Waste", None),
    ]


@pytest.mark.parametrize(
    "heading",
    [
        "Electric Charges - Residential R-1",
        "Gas Charges \u2013 Schedule G-1",
        "Electric Charges - continued",
        "Electric Service Charges (continued)",
        "Delivery Services: Granite State Power",
        "Supply Services",
    ],
)
def test_a_charges_heading_naming_its_rate_after_a_dash_opens_the_charges(heading: str) -> None:
    """A two-page bill's "Electric Charges - Residential R-1" opened no charges, nor did its second page's "(continued)"
    or a New Hampshire bill's "Delivery Services: ...": stored with no line items, or some missing."""
    bill = extract_with_rules([SUMMIT_GAS.format(heading=heading)], provider_hint=None).bill
    assert bill is not None
    assert [item.amount for item in bill.line_items] == [Decimal("17.45"), Decimal("231.39")]


@pytest.mark.parametrize(
    "heading",
    ["Your Charges - Where Your Dollar Goes", "New Charges - Due by Nov 20, 2026", "Charges - Budget Billing"],
)
def test_a_dash_after_a_charges_heading_naming_no_rate_opens_no_charges(heading: str) -> None:
    """Only a rate after the dash: an explainer's "Your Charges - Where Your Dollar Goes" reopened the charges, and its
    figures were counted twice (``sum_mismatch``)."""
    text = SUMMIT_GAS.format(heading="Gas Charges").replace(
        "Usage this period", f"{heading}\n  Generation ..... $120.00\n\nUsage this period"
    )
    assert heading in text
    bill = extract_with_rules([text], provider_hint=None).bill
    assert bill is not None
    assert [item.amount for item in bill.line_items] == [Decimal("17.45"), Decimal("231.39")]


@pytest.mark.parametrize(
    ("heading", "commodity"),
    [("Water Service", Commodity.WATER), ("SERVICE          CONSUMPTION          CHARGE", None)],
)
def test_a_commoditys_service_or_a_tables_column_headings_open_the_charges(
    heading: str, commodity: Commodity | None
) -> None:
    """A water co-op's "Water Service" and a city's "SERVICE   CONSUMPTION   CHARGE" opened no charges: the bills
    were accepted with no line items at all."""
    bill = extract_with_rules([SUMMIT_GAS.format(heading=heading)], provider_hint=None).bill
    assert bill is not None
    assert [(item.amount, item.commodity) for item in bill.line_items] == [
        (Decimal("17.45"), commodity),
        (Decimal("231.39"), commodity),
    ]


def test_a_taxes_and_fees_heading_ends_the_commodity_before_it() -> None:
    text = SUMMIT_GAS.format(heading="Water Service").replace(
        "  Distribution charge ..... $231.39", "Taxes and Fees\n  City Franchise Fee 2.00% ..... $231.39"
    )
    bill = extract_with_rules([text], provider_hint=None).bill
    assert bill is not None
    assert [item.commodity for item in bill.line_items] == [Commodity.WATER, None]


UNHEADED = """\
TRI-STATE NATURAL GAS CO.
ACCOUNT 7112-40558               BILL DATE 12/01/26             PAY BY 12/22/26
READ DATES 10/30/26 TO 11/30/26    31 DAYS

{summary}

METER 5540018   PREV 7,115   PRES 7,203   88 CCF   BTU 1.028   THERMS 90.5

CUSTOMER FACILITIES CHARGE                    15.50
DISTRIBUTION  90.5 THERMS @ .2840             25.70
GAS COST  90.5 THERMS @ .8210                 74.30
SALES TAX                                      6.24
{total}
"""
SUMMARY = """\
PREVIOUS BALANCE               107.93
PAYMENT 11/14/26              -107.93
CURRENT CHARGES                121.74
TOTAL AMOUNT DUE               121.74"""


def test_charges_under_no_heading_that_add_up_to_the_current_charges_are_the_items() -> None:
    """Rows under a meter's, with no charges heading: the bill was accepted with no line items."""
    items = _items(UNHEADED.format(summary=SUMMARY, total="TOTAL CURRENT CHARGES                         121.74"))
    assert items == [
        ("CUSTOMER FACILITIES CHARGE", Decimal("15.50")),
        ("DISTRIBUTION 90.5 THERMS @ .2840", Decimal("25.70")),
        ("GAS COST 90.5 THERMS @ .8210", Decimal("74.30")),
        ("SALES TAX", Decimal("6.24")),
    ]


@pytest.mark.parametrize(
    "total",
    [
        "TOTAL CURRENT CHARGES                         120.00",  # they do not add up to it
        "TOTAL AMOUNT DUE                              121.74",  # an amount due's rows may be a summary's
        "",
    ],
)
def test_rows_under_no_heading_are_no_items_unless_they_add_up_to_the_current_charges(total: str) -> None:
    assert _items(UNHEADED.format(summary=SUMMARY, total=total)) == []


def test_a_summary_adding_up_to_the_amount_due_gives_no_items() -> None:
    """ "Final Electric Charges 183.52", "Security Deposit Applied -150.00" over "Amount Due 33.52": taken for items,
    they made the current charges 33.52."""
    summary = (
        "Previous Balance     96.15\nPayment Received    -96.15\nFinal Electric Charges     183.52\n"
        "Security Deposit Applied    -150.00\nAmount Due       $33.52"
    )
    bill = extract_with_rules([UNHEADED.format(summary=summary, total="")], provider_hint=None).bill
    assert bill is not None and bill.line_items == [] and bill.current_charges != Decimal("33.52")


def test_rows_under_no_heading_add_up_across_a_blank_line_above_the_total() -> None:
    """A PDF's layout text leaves a blank line where the total stands a little lower than the rows' spacing: the walk
    up from the total stopped at it, and the bill was accepted with no line items."""
    text = UNHEADED.format(summary=SUMMARY, total="\nTOTAL CURRENT CHARGES                         121.74")
    assert [amount for _, amount in _items(text)] == [
        Decimal("15.50"),
        Decimal("25.70"),
        Decimal("74.30"),
        Decimal("6.24"),
    ]


@pytest.mark.parametrize(
    ("heading", "commodity"),
    [
        ("WATER AND SEWER CHARGES", Commodity.WATER),
        ("Water & Sewer Charges", Commodity.WATER),
        ("Electric and Gas Charges", None),
    ],
)
def test_a_heading_naming_two_services_opens_the_charges(heading: str, commodity: Commodity | None) -> None:
    """ "WATER AND SEWER CHARGES" opened no charges (one service's name alone did). Two services of one commodity
    give it to the rows; electric and gas give neither, but where a row names its own."""
    bill = extract_with_rules([SUMMIT_GAS.format(heading=heading)], provider_hint=None).bill
    assert bill is not None
    assert [(item.amount, item.commodity) for item in bill.line_items] == [
        (Decimal("17.45"), commodity),
        (Decimal("231.39"), commodity),
    ]


BESIDE_SUMMARY = """\
SUNCOAST ELECTRIC COOPERATIVE
Account: 300 221 7745
Bill Date: 11/05/2026
Service from 10/02/2026 to 11/01/2026 (30 days)
Meter 5523190   kWh Used 812

{heading:<85}{box}

 Basic Service Charge                                                12.00           Previous Balance             118.20
 Energy Charge 812 kWh x $0.11420                                    92.73           Payments                    -118.20
 Fuel Adjustment 812 kWh x $0.01850                                  15.02           Current Charges              130.54
 Storm Recovery                                                       3.41           Amount Due                  $130.54
 Gross Receipts Tax                                                   7.38           Due Date                 11/26/2026

 Total Current Charges                                             130.54
"""


@pytest.mark.parametrize("box", ["YOUR BILL SUMMARY", "Balance Forward              0.00"])
def test_charges_beside_a_summary_box_are_read_apart_from_it(box: str) -> None:
    """A two-column page: the charges on the left, the summary's box on the right, each row of layout text holding
    both. Each row ended in the box's figure ("Payments -118.20": no item), the box's "Current Charges" ended the
    charges, and the bill was accepted with no line items."""
    report = analyze(
        BESIDE_SUMMARY.format(heading="CURRENT CHARGES", box=box).encode(), provider_hint=None, settings=RULES
    )
    assert report.bill is not None and (report.decision, report.reasons) == ("accept", [])
    assert [(item.description, item.amount) for item in report.bill.line_items] == [
        ("Basic Service Charge", Decimal("12.00")),
        ("Energy Charge 812 kWh x $0.11420", Decimal("92.73")),
        ("Fuel Adjustment 812 kWh x $0.01850", Decimal("15.02")),
        ("Storm Recovery", Decimal("3.41")),
        ("Gross Receipts Tax", Decimal("7.38")),
    ]
    assert (report.bill.current_charges, report.bill.total_amount) == (Decimal("130.54"), Decimal("130.54"))


SIDE_BY_SIDE = """\
CITY OF MAPLE GROVE UTILITIES
Account Number: 100-4482-01                                                Bill Date: 11/16/2026
Service Period: 10/12/2026 - 11/11/2026                                    Due Date: 12/07/2026

ACCOUNT SUMMARY
   Previous Balance                                                   180.55
   Payment Received                                                  -180.55
   Current Charges                                                    196.63
   Total Amount Due                                                  $196.63

ELECTRIC  Meter E-55012  Usage 742 kWh                                     WATER  Meter W-20913  Usage 6,200 gal

ELECTRIC CHARGES                                                           WATER & SEWER CHARGES

 Customer Charge                                               8.00          Water Base                         14.25
 Energy 742 kWh @ $0.1090                                     80.88          Water 6,200 gal @ $4.95            30.69
 Power Cost Adjustment                                         6.68          Sewer Base                         19.40
 Total Electric                                               95.56          Sewer 6,200 gal @ $5.10            31.62
                                                                             Storm Drainage                      5.11
                                                                             Total Water & Sewer               101.07

 Total Current Charges                                                                                        196.63
"""


def test_two_charges_tables_side_by_side_are_each_read_with_their_commodity() -> None:
    """A city's electric charges beside its water and sewer charges: each row read whole ran the two tables' cells
    together ("Customer Charge 8.00 Water Base", 14.25, filed as water) and the electric amounts were lost."""
    bill = extract_with_rules([SIDE_BY_SIDE], provider_hint=None).bill
    assert bill is not None
    assert [(item.description, item.amount, item.commodity) for item in bill.line_items] == [
        ("Customer Charge", Decimal("8.00"), Commodity.ELECTRICITY),
        ("Energy 742 kWh @ $0.1090", Decimal("80.88"), Commodity.ELECTRICITY),
        ("Power Cost Adjustment", Decimal("6.68"), Commodity.ELECTRICITY),
        ("Water Base", Decimal("14.25"), Commodity.WATER),
        ("Water 6,200 gal @ $4.95", Decimal("30.69"), Commodity.WATER),
        ("Sewer Base", Decimal("19.40"), Commodity.WATER),
        ("Sewer 6,200 gal @ $5.10", Decimal("31.62"), Commodity.WATER),
        ("Storm Drainage", Decimal("5.11"), Commodity.WATER),
    ]


def test_an_amount_columns_heading_beside_the_charges_heading_is_no_box() -> None:
    """ "CHARGES   Amount" over rows whose rate stands left of the amount column: taken for a box beside the charges,
    each row's rate was read as its amount."""
    text = (
        SUMMIT_GAS.format(heading=f"{'CHARGES':<50}Amount")
        .replace("  Customer charge ..... $17.45", f"  {'Customer charge 1 month @ $17.45':<48}$17.45")
        .replace("  Distribution charge ..... $231.39", f"  {'Distribution 88 therms @ $2.63':<48}$231.39")
    )
    assert [amount for _, amount in _items(text)] == [Decimal("17.45"), Decimal("231.39")]
