"""The bill's usage reading and the commodities of its readings and items, as the offline reader takes them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.review_reasons import describe, fields_for
from extraction.pipeline import analyze
from extraction.rules.extractor import extract_with_rules
from extraction.rules.layout import to_lines
from extraction.rules.usage import read_usage, readings_printed
from shared.bill import Commodity, UsageReading, UsageUnit
from shared.settings import Settings

OFFLINE = Settings(gemini_api_key=None)

DUKE = """\
Duke Energy
PO Box 1090, Charlotte, NC 28201-1090  |  1-800-777-9898

Account number: 6998 3170 1679
Bill date: December 14, 2025
Due Date: December 29, 2025
Total Amount Due: $362.75
For service: November 9, 2025 to December 12, 2025

Summary of Your Account
   Previous Amount Due                 $37.20
   Payment Received                   ($37.20)
   Current Bill                       $362.75

Electric Charges
   Electric customer charge            $15.55
   Electric energy charge             $222.54
   Electric delivery charge           $100.14
   Electric taxes and surcharges       $24.52
   Total Electric Charges             $362.75

{usage}
"""

METER_TABLE = """\
Meter        Previous     Present      kWh Used
26888122     53,990       54,513       523
"""
"""A meter table whose usage column's heading names the unit, its figure bare."""

TABLE_READING = UsageReading(
    commodity=Commodity.ELECTRICITY, quantity=Decimal(523), unit=UsageUnit.KWH, meter_number="26888122"
)


def _duke(usage: str) -> str:
    return DUKE.replace("{usage}", usage)


def test_a_meter_tables_bare_usage_column_is_the_reading() -> None:
    """ "kWh Used" over a bare 523: unread, the bill had no usage at all."""
    result = extract_with_rules([_duke(METER_TABLE)], provider_hint=None)
    assert result.bill is not None and result.reasons == []
    assert result.bill.usage == [TABLE_READING]


@pytest.mark.parametrize(
    ("multiplier", "count", "read"),
    [("40", "20,920", Decimal(20920)), ("1", "523", Decimal(523)), ("40", "523", None)],
    ids=["multiplied-out", "multiplier-one", "registers-difference-alone"],
)
def test_a_meter_tables_count_is_its_registers_difference_times_its_multiplier(
    multiplier: str, count: str, read: Decimal | None
) -> None:
    """ "Previous 53,990   Present 54,513   Multiplier 40   kWh Used 523": the meter used 20,920 kWh, and 523, the
    registers' difference alone, was accepted. Such a count is not read, and the bill goes to review for its usage."""
    table = f"""\
Meter        Previous     Present      Multiplier    kWh Used
26888122     53,990       54,513       {multiplier:>10}    {count}
"""
    report = analyze(_duke(table).encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None
    assert [reading.quantity for reading in report.bill.usage] == ([] if read is None else [read])
    assert report.reasons == (["missing_field:usage"] if read is None else [])


@pytest.mark.parametrize(
    ("rows", "line", "read", "reasons"),
    [
        ("26888122     53,990       54,513       40            523", "Total kWh billed: 20,920 kWh", 20920, []),
        ("26888122     53,990       54,513       40            523", "On-peak usage: 1,200 kWh", 1200, ["c"]),
        (
            "26888122     53,990       54,513       40         20,920\n"
            "26888123     10,100       10,122       20            22",
            "",
            20920,
            ["c"],
        ),
        ("26888122     9,950        0,058        40          4,320", "", 4320, []),
        ("26888122     53,990       54,513      120         62,770", "", 62770, []),
    ],
    ids=["a-line-printing-its-use", "a-part-of-it", "one-of-two-meters", "rolled-over", "registers-rounded"],
)
def test_a_meter_tables_count_not_multiplied_out_is_doubted_not_dropped(
    rows: str, line: str, read: int, reasons: list[str]
) -> None:
    """Its meter's use (the registers' advance times the multiplier) must be the reading, printed elsewhere: dropped,
    the other meter's 20,920 kWh alone, or an on-peak part's 1,200, was accepted as the bill's usage. A meter that
    rolled over counts on from zero, and a count within the registers' rounding times the multiplier is the use."""
    table = f"Meter        Previous     Present      Multiplier    kWh Used\n{rows}\n{line}\n"
    report = analyze(_duke(table).encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None
    assert [reading.quantity for reading in report.bill.usage] == [Decimal(read)]
    assert report.reasons == (["conflicting_values:usage"] if reasons else [])


def test_a_gas_tables_therm_factor_is_no_multiplier() -> None:
    """A therm factor turns the table's CCF into its therms (118 CCF x 1.037 = 122.4 therms, rounded): neither count is
    its registers' difference times it, and both are the meter's."""
    bill = """\
Prairie Natural Gas
Account number: 88-2031-4456
Bill date: 01/12/2026
Service period: 12/08/2025 to 01/07/2026
Due date: 02/02/2026

Meter      Previous   Current   CCF    Therm factor   Therms
7730021    5,412      5,530     118    1.037          122.4

Charges
  Customer charge                         $15.50
  Distribution 122.4 therms @ $0.3120     $38.19
  Gas supply 122.4 therms @ $0.5480       $67.08
  Fuel adjustment                          $4.90
  Sales tax                                $7.61
  Total current gas charges              $133.28

Total amount due       $133.28
"""
    report = analyze(bill.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert [(r.quantity, r.unit) for r in report.bill.usage] == [(Decimal("122.4"), UsageUnit.THERM)]


@pytest.mark.parametrize(
    "stray",
    [
        "Compare: efficient neighbors used 610 kWh",
        "Similar homes used 610 kWh this period",
        "On-peak usage: 300 kWh\nOff-peak usage: 223 kWh",
    ],
)
def test_a_usage_line_beside_a_meter_table_does_not_replace_its_reading(stray: str) -> None:
    """A neighbours' comparison's 610 kWh was the bill's usage, filed under the table's meter, and accepted on Duke's
    template; the time-of-use parts of the table's 523 kWh disagreed with each other, and sent it to review."""
    report = analyze(_duke(f"{METER_TABLE}\n{stray}\n").encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and report.bill.usage == [TABLE_READING]


@pytest.mark.parametrize(
    "table",
    [
        METER_TABLE,
        "Meter        Previous     Present      Usage\n26888122     53,990       54,513       523 kWh\n",
    ],
)
def test_a_usage_line_that_disagrees_with_a_meter_table_goes_to_review(table: str) -> None:
    """An on-peak line alone is a part that does not make the table's total: a person reads which is the usage."""
    report = analyze(_duke(f"{table}\nOn-peak usage: 300 kWh\n").encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == "review"
    assert "conflicting_values:usage" in report.reasons
    assert report.bill is not None and report.bill.usage == [TABLE_READING]


def test_a_meter_tables_rows_under_a_total_line_are_its_parts() -> None:
    """Two meters' rows that add up to the bill's total usage agree with it."""
    table = (
        "Meter        Previous     Present      kWh Used\n"
        "26888122     53,990       54,290       300\n"
        "26888123     10,000       10,223       223\n"
        "Total energy used  523 kWh\n"
    )
    result = extract_with_rules([_duke(table)], provider_hint=None)
    assert result.bill is not None and result.reasons == []
    assert [(u.quantity, u.unit) for u in result.bill.usage] == [(Decimal(523), UsageUnit.KWH)]


def test_a_history_of_meter_reads_is_no_meter_table() -> None:
    """Past months' reads under "Previous Reading   Present Reading   kWh Used" head no meter: read as the meter's
    count, last month's 480 would disagree with this bill's usage."""
    history = (
        "Energy used: 523 kWh\n\n"
        "Month   Days   Previous Reading   Present Reading   kWh Used\n"
        "Nov     30     53,510             53,990            480\n"
        "Dec     33     53,990             54,513            523\n"
    )
    result = extract_with_rules([_duke(history)], provider_hint=None)
    assert result.bill is not None and result.reasons == []
    assert [(u.quantity, u.unit) for u in result.bill.usage] == [(Decimal(523), UsageUnit.KWH)]


@pytest.mark.parametrize(
    "usage",
    [
        "On-peak energy used  400 kWh\nOff-peak energy used  834 kWh\nTotal energy used  1,234 kWh",
        "Total energy used  1,234 kWh\nOn-peak energy used  400 kWh\nOff-peak energy used  834 kWh",
        "Total energy used  1,234 kWh (on-peak 400 kWh, off-peak 834 kWh)",
    ],
)
def test_time_of_use_parts_in_dukes_wording_add_up_to_its_total(usage: str) -> None:
    """Duke's "energy used" is a total's wording; on an on-peak or off-peak line it names a part, and the parts
    of a sound bill disagreed with its total: a conflict, and a review."""
    report = analyze(_duke(usage).encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert [(u.quantity, u.unit) for u in report.bill.usage] == [(Decimal(1234), UsageUnit.KWH)]


SUMMIT = """\
Summit Natural Gas Co.
Account number: SG 48815 692
Statement date: 04/04/2026
Billing period: 03/02/2026 to 04/03/2026
Amount due: $248.84
Due date: 04/21/2026

Account summary
  Previous balance:    $247.03
  Payments received:   -$247.03
  Current charges:     $248.84

{heading}
  Customer charge ..... $17.45
  Distribution charge ..... $219.39
  Water heater rental ..... $12.00
  Total current charges ..... $248.84

Usage this period: 88 CCF (meter 89653935)
"""


@pytest.mark.parametrize(
    ("letterhead", "heading"),
    [
        ("Summit Natural Gas Co.", "Current charges"),
        ("Summit Utilities", "Gas charges"),
        ("Summit Natural Gas Co.", "Gas charges"),
    ],
)
def test_a_water_heater_rental_does_not_make_a_gas_reading_water(letterhead: str, heading: str) -> None:
    """The nearest commodity word above "88 CCF" was the rental's "Water": the gas bill's usage was stored as water.
    The rental is the gas section's item too."""
    text = SUMMIT.replace("Summit Natural Gas Co.", letterhead).replace("{heading}", heading)
    result = extract_with_rules([text], provider_hint=None)
    assert result.bill is not None
    assert [(u.commodity, u.quantity, u.unit) for u in result.bill.usage] == [
        (Commodity.GAS, Decimal(88), UsageUnit.CCF)
    ]
    if heading == "Gas charges":
        assert {item.commodity for item in result.bill.line_items} == {Commodity.GAS}


def test_a_commodity_word_in_a_charge_row_gives_way_to_the_letterheads() -> None:
    """A charge row names what it charges for ("Water heater rental"), not the reading's commodity."""
    text = SUMMIT.replace("{heading}", "Current charges").replace("Water heater rental", "Sewer line protection")
    result = extract_with_rules([text], provider_hint=None)
    assert result.bill is not None
    assert [u.commodity for u in result.bill.usage] == [Commodity.GAS]


@pytest.mark.parametrize(
    "credit", ["Greenhouse gas credit", "Greenhouse Gas Allowance Credit", "GHG credit", "California Climate Credit"]
)
def test_a_greenhouse_gas_credit_on_an_electric_bill_is_electricitys(credit: str) -> None:
    """ "Greenhouse gas" is no gas: an electric bill's climate credit was stored, and published, as a gas item."""
    text = _duke("Energy used: 523 kWh").replace(
        "   Electric taxes and surcharges       $24.52\n",
        f"   Electric taxes and surcharges       $34.52\n   {credit}    ($10.00)\n",
    )
    result = extract_with_rules([text], provider_hint=None)
    assert result.bill is not None
    items = {item.description: item.commodity for item in result.bill.line_items}
    assert items[credit] is Commodity.ELECTRICITY


def test_a_water_heater_line_in_the_gas_charges_is_no_water_heading() -> None:
    """A wording line alone ("Water heater program") was read as a water heading: the gas items after it were water."""
    text = SUMMIT.replace("{heading}", "Gas charges").replace(
        "  Water heater rental ..... $12.00\n", "  Water heater program\n  Water heater rental ..... $12.00\n"
    )
    result = extract_with_rules([text], provider_hint=None)
    assert result.bill is not None
    assert {item.description: item.commodity for item in result.bill.line_items}["Water heater rental"] is Commodity.GAS


@pytest.mark.parametrize(
    "usage",
    [f"{METER_TABLE}\nEnergy used: 523 kWh\n", f"Energy used: 523 kWh\n\n{METER_TABLE}"],
)
def test_a_total_line_takes_its_meter_from_the_table_row_that_agrees_with_it(usage: str) -> None:
    """Duke's "Energy used" total beats the table's usage column, and the reading lost the meter the table prints."""
    result = extract_with_rules([_duke(usage)], provider_hint=None)
    assert result.bill is not None and result.reasons == []
    assert result.bill.usage == [TABLE_READING]


UNIT_HEADED_TABLE = METER_TABLE.replace("kWh Used", "kWh")
"""A meter table whose usage column's heading is its unit alone."""


def test_a_meter_tables_column_headed_by_its_unit_alone_is_the_reading() -> None:
    """ "kWh" over a meter row's bare 523: unread, the bill had no usage."""
    result = extract_with_rules([_duke(UNIT_HEADED_TABLE)], provider_hint=None)
    assert result.bill is not None and result.reasons == []
    assert result.bill.usage == [TABLE_READING]


def test_the_evidence_check_finds_a_figure_under_a_meter_tables_unit_alone() -> None:
    """What the reader takes, the evidence check must find printed: else Gemini's true 523 kWh was unconfirmed."""
    assert (Decimal(523), UsageUnit.KWH) in set(readings_printed(UNIT_HEADED_TABLE))


@pytest.mark.parametrize(
    "table",
    [
        "Meter        Previous     Present      CCF     Factor    Therms\n"
        "26888122     5,390        5,490        100     1.03      103\n",
        "Month   Previous   Present   kWh\nNov     53,510     53,990    480\n",
        "Meter #      Current Read Date    kWh\n26888122     12/12/2025           54,513\n",
    ],
    ids=["ccf-and-therms", "history", "present-register-alone"],
)
def test_a_unit_alone_heads_no_usage_column_among_several_units_or_outside_a_meter_table(table: str) -> None:
    """Which of a gas table's CCF and therms is billed, its headings do not say; a history's months head no meter; a
    table of the present register alone may print where the meter stands under its unit (54,513 kWh was accepted)."""
    assert [u for _, u in readings_printed(table)] == []
    result = extract_with_rules([_duke(table)], provider_hint=None)
    assert result.bill is not None and result.bill.usage == []


GAS_TABLE_BILL = """\
Lakeshore Gas Company
Account number: 0715-33920-6
Bill date: December 2, 2026
Due Date: December 21, 2026
Total Amount Due: ${total}
For service: October 30, 2026 to November 30, 2026

Meter        Previous     Present      CCF     Therm Factor    Therms
G-4471902    6,530        6,618        88      1.0370          91.3

Gas Charges
   Customer charge                                  10.50
   Distribution charge    {billed}   @ $0.41250    {distribution}
   Total Gas Charges                                {total}
"""


@pytest.mark.parametrize(
    ("billed", "distribution", "total", "reading"),
    [
        ("91.3 therms", "37.66", "48.16", (Decimal("91.3"), UsageUnit.THERM)),
        ("88 CCF", "36.30", "46.80", (Decimal(88), UsageUnit.CCF)),
        ("88 CCF (91.3 therms)", "37.66", "48.16", None),
    ],
    ids=["therms-billed", "ccf-billed", "both-named"],
)
def test_of_a_gas_tables_ccf_and_therms_columns_the_one_the_charges_name_is_the_reading(
    billed: str, distribution: str, total: str, reading: tuple[Decimal, UsageUnit] | None
) -> None:
    """ "CCF" and "Therms" over a meter row: which one the bill counts its headings do not say, and the bill went to
    review with no usage read. Its charge rows do, where they name quantities in one of them alone."""
    text = GAS_TABLE_BILL.format(billed=billed, distribution=distribution, total=total)
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None
    assert [(u.quantity, u.unit) for u in report.bill.usage] == ([reading] if reading else [])
    assert (report.decision, report.reasons) == (("accept", []) if reading else ("review", ["missing_field:usage"]))
    if reading:
        assert report.bill.usage[0].commodity is Commodity.GAS and report.bill.usage[0].meter_number == "G-4471902"


@pytest.mark.parametrize(
    "stray",
    ["On-peak usage: 300 kWh\nOff-peak usage: 223 kWh\n", "Usage this period: 523 kWh\n"],
)
def test_a_meter_table_row_labelled_as_usage_is_the_tables(stray: str) -> None:
    """ "Electric usage" in a meter row's first cell ranked the row as a usage line in prose: the on-peak line above
    it, as well ranked and first, was the reading, and its parts disagreed with the row."""
    table = (
        "Service          Meter      Previous   Present    Usage\n"
        "Electric usage   26888122   53,990     54,513     523 kWh\n"
    )
    report = analyze(_duke(f"{stray}\n{table}").encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and report.bill.usage == [TABLE_READING]


@pytest.mark.parametrize("line", ["Usage this period: 523 kWh", "Total usage: 523 kWh"])
def test_a_usage_line_that_adds_up_a_meter_tables_rows_is_the_reading(line: str) -> None:
    """Two meters' rows with no total line disagreed with each other beside the usage line that adds them up."""
    table = (
        "Meter        Previous     Present      kWh Used\n"
        "26888122     53,990       54,290       300\n"
        "26888123     10,000       10,223       223\n"
    )
    report = analyze(_duke(f"{table}\n{line}\n").encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert report.bill.usage == [
        UsageReading(commodity=Commodity.ELECTRICITY, quantity=Decimal(523), unit=UsageUnit.KWH)
    ]


FIVE_METERS = (
    "Meter        Previous     Present      kWh Used\n"
    "26888121     10,000       10,100       100\n"
    "26888122     20,000       20,110       110\n"
    "26888123     30,000       30,120       120\n"
    "26888124     40,000       40,130       130\n"
    "26888125     50,000       50,063       63\n"
)
"""A meter table of five rows, 523 kWh in all: its rows below the third stood too far under its heading."""


def test_every_row_of_a_long_meter_table_is_read() -> None:
    """The fourth and fifth meters' rows were not read: the usage line adding up all five disagreed with the three
    rows read, and a sound bill went to review."""
    report = analyze(
        _duke(f"{FIVE_METERS}\nUsage this period: 523 kWh\n").encode(), provider_hint=None, settings=OFFLINE
    )
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert report.bill.usage == [
        UsageReading(commodity=Commodity.ELECTRICITY, quantity=Decimal(523), unit=UsageUnit.KWH)
    ]


@pytest.mark.parametrize("heading", ["kWh Used", "kWh"])
def test_the_evidence_check_finds_every_row_of_a_long_meter_table(heading: str) -> None:
    """What the reader takes, the evidence check must find printed: a fifth meter's 63 kWh went unconfirmed."""
    table = FIVE_METERS.replace("kWh Used", heading)
    assert [quantity for quantity, _ in readings_printed(table)] == [Decimal(q) for q in (100, 110, 120, 130, 63)]


def test_a_meter_tables_rows_end_at_the_first_line_that_is_no_row() -> None:
    """A figure under the table's usage column past its rows (a note's, a charge's) is no meter's."""
    table = FIVE_METERS + "Readings are taken monthly\nEnergy charge     $5.00    ref         42\n"
    assert [quantity for quantity, _ in readings_printed(table)] == [Decimal(q) for q in (100, 110, 120, 130, 63)]


TWO_METERS_ALIKE = (
    "Meter        Previous     Present      kWh Used\n"
    "26888122     53,990       54,140       150\n"
    "26888123     10,000       10,150       150\n"
)
"""Two meters that used 150 kWh each: 300 kWh in all."""


@pytest.mark.parametrize(
    "table",
    [
        TWO_METERS_ALIKE,
        TWO_METERS_ALIKE.replace("kWh Used", "kWh"),
        TWO_METERS_ALIKE + "\nUsage this period: 150 kWh\n",
        "Meter        Previous     Present      kWh Used\n"
        + "".join(f"{26880000 + i}     {10000 + i:,}       {10523 + i:,}       523\n" for i in range(1500)),
    ],
    ids=["kwh-used", "kwh-alone", "usage-line-of-one-meter", "1500-meters"],
)
def test_meters_that_read_alike_are_parts_not_one_reading(table: str) -> None:
    """Rows of the same figure never disagreed: two meters' 150 kWh each was stored as 150 kWh under the first."""
    report = analyze(_duke(table).encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("review", ["conflicting_values:usage"])


@pytest.mark.parametrize("line", ["Usage this period: 300 kWh", "Total energy used  300 kWh"])
def test_meters_that_read_alike_add_up_to_their_total_line(line: str) -> None:
    report = analyze(_duke(f"{TWO_METERS_ALIKE}\n{line}\n").encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert report.bill.usage == [
        UsageReading(commodity=Commodity.ELECTRICITY, quantity=Decimal(300), unit=UsageUnit.KWH)
    ]


def test_a_meter_table_repeating_the_same_meter_is_one_reading() -> None:
    """A stub repeating the meter's row is the same count, not a second meter's."""
    report = analyze(_duke(f"{METER_TABLE}\n{METER_TABLE}").encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and report.bill.usage == [TABLE_READING]


@pytest.mark.parametrize(
    "total", ["Total energy used  523 kWh", "\nUsage this period: 523 kWh"], ids=["total-line", "usage-line"]
)
@pytest.mark.parametrize("zero", ["0", "0 kWh"])
def test_a_meter_reading_zero_beside_a_total_line_agrees_with_it(total: str, zero: str) -> None:
    """A second meter's 0 was a part of 0 kWh against the total's 523 kWh (the row equal to the total left out),
    and a sound bill went to review."""
    table = (
        f"Meter        Previous     Present      {'Usage' if zero.endswith('kWh') else 'kWh Used'}\n"
        f"26888122     53,990       54,513       523{' kWh' if zero.endswith('kWh') else ''}\n"
        f"26888123     10,000       10,000       {zero}\n"
    )
    report = analyze(_duke(f"{table}{total}\n").encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and [u.quantity for u in report.bill.usage] == [Decimal(523)]


SPRINGFIELD = """\
CITY OF SPRINGFIELD
Department of Public Utilities - Water & Sewer

Account Number: 88-4412-9
Statement Date: 11/03/2026
Billing Period: 09/28/2026 - 10/29/2026
Due Date: 11/24/2026

METER READINGS
Meter #   Previous   Current   Usage
W-55021   10432      10441     9 CCF

Previous Balance                          $62.10
Payment Received 10/15/2026 - Thank You  -$62.10
Water Base Charge                         $18.50
Water Usage 9 CCF @ $3.12                 $28.08
Sewer Charge                              $24.75
Stormwater Fee                             $6.00
Current Charges                           $77.33
TOTAL AMOUNT DUE                          $77.33
"""


def test_a_meter_tables_ccf_takes_the_commodity_the_charges_below_it_name() -> None:
    """A city's letterhead line names no commodity, nor does anything above its meter table: its "9 CCF" (gas or
    water) was read as no reading, and the bill went to review as ``missing_field:usage``. Its charges, below the
    table, are water's and sewer's."""
    result = extract_with_rules([SPRINGFIELD], provider_hint=None)
    assert result.bill is not None
    assert result.bill.usage == [
        UsageReading(commodity=Commodity.WATER, quantity=Decimal(9), unit=UsageUnit.CCF, meter_number="W-55021")
    ]


def test_a_meter_tables_ccf_is_no_ones_where_the_charges_name_gas_and_water() -> None:
    """Charges pricing CCF of both commodities a CCF measures do not say which the meter's is: a person reads it."""
    text = SPRINGFIELD.replace("Stormwater Fee    ", "Gas 9 CCF @ $0.66 ")
    assert "Gas 9 CCF @ $0.66" in text
    result = extract_with_rules([text], provider_hint=None)
    assert result.bill is not None
    assert result.bill.usage == []


BLUE_RIDGE = """\
Blue Ridge Electric Membership Corporation
Account: 4402198-001
Bill Date: Oct 05, 2026          Due Date: Oct 26, 2026
Service Period: 09/01/26 - 10/01/26

Meter No.   {previous}   {present}   Mult   kWh Used
88231144    45120       46332       1      1,212

Previous Balance                        152.40
Payment - Thank You 09/20/26           -152.40
Energy Charge 1,212 kWh @ .10890        131.99
Total Current Charges                   131.99
Total Amount Due                       $131.99
"""


@pytest.mark.parametrize(
    ("previous", "present"), [("Prev Read", "Pres Read"), ("Prev.    ", "Pres.    "), ("Prev Read", "Curr Read")]
)
def test_a_meter_table_with_its_registers_cut_short_is_read(previous: str, present: str) -> None:
    """A co-op's "Prev Read   Pres Read" headed no meter table: its "kWh Used" column was no reading, and the bill
    went to review as ``missing_field:usage``."""
    text = BLUE_RIDGE.format(previous=previous, present=present)
    result = extract_with_rules([text], provider_hint=None)
    assert result.bill is not None
    assert result.bill.usage == [
        UsageReading(
            commodity=Commodity.ELECTRICITY, quantity=Decimal(1212), unit=UsageUnit.KWH, meter_number="88231144"
        )
    ]


def test_a_meter_row_a_blank_line_below_its_heading_is_still_read() -> None:
    """Only a labelled figure under a table ("Prev Bal   142.66") is no row of it: a row a blank line below the heading,
    its meter named in words, is one."""
    text = BLUE_RIDGE.format(previous="Previous ", present="Present  ").replace(
        "\n88231144    45120", "\n\nMain Meter  45120"
    )
    assert "\n\nMain Meter  45120" in text
    result = extract_with_rules([text], provider_hint=None)
    assert result.bill is not None
    assert [(u.quantity, u.unit) for u in result.bill.usage] == [(Decimal(1212), UsageUnit.KWH)]


def test_a_water_tank_rental_does_not_make_a_gas_meters_ccf_water() -> None:
    """A charge row naming water but pricing no CCF ("Hot Water Tank Rental  $2.00") says nothing of the meter's CCF:
    a gas co-op's 88 CCF was stored as water, with no review."""
    text = (
        SPRINGFIELD.replace("CITY OF SPRINGFIELD", "Northfield Energy Cooperative")
        .replace("Department of Public Utilities - Water & Sewer", "Member Services")
        .replace("Water Base Charge ", "Customer Charge   ")
        .replace("Water Usage 9 CCF @ $3.12", "Distribution 9 CCF @ $3.12")
        .replace("Sewer Charge      ", "Hot Water Tank Rental")
    )
    assert "Hot Water Tank Rental" in text and "Distribution 9 CCF" in text
    result = extract_with_rules([text], provider_hint=None)
    assert result.bill is not None and result.bill.usage == []


METRIC_WATER = """\
City of Guelph Water Services
Water and Wastewater Bill

Account No: 40-11872-03
Bill Date: 2026-11-05
Service Period: 2026-08-01 to 2026-10-31
Due Date: 2026-11-26

Meter    Previous Reading    Current Reading    Consumption
88213    1502                1561               59 {unit}

Water Charges
Water Basic Charge                         $34.50
Water Volume 59 {unit} @ $1.93/{unit}             $113.87
Wastewater Volume 59 {unit} @ $2.21/{unit}        $130.39
Total Current Charges                     $278.76

Previous Balance                          $251.20
Payment Received                         -$251.20
Amount Due                                $278.76
"""


@pytest.mark.parametrize("unit", ["m3", "m\u00b3", "kL", "cubic metres"])
def test_a_water_bill_in_cubic_metres_is_read(unit: str) -> None:
    """A metric water bill's usage was no reading at all (no unit the rules knew): a reviewer could not even enter it.
    A kilolitre is a cubic metre. Its dollars, named nowhere else, are a person's to confirm (``non_usd_currency``):
    no US utility counts in cubic metres."""
    report = analyze(METRIC_WATER.format(unit=unit).encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None and report.reasons == ["non_usd_currency"]
    assert report.bill.usage == [
        UsageReading(commodity=Commodity.WATER, quantity=Decimal(59), unit=UsageUnit.M3, meter_number="88213")
    ]


METRIC_GAS = """\
Enbridge Gas Inc.
Your Natural Gas Bill

Account Number: 1234 5678 901
Statement Date: November 12, 2026
Billing Period: Oct 10, 2026 to Nov 9, 2026
Due Date: December 3, 2026

Account Summary
Previous Balance                      $98.40
Payment Received - Thank You         -$98.40
Current Charges                      $112.35
Amount Due                           $112.35

{usage}

Charges
Basic Charge (30 days)                  $14.62
Delivery Charge 2.4 GJ @ $5.410/GJ      $12.98
Storage and Transport 2.4 GJ @ $1.25/GJ  $3.00
Cost of Gas 2.4 GJ @ $2.950/GJ           $7.08
Carbon Tax                              $69.32
GST 5%                                   $5.35
Total Current Charges                  $112.35
"""


@pytest.mark.parametrize(
    ("usage", "reading"),
    [
        ("Gas Consumption: 2.4 GJ", (Decimal("2.4"), UsageUnit.GJ)),
        ("Gas used this period   2.4 gigajoules", (Decimal("2.4"), UsageUnit.GJ)),
        ("Meter     Previous   Present   Usage\nGM4471    10231      10295     64 m3", (Decimal(64), UsageUnit.M3)),
    ],
)
def test_a_canadian_gas_bills_gigajoules_or_cubic_metres_are_its_gas_reading(
    usage: str, reading: tuple[Decimal, UsageUnit]
) -> None:
    """Gigajoules are gas's alone; cubic metres are gas's or water's, and this bill's letterhead names gas."""
    result = extract_with_rules([METRIC_GAS.format(usage=usage)], provider_hint=None)
    assert result.bill is not None
    assert [(u.commodity, u.quantity, u.unit) for u in result.bill.usage] == [(Commodity.GAS, *reading)]


def test_readings_printed_in_metric_units_are_evidence_for_a_reading() -> None:
    """The evidence check finds a reading in cubic metres or gigajoules as it finds one in kWh."""
    assert list(readings_printed("Consumption 59 m\u00b3   Energy 2.4 GJ   12 kL")) == [
        (Decimal(59), UsageUnit.M3),
        (Decimal("2.4"), UsageUnit.GJ),
        (Decimal(12), UsageUnit.M3),
    ]


def test_a_consumed_column_is_the_meters_usage() -> None:
    """A city's "CONSUMED (CCF)" column was no usage wording: the bill went to review with no usage."""
    text = _duke(METER_TABLE.replace("kWh Used", "Consumed (kWh)"))
    result = extract_with_rules([text], provider_hint=None)
    assert result.bill is not None and result.reasons == []
    assert [(u.quantity, u.unit) for u in result.bill.usage] == [(TABLE_READING.quantity, UsageUnit.KWH)]


@pytest.mark.parametrize("past", [0, 1])
def test_a_right_aligned_figure_just_past_its_headings_end_is_under_it(past: int) -> None:
    """A PDF's layout text places each piece where it starts: a right-aligned "912" started where its heading "kWh
    Used" ended, under no heading, and the meter's reading went unread (``missing_field:usage``)."""
    heading = "Meter        Previous     Present      kWh Used"
    row = f"{'26888122':<13}{'53,990':<13}{'54,902':<13}" + " " * (len("kWh Used") + past) + "912"
    assert row.index("912") == len(heading) + past
    result = extract_with_rules([_duke(f"{heading}\n{row}\n")], provider_hint=None)
    assert result.bill is not None and result.reasons == []
    assert [(u.quantity, u.meter_number) for u in result.bill.usage] == [(Decimal(912), "26888122")]


def test_a_figure_past_a_headings_end_by_more_is_under_no_heading() -> None:
    """Only a column or two of slack: a figure further right may be another column's."""
    heading = "Meter        Previous     Present      kWh Used"
    row = f"{'26888122':<13}{'53,990':<13}{'54,902':<13}" + " " * (len("kWh Used") + 3) + "912"
    result = extract_with_rules([_duke(f"{heading}\n{row}\n")], provider_hint=None)
    assert result.bill is not None and result.bill.usage == []


def test_a_charge_row_above_a_figure_is_no_usage_column_heading() -> None:
    """A refuse cart's "96 gal" stood under "Sewer Usage 7,480 gal @ $5.05 ...  $37.77", read as a column headed
    "Usage": a water bill was stored with 96 gallons, unreviewed."""
    text = """CITY OF OAKDALE
Account Number: 88-4412-9
Statement Date: 11/03/2026
Billing Period: 09/28/2026 - 10/29/2026
Due Date: 11/24/2026

Water Base Charge                                   $18.50
Sewer Usage 7,480 gal @ $5.05 per 1,000 gal         $37.77
Refuse Collection 96 gal cart                       $22.00
Current Charges                                     $78.27
TOTAL AMOUNT DUE                                    $78.27
"""
    result = extract_with_rules([text], provider_hint=None)
    assert result.bill is not None and result.bill.usage == []


COMBINED = """\
 NORTHERN TIER ENERGY                                                   Combined Utility Statement
 PO Box 1450, Eau Claire WI 54702-1450

 Account Number: 5100-334-871-2              Statement Date: 11/25/2026
 Customer: SVEN & INGRID HALVORSEN           Due Date: 12/16/2026
 Billing Period: 10/24/2026 - 11/23/2026 (30 days)

 ACCOUNT SUMMARY
   Previous Balance                                                  $211.36
   Payment Received 11/10/2026 - Thank You                          -$211.36
   Current Charges                                                   $226.32
   Total Amount Due                                                  $226.32

 METER READINGS
   Electric  Meter E-2208841   Previous 51,870   Present 52,571   {electric}
   Gas       Meter G-9930215   Previous 7,102    Present 7,215    {gas}

 CURRENT CHARGES
 ELECTRIC CHARGES
   Customer Charge                                                     19.00
   Energy Charge  701 kWh @ $0.12310                                   86.29
   Power Supply Cost Recovery  701 kWh @ $0.00840                       5.89
 {gas_heading}
   Customer Charge                                                      7.50
   Distribution Charge  116.3 therms @ $0.19830                        23.06
   Purchased Fuel Adjustment (PGA)  116.3 therms @ $0.60740            70.64
   Conservation Program Charge                                          2.14
 TAXES
   Wisconsin Sales Tax 5%                                              10.73
   Eau Claire County Tax 0.5%                                           1.07
   Total Current Charges                                              226.32
"""
"""A combined electric and gas bill; its meter rows and its gas charges' heading to fill in."""


@pytest.mark.parametrize(
    "gas",
    [
        "Usage 113 CCF x 1.0290 = 116.3 Therms",
        "113 CCF \u00d7 1.0290 = 116.3 therms",
        "113 CCF x 1.0290 therm factor = 116.3 therms",
    ],
)
@pytest.mark.parametrize("electric", ["Usage 701 kWh", "701 kWh"])
def test_a_combined_bill_reads_both_meters_and_files_each_charge_under_its_commodity(electric: str, gas: str) -> None:
    """Accepted with the gas reading lost and the gas charges filed as electricity: the heat factor's "x" made the
    meter row a rate's, whose figures are no reading; a meter row naming no usage word read nothing; and the gas
    section's "GAS SERVICE - Rate Rg-2" heading was not one, nor "TAXES"."""
    text = COMBINED.format(electric=electric, gas=gas, gas_heading="GAS SERVICE - Rate Rg-2 Residential")
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert [(r.commodity, r.quantity, r.unit) for r in report.bill.usage] == [
        (Commodity.ELECTRICITY, Decimal("701"), UsageUnit.KWH),
        (Commodity.GAS, Decimal("116.3"), UsageUnit.THERM),
    ]
    assert [item.commodity for item in report.bill.line_items] == [Commodity.ELECTRICITY] * 3 + [Commodity.GAS] * 4 + [
        None
    ] * 2


def test_a_row_priced_in_a_commoditys_unit_is_that_commoditys_under_another_heading() -> None:
    """A gas section under a heading the reader does not know: its therm-priced rows are gas's, not the electric
    section's above it."""
    text = COMBINED.format(electric="Usage 701 kWh", gas="Usage 116.3 therms", gas_heading="Natural Gas Delivery, R2")
    bill = extract_with_rules([text], provider_hint=None).bill
    assert bill is not None
    priced = [item.commodity for item in bill.line_items if "therms" in item.description]
    assert priced == [Commodity.GAS, Commodity.GAS]


def test_a_rate_written_with_a_times_sign_is_still_no_reading() -> None:
    """Only a factor making a quantity in a unit converts: "512 kWh x 0.1123 = $57.50" prices the kWh."""
    printed = list(readings_printed("Energy charge   512 kWh x 0.1123 = $57.50\nEnergy used  512 kWh\n"))
    assert printed == [(Decimal("512"), UsageUnit.KWH), (Decimal("512"), UsageUnit.KWH)]
    assert (Decimal("0.1123"), UsageUnit.KWH) not in printed


def test_a_usage_for_last_month_named_is_another_periods() -> None:
    """ "Usage last November: 1,236 kWh" disagreed with this month's reading (``conflicting_values:usage``)."""
    text = DUKE.format(usage="Energy used  1,119 kWh\nUsage last November: 1,236 kWh")
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and not read.reasons
    assert [(r.quantity, r.unit) for r in read.bill.usage] == [(Decimal("1119"), UsageUnit.KWH)]


@pytest.mark.parametrize(
    ("usage", "reading"),
    [
        ("Usage (kWh)                         646          Estimated", (Decimal(646), UsageUnit.KWH)),
        ("kWh used:   646", (Decimal(646), UsageUnit.KWH)),
        ("Electric   Meter 44120981   Previous 30,116  Present 30,688  Total kWh 646", (Decimal(646), UsageUnit.KWH)),
    ],
)
def test_a_figure_whose_own_label_names_its_unit_is_the_reading(usage: str, reading: tuple[Decimal, UsageUnit]) -> None:
    """ "Usage (kWh)   646": a person reads 646 kWh, and the evidence check did; the reader read nothing, and the bill
    went to review for its usage."""
    report = analyze(_duke(usage).encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None
    assert [(r.quantity, r.unit) for r in report.bill.usage] == [reading]
    assert "missing_field:usage" not in report.reasons


@pytest.mark.parametrize(
    "line",
    [
        "Minimum usage (kWh)   100",
        "Last year kWh used   480",
        "Cost per kWh used   0.12",
        "Usage (kWh): Current 23,239",
        "Average daily kWh used  21",
        "Month   kWh Used\nNov     480",
    ],
)
def test_a_figure_labelled_as_a_minimum_a_rate_a_register_or_another_period_is_no_reading(line: str) -> None:
    result = extract_with_rules([_duke(line)], provider_hint=None)
    assert result.bill is not None and result.bill.usage == []


@pytest.mark.parametrize(
    "usage",
    [
        "Electric Meter 5591103    Previous 40,012 kWh    Present 41,190 kWh    kWh Used 1,178",
        "Electric Meter 5591103    Previous 40,012 kWh    Current 41,190 kWh    1,178 kWh",
        "Meter 5591103   Prior 40,012 kWh   Present 41,190 kWh\nEnergy used this period    1,178 kWh",
        "Meter 5591103   Beginning 40,012 kWh   Ending 41,190 kWh\nTotal usage    1,178 kWh",
    ],
)
def test_a_meters_registers_printed_in_its_unit_are_not_the_reading(usage: str) -> None:
    """ "Present 41,190 kWh" is where the meter stands: it was the bill's usage, accepted (the previous register
    was set aside as another period's, and the usage after it in a label or on the next line lost to it)."""
    report = analyze(_duke(usage).encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None
    assert [(r.quantity, r.unit) for r in report.bill.usage] == [(Decimal(1178), UsageUnit.KWH)]
    assert "conflicting_values:usage" not in report.reasons


def test_a_gas_meters_registers_in_ccf_leave_the_therms_its_factor_makes() -> None:
    text = "Gas Meter 771204   Previous 3,118 CCF   Present 3,402 CCF\nGas Used   284 CCF x 1.031 = 292.8 therms\n"
    assert [(q, u) for q, u in readings_printed(text)] == [(Decimal("292.8"), UsageUnit.THERM)]


@pytest.mark.parametrize(
    "line",
    ["Electric usage   Meter 5591103   From 40,012 kWh   To 41,190 kWh", "Previous 1,050 kWh   Current 1,178 kWh"],
)
def test_registers_alone_make_no_reading(line: str) -> None:
    result = extract_with_rules([_duke(line)], provider_hint=None)
    assert result.bill is not None and result.bill.usage == []


def test_a_gas_meter_row_with_its_current_register_cut_short_is_read() -> None:
    """ "Prev Read 4,410   Curr Read 4,478   68 CCF x 1.0318 = 70.2 Therms": "Curr" named no register, and the bill
    went to review for its usage."""
    text = "GAS USAGE\n   Meter 6629104   Prev Read 4,410   Curr Read 4,478   68 CCF x 1.0318 = 70.2 Therms\n"
    readings, conflict = read_usage(to_lines([text], printed=None), extra_labels=(), ccf_default=None)
    assert [(r.commodity, r.quantity, r.unit) for r in readings] == [(Commodity.GAS, Decimal("70.2"), UsageUnit.THERM)]
    assert not conflict


@pytest.mark.parametrize(
    "other_period",
    [
        "Projected usage next month: 1,310 kWh",
        "Usage 12 months ago: 1,310 kWh",
        "Unbilled usage carried to next bill: 1,310 kWh",
        "Estimated usage for your next bill: 1,310 kWh",
    ],
)
def test_another_periods_usage_is_never_the_reading_where_this_periods_went_unread(other_period: str) -> None:
    """The bill's own figure on a line no usage label names ("Total Energy 1,230 kWh"): the next month's projection was
    stored as the bill's usage, accepted (an extraction probe, 75B). A person reads it now."""
    report = analyze(_duke(f"Total Energy 1,230 kWh\n{other_period}\n").encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == "review"
    assert report.bill is not None and all(r.quantity != Decimal(1310) for r in report.bill.usage)


SEWER_BILL = """\
Lakeview Water & Sewer
Account No.: 55-01877
Bill Date: 09/09/2026
Service Period: 08/04/2026 - 09/03/2026
Due Date: 09/30/2026

Meter 70112  Previous 482,100  Current 489,300  Gallons 7,200
Sewer usage: 5,000 gallons (winter cap)

Water Charge           $31.68
Sewer Charge           $38.50
Current Charges        $70.18
Previous Balance       $66.10
Payment               -$66.10
Amount Due             $70.18
"""


def test_a_sewer_volume_is_never_the_water_reading() -> None:
    """Sewer is billed on a cap or a winter average: its 5,000 gallons were stored as the water used, the meter's 7,200
    unread (75B)."""
    report = analyze(SEWER_BILL.encode(), provider_hint=None, settings=OFFLINE)
    assert report.decision == "review"
    assert report.bill is not None and all(r.quantity != Decimal(5000) for r in report.bill.usage)


DUAL_FUEL = """\
Mid-State Energy
Account number: 8821-443-90
Statement date: 11/12/2026
Billing period: 10/08/2026 - 11/06/2026
Due date: 12/03/2026

ELECTRIC SERVICE
  Electric used 455 kWh
  Customer charge              $10.50
  Energy charge                $54.60
HEATING SERVICE - Meter G3390
  Gas delivered 63 therms
  Customer charge              $12.00
  Distribution charge          $58.56
Total current charges         $135.66
Previous balance              $120.04
Payment received 10/25       -$120.04
Amount due                    $135.66
"""


def test_a_bill_printing_therms_without_a_gas_reading_goes_to_review() -> None:
    """Its gas section named no gas ("HEATING SERVICE"), nor its charges: stored as 455 kWh of electricity alone,
    accepted, the 63 therms unread (75B)."""
    report = analyze(DUAL_FUEL.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("review", ["missing_field:usage"])


def test_a_reading_whose_utility_the_bill_does_not_name_goes_to_review() -> None:
    """The gas section's "Used 63 CCF" named no utility (CCF measures gas and water alike): dropped unsaid, the bill was
    stored as 455 kWh of electricity alone, accepted (75B)."""
    text = DUAL_FUEL.replace("Gas delivered 63 therms", "Previous 4410   Present 4473   Used 63 CCF")
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("review", ["unknown_commodity:usage"])
    assert fields_for("unknown_commodity:usage") == ("usage",)
    assert "which utility it measures" in describe("unknown_commodity:usage")


GAS_IN_KWH_BILL = """\
Hill Country Gas
Account Number: 5512-0098
Statement Date: 10/12/2026
Billing Period: 09/08/2026 - 10/07/2026
Due Date: 11/02/2026

Previous Balance $40.00
Payment -$40.00
Total Current Charges $80.00
Amount Due $80.00
  Customer Charge $15.00
  Gas Charge $65.00
{sections}Gas used: 2,610 kWh
"""
"""A gas bill printing its gas in kWh, ``sections`` (other readings) above that line."""


@pytest.mark.parametrize(
    ("sections", "reasons"),
    [
        ("", ["unit_mismatch:gas", "missing_field:usage"]),
        ("Electricity used 455 kWh\n", ["unit_mismatch:gas"]),
    ],
    ids=["gas-alone", "dual-fuel"],
)
def test_gas_printed_in_kwh_is_never_stored_as_electricity(sections: str, reasons: list[str]) -> None:
    """ "Gas used: 2,610 kWh" was stored as 2,610 kWh of electricity, accepted (75B): kWh is electricity's unit alone
    here, so a reviewer enters the gas in a unit of gas."""
    text = GAS_IN_KWH_BILL.format(sections=sections)
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("review", reasons)
    assert report.bill is not None and all(r.quantity != Decimal(2610) for r in report.bill.usage)
    assert describe("unit_mismatch:gas").startswith("gas printed in kWh"), "its own words, not any unit's misfit"


@pytest.mark.parametrize(
    "line",
    [
        "Natural gas generation 40%   Total usage 744 kWh",
        "GAS SERVICE   Total kWh used 744",
        "Usage 744 kWh   (Gas: see separate statement)",
        "Total usage 744 kWh   Gas Meter 112233",
    ],
)
def test_gas_named_in_another_cell_leaves_the_kwh_electricity(line: str) -> None:
    """Gas named anywhere on the line sent these electric bills to review, their reading dropped (76D)."""
    report = analyze(_duke(f"{line}\n").encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert [(r.commodity, r.quantity) for r in report.bill.usage] == [(Commodity.ELECTRICITY, Decimal(744))]


@pytest.mark.parametrize("line", ["Next read: July  Usage 744 kWh", "Total usage 744 kWh Next read date 07/15"])
def test_a_next_reads_date_beside_this_periods_usage_leaves_it_the_reading(line: str) -> None:
    """Only the next month's, period's or bill's usage is another period's: "Next read" is a date (75D)."""
    report = analyze(_duke(f"{line}\n").encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert [(r.quantity, r.unit) for r in report.bill.usage] == [(Decimal(744), UsageUnit.KWH)]
