"""read_line_items: which rows of the charges table are this bill's charges."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extraction.rules.extractor import extract_with_rules
from shared.bill import Commodity, LineItemCategory
from tests.extraction.test_pipeline import NO_CURRENT_CHARGES_LINE

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
