"""Who issues the synthetic bills and how each words and formats them.

Known providers follow their real bills' wording loosely; the invented ones vary the
generic wordings so the label-based extractor is tested on text it has no template for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.bill import Commodity, Provider, UsageUnit


def us_numeric(d: date) -> str:
    return d.strftime("%m/%d/%Y")


def short_month(d: date) -> str:
    return d.strftime("%b %d, %Y")


def long_month(d: date) -> str:
    return f"{d.strftime('%B')} {d.day}, {d.year}"


def day_first(d: date) -> str:
    return f"{d.day} {d.strftime('%B')} {d.year}"


def iso(d: date) -> str:
    return d.isoformat()


def day_month_numeric(d: date) -> str:
    """18/03/2026: Australian, New Zealand and many Canadian bills, in dollars too."""
    return d.strftime("%d/%m/%Y")


def billing_system(d: date) -> str:
    """18-MAR-2026: as many utilities' billing systems print a date."""
    return d.strftime("%d-%b-%Y").upper()


def minus_dollar(amount: Decimal) -> str:
    return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"


def trailing_cr(amount: Decimal) -> str:
    return f"{-amount:,.2f} CR" if amount < 0 else f"{amount:,.2f}"


def parentheses(amount: Decimal) -> str:
    return f"(${-amount:,.2f})" if amount < 0 else f"${amount:,.2f}"


@dataclass(frozen=True)
class Wording:
    account: str = "Account Number"
    statement: str = "Statement Date"
    due: str = "Due Date"
    total: str = "Total Amount Due"
    period: str = "Billing Period"
    previous: str = "Previous Balance"
    payments: str = "Payments Received"
    current: str = "Total Current Charges"
    usage: str = "Total Usage"
    meter: str = "Meter Number"


@dataclass(frozen=True)
class Brand:
    key: str
    provider: Provider | None
    name: str
    address: str
    phone: str
    website: str
    commodities: tuple[tuple[Commodity, UsageUnit], ...]
    wording: Wording
    date: Callable[[date], str]
    money: Callable[[Decimal], str]
    account_format: str  # "#" is a random digit, other characters are kept
    credit: str | None = None  # name of an occasional bill credit line


KNOWN: dict[Provider, Brand] = {
    Provider.PGE: Brand(
        key="pge",
        provider=Provider.PGE,
        name="Pacific Gas and Electric Company",
        address="PO Box 997300, Sacramento, CA 95899-7300",
        phone="1-800-743-5000",
        website="www.pge.com/MyEnergy",
        commodities=((Commodity.ELECTRICITY, UsageUnit.KWH), (Commodity.GAS, UsageUnit.THERM)),
        wording=Wording(
            account="Account No:",
            previous="Amount Due on Previous Statement",
            payments="Payment(s) Received Since Last Statement",
            current="Total PG&E Charges",
            total="Total Amount Due",
        ),
        date=us_numeric,
        money=minus_dollar,
        account_format="##########-#",
        credit="California Climate Credit",
    ),
    Provider.CONED: Brand(
        key="coned",
        provider=Provider.CONED,
        name="Con Edison",
        address="JAF Station, PO Box 1702, New York, NY 10116-1702",
        phone="1-800-752-6633",
        website="www.coned.com",
        commodities=((Commodity.ELECTRICITY, UsageUnit.KWH), (Commodity.GAS, UsageUnit.THERM)),
        wording=Wording(
            account="Account number",
            statement="Bill date",
            due="Payment due by",
            total="Total amount due",
            period="Billing period",
            previous="Balance from last bill",
            payments="Payments received",
            current="Total charges",
            usage="Total usage",
            meter="Meter #",
        ),
        date=short_month,
        money=trailing_cr,
        account_format="##-####-####-####-#",
    ),
    Provider.DUKE: Brand(
        key="duke",
        provider=Provider.DUKE,
        name="Duke Energy",
        address="PO Box 1090, Charlotte, NC 28201-1090",
        phone="1-800-777-9898",
        website="duke-energy.com",
        commodities=((Commodity.ELECTRICITY, UsageUnit.KWH),),
        wording=Wording(
            account="Account number",
            statement="Bill date",
            due="Due Date",
            total="Total Amount Due",
            period="For service",
            previous="Previous Amount Due",
            payments="Payment Received",
            current="Current Bill",
            usage="Energy Used",
        ),
        date=long_month,
        money=parentheses,
        account_format="#### #### ####",
        credit="Storm Recovery Credit",
    ),
    Provider.SFPUC: Brand(
        key="sfpuc",
        provider=Provider.SFPUC,
        name="San Francisco Public Utilities Commission",
        address="525 Golden Gate Avenue, San Francisco, CA 94102",
        phone="415-551-3000",
        website="sfwater.org",
        commodities=((Commodity.WATER, UsageUnit.CCF),),
        wording=Wording(
            account="Account Number",
            statement="Bill Date",
            due="Pay By",
            total="Amount Due",
            period="Service Period",
            current="Total Water and Sewer Charges",
            usage="Units Billed",
            meter="Meter No.",
        ),
        date=us_numeric,
        money=minus_dollar,
        account_format="#######",
    ),
}

UNKNOWN: tuple[Brand, ...] = (
    Brand(
        key="northwind",
        provider=None,
        name="Northwind Power & Light",
        address="400 Harbor Way, Portland, ME 04101",
        phone="1-888-555-0142",
        website="northwindpower.example",
        commodities=((Commodity.ELECTRICITY, UsageUnit.KWH),),
        wording=Wording(account="Account No.", statement="Invoice Date", total="Amount Due"),
        date=long_month,
        money=minus_dollar,
        account_format="NW-######",
    ),
    Brand(
        key="cascade",
        provider=None,
        name="Cascade Valley Water District",
        address="12 Reservoir Road, Bend, OR 97701",
        phone="541-555-0199",
        website="cascadewater.example",
        commodities=((Commodity.WATER, UsageUnit.GAL),),
        wording=Wording(
            account="Customer Account #",
            statement="Date Issued",
            due="Please Pay By",
            total="Balance Due",
            period="Service Dates",
            previous="Previous Balance",
            payments="Payments - Thank You",
            current="New Charges",
            usage="Water Used",
        ),
        date=day_first,
        money=parentheses,
        account_format="########",
    ),
    Brand(
        key="summit",
        provider=None,
        name="Summit Natural Gas Co.",
        address="88 Ridge Street, Denver, CO 80202",
        phone="303-555-0107",
        website="summitgas.example",
        commodities=((Commodity.GAS, UsageUnit.THERM),),
        wording=Wording(
            account="Acct No.",
            statement="Billing Date",
            due="Payment Due",
            total="Total Due",
            period="Service Period",
            previous="Last Bill Amount",
            payments="Payments",
            current="Current Charges",
            usage="Total Usage",
        ),
        date=iso,
        money=trailing_cr,
        account_format="SG ##### ###",
    ),
    Brand(
        key="riverbend",
        provider=None,
        name="Riverbend Electric Cooperative",
        address="3 Mill Lane, Riverbend, TN 37075",
        phone="615-555-0188",
        website="riverbendcoop.example",
        commodities=((Commodity.ELECTRICITY, UsageUnit.KWH),),
        wording=Wording(
            account="Member Account Number",
            statement="Statement Date",
            due="Due Date",
            total="Amount Due",
            period="Billing Cycle",
            previous="Previous Balance",
            payments="Payments Received",
            current="Current Charges",
            usage="kWh Used",
        ),
        date=us_numeric,
        money=minus_dollar,
        account_format="######-##",
    ),
    Brand(
        key="lakeshore",
        provider=None,
        name="Lakeshore Municipal Utilities",
        address="1 City Hall Plaza, Lakeshore, MI 49456",
        phone="616-555-0123",
        website="lakeshoreutilities.example",
        commodities=((Commodity.ELECTRICITY, UsageUnit.KWH), (Commodity.WATER, UsageUnit.CCF)),
        wording=Wording(
            account="Account #",
            statement="Bill Date",
            due="Due Date",
            total="Total Amount Due",
            period="Service Period",
            current="Current Charges",
            usage="Usage",
        ),
        date=short_month,
        money=minus_dollar,
        account_format="LMU-#####",
    ),
)
