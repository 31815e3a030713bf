"""decide() and analyze(): the accept/review/reject contract."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from eval.generate import sample_bill
from extraction.engine import Extraction
from extraction.pipeline import analyze, decide
from shared.bill import Provider
from shared.settings import Settings


def _extraction(reasons: list[str], *, with_bill: bool = True) -> Extraction:
    _, _, bill = sample_bill(Provider.PGE, seed=1)
    return Extraction(bill=bill if with_bill else None, reasons=reasons, extractor="rules:pge", pages=1)


def test_accept_only_without_any_reason() -> None:
    assert decide(_extraction([]), []) == ("accept", [])
    assert decide(_extraction(["conflicting_values:total_amount"]), []) == (
        "review",
        ["conflicting_values:total_amount"],
    )
    assert decide(_extraction([]), ["sum_mismatch", "sum_mismatch"]) == ("review", ["sum_mismatch"])


def test_no_bill_is_reviewed_and_unreadable_is_rejected() -> None:
    assert decide(_extraction(["not_a_bill"], with_bill=False), []) == ("review", ["not_a_bill"])
    assert decide(_extraction(["corrupt_file"], with_bill=False), []) == (
        "reject",
        ["corrupt_file"],
    )
    assert decide(_extraction([], with_bill=False), [])[0] == "review"


def test_analyze_accepts_a_sample(offline_settings: Settings) -> None:
    data, _, expected = sample_bill(Provider.CONED, seed="pipeline")
    report = analyze(data, provider_hint=Provider.CONED, settings=offline_settings)
    assert (report.decision, report.reasons, report.extractor) == ("accept", [], "rules:coned")
    assert report.bill is not None and report.bill.total_amount == expected.total_amount
    assert report.seconds > 0 and report.pages >= 1


def test_analyze_rejects_unreadable(offline_settings: Settings) -> None:
    report = analyze(b"", provider_hint=None, settings=offline_settings)
    assert (report.decision, report.reasons, report.bill) == ("reject", ["empty_file"], None)


NO_CURRENT_CHARGES_LINE = """\
Duke Energy                                   Account number      2603 6947 3628
PO Box 1090, Charlotte, NC 28201-1090         Bill date           March 31, 2025

For service: February 26, 2025 - March 30, 2025

Charges
   Energy                                                    $60.00
   Customer charge                                           $25.00

   Meter Number         Previous Read     Current Read      Energy Used
   97705340             80,217            80,456            239 kWh

Previous Balance                                             $50.00
Total Amount Due                                             $135.00
Due Date                                                     April 24, 2025
"""


def test_charges_without_a_current_charges_line_are_the_line_items_sum(offline_settings: Settings) -> None:
    """Analytics counts a bill's current charges, else its amount due: left empty, the unpaid $50.00 was
    counted a second time as this bill's cost."""
    report = analyze(NO_CURRENT_CHARGES_LINE.encode(), provider_hint=None, settings=offline_settings)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None
    assert (report.bill.current_charges, report.bill.total_amount) == (Decimal("85.00"), Decimal("135.00"))


def test_line_items_that_do_not_balance_say_nothing_of_the_current_charges(offline_settings: Settings) -> None:
    unbalanced = NO_CURRENT_CHARGES_LINE.replace("$135.00", "$140.00")
    report = analyze(unbalanced.encode(), provider_hint=None, settings=offline_settings)
    assert (report.decision, report.reasons) == ("review", ["balance_mismatch"])
    assert report.bill is not None and report.bill.current_charges is None


@pytest.mark.parametrize("sign", ["\u20b9", "\u20b1", "\u00a5"])
def test_a_bill_in_a_sign_no_template_names_is_no_dollar_bill(offline_settings: Settings, sign: str) -> None:
    """Rupees or pesos printed plainly ("\u20b91,234.50") were read as dollars and accepted; garbled, they went to
    review."""
    text = NO_CURRENT_CHARGES_LINE.replace("$", sign)
    report = analyze(text.encode(), provider_hint=None, settings=offline_settings)
    assert (report.decision, report.reasons) == ("review", ["non_usd_currency"])
    assert report.bill is not None and report.bill.total_amount == Decimal("135.00")


def test_a_bill_whose_amounts_name_another_currencys_code_is_no_dollar_bill(offline_settings: Settings) -> None:
    """Pesos printed "$135.00 MXN" were read as dollars and accepted."""
    text = NO_CURRENT_CHARGES_LINE.replace("$135.00", "$135.00 MXN")
    report = analyze(text.encode(), provider_hint=None, settings=offline_settings)
    assert (report.decision, report.reasons) == ("review", ["non_usd_currency"])
    assert report.bill is not None and report.bill.currency == "MXN"


def test_a_meters_id_in_a_currencys_letters_names_no_currency(offline_settings: Settings) -> None:
    """ "IDR" is a meter type (interval data recorder) and its number's prefix: the bill went to review in
    rupiah, and a reviewer approving it as read stored a US bill in IDR."""
    text = NO_CURRENT_CHARGES_LINE + "Meter Type: IDR   Meter No. IDR 00451237\n"
    report = analyze(text.encode(), provider_hint=None, settings=offline_settings)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and report.bill.currency == "USD"


def test_a_euro_bill_saved_on_windows_is_no_dollar_bill(offline_settings: Settings) -> None:
    text = NO_CURRENT_CHARGES_LINE.replace("$", "€")
    report = analyze(text.encode("cp1252"), provider_hint=None, settings=offline_settings)
    assert (report.decision, report.reasons) == ("review", ["non_usd_currency"])


ADDRESS_LINE = "Hélène Lefèvre, 12 rue de l'Église, Orléans\n"
EURO_BILL = NO_CURRENT_CHARGES_LINE.replace("$", "€")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(ADDRESS_LINE.encode("cp1252") + EURO_BILL.encode(), id="read-as-windows-1252"),
        pytest.param(ADDRESS_LINE.encode() + EURO_BILL.encode("cp1252"), id="read-as-utf-8"),
    ],
)
def test_a_euro_bill_of_two_charsets_is_no_dollar_bill(offline_settings: Settings, data: bytes) -> None:
    """A mail merge wrote part of a euro bill in Windows-1252, part in UTF-8. Read either way, one part's
    signs are garbled ("â‚¬135.00", "\ufffd135.00"): the bill named no currency, and was accepted as dollars."""
    report = analyze(data, provider_hint=None, settings=offline_settings)
    assert (report.decision, report.reasons) == ("review", ["non_usd_currency"])


def billed_for(period: str, *, statement: str, due: str) -> str:
    """``NO_CURRENT_CHARGES_LINE`` for another ``period``, with a statement and due date that fit it."""
    return (
        NO_CURRENT_CHARGES_LINE.replace("For service: February 26, 2025 - March 30, 2025", f"Billing Period: {period}")
        .replace("March 31, 2025", statement)
        .replace("April 24, 2025", due)
    )


@pytest.mark.parametrize(
    ("period", "statement", "due", "start", "end"),
    [
        ("Jan 5 - Feb 4, 2026", "February 6, 2026", "March 2, 2026", date(2026, 1, 5), date(2026, 2, 4)),
        ("5 Jan to 4 Feb 2026", "February 6, 2026", "March 2, 2026", date(2026, 1, 5), date(2026, 2, 4)),
        ("Dec 5 - Jan 4, 2026", "January 6, 2026", "January 30, 2026", date(2025, 12, 5), date(2026, 1, 4)),
    ],
)
def test_a_period_whose_start_has_no_year_takes_the_ends(
    offline_settings: Settings, period: str, statement: str, due: str, start: date, end: date
) -> None:
    """ "Jan 5 - Feb 4, 2026" was no period, and a start read 2026-01-05 (by Gemini) not in the text."""
    text = billed_for(period, statement=statement, due=due)
    report = analyze(text.encode(), provider_hint=None, settings=offline_settings)
    assert (report.decision, report.reasons) == ("accept", [])
    assert report.bill is not None and (report.bill.bill_period_start, report.bill.bill_period_end) == (start, end)
