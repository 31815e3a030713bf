"""GeminiExtractor against a local fake of generateContent, through the real google-genai client."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from activities.extraction import retried_when_gemini_says
from eval.generate import sample_bill
from extraction.document import read_document
from extraction.gemini import MAX_OUTPUT_TOKENS, GeminiConfig, GeminiExtractor
from extraction.gemini_errors import GeminiMisconfigured, GeminiRejected, GeminiUnavailable
from extraction.pipeline import analyze
from extraction.wire import MalformedModelOutput, WireBill, to_bill
from shared.bill import Commodity, Provider
from shared.settings import ExtractorMode, Settings
from tests.fakes.gemini import FakeGemini, bill_response, error_body
from workflows.policies import NON_RETRYABLE


def wire_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "is_utility_bill": True,
        "provider_name": "Duke Energy",
        "account_number": "9100 1234 5678",
        "customer_name": "Jane Doe",
        "service_address": None,
        "statement_date": "2026-01-05",
        "bill_period_start": "2025-12-03",
        "bill_period_end": "2026-01-02",
        "due_date": "2026-01-26",
        "currency": "USD",
        "total_amount": "84.12",
        "previous_balance": "50.00",
        "payments_received": "-50.00",
        "current_charges": "84.12",
        "usage": [{"commodity": "electricity", "quantity": "512", "unit": "kWh", "meter_number": "123"}],
        "line_items": [
            {
                "description": "Energy",
                "category": "supply",
                "amount": "74.12",
                "commodity": "electricity",
            },
            {
                "description": "Customer charge",
                "category": "fee",
                "amount": "$10.00",
                "commodity": None,
            },
        ],
    }
    fields.update(overrides)
    return fields


@pytest.fixture
def pdf_document() -> Any:
    data, _, _ = sample_bill(Provider.DUKE, seed=1)
    return read_document(data)


def test_success_converts_wire_to_bill(fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any) -> None:
    fake_gemini.push(200, bill_response(wire_fields()))
    bill = GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=Provider.DUKE)
    assert bill is not None
    assert bill.provider is Provider.DUKE
    assert str(bill.total_amount) == "84.12"
    assert str(bill.payments_received) == "50.00"  # sign normalised: money received is positive
    assert bill.usage[0].commodity is Commodity.ELECTRICITY
    assert [str(i.amount) for i in bill.line_items] == ["74.12", "10.00"]


def test_the_models_words_for_a_commodity_are_understood(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any
) -> None:
    """A water bill's "sewer" row, "Electric" or "wastewater" must not throw the whole answer away."""
    items = [
        {"description": "Energy", "category": "supply", "amount": "74.12", "commodity": "Electric"},
        {"description": "Sewer service", "category": "delivery", "amount": "6.00", "commodity": "sewer"},
        {"description": "Customer charge", "category": "fee", "amount": "4.00", "commodity": "stormwater?"},
    ]
    usage = [{"commodity": "Power", "quantity": "512", "unit": "KWH", "meter_number": None}]
    fake_gemini.push(200, bill_response(wire_fields(line_items=items, usage=usage)))
    bill = GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=Provider.DUKE)
    assert bill is not None
    assert [i.commodity for i in bill.line_items] == [Commodity.ELECTRICITY, Commodity.WATER, None]
    assert bill.usage[0].commodity is Commodity.ELECTRICITY


def test_usage_in_unknown_units_is_malformed_and_says_which(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any
) -> None:
    usage = [{"commodity": "electricity", "quantity": "512", "unit": "units", "meter_number": None}]
    fake_gemini.push(200, bill_response(wire_fields(usage=usage)))
    with pytest.raises(MalformedModelOutput, match="usage in unknown terms"):
        GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=Provider.DUKE)


def test_request_sends_pdf_inline_with_schema_prompt_and_bounds(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any
) -> None:
    fake_gemini.push(200, bill_response(wire_fields()))
    GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=Provider.DUKE)
    (request,) = fake_gemini.requests
    assert request.path == "/v1beta/models/gemini-test:generateContent"
    parts = request.body["contents"][0]["parts"]
    inline = parts[0]["inlineData"]
    assert (inline.get("mimeType") or inline.get("mime_type")) == "application/pdf"
    encoded = inline["data"]
    assert base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)) == pdf_document.data
    prompt = " ".join(p.get("text", "") for content in request.body["contents"] for p in content["parts"])
    assert "Duke Energy" in prompt and "Current Bill" in prompt  # provider quirks are included
    assert "(1,000 gal)" in prompt, "thousands of gallons are multiplied out, or the reading goes to review"
    config = request.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["maxOutputTokens"] == MAX_OUTPUT_TOKENS
    thinking = config["thinkingConfig"]
    assert (thinking.get("thinkingBudget", thinking.get("thinking_budget"))) == 0, "thinking would eat the answer"
    schema = config.get("responseSchema") or config.get("responseJsonSchema")
    assert schema is not None and "total_amount" in str(schema)


def test_a_thinking_budget_is_sent_and_added_to_the_answer_limit(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any
) -> None:
    """A model that cannot stop thinking (gemini-2.5-pro) gets its budget, and the answer keeps its room."""
    fake_gemini.push(200, bill_response(wire_fields()))
    settings = gemini_settings.model_copy(update={"gemini_thinking_budget": 1024})
    GeminiExtractor.from_settings(settings).extract(pdf_document, provider=Provider.DUKE)
    config = fake_gemini.requests[0].body["generationConfig"]
    thinking = config["thinkingConfig"]
    assert thinking.get("thinkingBudget", thinking.get("thinking_budget")) == 1024
    assert config["maxOutputTokens"] == MAX_OUTPUT_TOKENS + 1024


@pytest.mark.parametrize("budget", [-1, 32769])
def test_a_thinking_budget_out_of_range_is_refused_at_start(budget: int) -> None:
    with pytest.raises(ValidationError, match="gemini_thinking_budget"):
        Settings(gemini_thinking_budget=budget)


@pytest.mark.parametrize("quantity", ["-245", "\u2212245"])
def test_net_metered_usage_keeps_its_sign(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any, quantity: str
) -> None:
    """A negative reading is a solar customer's, not a malformed answer."""
    usage = [{"commodity": "electricity", "quantity": quantity, "unit": "kWh", "meter_number": None}]
    fake_gemini.push(200, bill_response(wire_fields(usage=usage)))
    bill = GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=None)
    assert bill is not None and bill.usage[0].quantity == Decimal("-245")


@pytest.mark.parametrize("amount", ["\u221245.20", "\u2212$45.20", "\u221245.2"])
def test_a_credit_in_typeset_minus_is_an_amount(amount: str) -> None:
    """The model copies the page's U+2212: a net-metering credit, not a malformed answer."""
    bill = to_bill(WireBill(**wire_fields(total_amount=amount, current_charges=amount)), provider=None)
    assert bill.total_amount == bill.current_charges == Decimal("-45.20")


@pytest.mark.parametrize(
    ("written", "currency"),
    [("$", "USD"), ("US$", "USD"), (" usd ", "USD"), (None, "USD"), ("cad", "CAD"), ("€", "EUR")],
)
def test_currency_symbols_become_codes(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any, written: str | None, currency: str
) -> None:
    """ "$" is no ISO 4217 code, but no reason to throw the whole reading away."""
    fake_gemini.push(200, bill_response(wire_fields(currency=written)))
    bill = GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=None)
    assert bill is not None and bill.currency == currency
    prompt = fake_gemini.requests[0].body["contents"][0]["parts"][1]["text"]
    assert "ISO 4217" in prompt


def test_not_a_bill_returns_none(fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any) -> None:
    fake_gemini.push(200, bill_response(wire_fields(is_utility_bill=False)))
    assert GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=None) is None


@pytest.mark.parametrize(
    "reply",
    [
        bill_response("{not json"),
        bill_response({"is_utility_bill": True}),
        bill_response(wire_fields(total_amount="eighty dollars")),
        bill_response(wire_fields(due_date="someday")),
        bill_response(
            wire_fields(usage=[{"commodity": "plasma", "quantity": "1", "unit": "kWh", "meter_number": None}])
        ),
        bill_response(wire_fields(), finish_reason="MAX_TOKENS"),
        bill_response(wire_fields(), finish_reason="SAFETY"),
        {"candidates": [], "promptFeedback": {"blockReason": "SAFETY"}},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": 5}]}, "finishReason": "STOP"}]},
    ],
    ids=[
        "bad-json",
        "missing-fields",
        "bad-amount",
        "bad-date",
        "bad-commodity",
        "max-tokens",
        "safety",
        "prompt-blocked",
        "sdk-refuses-the-body",  # a pydantic ValidationError out of the SDK was retried untyped, then failed the job
    ],
)
def test_malformed_output_is_a_typed_error(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any, reply: dict[str, Any]
) -> None:
    fake_gemini.push(200, reply)
    with pytest.raises(MalformedModelOutput):
        GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=None)


def test_the_fields_a_model_got_wrong_are_named_without_their_values(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any
) -> None:
    """The operator's log (``extraction.engine``) says which fields, never a name or an account number."""
    fake_gemini.push(200, bill_response(wire_fields(account_number="9" * 70, customer_name="x\x00Jane Doe")))
    with pytest.raises(MalformedModelOutput) as refused:
        GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=None)
    assert "account_number: String should have at most 64 characters" in str(refused.value)
    assert "customer_name" in str(refused.value)
    assert "9" * 20 not in str(refused.value) and "Jane" not in str(refused.value)


@pytest.mark.parametrize(
    "body",
    [{}, {"error": {"code": 503, "message": "upstream unavailable", "status": "UNAVAILABLE"}}],
    ids=["empty-body", "a-gateways-error-under-a-200"],
)
def test_an_answer_with_no_candidates_and_no_block_reason_is_unavailable(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any, body: dict[str, Any]
) -> None:
    """It read "no candidates (prompt blocked?)" and sent the bill to review: the moment's problem, retried."""
    fake_gemini.push(200, body)
    with pytest.raises(GeminiUnavailable):
        GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=None)


def test_a_429_says_its_quota_and_the_delay_gemini_asked_for(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any
) -> None:
    """A day's quota read like a minute's burst, and the retry came after the policy's 2 s, not Gemini's 37 s."""
    body = error_body(429, "You exceeded your current quota")
    body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaMetric": "generate_content_requests", "quotaId": "GenerateRequestsPerDay"}],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
    ]
    fake_gemini.push(429, body)
    with pytest.raises(GeminiUnavailable) as busy:
        GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=None)
    assert busy.value.retry_delay == timedelta(seconds=37)
    assert "quota GenerateRequestsPerDay; retry in 37s" in str(busy.value)
    failure = retried_when_gemini_says(busy.value)
    assert (failure.type, failure.next_retry_delay) == ("GeminiUnavailable", timedelta(seconds=37))


def test_429_is_unavailable_then_a_retry_succeeds(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any
) -> None:
    fake_gemini.push(429, error_body(429))
    fake_gemini.push(200, bill_response(wire_fields()))
    extractor = GeminiExtractor.from_settings(gemini_settings)
    with pytest.raises(GeminiUnavailable):
        extractor.extract(pdf_document, provider=None)
    assert fake_gemini.request_count == 1  # the SDK did not retry on its own
    assert extractor.extract(pdf_document, provider=None) is not None
    assert fake_gemini.request_count == 2


@pytest.mark.parametrize("status", [409, 499, 500, 503])
def test_server_errors_are_unavailable(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any, status: int
) -> None:
    fake_gemini.push(status, error_body(status))
    with pytest.raises(GeminiUnavailable):
        GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=None)
    assert fake_gemini.request_count == 1


def test_timeout_is_unavailable(fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any) -> None:
    fake_gemini.push(200, bill_response(wire_fields()), delay=2.0)
    settings = gemini_settings.model_copy(update={"gemini_timeout_seconds": 0.3})
    with pytest.raises(GeminiUnavailable):
        GeminiExtractor.from_settings(settings).extract(pdf_document, provider=None)


@pytest.mark.parametrize(
    "body",
    ['{"candidates": [{"content": {"parts": [{"text": "{\\"is_utility', "<html><body>Gateway</body></html>"],
    ids=["cut-off", "proxy-page"],
)
def test_an_answer_that_is_not_json_is_unavailable(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any, body: str
) -> None:
    """A 200 with a cut-off or foreign body raised a bare JSONDecodeError out of the activity."""
    fake_gemini.push(200, body)
    fake_gemini.push(200, bill_response(wire_fields()))
    extractor = GeminiExtractor.from_settings(gemini_settings)
    with pytest.raises(GeminiUnavailable):
        extractor.extract(pdf_document, provider=None)
    assert extractor.extract(pdf_document, provider=None) is not None


def test_bad_request_is_rejected_not_retried(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any
) -> None:
    fake_gemini.push(400, error_body(400))
    with pytest.raises(GeminiRejected):
        GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=None)


def key_invalid_body() -> dict[str, Any]:
    """What Gemini answers to a key it does not know: a 400, told apart only by its details."""
    body = error_body(400, "API key not valid. Please pass a valid API key.")
    body["error"]["details"] = [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}
    ]
    return body


@pytest.mark.parametrize(
    "reply",
    [
        (400, key_invalid_body()),
        (401, error_body(401)),
        (403, error_body(403)),
        (404, error_body(404, "model retired")),
        (400, error_body(400, "Budget 0 is invalid. This model only works in thinking mode.")),
        (400, {"error": {"code": 400, "message": "User location is not supported", "status": "FAILED_PRECONDITION"}}),
        (400, error_body(400, "JSON mode is not enabled for models/gemma-3-27b-it")),
        (400, error_body(400, "Invalid JSON payload received. Unknown name \"thinkingConfig\" at 'generation_config'")),
        (405, error_body(405, "Method Not Allowed")),  # GEMINI_BASE_URL at a server that is not Gemini's API (74B)
        (501, error_body(501, "Unsupported method ('POST')")),
    ],
    ids=[
        "key-invalid",
        "unauthenticated",
        "permission-denied",
        "model-not-found",
        "always-thinks",
        "region",
        "model-without-json-mode",
        "a-field-the-api-version-does-not-know",
        "base-url-not-gemini-405",
        "base-url-not-gemini-501",
    ],
)
def test_a_deployment_problem_is_misconfigured_and_retryable(
    fake_gemini: FakeGemini,
    gemini_settings: Settings,
    pdf_document: Any,
    reply: tuple[int, dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bad key, project or model fails every job alike: retried (for up to 30 minutes), not sent to review."""
    fake_gemini.push(*reply)
    with caplog.at_level(logging.ERROR, logger="extraction.gemini"), pytest.raises(GeminiMisconfigured):
        GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=None)
    assert "GeminiMisconfigured" not in NON_RETRYABLE
    (record,) = [r for r in caplog.records if r.name == "extraction.gemini"]
    assert record.levelno == logging.ERROR and "GEMINI_API_KEY" in record.getMessage()
    assert "test-key" not in f"{record.getMessage()} {record.__dict__}", "the key itself is never logged"


def test_text_documents_are_sent_as_text(fake_gemini: FakeGemini, gemini_settings: Settings) -> None:
    fake_gemini.push(200, bill_response(wire_fields()))
    document = read_document(b"Account number: 1234\nAmount due: $84.12\nDue date: 01/26/2026\n")
    GeminiExtractor.from_settings(gemini_settings).extract(document, provider=None)
    parts = fake_gemini.requests[0].body["contents"][0]["parts"]
    assert "Amount due: $84.12" in parts[0]["text"]


def test_a_config_in_a_log_line_never_shows_its_key() -> None:
    config = GeminiConfig.from_settings(Settings(gemini_api_key="AIza-secret-key", gemini_model="gemini-test"))
    assert "AIza-secret-key" not in repr(config) and "gemini-test" in repr(config)


EURO_TEXT = """\
STADTWERKE RIVERSIDE
Customer Account No. 0042-1177
Statement Date 5 January 2026      Due Date 2026-01-26
Service Period: Dec 3, 2025 through Jan 2, 2026
Previous Balance                       200,00 \u20ac
Payments - Thank You                   200,00 CR
Current Charges                        1.234,50 \u20ac
Electricity Charges
  Energy charge                        1.210,00 \u20ac
  Standing charge                      24,50 \u20ac
Total Current Charges                  1.234,50 \u20ac
Amount Due                             1.234,50 \u20ac
Electricity used this period: 2.412 kWh
"""
"""A bill the rules read in decimal commas."""


def _euro_fields(**overrides: Any) -> dict[str, Any]:
    """Gemini's reading of ``EURO_TEXT``, its figures copied as printed."""
    items = [
        {"description": "Energy charge", "category": "supply", "amount": "1.210,00", "commodity": "electricity"},
        {"description": "Standing charge", "category": "fee", "amount": "24,5", "commodity": "electricity"},
    ]
    fields = wire_fields(
        provider_name="Stadtwerke Riverside",
        account_number="0042-1177",
        customer_name=None,  # the bill names none
        currency="EUR",
        total_amount="1.234,50",
        previous_balance="200,00",
        payments_received="-200,00",
        current_charges="1234.50",  # as the prompt asks: it reads one way only
        usage=[{"commodity": "electricity", "quantity": "2.412", "unit": "kWh", "meter_number": None}],
        line_items=items,
    )
    return {**fields, **overrides}


def test_a_decimal_comma_bills_figures_written_as_printed_are_read_in_its_convention(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """Gemini copying the bill's "1.234,50" failed the whole answer as malformed; its "2.412" kWh read as 2.412."""
    fake_gemini.push(200, bill_response(_euro_fields()))
    document = read_document(EURO_TEXT.encode())
    bill = GeminiExtractor.from_settings(gemini_settings).extract(document, provider=None)
    assert bill is not None
    assert (bill.total_amount, bill.previous_balance, bill.payments_received, bill.current_charges) == (
        Decimal("1234.50"),
        Decimal("200.00"),
        Decimal("200.00"),
        Decimal("1234.50"),
    )
    assert [item.amount for item in bill.line_items] == [Decimal("1210.00"), Decimal("24.50")]
    assert [reading.quantity for reading in bill.usage] == [Decimal("2412")]


@pytest.mark.parametrize(
    ("written", "amount"),
    [
        ("1.234,50", "1234.50"),
        ("1 234,50", "1234.50"),
        ("1\u00a0234,50", "1234.50"),
        ("1.234", "1234"),
        ("-1.234,50", "-1234.50"),
        ("1234.50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("$1,234.50", "1234.50"),
        ("12,5", "12.50"),
    ],
)
def test_an_amount_on_a_decimal_comma_bill_reads_in_its_convention_or_as_the_prompt_asks(
    fake_gemini: FakeGemini, gemini_settings: Settings, written: str, amount: str
) -> None:
    fake_gemini.push(200, bill_response(_euro_fields(total_amount=written)))
    bill = GeminiExtractor.from_settings(gemini_settings).extract(read_document(EURO_TEXT.encode()), provider=None)
    assert bill is not None and bill.total_amount == Decimal(amount)


@pytest.mark.parametrize("written", ["1,234,56", "12.5.6", "1.234,5,6", "1,234", "1.23.456", "1,234.567"])
def test_an_amount_malformed_in_a_decimal_comma_bills_convention_is_refused(
    fake_gemini: FakeGemini, gemini_settings: Settings, written: str
) -> None:
    """ "1,234" is 1.234 on this bill, no amount; read the US way it would be 1,234: neither is taken."""
    fake_gemini.push(200, bill_response(_euro_fields(total_amount=written)))
    with pytest.raises(MalformedModelOutput, match="not an amount"):
        GeminiExtractor.from_settings(gemini_settings).extract(read_document(EURO_TEXT.encode()), provider=None)


@pytest.mark.parametrize("written", ["1.234,56", "12,5", "84,12", "1.234"])
def test_a_decimal_comma_amount_on_a_us_bill_is_refused(
    fake_gemini: FakeGemini, gemini_settings: Settings, pdf_document: Any, written: str
) -> None:
    """The text writes no decimal comma: the model read a figure it does not print, or its convention is in doubt.
    Refused, the bill goes to a person with the rules' reading, rather than with either guess."""
    fake_gemini.push(200, bill_response(wire_fields(total_amount=written)))
    with pytest.raises(MalformedModelOutput, match="not an amount"):
        GeminiExtractor.from_settings(gemini_settings).extract(pdf_document, provider=Provider.DUKE)


def test_a_decimal_comma_bill_read_by_gemini_in_its_convention_is_checked_as_the_rules_reading(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """With EXTRACTOR=gemini the reading stands: its figures are the text's, only the euros are in doubt."""
    fake_gemini.push(200, bill_response(_euro_fields()))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    report = analyze(EURO_TEXT.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.decision, report.reasons) == ("gemini", "review", ["non_usd_currency"])
    assert report.bill is not None and report.bill.total_amount == Decimal("1234.50")


def _euro_usage(printed: str, written: str) -> Decimal:
    """The kWh Gemini's ``written`` reading is taken as, on ``EURO_TEXT`` printing its usage ``printed``."""
    text = EURO_TEXT.replace("2.412 kWh", printed)
    usage = [{"commodity": "electricity", "quantity": written, "unit": "kWh", "meter_number": None}]
    bill = to_bill(WireBill.model_validate(_euro_fields(usage=usage)), provider=None, text=text)
    return bill.usage[0].quantity


@pytest.mark.parametrize(
    ("printed", "written", "quantity"),
    [
        ("12,345 kWh", "12.345", "12.345"),  # a plain decimal point: once read as 12345
        ("-12,345 kWh", "-12.345", "-12.345"),
        ("12.345 kWh", "12.345", "12345"),  # copied as printed: the bill's thousands
        ("12.345 kWh (12,345 MWh)", "12.345", "12345"),  # printed both ways: its convention, and the evidence check
        ("112,345 kWh", "12.345", "12345"),  # printed within a longer figure only
        ("12,3456 kWh", "12.345", "12345"),
        ("12,345 kWh", "12,345", "12.345"),
        ("1.212,345 kWh", "1.212,345", "1212.345"),
    ],
)
def test_a_quantity_on_a_decimal_comma_bill_reads_as_the_text_prints_it(
    printed: str, written: str, quantity: str
) -> None:
    assert _euro_usage(printed, written) == Decimal(quantity)


def test_a_quantity_the_text_prints_with_a_decimal_comma_agrees_with_the_rules_reading(
    fake_gemini: FakeGemini, gemini_settings: Settings
) -> None:
    """Gemini's "12.345" for the bill's "12,345 kWh" disagreed with the rules and showed the reviewer 12,345 kWh."""
    text = EURO_TEXT.replace("2.412 kWh", "12,345 kWh")
    usage = [{"commodity": "electricity", "quantity": "12.345", "unit": "kWh", "meter_number": None}]
    fake_gemini.push(200, bill_response(_euro_fields(usage=usage)))
    settings = gemini_settings.model_copy(update={"extractor": ExtractorMode.GEMINI})
    report = analyze(text.encode(), provider_hint=None, settings=settings)
    assert (report.extractor, report.reasons) == ("gemini", ["non_usd_currency"])
    assert report.bill is not None and [u.quantity for u in report.bill.usage] == [Decimal("12.345")]
