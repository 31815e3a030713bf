"""Thousands grouped by a plain space on a decimal-comma bill ("1 234,50"): read whole where the figure starts its
cell, doubted where the space may as well end a label ("Amount Due 1 234,50")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.review_reasons import describe, fields_for
from extraction.checks import check_bill
from extraction.pipeline import analyze
from extraction.values import ambiguous_figures, ambiguous_quantities, us_number_text
from shared.bill import UsageUnit
from shared.settings import ExtractorMode, Settings
from tests.extraction.test_rules import PLAIN

BILL = """\
RIVERSIDE UTILITY AUTHORITY
Customer Account No. 0042-1177
Statement Date 5 January 2026   Due Date 2026-01-26
Service Period: Dec 3, 2025 through Jan 2, 2026

Previous Balance{gap}200,00
Payments - Thank You{gap}200,00 CR
Current Charges{gap}{mark}1 234,50

Electricity Charges
  Energy charge{gap}{mark}1 210,00
  Standing charge{gap}24,50
Total Current Charges{gap}{mark}1 234,50
Amount Due{gap}{mark}1 234,50

Electricity used this period: 2 412,5 kWh
"""
"""A bill in decimal commas, its thousands apart by a plain space, and no currency's mark but its own: read as
such, it is accepted."""
RULES = Settings(extractor=ExtractorMode.RULES)


def _bill(*, gap: str, mark: str = "") -> str:
    return BILL.replace("{gap}", gap).replace("{mark}", mark)


@pytest.mark.parametrize(("gap", "mark"), [("    ", ""), ("    ", "EUR "), (" ", "\u20ac "), (": ", "")])
def test_a_figure_grouped_by_a_plain_space_where_it_starts_a_cell_is_read_whole(gap: str, mark: str) -> None:
    """ "1 234,50" in its own column was read as 234.50, and the bill, adding up in those figures, was accepted."""
    text = _bill(gap=gap, mark=mark)
    report = analyze(text.encode(), provider_hint=None, settings=RULES)
    bill = report.bill
    assert bill is not None
    assert (bill.total_amount, bill.current_charges, bill.previous_balance, bill.payments_received) == (
        Decimal("1234.50"),
        Decimal("1234.50"),
        Decimal("200.00"),
        Decimal("200.00"),
    )
    assert [(item.description, item.amount) for item in bill.line_items] == [
        ("Energy charge", Decimal("1210.00")),
        ("Standing charge", Decimal("24.50")),
    ]
    assert [(u.quantity, u.unit) for u in bill.usage] == [(Decimal("2412.5"), UsageUnit.KWH)]
    expected = ["non_usd_currency"] if mark else []
    assert (report.decision, report.reasons) == ("review" if mark else "accept", expected)


def test_a_figure_a_plain_space_may_split_after_a_word_goes_to_review() -> None:
    """ "Amount Due 1 234,50": 1,234.50, or the label's "1" and 234,50. Read as 234.50 all through, the bill
    added up and was accepted; whichever reading is taken, a person checks it."""
    text = _bill(gap=" ")
    report = analyze(text.encode(), provider_hint=None, settings=RULES)
    assert report.decision == "review"
    assert report.reasons == [
        "ambiguous_grouping:total_amount",
        "ambiguous_grouping:current_charges",
        "ambiguous_grouping:line_items",
    ]
    bill = report.bill
    assert bill is not None and bill.total_amount == Decimal("234.50")  # as before: the figure after the space
    read_whole = bill.model_copy(update={"total_amount": Decimal("1234.50"), "current_charges": Decimal("1234.50")})
    assert "ambiguous_grouping:total_amount" in check_bill(read_whole, text=text)  # the other reading: doubted too
    assert "ambiguous_grouping:total_amount" not in check_bill(read_whole, text=None)  # a correction is not


def test_a_figure_apart_from_any_doubted_one_is_not_doubted() -> None:
    """A figure a word and one space come before ("Grundkapital 1 125,00") that the bill does not read sends
    no bill to review."""
    text = _bill(gap="    ") + "Grundkapital 1 125,00\n"
    report = analyze(text.encode(), provider_hint=None, settings=RULES)
    assert (report.decision, report.reasons) == ("accept", [])
    assert ambiguous_figures(text) == {Decimal("125.00"), Decimal("1125.00")}


@pytest.mark.parametrize(
    ("printed", "written"),
    [
        ("Summe  1 125,00 \u20ac", "Summe  1,125.00 \u20ac"),  # a column's gap
        ("1 125,00", "1,125.00"),  # a line's start
        ("Summe\t12 345 678,90", "Summe\t12,345,678.90"),
        ("Summe: 1 125,00", "Summe: 1,125.00"),
        ("Summe \u20ac 1 125,00", "Summe \u20ac 1,125.00"),
        ("Summe EUR 1 125,00", "Summe EUR 1,125.00"),
        ("Gutschrift -1 125,00", "Gutschrift -1,125.00"),
        ("Gutschrift (1 125,00)", "Gutschrift (1,125.00)"),
        ("Grundpreis 1 125,00 \u20ac", "Grundpreis 1 125.00 \u20ac"),  # after a word: the figure after the space
        ("Tage 31 125,00", "Tage 31 125.00"),
        ("Zeile 2 31 125,00", "Zeile 2 31 125.00"),
        ("Jahr 2026 125,00", "Jahr 2026 125.00"),  # four digits are no group
        ("Verbrauch: 12 345 kWh", "Verbrauch: 12,345 kWh"),  # a quantity with no decimals, before its unit
        ("Verbrauch  1 234 567 kWh", "Verbrauch  1,234,567 kWh"),
        ("12 345 kWh", "12,345 kWh"),
        ("Verbrauch 12 345 kWh", "Verbrauch 12 345 kWh"),  # after a word: the figure after the space
        ("Tage 30 512 kWh", "Tage 30 512 kWh"),
        ("Zeile 2 31 125 kWh", "Zeile 2 31 125 kWh"),
        ("Verbrauch: 12 345 m\u00b3", "Verbrauch: 12,345 m\u00b3"),  # a metric unit too
        ("Verbrauch: 12 345 MJ", "Verbrauch: 12 345 MJ"),  # no unit the rules read
        ("Verbrauch: 12 345 Tage", "Verbrauch: 12 345 Tage"),
    ],
)
def test_a_plain_space_groups_a_decimal_comma_figures_thousands_where_it_starts_a_cell(
    printed: str, written: str
) -> None:
    text = f"Fee 3,50 \u20ac\nTax 0,50 \u20ac\n{printed}"
    assert us_number_text(text) == f"Fee 3.50 \u20ac\nTax 0.50 \u20ac\n{written}"


@pytest.mark.parametrize(
    ("printed", "figures"),
    [
        ("Summe  1 125,00", set()),
        ("Grundpreis 1 125,00", {"125.00", "1125.00"}),
        ("Tage 31 125,00", {"125.00", "31125.00"}),
        ("Zeile 2 31 125,00", {"125.00", "31125.00"}),
        ("Jahr 2026 125,00", set()),
        ("Zähler 1 234 567,89", {"567.89", "234567.89", "1234567.89"}),
        ("Verbrauch 12 345 kWh", set()),  # a quantity: it doubts no amount (``ambiguous_quantities``)
    ],
)
def test_the_figures_a_doubted_figure_may_be(printed: str, figures: set[str]) -> None:
    assert ambiguous_figures(f"Fee 3,50 \u20ac\nTax 0,50 \u20ac\n{printed}") == {Decimal(f) for f in figures}


@pytest.mark.parametrize(
    ("printed", "quantities"),
    [
        ("Verbrauch 12 345 kWh", {"345", "12345"}),
        ("Verbrauch ca. 12 345 kWh", {"345", "12345"}),
        ("Verbrauch 1 234 567 kWh", {"567", "234567", "1234567"}),
        ("Tage 30 512 kWh", {"512", "30512"}),
        ("Zeile 2 31 125 kWh", {"125", "31125"}),  # after a figure: "31 125" began no run
        ("01.12.2025-31.12.2025 12 345 kWh", {"345", "12345"}),
        ("Verbrauch 12 345,5 kWh", {"345.5", "12345.5"}),
        ("Verbrauch: 12 345 kWh", set()),  # read whole
        ("Verbrauch  12 345 kWh", set()),
        ("Verbrauch 12\u00a0345 kWh", set()),
        ("Grundpreis 1 125,00", set()),
    ],
)
def test_the_quantities_a_doubted_quantity_may_be(printed: str, quantities: set[str]) -> None:
    text = f"Fee 3,50 \u20ac\nTax 0,50 \u20ac\n{printed}"
    assert ambiguous_quantities(text) == {Decimal(q) for q in quantities}


def test_a_us_texts_plain_spaces_group_nothing_but_are_doubted() -> None:
    """A US bill's "Meters 1 2" and "1,234.56" read exactly as before; a "1 125,00" on it doubts nothing. A plain
    space between digit groups is read as grouping nothing ("30 512 kWh" may be a column of days and the reading),
    but a bill read with either figure goes to review: "Total Usage: 11 200 kWh" was read as 200 kWh, and "Due
    1 234.56" as 234.56, and accepted."""
    text = (
        "Meters 1 2\nTotal $1,234.56\nFee 1 125,00\nUsage 1 234 kWh\nUsage:  12 345 kWh\nDays 30 512 kWh\nDue 1 234.56"
    )
    assert us_number_text(text) == text
    assert ambiguous_figures(text) == {Decimal("234.56"), Decimal("1234.56")}
    assert ambiguous_quantities(text) == {Decimal(q) for q in ("234", "1234", "345", "12345", "512", "30512")}


@pytest.mark.parametrize(
    "text",
    [
        "Payment Received 10/15 120.00 CR",
        "Payments Received Oct 15 620.00 CR",
        "Total Amount Due by 11/30 142.31",
        "Total Amount Due  Nov 30 142.31",
        "Usage 10/06-11/04 512 kWh",
    ],
)
def test_a_dates_day_before_a_figure_doubts_nothing(text: str) -> None:
    """ "10/15 120.00" is a date and an amount: doubted as 15,120.00, clean bills went to review (an adversarial
    re-read)."""
    assert ambiguous_figures(text) == ambiguous_quantities(text) == frozenset()


@pytest.mark.parametrize(
    ("text", "figures", "quantities"),
    [
        ("Amount due 11/30 1 318.75", {"318.75", "1318.75"}, set()),
        ("Total Amount Due  Nov 30 1 318.75", {"318.75", "1318.75"}, set()),
        ("Payment received 11/02 -1 200.00", {"200.00", "1200.00"}, set()),  # a minus, not a date's dash
        ("Usage 10/06-11/04 5 120 kWh", set(), {"120", "5120"}),
    ],
)
def test_a_figure_grouped_after_a_dates_day_is_doubted_without_the_day(
    text: str, figures: set[str], quantities: set[str]
) -> None:
    """Skipped whole with the day before it, a bill printing every amount so was accepted a thousand short (a second
    adversarial re-read)."""
    assert ambiguous_figures(text) == {Decimal(f) for f in figures}
    assert ambiguous_quantities(text) == {Decimal(q) for q in quantities}


def test_a_dollar_amounts_plain_spaces_group_its_thousands() -> None:
    """ "$1 318.75": a dollar sign's "$1" is no amount, so the space groups. Read as 318.75, every amount of a bill
    printing its thousands so was a thousand short, and the bill added up."""
    text = PLAIN.replace("$1,23", "$1 23")
    assert "$1 234.50" in text
    report = analyze(text.encode(), provider_hint=None, settings=RULES)
    assert report.bill is not None and (report.decision, report.reasons) == ("accept", [])
    assert (report.bill.total_amount, report.bill.current_charges) == (Decimal("1234.50"), Decimal("1234.50"))
    assert us_number_text("Total $ 12 345 678.90, $1 234 and 1 234.56") == "Total $ 12,345,678.90, $1 234 and 1 234.56"


def test_an_amount_grouped_by_plain_spaces_without_its_dollar_sign_goes_to_review() -> None:
    text = PLAIN.replace("$1,23", "1 23")
    assert "Amount Due" in text and " 1 234.50" in text
    report = analyze(text.encode(), provider_hint=None, settings=RULES)
    assert report.decision == "review"
    assert "ambiguous_grouping:current_charges" in report.reasons


@pytest.mark.parametrize("space", ["\u00a0", "\u2009", "\u202f"])
@pytest.mark.parametrize("text", ["Total $1,234.56\n{usage}", "Fee 3,50 \u20ac\nTax 0,50 \u20ac\n{usage}"])
def test_a_typeset_space_groups_a_quantitys_thousands_in_either_convention(space: str, text: str) -> None:
    """A no-break or thin space between digit groups is a typeset thousands separator, wherever it stands:
    "12\u00a0345 kWh" was read as 345 kWh, and a bill adding up without its usage accepted."""
    printed = text.format(usage=f"Usage 12{space}345 kWh and 1{space}234{space}567.5 gallons")
    assert us_number_text(printed).endswith("Usage 12,345 kWh and 1,234,567.5 gallons")
    assert ambiguous_figures(printed) == ambiguous_quantities(printed) == frozenset()


@pytest.mark.parametrize("space", ["\u00a0", "\u2009", "\u202f"])
def test_a_typeset_space_groups_an_amounts_thousands_in_a_decimal_point_text(space: str) -> None:
    """ "Amount Due $1\u00a0234.50" was read as 234.50, and every amount of the bill alike: they added up, and the
    bill was accepted a thousand dollars short."""
    text = PLAIN.replace("1,23", f"1{space}23")
    assert f"$1{space}234.50" in text
    report = analyze(text.encode(), provider_hint=None, settings=RULES)
    assert report.bill is not None and (report.decision, report.reasons) == ("accept", [])
    assert (report.bill.total_amount, report.bill.current_charges) == (Decimal("1234.50"), Decimal("1234.50"))
    assert [item.amount for item in report.bill.line_items] == [Decimal("24.50"), Decimal("1230.00"), Decimal("-20.00")]
    assert us_number_text(f"Total $12{space}345{space}678.90 and 1{space}234 and 1{space}2345.6") == (
        f"Total $12,345,678.90 and 1{space}234 and 1{space}2345.6"
    )


@pytest.mark.parametrize("apostrophe", ["'", "\u2019"])
def test_an_apostrophe_groups_thousands_in_either_convention(apostrophe: str) -> None:
    """A Swiss bill's "$1'234.50" was read as 234.50 ("1'234,50" and "2'412,5 kWh" alike on a decimal-comma bill):
    a sound bill went to review, its amounts wrong for the reviewer to retype."""
    text = PLAIN.replace("1,23", f"1{apostrophe}23")
    assert f"$1{apostrophe}234.50" in text
    report = analyze(text.encode(), provider_hint=None, settings=RULES)
    assert report.bill is not None and (report.decision, report.reasons) == ("accept", [])
    assert (report.bill.total_amount, report.bill.current_charges) == (Decimal("1234.50"), Decimal("1234.50"))

    comma = _bill(gap="    ").replace("1 2", f"1{apostrophe}2").replace("2 412,5", f"2{apostrophe}412,5")
    report = analyze(comma.encode(), provider_hint=None, settings=RULES)
    assert report.bill is not None and (report.decision, report.reasons) == ("accept", [])
    assert (report.bill.total_amount, [u.quantity for u in report.bill.usage]) == (
        Decimal("1234.50"),
        [Decimal("2412.5")],
    )
    assert us_number_text(f"Total $12{apostrophe}345{apostrophe}678.90, it{apostrophe}s 1{apostrophe}2345.6") == (
        f"Total $12,345,678.90, it{apostrophe}s 1{apostrophe}2345.6"
    )


@pytest.mark.timeout(60)
def test_a_run_of_typeset_groups_is_read_in_time_linear_in_its_length() -> None:
    run = "111\u00a0" * 100_000
    assert us_number_text(f"x {run}x\nx {run}111.5") == f"x {run}x\nx {run.replace(chr(0xA0), ',')}111.5"


@pytest.mark.parametrize(
    ("usage", "read", "reasons"),
    [
        ("Electricity used this period: 12 345 kWh", "12345", []),
        ("Electricity used this period: 12\u00a0345 kWh", "12345", []),
        ("Electricity used this period 12 345 kWh", "345", ["ambiguous_grouping:usage"]),
        ("Electricity used this period approx. 12 345 kWh", "345", ["ambiguous_grouping:usage"]),
        ("Electricity used this period 2 31 125 kWh", "125", ["ambiguous_grouping:usage"]),
    ],
)
def test_a_decimal_comma_bills_quantity_grouped_by_a_space_is_read_whole_or_doubted(
    usage: str, read: str, reasons: list[str]
) -> None:
    """Read as its last group (345 kWh), the usage of an otherwise sound bill was accepted."""
    text = _bill(gap="    ").replace("Electricity used this period: 2 412,5 kWh", usage)
    report = analyze(text.encode(), provider_hint=None, settings=RULES)
    assert report.bill is not None and [u.quantity for u in report.bill.usage] == [Decimal(read)]
    assert (report.decision, report.reasons) == ("review" if reasons else "accept", reasons)


@pytest.mark.timeout(60)
def test_a_run_of_space_apart_groups_is_read_in_time_linear_in_its_length() -> None:
    """Each group of a run tried as a figure's start scanned it to its end: the run is taken from its first."""
    run = "111 " * 100_000
    text = f"Fee 3,50 \u20ac\nTax 0,50 \u20ac\nx {run}x\nx {run}111,5"
    written = us_number_text(text)
    assert written.startswith("Fee 3.50 \u20ac\nTax 0.50 \u20ac\nx 111 111") and written.endswith("111 111.5")
    assert max(ambiguous_figures(text)) == Decimal("111111111111111.5")  # a bill's figures have five groups at most
    before_a_unit = f"Fee 3,50 \u20ac\nTax 0,50 \u20ac\nx {run}kWh\nx {run}x kWh"
    assert max(ambiguous_quantities(before_a_unit)) == Decimal("111111111111111")
    assert us_number_text(before_a_unit) == before_a_unit.replace("3,50", "3.50").replace("0,50", "0.50")


def test_the_review_page_says_what_to_check() -> None:
    assert describe("ambiguous_grouping:total_amount").startswith("total amount: printed with a plain space in it")
    assert fields_for("ambiguous_grouping:line_items") == ("line_items",)


@pytest.mark.parametrize("line", ["Average household 3 000 kWh per year", "Rate per 1 000 kWh    5,00"])
def test_a_quantity_a_plain_space_may_split_doubts_no_amount(line: str) -> None:
    """ "1 000 kWh" may be 000: a zero balance on the bill was doubted with it."""
    text = _bill(gap="    ").replace("200,00", "0,00") + f"{line}\n"
    report = analyze(text.encode(), provider_hint=None, settings=RULES)
    assert report.bill is not None and report.bill.previous_balance == Decimal("0.00")
    assert (report.decision, report.reasons) == ("accept", [])
