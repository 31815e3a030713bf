"""extract(): which extractor runs in each mode, and how rules and Gemini are reconciled."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import pytest

from eval import render_image
from eval.brands import KNOWN
from eval.generate import sample_bill
from eval.synth import make_facts, rng_for
from extraction.checks import check_bill
from extraction.document import read_document
from extraction.engine import disagreement, extract
from extraction.gemini_errors import GeminiMisconfigured, GeminiUnavailable
from extraction.pipeline import analyze, decide
from extraction.rules.extractor import extract_with_rules
from shared.bill import Commodity, LineItem, NormalizedBill, Provider, UsageReading, UsageUnit
from shared.settings import ExtractorMode, Settings
from tests.extraction.test_document import _bill_drawn
from tests.extraction.test_pipeline import NO_CURRENT_CHARGES_LINE, billed_for
from tests.extraction.test_rules import PLAIN, TWO_COLUMNS
from tests.extraction.test_usage_readings import GAS_IN_KWH_BILL
from tests.fakes.gemini import FakeGemini, bill_response, error_body, wire_from_bill


def test_rules_mode_reads_known_provider(offline_settings: Settings) -> None:
    data, _, expected = sample_bill(Provider.SFPUC, seed=2)
    result = extract(read_document(data), provider_hint=Provider.SFPUC, settings=offline_settings)
    assert result.extractor == "rules:sfpuc" and result.reasons == [] and result.pages >= 1
    assert result.bill is not None and result.bill.total_amount == expected.total_amount


def test_offline_image_has_no_text_layer(offline_settings: Settings) -> None:
    facts = make_facts(KNOWN[Provider.CONED], rng_for("img"))
    for data in (render_image.png(facts), render_image.image_pdf(facts)):
        result = extract(read_document(data), provider_hint=None, settings=offline_settings)
        assert (result.bill, result.reasons) == (None, ["no_text_layer"])


@pytest.mark.parametrize("mode", ["offline", "gemini"])
def test_a_few_words_of_text_are_not_a_bill_not_a_scan(
    mode: str, offline_settings: Settings, gemini_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """``no_text_layer`` sent the reviewer to check the values on "a photo or a scan" that a text file is not."""
    settings = gemini_settings if mode == "gemini" else offline_settings
    result = extract(read_document(b"hello world, not a bill"), provider_hint=Provider.PGE, settings=settings)
    assert (result.bill, result.reasons) == (None, ["not_a_bill"])
    assert fake_gemini.request_count == 0


def test_trusted_template_does_not_call_gemini(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    data, _, _ = sample_bill(Provider.DUKE, seed=5)
    result = extract(read_document(data), provider_hint=None, settings=gemini_settings)
    assert result.extractor == "rules:duke" and result.reasons == []
    assert fake_gemini.request_count == 0


def test_unknown_provider_is_confirmed_by_gemini(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    data, _, expected = sample_bill(None, seed=5)
    fake_gemini.push(200, bill_response(wire_from_bill(expected)))
    result = extract(read_document(data), provider_hint=None, settings=gemini_settings)
    assert result.extractor == "gemini" and result.reasons == []
    assert result.bill is not None and result.bill.total_amount == expected.total_amount
    assert fake_gemini.request_count == 1


def test_a_hint_alone_does_not_make_the_rules_trusted(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    """The account's provider is a guess about this upload: without the template's keywords Gemini reads it too."""
    text = PLAIN.replace("RIVERSIDE UTILITY AUTHORITY\n", "")  # a letterhead naming no other utility
    read = extract_with_rules([text], provider_hint=Provider.SFPUC)
    assert read.bill is not None and read.reasons == [] and check_bill(read.bill, text=text) == []
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill)))
    result = extract(read_document(text.encode()), provider_hint=Provider.SFPUC, settings=gemini_settings)
    assert result.extractor == "gemini" and fake_gemini.request_count == 1


def test_disagreement_goes_to_review(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    data, _, expected = sample_bill(None, seed=6)
    assert expected.total_amount is not None
    wrong = expected.model_copy(update={"total_amount": expected.total_amount + Decimal("10.00")})
    fake_gemini.push(200, bill_response(wire_from_bill(wrong)))
    result = extract(read_document(data), provider_hint=None, settings=gemini_settings)
    assert result.reasons == ["extractor_disagreement:total_amount"]


@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
def test_a_bill_of_another_provider_than_its_accounts_stays_in_doubt(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: ExtractorMode
) -> None:
    data, _, expected = sample_bill(Provider.CONED, seed=7)
    fake_gemini.push(200, bill_response(wire_from_bill(expected)))
    settings = gemini_settings.model_copy(update={"extractor": mode})
    result = extract(read_document(data), provider_hint=Provider.PGE, settings=settings)
    assert "provider_mismatch" in result.reasons, "Gemini's reading does not make a Con Edison bill PG&E's"
    prompt = " ".join(p.get("text", "") for c in fake_gemini.requests[0].body["contents"] for p in c["parts"])
    assert "Con Edison" in prompt and "Pacific Gas" not in prompt, "the quirks of the provider the bill shows"


def test_a_currency_in_doubt_stays_in_doubt_through_gemini(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    """Gemini writes "$" for Canadian dollars as readily as for US ones: its USD settles nothing."""
    text = PLAIN + "\nAll amounts in CAD\n"
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and read.reasons == ["non_usd_currency"]
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill.model_copy(update={"currency": "USD"}))))
    result = extract(read_document(text.encode()), provider_hint=None, settings=gemini_settings)
    assert result.extractor == "gemini" and "non_usd_currency" in result.reasons
    assert decide(result, [])[0] == "review"


def test_a_currency_in_doubt_stays_in_doubt_when_only_gemini_reads(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """With EXTRACTOR=gemini Gemini's USD settles nothing: the rules' doubt is carried through its reading, and the
    text's check raises it on Gemini's reading too, each on its own."""
    text = PLAIN.replace("RIVERSIDE UTILITY AUTHORITY\n", "RIVERSIDE UTILITY\nToronto ON M5V 2T6\nGST/HST Reg. 1234\n")
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and read.reasons == ["non_usd_currency"]
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill.model_copy(update={"currency": "USD"}))))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    result = extract(read_document(text.encode()), provider_hint=None, settings=settings)
    assert (result.extractor, result.reasons) == ("gemini", ["non_usd_currency"])
    assert result.bill is not None and result.bill.currency == "USD"
    assert check_bill(result.bill, text=text) == ["non_usd_currency"]


def test_a_currency_gemini_writes_on_a_us_bill_is_doubted(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    read = extract_with_rules([PLAIN], provider_hint=None)
    assert read.bill is not None and read.reasons == []
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill.model_copy(update={"currency": "EUR"}))))
    report = analyze(PLAIN.encode(), provider_hint=None, settings=gemini_settings)
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "review", ["non_usd_currency"])


UNPAID = PLAIN.replace("$1,234.50\n\nService", "$1,434.50\n\nService").replace(
    "Payments - Thank You                   200.00 CR\n", ""
)


def test_current_charges_that_fold_in_an_unpaid_balance_are_a_disagreement(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """Analytics reports current charges as the bill's cost: $1,434.50 with the unpaid $200.00 in them adds up
    to the total, yet is $200.00 too much."""
    read = extract_with_rules([UNPAID], provider_hint=None)
    assert read.bill is not None and read.reasons == [] and check_bill(read.bill, text=UNPAID) == []
    assert (read.bill.previous_balance, read.bill.current_charges) == (Decimal("200.00"), Decimal("1234.50"))
    folded = read.bill.model_copy(update={"previous_balance": None, "current_charges": Decimal("1434.50")})
    fake_gemini.push(200, bill_response(wire_from_bill(folded.model_copy(update={"line_items": []}))))
    report = analyze(UNPAID.encode(), provider_hint=None, settings=gemini_settings)
    expected = ("gemini", "review", ["extractor_disagreement:current_charges"])
    assert (report.extractor, report.decision, report.reasons) == expected


TWO_PAYMENTS = PLAIN.replace("Balance                       $200.00", "Balance                       $300.00").replace(
    "Payments - Thank You                   200.00 CR\n",
    "Payment 12/10 - Thank You              100.00 CR\nPayment 12/20 - Thank You              200.00 CR\n",
)
THREE_PAYMENTS = TWO_PAYMENTS.replace("$300.00", "$350.00").replace(
    "200.00 CR\n", "200.00 CR\nPaid at kiosk 12/22                    50.00 CR\n"
)


def test_a_part_of_the_balance_the_rules_do_not_add_up_with_is_no_witness(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """The rules read one payment of three (the two rows they know add up to no balance either) and their balance
    does not add up: that is why Gemini was asked, and its $350.00, which does, was sent to review as a disagreement
    with the rules' $100.00."""
    read = extract_with_rules([THREE_PAYMENTS], provider_hint=None)
    assert read.bill is not None and read.bill.payments_received == Decimal("100.00")
    assert "balance_mismatch" in check_bill(read.bill, text=THREE_PAYMENTS)
    paid = read.bill.model_copy(update={"payments_received": Decimal("350.00")})
    assert check_bill(paid, text=THREE_PAYMENTS) == []
    fake_gemini.push(200, bill_response(wire_from_bill(paid)))
    report = analyze(THREE_PAYMENTS.encode(), provider_hint=None, settings=gemini_settings)
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "accept", [])


def test_parts_of_the_balance_only_gemini_read_are_checked_against_the_text(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """With EXTRACTOR=gemini nothing else witnesses them, and a bill's cost is its total less its previous
    balance and plus its payments where it states no current charges: the total alone was checked."""
    read = extract_with_rules([PLAIN], provider_hint=None)
    assert read.bill is not None
    invented = read.bill.model_copy(
        update={"previous_balance": Decimal("250.00"), "payments_received": Decimal("250.00")}
    )
    fake_gemini.push(200, bill_response(wire_from_bill(invented)))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    report = analyze(PLAIN.encode(), provider_hint=None, settings=settings)
    expected = ["no_evidence:previous_balance", "no_evidence:payments_received"]
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "review", expected)


def test_payments_printed_one_by_one_are_evidence_of_their_sum(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """Two payments and no line of their sum: Gemini's 300.00, which adds up, is no invention."""
    text = TWO_PAYMENTS.replace("$300.00", "$350.00").replace("$1,234.50\n\nService", "$1,284.50\n\nService")
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None
    paid = read.bill.model_copy(update={"payments_received": Decimal("300.00"), "total_amount": Decimal("1284.50")})
    assert check_bill(paid, text=None) == []
    fake_gemini.push(200, bill_response(wire_from_bill(paid)))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    report = analyze(text.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "accept", [])


def test_disagreement_names_no_part_of_a_balance_the_rules_do_not_add_up_with() -> None:
    """Without line items a balance that does not add up does not say which part is wrong: none witnesses."""
    _, _, bill = sample_bill(Provider.PGE, seed=1)
    assert bill.current_charges is not None
    unbalanced = bill.model_copy(update={"line_items": [], "payments_received": Decimal("50.00")})
    assert "balance_mismatch" in check_bill(unbalanced, text=None)
    for name in ("current_charges", "payments_received"):
        assert not disagreement(unbalanced, bill.model_copy(update={name: Decimal("1.00")})), name
    assert (
        disagreement(bill, bill.model_copy(update={"current_charges": bill.current_charges + 1})) == "current_charges"
    )


def test_a_witness_only_reading_stands_against_the_current_charges_alone() -> None:
    """EXTRACTOR=gemini: the rules' reading witnesses Gemini's current charges, not its other fields nor usage."""
    _, _, bill = sample_bill(Provider.PGE, seed=1)
    assert bill.total_amount is not None and bill.current_charges is not None and bill.usage
    other = bill.model_copy(
        update={"total_amount": bill.total_amount + 1, "usage": [bill.usage[0].model_copy(update={"quantity": 1})]}
    )
    assert disagreement(bill, other) == "total_amount"
    assert disagreement(bill, other, witness_only=True) is None
    charged = other.model_copy(update={"current_charges": bill.current_charges + 1})
    assert disagreement(bill, charged, witness_only=True) == "current_charges"


def test_a_disagreement_on_the_previous_balance_names_it_not_the_charges_it_implies(offline_settings: Settings) -> None:
    """The bill prints no current charges: Gemini's other previous balance implies other ones, and the reviewer
    was pointed at a figure the bill does not show."""
    rules = extract(read_document(NO_CURRENT_CHARGES_LINE.encode()), provider_hint=None, settings=offline_settings).bill
    assert rules is not None and rules.current_charges == Decimal("85.00")
    gemini = rules.model_copy(update={"previous_balance": Decimal("60.00"), "current_charges": Decimal("75.00")})
    assert disagreement(rules, gemini) == "previous_balance"


def test_malformed_output_keeps_the_rules_reading_and_logs_why(
    fake_gemini: FakeGemini, gemini_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The reviewer sees the code alone; the operator's log says why, or a prompt or model regression (every
    answer suddenly fenced) read like a safety block or a cut-off answer."""
    data, _, expected = sample_bill(None, seed=7)
    fake_gemini.push(200, bill_response("{truncated", finish_reason="MAX_TOKENS"))
    with caplog.at_level(logging.WARNING, logger="extraction.engine"):
        result = extract(read_document(data), provider_hint=None, settings=gemini_settings)
    assert result.reasons == ["malformed_model_output"]
    assert result.bill is not None and result.bill.account_number == expected.account_number
    (logged,) = [r for r in caplog.records if r.name == "extraction.engine"]
    assert "MAX_TOKENS" in logged.__dict__["error"], logged.__dict__


def test_gemini_reads_images(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    facts = make_facts(KNOWN[Provider.SFPUC], rng_for("img2"))
    fake_gemini.push(200, bill_response(wire_from_bill(facts.bill)))
    result = extract(
        read_document(render_image.png(facts)),
        provider_hint=Provider.SFPUC,
        settings=gemini_settings,
    )
    assert result.extractor == "gemini" and result.bill is not None
    assert result.bill.provider is Provider.SFPUC


def test_gemini_reading_of_an_image_goes_to_review_as_unverified(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """No text confirms a photo's reading: one reason that says so, not "not found in the bill's text" a field."""
    facts = make_facts(KNOWN[Provider.SFPUC], rng_for("img4"))
    fake_gemini.push(200, bill_response(wire_from_bill(facts.bill)))
    report = analyze(render_image.png(facts), provider_hint=Provider.SFPUC, settings=gemini_settings)
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "review", ["no_text_layer"])


def test_gemini_says_not_a_bill_and_the_reviewer_gets_the_rules_reading(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """As when Gemini's answer does not parse: thrown away, the reviewer of a bill got an empty form."""
    data, _, expected = sample_bill(None, seed=8)
    fake_gemini.push(200, bill_response(wire_from_bill(expected, is_utility_bill=False)))
    result = extract(read_document(data), provider_hint=None, settings=gemini_settings)
    assert result.reasons == ["not_a_bill"]
    assert result.bill is not None and result.bill.total_amount == expected.total_amount
    assert decide(result, [])[0] == "review"


def test_transient_errors_propagate_for_temporal_to_retry(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    data, _, _ = sample_bill(None, seed=9)
    fake_gemini.push(429, error_body(429))
    with pytest.raises(GeminiUnavailable):
        extract(read_document(data), provider_hint=None, settings=gemini_settings)


def test_a_document_gemini_refuses_goes_to_review_with_the_rules_reading(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """A 400 about this document must not fail the job: a person reads the bill instead."""
    data, _, expected = sample_bill(None, seed=7)
    fake_gemini.push(400, error_body(400, "Request contains an invalid argument."))
    result = extract(read_document(data), provider_hint=None, settings=gemini_settings)
    assert result.reasons == ["gemini_rejected"]
    assert result.bill is not None and result.bill.account_number == expected.account_number
    assert decide(result, [])[0] == "review"


def test_an_image_gemini_refuses_goes_to_review_without_a_bill(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    facts = make_facts(KNOWN[Provider.SFPUC], rng_for("img3"))
    fake_gemini.push(400, error_body(400))
    result = extract(read_document(render_image.png(facts)), provider_hint=None, settings=gemini_settings)
    assert (result.bill, result.reasons) == (None, ["gemini_rejected"])
    assert decide(result, []) == ("review", ["gemini_rejected"])


def test_a_refused_key_propagates_for_temporal_to_retry(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    data, _, _ = sample_bill(None, seed=9)
    fake_gemini.push(403, error_body(403))
    with pytest.raises(GeminiMisconfigured):
        extract(read_document(data), provider_hint=None, settings=gemini_settings)


def test_gemini_mode_without_key_falls_back_to_review() -> None:
    data, _, _ = sample_bill(Provider.PGE, seed=1)
    settings = Settings(extractor=ExtractorMode.GEMINI, gemini_api_key=None)
    result = extract(read_document(data), provider_hint=None, settings=settings)
    assert "gemini_not_configured" in result.reasons


def test_rules_mode_never_calls_gemini(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    data, _, _ = sample_bill(None, seed=10)
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.RULES})
    assert extract(read_document(data), provider_hint=None, settings=settings).extractor == "rules:generic"
    assert fake_gemini.request_count == 0


def test_disagree_ignores_formatting_and_missing_values() -> None:
    _, _, bill = sample_bill(Provider.PGE, seed=1)
    assert bill.account_number is not None
    spaced = bill.model_copy(update={"account_number": bill.account_number.replace("-", " "), "due_date": None})
    assert not disagreement(bill, spaced)
    assert disagreement(bill, bill.model_copy(update={"usage": [*bill.usage[:1], bill.usage[0]]})) == "usage"


@pytest.mark.parametrize("field", ["current_charges", "previous_balance", "payments_received"])
def test_disagree_compares_the_balances_parts(field: str) -> None:
    _, _, bill = sample_bill(Provider.PGE, seed=1)
    bill = bill.model_copy(update={"previous_balance": Decimal("200.00"), "payments_received": Decimal("200.00")})
    left_out = disagreement(bill, bill.model_copy(update={field: None}))
    assert left_out == (None if field == "current_charges" else field), "a printed previous balance or payment is read"
    assert disagreement(bill, bill.model_copy(update={field: getattr(bill, field) + Decimal("200.00")})) == field


def test_disagree_compares_units() -> None:
    _, _, bill = sample_bill(Provider.SFPUC, seed=2)
    water = bill.usage[0]
    assert water.unit is not UsageUnit.GAL
    gallons = [water.model_copy(update={"unit": UsageUnit.GAL})]
    assert disagreement(bill, bill.model_copy(update={"usage": gallons})) == "usage"


THOUSAND_GALLONS = PLAIN.replace(
    "Water used this period: 1,234 gallons\n", "Water Meter 44120098\n  Usage (1,000 gal)      8\n"
)


@pytest.mark.parametrize(("quantity", "decision"), [("8", "review"), ("8000", "accept")])
def test_a_reading_in_thousands_of_gallons_counts_only_multiplied_out(
    fake_gemini: FakeGemini, gemini_settings: Settings, quantity: str, decision: str
) -> None:
    """Gemini copying "Usage (1,000 gal)  8" as 8 gal was accepted: the figure 8 is in the text."""
    read = extract_with_rules([PLAIN], provider_hint=None)
    assert read.bill is not None
    usage = [read.bill.usage[0].model_copy(update={"quantity": Decimal(quantity)})]
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill.model_copy(update={"usage": usage}))))
    report = analyze(THOUSAND_GALLONS.encode(), provider_hint=None, settings=gemini_settings)
    assert (report.extractor, report.decision) == ("gemini", decision)
    assert (report.reasons == []) if decision == "accept" else ("unit_scale:usage" in report.reasons)


def test_gemini_reading_without_current_charges_gets_its_line_items_sum(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """As the rules' reading: left empty, analytics counted the $135.00 due, unpaid $50.00 and all, as the cost."""
    read = extract_with_rules([NO_CURRENT_CHARGES_LINE], provider_hint=None)
    assert read.bill is not None
    unstated = read.bill.model_copy(update={"current_charges": None})
    fake_gemini.push(200, bill_response(wire_from_bill(unstated)))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    report = analyze(NO_CURRENT_CHARGES_LINE.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "accept", [])
    assert report.bill is not None and report.bill.current_charges == Decimal("85.00")


TWO_METERS = NO_CURRENT_CHARGES_LINE.replace(
    "   Meter Number         Previous Read     Current Read      Energy Used\n"
    "   97705340             80,217            80,456            239 kWh\n",
    "Meter 123456 Energy Used 800 kWh\nMeter 654321 Energy Used 200 kWh\n",
)
TWO_DUE_DATES = NO_CURRENT_CHARGES_LINE + "Payment Due Date                                             May 1, 2025\n"
TWO_PERIODS = NO_CURRENT_CHARGES_LINE + "Service Period: February 27, 2025 - March 31, 2025\n"
NOTICE_DUE = NO_CURRENT_CHARGES_LINE.replace(
    f"Due Date{' ' * 53}April 24, 2025", "Past due amount due by April 24, 2025 to avoid disconnection"
)


@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
@pytest.mark.parametrize(
    ("text", "doubt"),
    [
        (TWO_METERS, "conflicting_values:usage"),
        (TWO_DUE_DATES, "conflicting_values:due_date"),
        (TWO_PERIODS, "conflicting_values:period"),
        (NOTICE_DUE, "notice_deadline:due_date"),
    ],
)
def test_a_value_the_text_prints_twice_stays_in_doubt_through_gemini(
    fake_gemini: FakeGemini, gemini_settings: Settings, text: str, doubt: str, mode: ExtractorMode
) -> None:
    """Both values are in the text and no sum tells them apart: Gemini agreeing with the rules' pick (the first
    meter's 800 kWh of 1,000) settles nothing, and was accepted; with EXTRACTOR=gemini too, where the rules did
    not run."""
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and read.reasons == [doubt]
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill)))
    settings = gemini_settings.model_copy(update={"extractor": mode})
    report = analyze(text.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "review", [doubt])
    assert fake_gemini.request_count == 1


def test_gemini_mode_takes_no_reading_from_the_rules(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    """EXTRACTOR=gemini reads the text with the rules for their doubts and the current charges alone: their
    reading of another field does not stand against Gemini's, nor in for it when Gemini's does not parse."""
    data, _, expected = sample_bill(None, seed=6)
    assert expected.total_amount is not None
    other = expected.model_copy(update={"total_amount": expected.total_amount + Decimal("10.00")})
    fake_gemini.push(200, bill_response(wire_from_bill(other)))
    fake_gemini.push(200, bill_response("{truncated", finish_reason="MAX_TOKENS"))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    read = extract(read_document(data), provider_hint=None, settings=settings)
    assert read.bill is not None and read.bill.total_amount == other.total_amount and read.reasons == []
    cut_off = extract(read_document(data), provider_hint=None, settings=settings)
    assert (cut_off.bill, cut_off.reasons) == (None, ["malformed_model_output"])


def test_two_totals_are_told_apart_by_the_balance(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    """Only $135.00 adds up with the charges and the previous balance: Gemini reading it settles the rules' doubt."""
    text = NO_CURRENT_CHARGES_LINE + "Total Amount Due                                             $145.00\n"
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and read.reasons == ["conflicting_values:total_amount"]
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill)))
    report = analyze(text.encode(), provider_hint=None, settings=gemini_settings)
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "accept", [])
    assert report.bill is not None and report.bill.total_amount == Decimal("135.00")


def test_a_period_start_gemini_gives_the_year_the_text_leaves_out_is_in_the_text(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """Read 2025-12-05 off "Dec 5 - Jan 4, 2026", a start was "not in the bill's text" and never accepted."""
    text = billed_for("Dec 5 - Jan 4, 2026", statement="January 6, 2026", due="January 30, 2026")
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and read.bill.bill_period_start == date(2025, 12, 5)
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill)))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    report = analyze(text.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "accept", [])


@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
@pytest.mark.parametrize("itemized", [True, False], ids=["balance-as-a-charge", "total-as-the-charges"])
def test_charges_that_fold_in_a_previous_balance_gemini_left_out_go_to_review(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: ExtractorMode, itemized: bool
) -> None:
    """The bill prints no current charges: Gemini leaving out its $50.00 previous balance and counting it as a
    charge (or copying the total) reads $135.00 of charges for $85.00. That adds up, and $135.00 is printed (as
    the total): with EXTRACTOR=gemini, where the rules' reading witnessed nothing, it was accepted."""
    text = NO_CURRENT_CHARGES_LINE.replace("Duke Energy", "Piedmont Power")  # no template: auto mode asks Gemini
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and read.bill.previous_balance == Decimal("50.00")
    items = [*read.bill.line_items, LineItem(description="Previous Balance", amount=Decimal("50.00"))]
    folded = read.bill.model_copy(
        update={"previous_balance": None, "current_charges": None if itemized else Decimal("135.00")}
        | {"line_items": items if itemized else []}
    )
    fake_gemini.push(200, bill_response(wire_from_bill(folded)))
    settings = gemini_settings.model_copy(update={"extractor": mode})
    report = analyze(text.encode(), provider_hint=None, settings=settings)
    expected = ("gemini", "review", ["extractor_disagreement:current_charges"])
    assert (report.extractor, report.decision, report.reasons) == expected


LATE_FEE = """From: Riverbend Electric Cooperative <billing@riverbendcoop.example>
Subject: Your Riverbend Electric Cooperative statement is ready

Account number: 704540-53
Statement date: 03/03/2026
Billing period: 01/02/2026 to 02/03/2026
Amount due: $231.08
Due date: 03/24/2026

Account summary
  Previous balance:    $96.72
  Payments received:   -$50.00
  Late payment charge: $4.50
  Current charges:     $179.86

Usage this period: 344 kWh (meter 44732410)
"""
"""A late fee on a line of its own: the rules' balance does not add up, so their charges witness nothing."""


@pytest.mark.parametrize("left_out", [None, Decimal("0.00")], ids=["null", "zero"])
@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
def test_a_previous_balance_left_out_goes_to_review_where_the_rules_charges_witness_nothing(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: ExtractorMode, left_out: Decimal | None
) -> None:
    """Gemini leaving out the $96.72 previous balance and the payment, and reading the $231.08 due as the charges,
    adds up: accepted, analytics counted the $46.72 unpaid as this bill's cost."""
    read = extract_with_rules([LATE_FEE], provider_hint=None)
    assert read.bill is not None and "balance_mismatch" in check_bill(read.bill, text=LATE_FEE)
    folded = read.bill.model_copy(
        update={"previous_balance": left_out, "payments_received": left_out, "current_charges": Decimal("231.08")}
    )
    assert check_bill(folded, text=LATE_FEE) == []
    fake_gemini.push(200, bill_response(wire_from_bill(folded)))
    report = analyze(
        LATE_FEE.encode(), provider_hint=None, settings=gemini_settings.model_copy(update={"extractor": mode})
    )
    expected = ("gemini", "review", ["extractor_disagreement:previous_balance"])
    assert (report.extractor, report.decision, report.reasons) == expected


def test_a_previous_balance_paid_in_full_may_not_be_left_out() -> None:
    """Nothing is carried over and the charges are the total either way, but the bill was stored (and published)
    with no previous balance and no payment where it prints $200.00 of each."""
    _, _, bill = sample_bill(Provider.PGE, seed=1)
    paid = bill.model_copy(update={"previous_balance": Decimal("200.00"), "payments_received": Decimal("200.00")})
    for witness_only in (False, True):
        left_out = paid.model_copy(update={"previous_balance": None, "payments_received": None})
        assert disagreement(paid, left_out, witness_only=witness_only) == "previous_balance"
        unpaid = paid.model_copy(update={"payments_received": Decimal("0.00")})
        assert disagreement(paid, unpaid, witness_only=witness_only) == "payments_received"
    unpaid = paid.model_copy(update={"payments_received": Decimal("150.00")})
    assert disagreement(unpaid, unpaid.model_copy(update={"previous_balance": None})) == "previous_balance"


@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
@pytest.mark.parametrize(("previous", "paid"), [("-0.00", None), (None, "-0.00"), ("200.00", None)])
def test_a_printed_previous_balance_or_payment_gemini_leaves_out_goes_to_review(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: ExtractorMode, previous: str | None, paid: str | None
) -> None:
    """PLAIN prints $200.00 of each: Gemini's -0.00 or null for them added up and was accepted."""
    read = extract_with_rules([PLAIN], provider_hint=None)
    assert read.bill is not None and read.reasons == []
    wire = wire_from_bill(read.bill) | {"previous_balance": previous, "payments_received": paid}
    fake_gemini.push(200, bill_response(wire))
    report = analyze(
        PLAIN.encode(), provider_hint=None, settings=gemini_settings.model_copy(update={"extractor": mode})
    )
    assert (report.extractor, report.decision) == ("gemini", "review")
    left_out = {"extractor_disagreement:previous_balance", "extractor_disagreement:payments_received"}
    assert left_out & set(report.reasons), report.reasons


FEW_SIGNALS = """Harbor Water Co
Statement for Jane Doe
Due Date: March 15, 2026
Amount Due: $85.00
Pay by April 15, 2026
"""
"""Too few of a bill's fields for the rules to call it one, and two due dates: only Gemini reads the bill."""


def harbor_water_bill(amount: str) -> NormalizedBill:
    """Gemini's reading of the Harbor Water Co texts here, due ``amount``."""
    return NormalizedBill(
        provider_name="Harbor Water Co",
        account_number="4471-0023-9",
        due_date=date(2026, 3, 15),
        total_amount=Decimal(amount),
        current_charges=Decimal(amount),
    )


@pytest.mark.parametrize(
    ("text", "doubt", "unread"),
    [
        (FEW_SIGNALS, "conflicting_values:due_date", "not_a_bill"),
        # Naming euros, most likely a bill in words the rules do not know (76B).
        (FEW_SIGNALS.replace("Pay by April 15, 2026", "Payable in \u20ac"), "non_usd_currency", "foreign_bill_unread"),
    ],
)
def test_the_rules_doubts_on_a_text_they_find_no_bill_in_stay_through_gemini(
    fake_gemini: FakeGemini, gemini_settings: Settings, text: str, doubt: str, unread: str
) -> None:
    """The rules' "not a bill" dropped their doubts with it: with EXTRACTOR=gemini, Gemini's reading of one
    of the two due dates, or of euros as dollars, went on with nothing to say the text printed another."""
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is None and read.reasons == [doubt, unread]
    bill = harbor_water_bill("85.00")
    fake_gemini.push(200, bill_response(wire_from_bill(bill)))
    fake_gemini.push(200, bill_response(wire_from_bill(bill, is_utility_bill=False)))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    report = analyze(text.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.decision) == ("gemini", "review") and doubt in report.reasons
    refused = extract(read_document(text.encode()), provider_hint=None, settings=settings)
    assert (refused.bill, refused.reasons) == (None, [doubt, "not_a_bill"])


def test_what_the_rules_read_of_a_sparse_bill_of_the_accounts_provider_still_witnesses_gemini(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """Too little for the rules to call it a bill (``not_a_bill``), yet their account and total stand against
    Gemini's: a reading of $58.00 where the text prints $85.00 goes to a person."""
    text = "Harbor Water Co\nAccount Number: 4471-0023-9\nAmount Due: $85.00\n"
    fake_gemini.push(200, bill_response(wire_from_bill(harbor_water_bill("58.00"))))
    result = extract(read_document(text.encode()), provider_hint=Provider.SFPUC, settings=gemini_settings)
    assert result.extractor == "gemini"
    assert result.reasons == ["provider_mismatch", "extractor_disagreement:total_amount"]  # a water company's


def test_disagree_compares_the_usage_each_unit_adds_up_to() -> None:
    """Compared as sets, {344 kWh} was {344 kWh, 344 kWh} and {150, 194, 344 kWh}: analytics counts 688."""
    _, _, bill = sample_bill(Provider.PGE, seed=1)
    reading = bill.usage[0]
    twice = [*bill.usage, reading.model_copy(update={"meter_number": None})]
    assert disagreement(bill, bill.model_copy(update={"usage": twice})) == "usage"
    parts = [reading.model_copy(update={"quantity": reading.quantity - 1}), reading.model_copy(update={"quantity": 1})]
    with_total = [*bill.usage, *parts]
    assert disagreement(bill, bill.model_copy(update={"usage": with_total})) == "usage"
    assert disagreement(bill, bill.model_copy(update={"usage": [*bill.usage[1:], *parts]})) is None


@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
def test_a_sewer_reading_copying_the_waters_goes_to_review(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: ExtractorMode
) -> None:
    """ "Water usage: 1,234 gallons" and "Sewer usage: 1,234 gallons": Gemini read both, the wire made the sewer's
    water, and the bill was stored with 2,468 gallons."""
    text = PLAIN + "Sewer usage this period: 1,234 gallons\n"
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and read.reasons == []
    wire = wire_from_bill(read.bill)
    wire["usage"] = [wire["usage"][0], {**wire["usage"][0], "commodity": "sewer"}]
    fake_gemini.push(200, bill_response(wire))
    report = analyze(text.encode(), provider_hint=None, settings=gemini_settings.model_copy(update={"extractor": mode}))
    assert (report.extractor, report.decision) == ("gemini", "review")
    assert "several_readings:usage" in report.reasons


TWO_COLUMNS_ITEMIZED = TWO_COLUMNS.replace(
    "Usage this period",
    "Electric Charges\n  Energy charge            $150.00\n  Delivery charge          $29.86\n\nUsage this period",
)
"""A "Last bill / This bill" summary, and this bill's charges row by row ($179.86)."""
LAST_BILLS_COLUMN = {
    "total_amount": Decimal("96.72"),
    "previous_balance": Decimal("80.00"),
    "payments_received": Decimal("80.00"),
    "current_charges": Decimal("96.72"),
    "line_items": [],
}
THIS_BILLS_COLUMN = {
    "total_amount": Decimal("179.86"),
    "previous_balance": Decimal("96.72"),
    "payments_received": Decimal("96.72"),
    "current_charges": Decimal("179.86"),
}


@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
@pytest.mark.parametrize("text", [TWO_COLUMNS, TWO_COLUMNS_ITEMIZED], ids=["summary-only", "itemized"])
def test_a_total_gemini_reads_off_the_last_bills_column_stays_in_doubt(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: ExtractorMode, text: str
) -> None:
    """Each column of "Last bill   This bill" adds up on its own: Gemini reading the last bill's (as the rules did)
    settled the rules' two totals, and the bill was accepted with last bill's $96.72 due."""
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and read.reasons == ["conflicting_values:total_amount"]
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill.model_copy(update=LAST_BILLS_COLUMN))))
    settings = gemini_settings.model_copy(update={"extractor": mode})
    report = analyze(text.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.decision) == ("gemini", "review")
    assert "conflicting_values:total_amount" in report.reasons


@pytest.mark.parametrize(("text", "decision"), [(TWO_COLUMNS_ITEMIZED, "accept"), (TWO_COLUMNS, "review")])
def test_a_total_that_adds_up_with_this_bills_charges_settles_two_columns(
    fake_gemini: FakeGemini, gemini_settings: Settings, text: str, decision: str
) -> None:
    """The charges row by row are this bill's whichever column the summary prints: the total they add up to with
    the previous balance and payments is told apart from last bill's. A summary alone tells nothing apart. (With
    EXTRACTOR=auto the rules' reading of the last bill's column disagrees with it: a person looks either way.)"""
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill.model_copy(update=THIS_BILLS_COLUMN))))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    report = analyze(text.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.decision) == ("gemini", decision), report.reasons
    assert ("conflicting_values:total_amount" in report.reasons) == (decision == "review")
    assert report.bill is not None and report.bill.total_amount == Decimal("179.86")


@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
def test_a_previous_balance_read_off_the_last_bills_column_keeps_two_totals_in_doubt(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: ExtractorMode
) -> None:
    """Both columns paid in full, this bill's total with last bill's previous balance and payment adds up with this
    bill's charge rows as well: it settled the two totals, and the bill was stored with last bill's $80.00."""
    read = extract_with_rules([TWO_COLUMNS_ITEMIZED], provider_hint=None)
    assert read.bill is not None
    mixed = {**THIS_BILLS_COLUMN, "previous_balance": Decimal("80.00"), "payments_received": Decimal("80.00")}
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill.model_copy(update=mixed))))
    settings = gemini_settings.model_copy(update={"extractor": mode})
    report = analyze(TWO_COLUMNS_ITEMIZED.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.decision) == ("gemini", "review")
    assert "conflicting_values:total_amount" in report.reasons


THIS_BILL_FIRST = TWO_COLUMNS_ITEMIZED.replace(
    "Last bill       This bill\n"
    "Previous balance         $80.00          $96.72\n"
    "Payments received        -$80.00         -$96.72\n"
    "Current charges          $96.72          $179.86\n"
    "Amount due               $96.72          $179.86\n",
    "This bill       Last bill\n"
    "Previous balance         $96.72          $80.00\n"
    "Payments received        -$96.72         -$80.00\n"
    "Current charges          $179.86         $96.72\n"
    "Amount due               $179.86         $96.72\n",
)
"""The same summary with this bill's column first, where the rules read it."""


@pytest.mark.parametrize(("previous", "decision"), [("96.72", "accept"), ("80.00", "review")])
def test_a_total_read_in_the_rules_column_settles_two_columns_with_its_previous_balance(
    fake_gemini: FakeGemini, gemini_settings: Settings, previous: str, decision: str
) -> None:
    """Where Gemini's total is the rules' it is the column they read, and so must its previous balance be: last
    bill's $80.00 paid adds up as well, and with EXTRACTOR=gemini the current charges alone are compared."""
    assert THIS_BILL_FIRST != TWO_COLUMNS_ITEMIZED
    read = extract_with_rules([THIS_BILL_FIRST], provider_hint=None)
    assert read.bill is not None and read.reasons == ["conflicting_values:total_amount"]
    assert read.bill.total_amount == Decimal("179.86")
    paid = {"previous_balance": Decimal(previous), "payments_received": Decimal(previous)}
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill.model_copy(update={**THIS_BILLS_COLUMN, **paid}))))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    report = analyze(THIS_BILL_FIRST.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.decision) == ("gemini", decision), report.reasons
    assert ("conflicting_values:total_amount" in report.reasons) == (decision == "review")


@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
def test_line_items_gemini_invents_go_to_review(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: ExtractorMode
) -> None:
    """Charges that add up to the printed current charges, printed nowhere, were accepted and published."""
    read = extract_with_rules([PLAIN], provider_hint=None)
    assert read.bill is not None and read.reasons == []
    invented = [
        LineItem(description="Water service", amount=Decimal("600.00")),
        LineItem(description="Water usage", amount=Decimal("634.50")),
    ]
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill.model_copy(update={"line_items": invented}))))
    report = analyze(
        PLAIN.encode(), provider_hint=None, settings=gemini_settings.model_copy(update={"extractor": mode})
    )
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "review", ["no_evidence:line_items"])


NAMED = PLAIN.replace(
    "Customer Account No. 0042-1177\n",
    "Customer Account No. 0042-1177\nCustomer Name: O'BRIEN, JANE Q.\n"
    "Service Address: 12 ELM STREET          Meter 4473 2410\n                 SPRINGFIELD IL 62701\n",
)
"""A bill that names its customer, its service address (on two lines, beside another column) and its meter."""


@pytest.mark.parametrize(
    ("update", "reasons"),
    [
        ({}, []),
        ({"customer_name": "John Smith"}, ["no_evidence:customer_name"]),
        ({"meter_number": "55501234"}, ["no_evidence:meter_number"]),
        ({"provider_name": "Riverside Utility Authority"}, []),
        ({"provider_name": "Totally Invented Utility Co"}, ["no_evidence:provider_name"]),
        ({"provider_name": "Dear Jane Q. O'Brien"}, ["no_evidence:provider_name"]),
        ({"provider_name": "O'BRIEN, JANE Q."}, ["provider_is_customer"]),
    ],
    ids=[
        "as-printed",
        "invented-customer",
        "invented-meter",
        "provider-in-its-own-case",
        "invented-provider",
        "a-greeting-for-a-provider",
        "the-customer-for-a-provider",
    ],
)
def test_a_customer_meter_or_provider_gemini_invents_goes_to_review(
    fake_gemini: FakeGemini, gemini_settings: Settings, update: dict[str, str], reasons: list[str]
) -> None:
    """Gemini's names and numbers are its copy of the text, in its own case and punctuation; one the text does
    not print was stored (and the customer's name published) as the bill's. A provider no template knows is
    published by the name read for it, which was stored unchecked: an invented one, or the customer's."""
    read = extract_with_rules([NAMED], provider_hint=None)
    assert read.bill is not None
    meter = update.pop("meter_number", "4473-2410")
    usage = [read.bill.usage[0].model_copy(update={"meter_number": meter})]
    gemini = read.bill.model_copy(
        update={"customer_name": "O'Brien, Jane Q.", "service_address": "12 Elm Street, Springfield, IL 62701"}
        | {"usage": usage}
        | update
    )
    fake_gemini.push(200, bill_response(wire_from_bill(gemini)))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    report = analyze(NAMED.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.reasons) == ("gemini", reasons)


@pytest.mark.parametrize("label", ["Past Due Amount", "Amount Past Due", "Arrears", "Overdue Balance"])
@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
def test_a_past_due_amount_folded_into_the_charges_goes_to_review(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: ExtractorMode, label: str
) -> None:
    """No previous-balance label: Gemini folded "Arrears $50.00" into the current charges ($135.00 for $85.00). It
    adds up, and analytics counted the unpaid $50.00 as this bill's cost. (The rules read it as the balance.)"""
    text = NO_CURRENT_CHARGES_LINE.replace("Duke Energy", "Piedmont Power").replace("Previous Balance", f"{label:<16}")
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and read.bill.previous_balance == Decimal("50.00")
    unpaid_left_out = {"current_charges": Decimal("135.00"), "line_items": [], "previous_balance": None}
    folded = read.bill.model_copy(update=unpaid_left_out)
    fake_gemini.push(200, bill_response(wire_from_bill(folded)))
    report = analyze(text.encode(), provider_hint=None, settings=gemini_settings.model_copy(update={"extractor": mode}))
    assert report.decision == "review" and "missing_field:previous_balance" in report.reasons, report.reasons


def test_a_past_due_amount_read_as_the_previous_balance_is_no_doubt(offline_settings: Settings) -> None:
    """Nor is a zero past due, nor a sentence about past-due amounts."""
    for past_due in ("Past Due Amount    $0.00", "Past due balances are charged a late fee of $5.00"):
        text = NO_CURRENT_CHARGES_LINE + past_due + "\n"
        report = analyze(text.encode(), provider_hint=None, settings=offline_settings)
        assert (report.decision, report.reasons) == ("accept", []), past_due
    text = NO_CURRENT_CHARGES_LINE.replace("Previous Balance", "Past Due Balance")
    read = extract_with_rules([text], provider_hint=None).bill
    assert read is not None
    items = [item for item in read.line_items if item.description != "Past Due Balance"]
    unpaid = read.model_copy(update={"previous_balance": Decimal("50.00"), "line_items": items})
    assert check_bill(unpaid, text=text) == []


@pytest.mark.parametrize("hint", [None, Provider.PGE])
@pytest.mark.parametrize("mode", [ExtractorMode.AUTO, ExtractorMode.GEMINI])
def test_a_bill_for_a_commodity_its_template_does_not_bill_stays_in_doubt_through_gemini(
    fake_gemini: FakeGemini, gemini_settings: Settings, mode: ExtractorMode, hint: Provider | None
) -> None:
    """A water bill naming PG&E in its letterhead went to Gemini told it was PG&E's, and its reading was accepted
    as PG&E's: Gemini's reading settles nothing about whose bill it is."""
    text = PLAIN.replace("RIVERSIDE UTILITY AUTHORITY", "Pacific Gas and Electric Company")
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None and read.reasons == ["commodity_mismatch"]
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill)))
    report = analyze(text.encode(), provider_hint=hint, settings=gemini_settings.model_copy(update={"extractor": mode}))
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "review", ["commodity_mismatch"])
    assert report.bill is not None and report.bill.provider is None, "not PG&E's without a person's say"
    prompt = " ".join(p.get("text", "") for c in fake_gemini.requests[0].body["contents"] for p in c["parts"])
    assert "Known quirks" not in prompt, "no provider's quirks for a bill whose provider is in doubt"


def test_a_scans_ocr_layer_is_read_by_gemini_and_held_against_the_ocr_text(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """With a key, the image's reading (Gemini's) stands where the OCR text bears it out: two machine readings that
    agree; one the OCR text does not print goes to review as any unconfirmed value does."""
    ocr = read_document(_bill_drawn(PLAIN, render_mode=3))
    assert ocr.ocr_layer
    read = extract_with_rules([PLAIN], provider_hint=None)
    assert read.bill is not None
    fake_gemini.push(200, bill_response(wire_from_bill(read.bill)))
    agreed = analyze(ocr.data, provider_hint=None, settings=gemini_settings)
    assert agreed.extractor == "gemini" and (agreed.decision, agreed.reasons) == ("accept", [])

    fake_gemini.push(
        200, bill_response(wire_from_bill(read.bill.model_copy(update={"total_amount": Decimal("1243.50")})))
    )
    assert analyze(ocr.data, provider_hint=None, settings=gemini_settings).decision == "review"


def test_gas_printed_in_kwh_goes_to_review_through_gemini_too(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """The rules' ``unit_mismatch:gas`` was dropped for Gemini's reading, which took the 2,610 kWh for electricity as
    readily: accepted, with ``EXTRACTOR=auto``, the default (76D)."""
    gemini = NormalizedBill(
        provider_name="Hill Country Gas",
        account_number="5512-0098",
        statement_date=date(2026, 10, 12),
        bill_period_start=date(2026, 9, 8),
        bill_period_end=date(2026, 10, 7),
        due_date=date(2026, 11, 2),
        previous_balance=Decimal("40.00"),
        payments_received=Decimal("40.00"),
        current_charges=Decimal("80.00"),
        total_amount=Decimal("80.00"),
        usage=[UsageReading(commodity=Commodity.ELECTRICITY, quantity=Decimal(2610), unit=UsageUnit.KWH)],
    )
    fake_gemini.push(200, bill_response(wire_from_bill(gemini)))
    report = analyze(GAS_IN_KWH_BILL.format(sections="").encode(), provider_hint=None, settings=gemini_settings)
    assert (report.extractor, report.decision) == ("gemini", "review")
    assert "unit_mismatch:gas" in report.reasons
