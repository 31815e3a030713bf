"""Which extractor reads a document: rules, Gemini, or rules checked against Gemini.

``EXTRACTOR=auto`` trusts the rules alone only when the text has a provider template's
keywords (the account's provider hint alone is a guess) and the bill verifies; otherwise
Gemini (when configured) reads it, and a disagreement with the rules on a core field, a part of
the balance or the usage sends the bill to review (``extractor_disagreement:<field>``).
``EXTRACTOR=gemini`` takes Gemini's reading, but the rules still read a text for the doubts no
reading settles (``_CARRIED_THROUGH_GEMINI``) and to witness the current charges (``_WITNESS_ONLY_FIELDS``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from decimal import Decimal

from pydantic import BaseModel

from extraction.checks import check_bill, with_implied_charges
from extraction.document import TEXT, Document
from extraction.gemini_errors import GeminiRejected
from extraction.rules.extractor import RuleResult, extract_with_rules
from extraction.rules.usage import GAS_IN_KWH, UNKNOWN_COMMODITY
from extraction.wire import MalformedModelOutput
from shared.bill import Commodity, NormalizedBill, Provider, UsageUnit
from shared.settings import ExtractorMode, Settings

logger = logging.getLogger(__name__)

_CARRIED_THROUGH_GEMINI = frozenset(
    {
        "provider_mismatch",
        "commodity_mismatch",
        "non_usd_currency",
        "conflicting_values:usage",
        "conflicting_values:period",
        "conflicting_values:due_date",
        "conflicting_values:statement_date",
        "notice_deadline:due_date",
        # Gemini's reading of "Gas used: 2,610 kWh" is electricity as readily as the rules' was (76D).
        GAS_IN_KWH,
        UNKNOWN_COMMODITY,
    }
)
"""The rules' doubts Gemini's reading cannot settle: see ``_gemini``."""
_TWO_TOTALS = "conflicting_values:total_amount"
"""Settled by Gemini's reading only where this bill's charges tell its total apart (``_settles_the_total``)."""
CORE_FIELDS = ("account_number", "total_amount", "bill_period_start", "bill_period_end", "due_date")
_COMPARED_FIELDS = (*CORE_FIELDS, "previous_balance", "payments_received", "current_charges")
"""The core fields and the balance's parts: analytics reports a bill's cost as its current charges, and a
reading that folds an unpaid previous balance into them still adds up to the total. The current charges
last: a bill may print none (its line items imply them), and another previous balance implies other ones."""
_CARRIED_OVER = ("previous_balance", "payments_received")
"""The balance's parts that a reading may not leave out where the rules read them (not zero), in either mode."""
_WITNESS_ONLY_FIELDS = ("current_charges",)
"""What the rules' reading witnesses against Gemini's with ``EXTRACTOR=gemini``: the cost analytics reports, and
the one figure no check confirms. A reading that leaves out a printed previous balance and folds it into the
charges ($135.00 for $85.00) adds up, and its figure is printed (as the total): it was accepted."""
_UNWITNESSED_WHEN = {
    "current_charges": "sum_mismatch",
    "previous_balance": "balance_mismatch",
    "payments_received": "balance_mismatch",
}
"""A balance's part that the rules reading does not add up with is no witness against Gemini's: the
rules misread it, most likely, and that is why Gemini was asked."""


class Extraction(BaseModel):
    """What an extractor read, and its own doubts (check_bill adds the rest)."""

    bill: NormalizedBill | None
    reasons: list[str]
    extractor: str
    pages: int


def extract(document: Document, *, provider_hint: Provider | None, settings: Settings) -> Extraction:
    """Read ``document``; raises GeminiUnavailable (busy) or GeminiMisconfigured (bad key or
    model) when Gemini is needed, so Temporal retries."""
    if document.content_type == TEXT and not document.has_text_layer:
        # A few characters of text: no bill, and no image to read one from (``no_text_layer`` told the reviewer
        # to check the values on "a photo or a scan"), so nothing for Gemini either.
        return Extraction(bill=None, reasons=["not_a_bill"], extractor="rules", pages=document.page_count)
    mode = settings.extractor
    if mode is ExtractorMode.RULES or not settings.gemini_configured:
        result, _ = _rules(document, provider_hint)
        if mode is ExtractorMode.GEMINI:
            result.reasons.append("gemini_not_configured")
        return result
    if not document.has_text_layer:
        return _gemini(document, provider_hint, settings, rules=None)
    if mode is ExtractorMode.GEMINI:
        # Gemini's reading, but the rules' doubts no reading settles (a value the text prints twice, another
        # provider's bill) are the text's: without them two meters' 800 and 200 kWh, Gemini reading the first,
        # were accepted. Their current charges witness Gemini's too (``_WITNESS_ONLY_FIELDS``). Reading the
        # text costs milliseconds beside Gemini's seconds.
        rules_reading, _ = _rules(document, provider_hint)
        return _gemini(document, provider_hint, settings, rules=rules_reading, witness_only=True)
    rules, template_matched = _rules(document, provider_hint)
    if template_matched and _trusted(rules, document):
        return rules
    return _gemini(document, provider_hint, settings, rules=rules)


def _rules(document: Document, hint: Provider | None) -> tuple[Extraction, bool]:
    """The rules' reading, and whether the text matched its template's keywords (not just the hint)."""
    if not document.has_text_layer:
        return Extraction(bill=None, reasons=["no_text_layer"], extractor="rules", pages=document.page_count), False
    result: RuleResult = extract_with_rules(document.pages, provider_hint=hint)
    # A scan's OCR text is a machine's reading of the image, as Gemini's is: no evidence of its own values (an OCR
    # slip in a date or a usage passed every check). Not carried through Gemini's reading, which, read from the
    # image, the checks then hold against this text: two readings that agree.
    extraction = Extraction(
        bill=with_implied_charges(result.bill) if result.bill is not None else None,
        reasons=[*result.reasons, *(["ocr_text_layer"] if document.ocr_layer else [])],
        extractor=result.extractor,
        pages=document.page_count,
    )
    return extraction, result.template_matched


def _trusted(rules: Extraction, document: Document) -> bool:
    return rules.bill is not None and not rules.reasons and not check_bill(rules.bill, text=document.text)


def _gemini(
    document: Document,
    hint: Provider | None,
    settings: Settings,
    *,
    rules: Extraction | None,
    witness_only: bool = False,
) -> Extraction:
    """Gemini's reading, with the doubts of the ``rules`` reading it cannot settle. The rules' reading stands
    against Gemini's (``disagreement``) and in for it when Gemini gives none; with ``witness_only``
    (``EXTRACTOR=gemini``) against its current charges only (``_WITNESS_ONLY_FIELDS``), and never in for it."""
    provider = _provider_shown(rules, hint)
    # Gemini can settle what the rules reader doubted, but not that the bill is another provider's,
    # nor its currency (it writes "$" for Canadian dollars as readily as for US ones), nor which of two
    # readings or dates the text prints is the bill's: both are in the text and no sum tells them apart
    # (two meters' 800 and 200 kWh, Gemini reading the first). Two account numbers are told apart by the
    # job's account, two totals only by this bill's charges (``_settles_the_total``).
    carried = _carried(rules, None)
    pages = document.page_count
    from extraction.gemini import GeminiExtractor  # google-genai weighs ~50 MB: load it when used

    fallback = rules.bill if rules is not None and not witness_only else None
    try:
        bill = GeminiExtractor.from_settings(settings).extract(document, provider=provider)
    except MalformedModelOutput as unread:
        # Said, cut to a line: a prompt or model regression (every answer fenced, a unit it started writing) reads
        # apart from a safety block or a cut-off answer only here; the reviewer sees the code alone.
        logger.warning("gemini's answer could not be read", extra={"error": str(unread)[:300]})
        return Extraction(bill=fallback, reasons=[*carried, "malformed_model_output"], extractor="gemini", pages=pages)
    except GeminiRejected as rejected:  # this document, not the deployment: a person reads it
        logger.warning("gemini refused the document", extra={"error": str(rejected)})
        return Extraction(bill=fallback, reasons=[*carried, "gemini_rejected"], extractor="gemini", pages=pages)
    if bill is None:  # a person decides, with the rules' reading as a draft when the document is a bill after all
        return Extraction(bill=fallback, reasons=[*carried, "not_a_bill"], extractor="gemini", pages=pages)
    bill = with_implied_charges(bill)  # before the readings are compared: the rules' charges witness against Gemini's
    reasons = _carried(rules, bill)
    differing = None
    if rules is not None and rules.bill is not None:
        differing = disagreement(rules.bill, bill, witness_only=witness_only)
    if differing is not None:
        reasons.append(f"extractor_disagreement:{differing}")
    return Extraction(bill=bill, reasons=reasons, extractor="gemini", pages=pages)


def _provider_shown(rules: Extraction | None, hint: Provider | None) -> Provider | None:
    """The provider whose quirks Gemini is told of, and whose bill its reading is: the one the document shows, over
    the one its account names. None where the rules doubt the provider their template matched bills this commodity
    (``commodity_mismatch``): a water bill naming PG&E in its letterhead was read, and stored, as PG&E's."""
    known = rules.bill.provider if rules is not None and rules.bill is not None else None
    if rules is None or "commodity_mismatch" not in rules.reasons:
        return known or hint
    return hint if hint is not known else None


def _carried(rules: Extraction | None, gemini: NormalizedBill | None) -> list[str]:
    """The rules' doubts that stand through Gemini's reading (``_CARRIED_THROUGH_GEMINI``), and their two totals
    unless the charges they read row by row tell Gemini's apart (``_settles_the_total``)."""
    if rules is None:
        return []
    settled = rules.bill is not None and gemini is not None and _settles_the_total(rules.bill, gemini)
    carried = _CARRIED_THROUGH_GEMINI if settled else _CARRIED_THROUGH_GEMINI | {_TWO_TOTALS}
    return [reason for reason in rules.reasons if reason in carried]


def _settles_the_total(rules: NormalizedBill, gemini: NormalizedBill) -> bool:
    """Whether Gemini's total is the one of the text's two that adds up with this bill's charges: the rows the rules
    read under the charges' heading, with Gemini's previous balance and payments. Not with Gemini's own current
    charges: each column of a "Last bill   This bill" summary adds up on its own, and Gemini (as the rules) may
    read the last bill's; nor because Gemini's total is the rules' (they read the first column). A summary and
    no rows tell nothing apart: a person reads the column headings. Its previous balance must be this bill's too
    (``_previous_balance_is_this_bills``)."""
    if not rules.line_items or gemini.total_amount is None:
        return False
    charges = sum((item.amount for item in rules.line_items), Decimal(0))
    return _unpaid(gemini) + charges == gemini.total_amount and _previous_balance_is_this_bills(rules, gemini)


def _previous_balance_is_this_bills(rules: NormalizedBill, gemini: NormalizedBill) -> bool:
    """Whether Gemini's previous balance comes from the column its total does. The sum alone cannot tell: with both
    columns paid in full, this bill's total and last bill's $80.00 paid add up as well as this bill's $96.72 paid.
    The rules read one column throughout: where Gemini's total is theirs, its previous balance must be theirs too;
    where it is the other column's, the rules' total is last bill's amount due, and that is what this bill carries
    over as its previous balance (a summary with no previous balance row prints nothing to check it by: a person
    reads it). The payments then follow from the sum."""
    if gemini.total_amount == rules.total_amount:
        return gemini.previous_balance == rules.previous_balance
    return rules.total_amount is not None and gemini.previous_balance == rules.total_amount


def disagreement(rules: NormalizedBill, other: NormalizedBill, *, witness_only: bool = False) -> str | None:
    """The first field two readings differ on, so a reviewer sees where to look: a core field, a part of the
    balance or the usage (its total in each commodity and unit, ``_usage_totals``: "12 CCF" is not 12 gallons)
    both of them found; a part of the balance only where the ``rules`` reading adds up with it (see
    ``_UNWITNESSED_WHEN``); a previous balance or payment the rules read there that the other leaves out
    (``_CARRIED_OVER``); and a previous balance the rules read, not all paid, that the other leaves out. With
    ``witness_only`` the current charges alone (``_WITNESS_ONLY_FIELDS``), and those left out."""
    for name in _compared_fields(rules, _WITNESS_ONLY_FIELDS if witness_only else _COMPARED_FIELDS):
        left, right = _core(getattr(rules, name)), _core(getattr(other, name))
        if left is not None and right is not None and left != right:
            return name
    for name in _compared_fields(rules, _CARRIED_OVER):
        if getattr(rules, name) and not getattr(other, name):  # none, 0.00 or -0.00
            # Paid in full, it adds up left out, and the bill was stored with neither figure it prints.
            return name
    if _unpaid(rules) and not other.previous_balance:  # none, or 0.00
        # A reading that leaves out the printed previous balance and folds what is unpaid into the charges adds
        # up; where the rules' balance does not (a late fee on its own line), their charges witnessed nothing.
        return "previous_balance"
    if witness_only:
        return None
    usage_a, usage_b = _usage_totals(rules), _usage_totals(other)
    return "usage" if usage_a and usage_b and usage_a != usage_b else None


def _unpaid(bill: NormalizedBill) -> Decimal:
    """What a bill carries over from the last one: its previous balance less the payments since."""
    return (bill.previous_balance or Decimal(0)) - (bill.payments_received or Decimal(0))


def _usage_totals(bill: NormalizedBill) -> dict[tuple[Commodity, UsageUnit], Decimal]:
    """A bill's usage as analytics counts it: the sum of its readings in each commodity and unit. Compared as a
    set, Gemini's 344 kWh twice (a meter's and the bill's) or 150, 194 and their total 344 were the rules' 344,
    and stored, counted twice."""
    totals: dict[tuple[Commodity, UsageUnit], Decimal] = defaultdict(Decimal)
    for reading in bill.usage:
        totals[(reading.commodity, reading.unit)] += reading.quantity
    return {kind: total.normalize() for kind, total in totals.items()}


def _compared_fields(rules: NormalizedBill, fields: tuple[str, ...]) -> tuple[str, ...]:
    doubts = check_bill(rules, text=None)
    unwitnessed = {name for name, doubt in _UNWITNESSED_WHEN.items() if doubt in doubts}
    if "balance_mismatch" in doubts and not rules.line_items:
        unwitnessed.add("current_charges")  # no line items add up to them: the misread part may be they
    return tuple(name for name in fields if name not in unwitnessed)


def _core(value: object) -> object:
    if isinstance(value, str):
        return "".join(ch for ch in value.upper() if ch.isalnum()) or None
    if isinstance(value, Decimal):
        return value.normalize()
    return value
