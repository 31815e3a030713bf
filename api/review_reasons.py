"""What a review reason means, in a reviewer's words, and which bill fields it points at: the review page flags them
where they are edited, and the JSON API gives both beside each reason code (``reason_details``).

Reason codes come from ``extraction.checks`` (``missing_field:due_date``, ``sum_mismatch``…);
a code this table does not know still shows in the list of reasons, just not beside a field.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from api.schemas import ReasonDetail
from extraction.checks import items_sum
from shared.bill import NormalizedBill

BILL_FIELDS = frozenset(NormalizedBill.model_fields)

_FIELDS_BY_CODE: dict[str, tuple[str, ...]] = {
    "sum_mismatch": ("current_charges", "line_items"),
    "balance_mismatch": ("total_amount", "previous_balance", "payments_received", "current_charges"),
    "bad_period": ("bill_period_start", "bill_period_end"),
    "one_day_period": ("bill_period_start", "bill_period_end"),
    "overlaps_stored_bill": ("bill_period_start", "bill_period_end"),
    "period_days_mismatch": ("bill_period_start", "bill_period_end"),
    "bad_statement_date": ("statement_date", "bill_period_end"),
    "bad_due_date": ("due_date",),
    "dated_in_the_future": ("statement_date", "bill_period_start", "bill_period_end", "due_date"),
    "unit_mismatch": ("usage",),
    "account_mismatch": ("account_number",),
    "non_usd_currency": ("currency",),
    "unknown_currency": ("currency",),
    "provider_mismatch": ("provider", "provider_name"),
    "commodity_mismatch": ("provider", "provider_name"),
    "provider_is_customer": ("provider_name", "customer_name"),
    "ambiguous_date_order": ("bill_period_start", "bill_period_end", "statement_date", "due_date"),
}

_FIELDS_BY_SUBJECT: dict[str, tuple[str, ...]] = {
    "period": ("bill_period_start", "bill_period_end"),
    "meter_number": ("usage",),
}
"""Subjects that are no one field of the bill (``conflicting_values:period``; a meter is in the usage table)."""

_TEXT_BY_CODE: dict[str, str] = {
    "missing_field": "missing",
    "notice_deadline": (
        "printed only in a notice's or a plan's deadline (a warning of disconnection, a past-due amount's, an"
        " installment's or an arrangement's, under a notice's heading): check that it is this bill's own due date"
    ),
    "no_evidence": "not found in the bill's text",
    "replaces_corrected_bill": (
        "a re-issue of a statement a reviewer corrected (its statement date is later): approved or corrected, it"
        " replaces their bill, their figures kept in its history. Compare the two (the task names it): carry over"
        " what they set that this statement gets wrong too, or reject it to keep theirs"
    ),
    "reads_otherwise_than_stored": (
        "another copy of a statement already stored (its period and statement date), whose figures read otherwise: one"
        " of the two was misread. The stored bill stands whatever you decide (the task names it): approve this copy"
        " if it reads as printed (it ends a duplicate) or reject it; if the stored bill is the one misread, reopen it"
        " and correct it"
    ),
    "overlaps_stored_bill": (
        "its billing period overlaps a stored bill's of this account by more days than one statement's read dates move"
        " (the task names it): approved, both stand and the days they share count twice. Approve it if both are this"
        " account's real bills; if it re-issues the stored bill, reject it, then reopen that bill and correct it"
    ),
    "period_stored_since_decision": (
        "a correction sent for this task was not stored: while it was on its way, another job stored a bill for the"
        " corrected account and period. Check the period and account number; sent again, the decision names that"
        " bill and goes ahead once confirmed"
    ),
    "reopened": (
        "a stored bill a reviewer reopened (their note is above): check each field against the bill, correct what"
        " is wrong, or approve it as it stands"
    ),
    "no_text_layer": "a photo or a scan, with no text to check the values against: check each on the image",
    "ocr_text_layer": "a scan whose text a machine read (its OCR layer), which may misread: check each value on the"
    " image",
    "unit_mismatch": "unit does not fit the commodity",
    "sum_mismatch": "line items do not add up to the current charges",
    "balance_mismatch": "previous balance − payments + current charges ≠ total",
    "bad_period": "the billing period ends before it starts, or is over 100 days long (both ends counted)",
    "period_days_mismatch": "the bill prints a number of days its period's dates do not span: a date misread?",
    "one_day_period": "the billing period starts and ends on one date: a final bill of a day, or one date read twice?",
    "bad_statement_date": "the statement is dated before the period ends, or over 180 days after",
    "bad_due_date": "the due date is not after the statement date, or over 180 days after it",
    "dated_in_the_future": "the bill is dated after the day it was read: a misread year? Check the dates on the bill",
    "account_mismatch": (
        "the bill's account number is not the job's utility account: a misread number is corrected to the one on"
        " file; another account's bill is rejected, not stored under this one"
    ),
    "non_usd_currency": (
        "the bill, or its reading, names a currency other than US dollars, or counts in cubic metres, gigajoules or"
        " kilolitres, as bills in Canadian or Australian dollars do: check the currency"
    ),
    "unknown_currency": "the currency is not an ISO 4217 code (USD, CAD, EUR…): check for a typo",
    "provider_mismatch": (
        "the bill shows another provider than its account's: check whose bill it is. Another provider's bill is"
        " rejected; one of this account misread is stored with the account's provider"
    ),
    "commodity_mismatch": (
        "the provider named on the bill does not bill this commodity: some other utility's bill? Check the provider"
    ),
    "provider_is_customer": "the provider's name holds the customer's: check who issued the bill",
    "priced_otherwise": (
        "the bill charges for another quantity in this unit (e.g. “Energy Charge 783 kWh @ $0.0940”): a figure from "
        "a message or a meter's register? Check the usage on the bill"
    ),
    "unit_scale": "printed in thousands of gallons, e.g. “(1,000 gal)” or “kgal”: enter it multiplied out",
    "ambiguous_date_order": (
        "the dates are numbers that read as a bill either way round (05/03/2026: 5 March or May 3): "
        "check them on the bill"
    ),
    "conflicting_values": "the bill prints different values for it: check which one is this bill's",
    "mixed_number_format": "the bill writes decimals both ways (1.234,56 and 1,234.56): check each figure",
    "ambiguous_grouping": (
        "printed with a plain space in it, as in “Grundpreis 1 125,00” or “Total usage 11 200 kWh”: one figure "
        "(1,125.00; 11,200), or two (a label's 1 and 125,00; 11 and 200): check it on the bill"
    ),
    "ambiguous_sign": (
        "printed after a dash between blanks, as in “Amount due - $30.40”: a separator (owed) or a credit's minus: "
        "check it on the bill"
    ),
    "unreadable_value": "printed in a form that could not be read",
    "unknown_commodity": (
        "a reading printed where the bill does not say which utility it measures (“Used 63 CCF” under “Heating"
        " service”: gas or water?): enter it under its utility, beside the bill's other readings"
    ),
    "several_readings": (
        "several readings of one commodity in one unit, not each from its own meter: they are added up, so keep one "
        "per meter (a total beside its parts, or a sewer reading copying the water's, counts twice)"
    ),
    "gemini_rejected": "Gemini refused to read this document: the fields are the rules reader's, if any",
    "extractor_disagreement": "the rules reader and Gemini read it differently: check it on the bill",
    # Reasons without a field: nothing (or nothing trustworthy) was read, and the reviewer enters the bill.
    "not_a_bill": "no utility bill was found in this document: reject it if it is none, else enter its values",
    "foreign_bill_unread": (
        "a document naming a currency other than US dollars, whose words the offline reader does not know (a bill in"
        " German, French, Dutch or Spanish, say): enter its values from it, or reject it if it is no bill"
    ),
    "no_bill_extracted": "nothing could be read from this document: enter the bill's values from it, or reject it",
    "parse_timeout": "reading the PDF's text took too long, so nothing was read: enter the values from the bill",
    "malformed_model_output": "Gemini's answer could not be read: the fields are the rules reader's, if any",
}


def fields_for(reason: str) -> tuple[str, ...]:
    code, _, subject = reason.partition(":")
    if code in _FIELDS_BY_CODE:
        return _FIELDS_BY_CODE[code]
    if subject in _FIELDS_BY_SUBJECT:
        return _FIELDS_BY_SUBJECT[subject]
    return (subject,) if subject in BILL_FIELDS else ()


_TEXT_BY_REASON: dict[str, str] = {
    "unit_mismatch:gas": (
        "gas printed in kWh (“Gas used 2,610 kWh”), a unit stored for electricity alone: enter the gas in the m³ or"
        " CCF the bill's meter reads, or in therms (kWh ÷ 29.3071); never as electricity"
    ),
    "missing_field:provider_name": (
        "provider name: missing (a billing service's mail, or a letterhead the reader could not tell from a banner or"
        " an addressee): enter the utility's name as the bill prints it"
    ),
    "missing_field:usage": (
        "usage: missing, for the bill or for a commodity it charges (gas charges need a gas reading beside the kWh):"
        " enter a reading for each"
    ),
}
"""Reasons whose code and subject alone mislead: "usage: missing" beside a usage table with a kWh row in it."""


def describe(reason: str, bill: NormalizedBill | None = None) -> str:
    """A reviewer-readable sentence for a reason code (the code itself when unknown); with the ``bill`` it was found
    on, an arithmetic reason's figures too: "balance_mismatch" alone left the reviewer to add four amounts up."""
    if reason in _TEXT_BY_REASON:
        return _TEXT_BY_REASON[reason]
    code, _, subject = reason.partition(":")
    text = _TEXT_BY_CODE.get(code)
    if text is None:
        return reason.replace("_", " ")
    figures = _figures(code, bill) if bill is not None else None
    text = f"{text} ({figures})" if figures else text
    return f"{subject.replace('_', ' ')}: {text}" if subject else text


def _figures(code: str, bill: NormalizedBill) -> str | None:
    """The sums behind ``sum_mismatch`` and ``balance_mismatch`` as ``extraction.checks`` does them, where the bill
    has their figures."""
    items = items_sum(bill)
    if code == "sum_mismatch" and bill.line_items and bill.current_charges is not None:
        return f"the line items add up to {items}; the current charges are {bill.current_charges}"
    current = bill.current_charges if bill.current_charges is not None else (items if bill.line_items else None)
    if code == "balance_mismatch" and current is not None and bill.total_amount is not None:
        previous, paid = bill.previous_balance or Decimal("0.00"), bill.payments_received or Decimal("0.00")
        return f"{previous} − {paid} + {current} = {previous - paid + current}; the total is {bill.total_amount}"
    return None


def flagged_fields(reasons: list[str]) -> dict[str, list[str]]:
    """Field name -> the descriptions of the reasons that implicate it."""
    flagged: dict[str, list[str]] = defaultdict(list)
    for reason in reasons:
        for name in fields_for(reason):
            flagged[name].append(describe(reason))
    return dict(flagged)


def reason_details(reasons: list[str], bill: NormalizedBill | None) -> list[ReasonDetail]:
    """Each reason in the review page's words, with the ``bill``'s sums where it is about them."""
    return [
        ReasonDetail(code=reason, text=describe(reason, bill), fields=list(fields_for(reason))) for reason in reasons
    ]
