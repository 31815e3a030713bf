"""check_bill: one test per reason code, on a bill that is otherwise verified."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.review_reasons import describe, fields_for
from eval.generate import sample_bill
from extraction.checks import check_approval, check_bill, check_correction
from extraction.document import read_document
from extraction.rules.extractor import extract_with_rules
from shared.bill import Commodity, NormalizedBill, Provider, UsageReading, UsageUnit
from tests.extraction.test_rules import PLAIN


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


@pytest.mark.parametrize(
    ("start_offset", "reason"), [(0, "one_day_period"), (-1, "bad_period"), (100, "bad_period"), (101, "bad_period")]
)
def test_bad_period(sample: tuple[NormalizedBill, str], start_offset: int, reason: str) -> None:
    bill = sample[0]
    assert bill.bill_period_end is not None
    start = bill.bill_period_end - timedelta(days=start_offset)
    assert reason in check_bill(changed(bill, bill_period_start=start), text=None)


def test_a_period_counts_both_ends_as_the_warehouse_does(sample: tuple[NormalizedBill, str]) -> None:
    """ "1–100 days" let 101 through (January 1 to April 11), and called a one-day period none."""
    bill = sample[0]
    assert bill.bill_period_end is not None
    hundred_days = changed(bill, bill_period_start=bill.bill_period_end - timedelta(days=99))
    reasons = check_bill(hundred_days, text=None)
    assert "bad_period" not in reasons and "one_day_period" not in reasons


def test_a_reviewer_may_confirm_a_one_day_period_never_a_backwards_one(sample: tuple[NormalizedBill, str]) -> None:
    """A move-out's final bill of one day went to review as bad_period, which not even an override passed: the
    reviewer could only reject it or change its dates."""
    bill = sample[0]
    assert bill.bill_period_end is not None
    one_day = changed(bill, bill_period_start=bill.bill_period_end)
    assert "one_day_period" in check_correction(one_day, override=False)
    assert check_correction(one_day, override=True) == []


@pytest.mark.parametrize(
    ("printed", "doubted"),
    [
        ("Billing Period: {start} to {end} (45 days)", True),
        ("Billing Period: {start} to {end} ({days} days)", False),
        ("Billing Period: {start} to {end} ({spanned} days)", False),  # one end counted
        ("Days in Billing Period: 45", True),
        ("Billing Days              {days}", False),
        ("Number of Days                        29                {days}", False),  # last period's, this one's
        ("Number of Days                        29                45", True),
        ("Late charge if unpaid within (15 days)", False),  # a notice's, on a line of no two dates
    ],
)
def test_a_period_printed_with_its_days_is_doubted_where_they_do_not_fit_its_dates(
    sample: tuple[NormalizedBill, str], printed: str, doubted: bool
) -> None:
    """ "March 4, 2026 to April 2, 2026 (45 days)" was stored unflagged (77A): a printed count witnesses the dates."""
    bill, text = sample
    assert bill.bill_period_start is not None and bill.bill_period_end is not None
    spanned = (bill.bill_period_end - bill.bill_period_start).days
    line = printed.format(
        start=bill.bill_period_start.strftime("%m/%d/%Y"),
        end=bill.bill_period_end.strftime("%m/%d/%Y"),
        days=spanned + 1,
        spanned=spanned,
    )
    assert 45 not in (spanned, spanned + 1)
    assert ("period_days_mismatch" in check_bill(bill, text=f"{text}\n{line}\n")) is doubted
    assert "period_days_mismatch" not in check_bill(bill, text=text)


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


def _reading(quantity: str, unit: UsageUnit = UsageUnit.KWH) -> NormalizedBill:
    commodity = Commodity.WATER if unit is UsageUnit.GAL else Commodity.ELECTRICITY
    return NormalizedBill(usage=[UsageReading(commodity=commodity, quantity=Decimal(quantity), unit=unit)])


def test_evidence_keeps_the_sign_of_a_usage_figure() -> None:
    """ "-245 kWh" is evidence for -245, not for 245; a meter's number and a tier's bound are none at all."""
    text = "Net usage: \u2212245 kWh. Meter NW-0042. Tier 0-500 kWh."
    assert "no_evidence:usage" not in check_bill(_reading("-245"), text=text)
    for missing in ("245", "42", "-42", "500", "-500"):
        assert "no_evidence:usage" in check_bill(_reading(missing), text=text), missing


REGISTERS = """\
Meter 0042   Previous read 22,739 kWh   Current read 23,239 kWh
Tier 1: first 500 kWh @ $0.11/kWh
Amount due $1,234.50
"""


@pytest.mark.parametrize("quantity", ["23239", "22739", "500", "1234.50", "0.11"])
def test_a_register_a_tier_or_an_amount_is_no_evidence_for_a_reading(quantity: str) -> None:
    """A page that prints no usage figure confirms no reading: any figure on it did."""
    assert "no_evidence:usage" in check_bill(_reading(quantity), text=REGISTERS)


@pytest.mark.parametrize(
    ("quantity", "unit", "found"),
    [("12", UsageUnit.CCF, True), ("12", UsageUnit.GAL, False), ("8976", UsageUnit.GAL, False)],
)
def test_a_reading_is_evidenced_only_in_its_own_unit(quantity: str, unit: UsageUnit, found: bool) -> None:
    bill = NormalizedBill(usage=[UsageReading(commodity=Commodity.WATER, quantity=Decimal(quantity), unit=unit)])
    reasons = check_bill(bill, text="Water usage this period: 12 CCF\nAmount due $40.00\n")
    assert ("no_evidence:usage" not in reasons) is found


def test_a_reading_the_text_labels_is_evidenced() -> None:
    text = REGISTERS + "Total usage this period: 500 kWh\n"
    assert "no_evidence:usage" not in check_bill(_reading("500"), text=text)


def usage_reasons(quantity: str, unit: UsageUnit, text: str) -> list[str]:
    """check_bill's doubts of a reading of ``quantity`` ``unit`` on ``text`` (under a bill's heading, so a text)."""
    commodity = {UsageUnit.KWH: Commodity.ELECTRICITY, UsageUnit.THERM: Commodity.GAS}.get(unit, Commodity.WATER)
    bill = NormalizedBill(usage=[UsageReading(commodity=commodity, quantity=Decimal(quantity), unit=unit)])
    reasons = check_bill(bill, text="RIVERSIDE UTILITY AUTHORITY\nAccount 0042-1177\n\n" + text)
    assert "no_text_layer" not in reasons
    return [reason for reason in reasons if reason.endswith(":usage")]


METER_TABLE = """\
Gas Meter Readings
Meter        Previous     Current      Therms Used
G-44120      4,495        4,540        45
Amount due $61.20
"""


@pytest.mark.parametrize(
    ("quantity", "unit", "text"),
    [
        ("45", UsageUnit.THERM, METER_TABLE),
        ("12", UsageUnit.CCF, "Water Consumption (CCF)      12      $45.60\n"),
        ("45", UsageUnit.THERM, "Therms used: 45\n"),
        ("512", UsageUnit.KWH, "Energy charge 512 kWh @ $0.1123/kWh      $57.50\n"),
        ("512", UsageUnit.KWH, "Total usage 512\u00a0kWh\n"),
        ("512", UsageUnit.KWH, "Total usage 512\u2009kWh\n"),
    ],
)
def test_a_reading_a_person_reads_off_common_layouts_is_evidenced(quantity: str, unit: UsageUnit, text: str) -> None:
    """A figure under a heading or after a label that names its unit, the quantity of a bill's one rate, a
    unit after a no-break space: Gemini read each right and the bill went to review without evidence."""
    assert usage_reasons(quantity, unit, text) == []


@pytest.mark.parametrize(
    ("quantity", "unit", "text"),
    [
        ("4540", UsageUnit.THERM, METER_TABLE),
        ("4495", UsageUnit.THERM, METER_TABLE),
        ("45", UsageUnit.KWH, METER_TABLE),
        ("500", UsageUnit.KWH, "First 500 kWh @ $0.10/kWh   $50.00\nNext 12 kWh @ $0.12/kWh   $1.44\n"),
        ("12", UsageUnit.KWH, "First 500 kWh @ $0.10/kWh   $50.00\nNext 12 kWh @ $0.12/kWh   $1.44\n"),
        ("300", UsageUnit.KWH, "Energy  300 kWh @ $0.10/kWh   $30.00\nEnergy  212 kWh @ $0.12/kWh   $25.44\n"),
        ("300", UsageUnit.KWH, "Tier 1   300 kWh @ $0.10/kWh   $30.00\n"),
        ("23239", UsageUnit.KWH, "Usage (kWh): Current 23,239\n"),
        ("0.12", UsageUnit.KWH, "Cost per kWh used   0.12\n"),
        ("100", UsageUnit.KWH, "Minimum usage (kWh)   100\n"),
        ("480", UsageUnit.KWH, "Last year kWh used   480\n"),
        ("8", UsageUnit.GAL, "Usage (1,000 gal)      8\n"),
        ("8", UsageUnit.GAL, "Usage (000 gal)      8\n"),
        ("0", UsageUnit.GAL, "Usage (000 gal)      8\n"),
        ("30", UsageUnit.KWH, "kWh billed: 30 days\n"),
    ],
)
def test_a_register_a_tier_a_rate_or_another_periods_figure_stays_no_evidence(
    quantity: str, unit: UsageUnit, text: str
) -> None:
    assert usage_reasons(quantity, unit, text) != []


@pytest.mark.parametrize(
    "text",
    [
        "Usage History\nDec 2025   480 kWh\nNov 2025   455 kWh\n",
        "Last month\n  480 kWh\n",
    ],
)
def test_another_periods_usage_named_on_the_line_above_is_no_evidence(text: str) -> None:
    """The reader takes no figure under "Usage History"; its evidence took any figure printed with a unit."""
    text += "Total usage 512 kWh\n"
    assert usage_reasons("480", UsageUnit.KWH, text) == ["no_evidence:usage"]
    assert usage_reasons("512", UsageUnit.KWH, text) == []


def test_a_document_without_text_is_unverified_not_without_evidence(sample: tuple[NormalizedBill, str]) -> None:
    """A photo's bill (read by Gemini) has no text to find its values in: one honest reason, not one
    "not found in the bill's text" a field."""
    for text in ("", "\n\f\n", "scan 1 of 2"):
        reasons = check_bill(sample[0], text=text)
        assert reasons == ["no_text_layer"], text


@pytest.mark.parametrize(
    ("currency", "text"),
    [
        ("USD", "Riverside Utility\n100 King St W\nToronto ON M5V 2T6\nGST/HST Reg. 123456789\n"),
        ("USD", "Amounts in CAD\n"),
        ("EUR", "Riverside Utility\n12 Main St\nRiverside, CA 92501\n"),
        ("CAD", ""),
    ],
)
def test_a_currency_other_than_dollars_is_doubted_whoever_read_it(currency: str, text: str) -> None:
    """The text names another currency (whatever the reading says), or the reading does (whatever the text)."""
    bill = NormalizedBill(currency=currency, total_amount=Decimal("10.00"))
    assert "non_usd_currency" in check_bill(bill, text=text)


def test_dollars_on_a_us_bill_are_not_doubted() -> None:
    bill = NormalizedBill(total_amount=Decimal("10.00"))
    assert "non_usd_currency" not in check_bill(bill, text="Riverside Utility\n12 Main St\nRiverside, CA 92501\n")


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


def test_a_bill_of_another_provider_than_its_accounts_is_refused_whatever_the_override(
    sample: tuple[NormalizedBill, str],
) -> None:
    """A reviewer typing the number on file stored a PG&E statement under a Duke account (a reviewer's probe): the
    provider is checked as the number is, and an approval of it as read is refused too."""
    bill = sample[0]
    assert bill.provider is Provider.PGE and bill.account_number is not None
    number = bill.account_number
    for override in (False, True):
        assert check_correction(bill, override=override, account_number=number, provider=Provider.PGE) == []
        assert check_correction(bill, override=override, account_number=number, provider=Provider.DUKE) == [
            "provider_mismatch"
        ]
    assert check_approval(bill, number, Provider.DUKE) == ["provider_mismatch"]
    assert check_correction(bill, override=False, account_number=number, provider=None) == [], "an account with none"
    unnamed = changed(bill, provider=None)
    assert check_correction(unnamed, override=False, account_number=number, provider=Provider.DUKE) == []


@pytest.mark.parametrize("override", [False, True])
def test_a_correction_in_a_currency_that_does_not_exist_is_refused(
    sample: tuple[NormalizedBill, str], override: bool
) -> None:
    """A reviewer's "uds" (read as UDS) was stored, and became a currency of its own on the dashboard."""
    bill = sample[0]
    assert check_correction(changed(bill, currency="UDS"), override=override) == ["unknown_currency"]
    for code in ("USD", "CAD", "EUR", "GBP", "MXN"):
        assert check_correction(changed(bill, currency=code), override=override) == [], code


def test_a_text_that_writes_decimals_both_ways_goes_to_review_as_such() -> None:
    """ "1.234" is 1,234 on a bill writing "85,00" and 1.234 on one writing "85.00": on a text printing both as
    often, no figure that reads either way could be trusted, and nothing said so."""
    text = PLAIN + "Rates: energy 12,50 / network 3,75 / levy 8,20 / meter 1,05\n"
    bill = extract_with_rules([PLAIN], provider_hint=None).bill
    assert bill is not None and check_bill(bill, text=PLAIN) == []
    assert check_bill(bill, text=text) == ["mixed_number_format"]


def _kwh(quantity: str, meter: str | None = None, unit: UsageUnit = UsageUnit.KWH) -> UsageReading:
    commodity = Commodity.ELECTRICITY if unit is UsageUnit.KWH else Commodity.GAS
    return UsageReading(commodity=commodity, quantity=Decimal(quantity), unit=unit, meter_number=meter)


@pytest.mark.parametrize(
    ("usage", "doubted"),
    [
        ([_kwh("344", "44732410"), _kwh("344")], True),  # a meter's reading and the bill's
        ([_kwh("150"), _kwh("194"), _kwh("344")], True),  # on-peak, off-peak and their total
        ([_kwh("150"), _kwh("194")], True),  # parts alone: their total is the bill's, but in doubt
        ([_kwh("800", "M-1"), _kwh("200", "m1")], True),  # one meter however written
        ([_kwh("800", "M-1"), _kwh("200", "M-2")], False),  # two meters, each its own reading
        ([_kwh("344")], False),
        ([_kwh("92", unit=UsageUnit.CCF), _kwh("95.3", unit=UsageUnit.THERM)], False),  # 92 CCF make 95.3 therms
    ],
)
def test_several_readings_of_one_unit_not_each_its_own_meters_are_doubted(
    usage: list[UsageReading], doubted: bool
) -> None:
    """Analytics adds up a bill's readings in each commodity and unit: Gemini's water and sewer 4,500 gallons each
    were stored as 9,000, its 150, 194 and 344 kWh as 688. A reviewer's readings are entered so (no text)."""
    bill = NormalizedBill(total_amount=Decimal("10.00"), usage=usage)
    assert ("several_readings:usage" in check_bill(bill, text="Riverside Utility\n")) is doubted
    assert "several_readings:usage" not in check_bill(bill, text=None)


def test_several_readings_read_as_a_sentence_at_the_usage() -> None:
    assert describe("several_readings:usage").startswith("usage: several readings of one commodity in one unit")
    assert fields_for("several_readings:usage") == ("usage",)


PRICED = """\
RIVERSIDE ELECTRIC
Account 0042-1177
{message}
Energy Charge       783 kWh @ $0.0940      $73.60
"""


@pytest.mark.parametrize(
    "message",
    [
        "Members who used less than 500 kWh in a summer month earn a rebate.",
        "USAGE ALERT: So far this billing cycle (since 11/21/2026) you have used 500 kWh.",
    ],
)
def test_a_reading_the_bills_one_rate_prices_otherwise_is_doubted(message: str) -> None:
    """A promotion's or an alert's kWh was the bill's reading, accepted: printed, so evidenced, though the bill
    charged for 783 kWh."""
    assert usage_reasons("500", UsageUnit.KWH, PRICED.format(message=message)) == ["priced_otherwise:usage"]
    assert usage_reasons("783", UsageUnit.KWH, PRICED.format(message=message)) == []


def test_a_reading_beside_tiers_or_in_another_unit_is_not_doubted_by_a_rate() -> None:
    tiers = "First 500 kWh @ $0.10/kWh   $50.00\nNext 283 kWh @ $0.12/kWh   $33.96\nEnergy used  783 kWh\n"
    assert usage_reasons("783", UsageUnit.KWH, tiers) == []
    gas = "Gas used  98.4 therms\nDistribution  96 CCF @ $0.19830   $19.04\n"  # priced in CCF, read in therms
    assert usage_reasons("98.4", UsageUnit.THERM, gas) == []
