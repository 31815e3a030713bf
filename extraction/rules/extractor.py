"""RuleExtractor: the offline path. Pick a template, read every field, say what is doubtful."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache, partial
from typing import Any, TypeVar

from pydantic import ValidationError

from extraction.checks import date_fit
from extraction.pages import PAGE_BREAK
from extraction.rules.charges import read_line_items
from extraction.rules.currency import bill_currency
from extraction.rules.due_date_doubts import A_DRAFTS_DATE, read_in_a_notice, requested_otherwise
from extraction.rules.fields import (
    joined_address,
    take_account,
    take_address,
    take_date,
    take_money,
    take_period,
    take_text,
)
from extraction.rules.layout import (
    Candidate,
    Join,
    LabelSet,
    Line,
    Wordings,
    choose,
    find_candidates,
    fold,
    to_lines,
)
from extraction.rules.templates import BY_PROVIDER, Template, select_template, without_tagline
from extraction.rules.usage import read_usage
from extraction.rules.vocabulary import FALLBACK, GENERIC
from extraction.values import (
    UNIT_RE,
    Found,
    day_first_place,
    number_format,
    numeric_date_order,
    us_numbers,
)
from shared.bill import NormalizedBill, Provider, account_key

T = TypeVar("T")

# A wrong total must never pass silently: disagreeing labels send these to review.
FOREIGN_BILL_UNREAD = "foreign_bill_unread"
"""Nothing read from a text naming a currency other than US dollars: a bill the offline reader has no words for."""
_CONFLICT_MATTERS = ("account_number", "total_amount", "due_date", "period", "statement_date")
_DATE_KEYS = ("statement_date", "due_date", "period")
_COLUMN_KEYS = frozenset({"total_amount", "previous_balance", "payments_received", "current_charges", "due_date"})
"""Fields whose label's row may hold another column's value too ("Amount due   $96.72   $179.86"): a conflict."""
_BILL_SIGNALS = ("account_number", "due_date", "period", "total_amount")
_TAKERS: dict[str, Callable[[str], Found[Any] | None]] = {
    "account_number": take_account,
    "total_amount": take_money,
    "previous_balance": take_money,
    "payments_received": take_money,
    "current_charges": take_money,
    "statement_date": take_date,
    "due_date": take_date,
    "period": take_period,
    "customer_name": take_text,
    "service_address": take_address,
}
_NO_ROWS = frozenset({"customer_name"})
"""Fields no table of past bills heads: a name's value is the line under its label, a mailing address under it."""
_JOINED: dict[str, Join[Any]] = {"service_address": joined_address}
"""Fields whose value may go on over the next line under its label: an address's city line."""
_COMPARED_AS: dict[str, Callable[[Any], object]] = {"account_number": account_key}
"""How two readings of a field are the same value: an account number's formatting is no conflict."""
_DAY_FIRST_TAKERS: dict[str, Callable[[str], Found[Any] | None]] = {
    **_TAKERS,
    "statement_date": partial(take_date, day_first=True),
    "due_date": partial(take_date, day_first=True),
    "period": partial(take_period, day_first=True),
}
"""For a bill that writes "18/03/2026" (``numeric_day_first``)."""


@dataclass
class RuleResult:
    bill: NormalizedBill | None
    reasons: list[str] = field(default_factory=list)
    extractor: str = "rules:generic"
    template_matched: bool = False
    """The text has the template's keywords: only then may its reading be trusted without Gemini."""


def extract_with_rules(pages: Sequence[str], *, provider_hint: Provider | None) -> RuleResult:
    """Read a bill from its text pages; never raises on odd text, says why instead."""
    decimal_comma = number_format(PAGE_BREAK.join(pages)).decimal_comma  # the document's convention, not each page's
    turned = [us_numbers(page, decimal_comma=decimal_comma) for page in pages]  # "1.234,56" read as "1,234.56"
    printed, pages = (pages, turned) if turned != list(pages) else (None, pages)
    lines = to_lines(pages, printed=printed)
    text = "\n".join(line.text for line in lines)
    choice = select_template(text, provider_hint, sender=_sender(lines))
    template = choice.template
    name = f"rules:{template.provider.value}" if template else "rules:generic"
    labels, stop, charges_end, current_charges = _vocabulary(template.provider if template else None)

    reasons: list[str] = ["provider_mismatch"] if choice.clash else []
    order = numeric_date_order(text)
    takers = _DAY_FIRST_TAKERS if order.day_first else _TAKERS
    read: dict[str, tuple[Any, bool]] = {}
    paid: list[Candidate[Any]] = []
    for key, take in takers.items():
        candidates: list[Candidate[Any]] = _candidates(lines, labels, key, take, stop)
        read[key] = choose(candidates, key=_COMPARED_AS.get(key))
        if key == "payments_received":
            paid = candidates  # each row, which ``_paid_one_by_one`` may add up
    if order.two_way:
        day_first = {key: choose(_candidates(lines, labels, key, _DAY_FIRST_TAKERS[key], stop)) for key in _DATE_KEYS}
        if _fits_better(day_first, read, day_first_place(text)):
            read.update(day_first)
            takers = _DAY_FIRST_TAKERS
    if read["period"][0] is None:
        read["period"] = _period_from_its_ends(lines, takers["statement_date"], stop)
    values: dict[str, Any] = {key: value for key, (value, _) in read.items()}
    reasons += [
        f"conflicting_values:{key}" for key, (_, conflict) in read.items() if conflict and key in _CONFLICT_MATTERS
    ]
    due, total = values["due_date"], values["total_amount"]
    due_readings = partial(_candidates, lines, labels, "due_date", takers["due_date"], stop)
    folded = fold(text)  # both doubts' gates: one scan each of the text in lower case
    if due is not None and read_in_a_notice(lines, folded, due_readings, due, total):
        reasons.append("notice_deadline:due_date")
    if (
        due is not None
        and "conflicting_values:due_date" not in reasons
        and requested_otherwise(lines, folded, due, values["statement_date"], takers["due_date"])
    ):
        reasons.append("conflicting_values:due_date")

    currency = bill_currency(text)
    currency_doubt = ["non_usd_currency"] if currency.foreign else []
    signals = sum(values[key] is not None for key in _BILL_SIGNALS) + bool(UNIT_RE.search(text))
    no_bill_signs = not choice.matched and signals < 3
    if template is None and no_bill_signs:
        # The doubts stay: with EXTRACTOR=gemini they are carried through Gemini's reading of the text (two due
        # dates, a currency Gemini writes "$" for), and were dropped with the rules' verdict.
        # A bill naming another currency is most likely one in words the templates do not know (German, French,
        # Dutch): "no utility bill was found, reject it" told its reviewer to throw a bill away (76B).
        unread = FOREIGN_BILL_UNREAD if currency.foreign else "not_a_bill"
        return RuleResult(None, [*reasons, *currency_doubt, unread], name)

    try:
        usage, usage_doubts = read_usage(
            lines,
            extra_labels=template.labels.get("usage", ()) if template else (),
            ccf_default=template.ccf_commodity if template else None,
        )
    except ValidationError:  # a quantity no store can hold (fifteen digits and more): a reviewer reads it
        return RuleResult(None, [*reasons, *currency_doubt, "unreadable_value:usage"], name)
    reasons += usage_doubts
    reasons += currency_doubt
    period = values.pop("period")
    payments = values.pop("payments_received")
    try:
        bill = NormalizedBill(
            currency=currency.code,
            provider=template.provider if template else None,
            provider_name=template.name if choice.matched and template else _letterhead(lines, values["customer_name"]),
            bill_period_start=period[0] if period else None,
            bill_period_end=period[1] if period else None,
            payments_received=abs(payments) if isinstance(payments, Decimal) else None,
            usage=usage,
            line_items=read_line_items(lines, end=charges_end, current=current_charges),
            **values,
        )
    except ValidationError as error:  # a value the bill model refuses: a reviewer reads the bill instead
        fields = sorted({".".join(str(part) for part in e["loc"][:1]) for e in error.errors()})
        return RuleResult(None, [*reasons, *(f"unreadable_value:{f}" for f in fields)], name)
    bill = _paid_one_by_one(bill, paid, lines)
    if template is None and not bill.account_number and not bill.usage:
        return RuleResult(None, [*reasons, "no_template"], name)
    if no_bill_signs:
        # Read with the account's provider's template only (every job hints it): a receipt or a letter came out as
        # that provider's bill with every field missing. Said not a bill, but kept: the reviewer's draft, and a
        # witness against Gemini's reading.
        reasons.append("not_a_bill")
    if choice.matched and template is not None and not _bills_for(template, bill):
        reasons.append("commodity_mismatch")
    return RuleResult(bill, reasons, name, template_matched=choice.matched)


_NOT_A_PAYMENT = re.compile(
    r"discount|credit(?!\s*card)|deposit|arrangement|adjust|refund|revers|return|fee\b|charge"
    r"|payment\s+plan|moved|deferr|transferred|transfer\s+(?:to|from)|pending",
    re.IGNORECASE,
)
"""Rows naming a payment that are another credit ("Prompt Payment Discount", "Payment Arrangement Credit", "Deposit
applied as payment", "Balance moved to Payment Plan", "Payment Pending"): summed with the payments, they overstated
what was paid, and the bill added up. Not a payment's method ("Payment - thank you (credit card)", "Payment -
Electronic Transfer", "Payment - AutoPay Plan")."""


def _paid_one_by_one(bill: NormalizedBill, paid: Sequence[Candidate[Any]], lines: Sequence[Line]) -> NormalizedBill:
    """``bill`` with its payments the sum of the rows printing them one by one ("Payment 10/12/2026  Thank You
    -$42.10", "Payment 10/28/2026  Thank You  -$100.00"), where that sum, and not the first row alone, makes its
    previous balance, charges and amount due add up: a bill paid in two parts went to review. Only where every row
    is a payment's (``_NOT_A_PAYMENT``)."""
    rows = {candidate.line: candidate.value for candidate in paid if isinstance(candidate.value, Decimal)}
    if len(rows) < 2 or bill.total_amount is None or bill.current_charges is None:
        return bill  # most bills: one payment row, and nothing to search
    if any(_NOT_A_PAYMENT.search(lines[line].text) for line in rows):
        return bill
    total_paid = sum((abs(value) for value in rows.values()), Decimal("0"))
    previous = bill.previous_balance or Decimal("0")
    if previous - total_paid + bill.current_charges != bill.total_amount:
        return bill
    return bill.model_copy(update={"payments_received": total_paid})


_NOT_THIS_SERVICE = r"\b(?:budget|plan|contract|program|agreement|installment)"
"""A plan's or a contract's dates beside a label of a period's end ("Budget Billing Start Date"): no bill's period."""
_PERIOD_STARTS = LabelSet.of(
    r"(?:service|read(?:ing)?|billing|period)\s+from",
    r"(?:service|billing|period)\s+start(?:\s+date)?",
    r"(?:previous|prior|last)\s+(?:meter\s+)?read(?:ing)?\s+date",
    exclude=_NOT_THIS_SERVICE,
)
_PERIOD_ENDS = LabelSet.of(
    r"(?:service|read(?:ing)?|billing|period)\s+(?:to|thru|through)",
    r"(?:service|billing|period)\s+end(?:\s+date)?",
    r"(?:current|present)\s+(?:meter\s+)?read(?:ing)?\s+date",
    exclude=_NOT_THIS_SERVICE,
)


def _period_from_its_ends(
    lines: Sequence[Line], take: Callable[[str], Found[Any] | None], stop: Wordings
) -> tuple[tuple[date, date] | None, bool]:
    """A period printed as its two ends, each under or beside a label of its own ("Service From   Service To" over
    a table row's two dates, "Previous Read Date: 09/30/2026   Current Read Date: 10/29/2026"), where no label
    gives it whole: a co-op's bill was read with no period and went to review for it. Two readings of an end
    conflict as two of the period would. Not a bare "Start Date", which a budget plan's or a contract's may be.
    Nor a table's rows of them (two meters'): they are rows (``find_candidates``), and may differ."""
    start, start_conflict = choose(find_candidates(lines, _PERIOD_STARTS, take, stop=stop))
    end, end_conflict = choose(find_candidates(lines, _PERIOD_ENDS, take, stop=stop))
    if not isinstance(start, date) or not isinstance(end, date) or start >= end:
        return None, False
    return (start, end), start_conflict or end_conflict


def _bills_for(template: Template, bill: NormalizedBill) -> bool:
    """Whether the template's provider bills every commodity the bill reads: a water district's bill naming PG&E in
    its letterhead (a joint notice, an owner's name) is some other utility's, and was trusted as PG&E's."""
    read = {reading.commodity for reading in bill.usage} | {item.commodity for item in bill.line_items}
    return read - {None} <= template.commodities


def _fits_better(
    day_first: dict[str, tuple[Any, bool]], month_first: dict[str, tuple[Any, bool]], place: bool | None
) -> bool:
    """Whether a text that leaves its numeric dates' order open ("04/03/2026") reads as a bill day first.

    The bill's place decides (a US address month first; pounds, euros, a VAT number day first) unless its
    order makes no bill (a period that ends before it starts, a due date half a year out) and the other
    does: ``check_bill`` sends such a bill, at odds with its place, to review. Fit within a billing cycle's
    weeks is no reason to turn a place's order round: a US bill due net 60 was read day first, wrong and
    accepted. Where nothing tells the place, the reading that fits better, or has more dates, is the
    bill's; ``check_bill`` sends one that reads as well either way to review."""

    def fit(read: dict[str, tuple[Any, bool]]) -> tuple[bool, bool, int]:
        period: tuple[date, date] | None = read["period"][0]
        start, end = period if period is not None else (None, None)
        statement, due = read["statement_date"][0], read["due_date"][0]
        found = sum(value is not None for value in (start, statement, due))
        return (*date_fit(start, end, statement, due), found)

    day_first_fit, month_first_fit = fit(day_first), fit(month_first)
    if place is None:
        return day_first_fit > month_first_fit
    (ours, _, _), (other, _, _) = (day_first_fit, month_first_fit) if place else (month_first_fit, day_first_fit)
    return place != (other and not ours)


_FALLBACK: dict[str, LabelSet] = {
    **FALLBACK,
    "due_date": LabelSet.of(
        r"pay\s+\S*\d[\d,.]*\s+(?:on\s+or\s+)?(?:by|before)",
        # a draft's date, not the one asked for ("We'll pay $X by ..." after "Enrolled in AutoPay?"), nor a notice's
        # deadline for a part ("Pay $50.00 by 11/20/2026 to avoid disconnection of service")
        exclude_in_sentence=rf"{A_DRAFTS_DATE}"
        r"|\bavoid\s+(?:\w+\s+){0,3}?(?:disconnect\w*|shut[\s-]*off|terminat\w*|interruption)",
    ),
}
"""``FALLBACK``, and a due date asked for with the amount ("Please pay $148.37 by 03/25/2026"): the bill's only when
it labels none, since a notice's "pay $300.00 by 04/10/2026 to avoid disconnection" may give another date (a hunt
found a final notice accepted with it, where the bill's own was in a wording not read)."""


def _candidates(
    lines: Sequence[Line],
    labels: dict[str, LabelSet],
    key: str,
    take: Callable[[str], Found[T] | None],
    stop: Wordings,
    *,
    fallback: bool = True,
) -> list[Candidate[T]]:
    """A field's readings under its labels; under its ``_FALLBACK`` wordings (with ``fallback``) only when there are
    none."""
    columns, joined, rows = key in _COLUMN_KEYS, _JOINED.get(key), key not in _NO_ROWS
    candidates = find_candidates(lines, labels[key], take, stop=stop, columns=columns, joined=joined, rows=rows)
    if fallback and not candidates and key in _FALLBACK:
        candidates = find_candidates(lines, _FALLBACK[key], take, stop=stop, columns=columns, joined=joined, rows=rows)
    return candidates


@cache
def _vocabulary(provider: Provider | None) -> tuple[dict[str, LabelSet], Wordings, Wordings, Wordings]:
    """Labels for a provider's bills (compiled once): each field's, any field's, where charges end, and the current
    charges' own."""
    labels = _labels(BY_PROVIDER.get(provider) if provider else None)
    stop = _union(labels, *(key for key in labels if key != "meter_number"))
    return labels, stop, _union(labels, "current_charges", "total_amount"), _union(labels, "current_charges")


def _labels(template: Template | None) -> dict[str, LabelSet]:
    if template is None:
        return dict(GENERIC)
    return {
        key: labels.extended(*template.labels[key]) if key in template.labels else labels
        for key, labels in GENERIC.items()
    }


def _union(labels: dict[str, LabelSet], *keys: str) -> Wordings:
    return Wordings.of(*(wording for key in keys for wording in labels[key].wordings))


_NAME = re.compile(r"(?:[^\W\d_]|[&.,' -]){3,81}(?<!,)")
"""Letters of any alphabet ("CAÑON CITY UTILITIES", "Doña Ana Water Association"): a name the reader skipped left
the next line, the customer's name at times, as the provider."""
_SENDER = re.compile(r"from:\s*\"?(?P<name>[^\"<]+?)\"?\s*<", re.IGNORECASE)
_GREETING = re.compile(
    r"(?:hello|hi|dear|greetings|welcome(?:\s+back)?|good\s+(?:morning|afternoon|evening))(?=[\s,!]|$)", re.IGNORECASE
)
_WELCOME_TO = re.compile(r"welcome\s+to\s+(?:the\s+)?", re.IGNORECASE)
"""A welcome to the sender ("Welcome to Riverside Utilities"): the name after it is the provider's, where it names an
organization; the line, welcome and all, was stored as the provider's name."""


def _letterhead(lines: Sequence[Line], customer: str | None) -> str | None:
    """An unknown provider's name: an e-mailed bill's sender (``_mail_sender``), else the first line of the letterhead
    that reads like a name. None else, and the bill goes to a person (``missing_field:provider_name``).

    Never a salutation: "Hello Luis Okafor," is the customer, and was stored as the provider. Nor the bill's own
    wording ("UTILITY BILL STATEMENT", "Account Summary", "Page 1 of 2") or the ``customer`` the bill names: each was
    published to the warehouse as the provider (a customer's name where no name may go). A notice's heading ("FINAL
    NOTICE - DISCONNECTION PENDING"), a mail piece's endorsement ("RETURN SERVICE REQUESTED") or a sentence ("Your
    statement is ready") where the name was read ends the search with none: each was published as the provider, and
    the line under or beside it is as often the addressee's as the sender's ("MARIA GONZALEZ", "OAKRIDGE PROPERTY
    MANAGEMENT LLC"), which no layout tells apart from a logo's utility's address.
    """
    decided, sender = _mail_sender(lines)
    if decided:
        return sender
    for line in _sender_window(lines):
        first = _welcomed(line.text.strip().split("  ")[0].strip())
        if not _reads_as_name(first) or _GREETING.match(first):
            continue
        if _ENDORSEMENT.match(first) or _notice_heading(first) or _sentence(first):
            return None
        if _bill_heading(first):
            continue
        if customer is not None and " ".join(first.split()).casefold() == " ".join(customer.split()).casefold():
            continue
        return first
    return None


def _notice_heading(text: str) -> bool:
    """Whether a heading is a notice's words ("FINAL NOTICE - DISCONNECTION PENDING", "ACTION REQUIRED - PAST DUE",
    "URGENT"), not one naming the kind of notice it heads ("DISCONNECT NOTICE", passed over as ever)."""
    return _NOTICE_WORD.search(text) is not None and _bill_heading(text) and _KIND_OF_BILL.fullmatch(text) is None


def _sentence(text: str) -> bool:
    """Whether a letterhead's line is a sentence: a verb or a pronoun in lower case ("... has sent you a new bill.")."""
    return any(word in _SENTENCE_WORDS for word in text.rstrip(".!").split())


_SENTENCE_WORDS = frozenset({"is", "are", "has", "have", "was", "were", "will", "sent", "you", "your", "we", "our"})
_MAIL_HEADER = re.compile(r"\s*(?:from|to|cc|bcc|subject|date|sent|reply-to)\s*:", re.IGNORECASE)
_FORWARDED = re.compile(r"\s*(?:-{2,}\s*forwarded\s+message|begin\s+forwarded\s+message)", re.IGNORECASE)
_MAIL_HEAD_LINES = 16
"""How far an e-mail's headers may run, a forwarded message's own headers under a note included."""
_ENDORSEMENT = re.compile(
    r"\s*(?:(?:return|address|change|forwarding|electronic|temp(?:orary)?[- ]return)\s+service\s+requested"
    r"|(?:presort(?:ed)?\s+)?first[- ]class\s+mail|presorted(?:\s+standard)?|prsrt(?:\s+std)?|u\.?s\.?\s+postage"
    r"(?:\s+paid)?|auto\W+\d-digit)",
    re.IGNORECASE,
)
"""A mail piece's endorsement ("RETURN SERVICE REQUESTED", "PRESORTED FIRST-CLASS MAIL"; the USPS set)."""
_BILLING_PLATFORM = re.compile(
    r"\b(?:paymentus|invoice\s*cloud|doxo|xpress\s*bill\s*pay|kubra|bill\s*matrix|paystar|payit)\b", re.IGNORECASE
)
"""Services that e-mail a utility's bills for it: the sender of such a mail is not the bill's provider."""


def _mail_sender(lines: Sequence[Line]) -> tuple[bool, str | None]:
    """Whether an e-mail's "From:" line decides the provider, and the name it gives: the mail's sender, where it reads
    as a name. None where a forwarded message has another sender (the forwarder's and the forwarded's roles cannot be
    told: a person forwarding a utility's mail, a utility quoting its customer's forward), and where a billing service
    sent it ("Paymentus"), unless the mail opens with its headers and its letterhead follows them."""
    found = next(
        (
            (i, sender["name"].strip())
            for i, line in enumerate(lines[:SENDER_LINES])
            if (sender := _SENDER.match(line.text.strip()))
        ),
        None,
    )
    if found is None:
        return False, None
    index, name = found
    if _BILLING_PLATFORM.search(name):
        return index != 0, None
    head = lines[:_MAIL_HEAD_LINES]
    marker = next((i for i, line in enumerate(head) if i > index and _FORWARDED.match(line.text)), None)
    forwarded = (
        []
        if marker is None
        else [m["name"].strip() for line in head[marker:] if (m := _SENDER.match(line.text.strip()))]
    )
    if any(other.casefold() != name.casefold() for other in forwarded):
        return True, None
    return (True, name) if _reads_as_name(name) else (False, None)


def _sender_window(lines: Sequence[Line]) -> list[Line]:
    """The first lines that may name the sender (``SENDER_LINES``), an e-mail's after its headers."""
    start = 0
    if lines and _SENDER.match(lines[0].text.strip()):
        start = next((i for i, line in enumerate(lines) if not _MAIL_HEADER.match(line.text)), len(lines))
    return list(lines[start : start + SENDER_LINES])


def _sender(lines: Sequence[Line]) -> str | None:
    """The organizations the bill's letterhead names ("Alameda Municipal Power", "HUDSON ENERGY SERVICES"), one a
    line, if it names any: a person's name, the customer's at times, tells nothing of whose bill it is. An e-mail's
    whole "From:" line, its address and all: "Utility Billing Department <noreply@pge.com>" is PG&E's."""
    sender = _from_line(lines)
    if sender is not None:
        line, name = sender
        return line if _ORGANIZATION.search(name) else None
    names = [name for line in lines[:SENDER_LINES] if _names_an_organization(name := _first_cell(line))]
    return "\n".join(names) or None


def _from_line(lines: Sequence[Line]) -> tuple[str, str] | None:
    """An e-mail's "From:" line among the first lines, and the name it shows, where that reads as a name."""
    for line in lines[:SENDER_LINES]:
        sender = _SENDER.match(line.text.strip())
        if sender is not None and _reads_as_name(sender["name"]):
            return line.text.strip(), sender["name"]
    return None


SENDER_LINES = 5
"""How many of the first lines may name the sender: a brand over its owner ("San Francisco Water Power Sewer" over
"Services of the San Francisco Public Utilities Commission"), a slogan over the name."""


def _first_cell(line: Line) -> str:
    return _welcomed(without_tagline(line.text.strip().split("  ")[0]).strip())


def _names_an_organization(text: str) -> bool:
    """Whether a letterhead line is an organization's name: it ends in an organization's word, and its words are
    capitalized. Not a slogan ("Building a Smarter Energy Future") nor a sentence ("Natural gas service is provided
    by PG&E", "Duke Energy's natural gas utility"): each named the sender, and dropped the provider under it."""
    if not _reads_as_name(text) or _GREETING.match(text) or _bill_heading(text):
        return False
    words = re.findall(r"[^\W\d_][\w'&.-]*", text)
    return _ORGANIZATION_END.search(text) is not None and all(
        word[0].isupper() or word.casefold() in _SMALL_WORDS for word in words
    )


_ORGANIZATION_WORDS = (
    r"company|co|corp|corporation|inc|llc|ltd|utilities|utility|authority|district|cooperative|co-?op|commission"
    r"|department|dept|board|association|agency|energy|power|light|electric|gas|water"
)
"""The words of a provider's name (``_ORGANIZATION``, ``_ORGANIZATION_END``)."""
_ORGANIZATION_END = re.compile(rf"\b(?:{_ORGANIZATION_WORDS}|sewer|services)\W*$", re.IGNORECASE)
"""The last word of an organization's name ("Duke Energy", "Pacific Gas & Electric Co.", "HUDSON ENERGY SERVICES")."""
_SMALL_WORDS = frozenset({"of", "the", "and", "for", "de", "la", "del", "du"})
"""The lower-case words an organization's name may have ("Services of the San Francisco Public Utilities ...")."""


def _welcomed(text: str) -> str:
    """The organization a welcome names ("Welcome to Riverside Utilities"), else the text as it is. A welcome to a
    place or a programme ("Welcome to Riverside!", "Welcome to AutoPay") stays a greeting, which names no sender."""
    welcome = _WELCOME_TO.match(text)
    if welcome is None:
        return text
    welcomed = text[welcome.end() :].rstrip("!. ")
    return welcomed if _ORGANIZATION.search(welcomed) and not _PROGRAMME.search(welcomed) else text


_PROGRAMME = re.compile(r"'s\b|\b(?:programs?|programmes?|plans?|portal|billing|auto\s*pay|app)\b", re.IGNORECASE)
"""What a welcome names that is no sender: "Welcome to Riverside Electric's Budget Billing Plan"."""


def _reads_as_name(text: str) -> bool:
    return text[:1].isupper() and _NAME.fullmatch(text) is not None


def _bill_heading(text: str) -> bool:
    """Whether a heading is the bill's own: all the bill's wording, or a kind of bill ("FINAL NOTICE", "Budget
    Billing Statement") that names no organization ("City Service Company", "Statement Water District")."""
    if _BILL_WORDING.fullmatch(text):
        kind_of = _KIND_OF_HEADING.search(text) is not None and _DOCUMENT.search(text) is None
        return not (kind_of and _ORGANIZATION.search(text) is not None)
    return _KIND_OF_BILL.fullmatch(text) is not None and _ORGANIZATION.search(text) is None


_HEADING_WORDS = (
    r"corrected|revised|duplicate|final|past|late|reminder|budget|residential|commercial|welcome|to|auto\s*pay"
    r"|paperless|new"
)
"""The words of ``_BILL_WORDING`` that name a kind of bill ("FINAL NOTICE"): ``_KIND_OF_HEADING``."""
_NOTICE_WORDS = (
    r"disconnection|disconnect|shut[\s-]?off|termination|pending|warning|urgent|overdue|delinquent|intent|scheduled"
    r"|action|required|immediate(?:ly)?|attention|please|remit"
)
"""A notice's words over its bill ("FINAL NOTICE - DISCONNECTION PENDING", "ACTION REQUIRED - PAST DUE", "Please
Remit To"): each was published as the provider's name."""
_NOTICE_WORD = re.compile(rf"\b(?:{_NOTICE_WORDS})\b", re.IGNORECASE)
"""A word of a notice's heading, not of a bill's (``_notice_heading``)."""
_BILL_WORDING = re.compile(
    r"(?:(?:your|my|the|monthly|utility|electric|gas|water|energy|service|customer|account|billing|bill|statement"
    r"|invoice|summary|page|of|important|information|about|notice|amount|due|date|period|for|address|copy|total|balance"
    rf"|previous|payments?|current|charges|number|no|{_NOTICE_WORDS}|{_HEADING_WORDS}|\d+)[\s.,:!-]*)+",
    re.IGNORECASE,
)
"""A bill's own heading: its words all the bill's wording ("UTILITY BILL STATEMENT", "Account Summary", "Page 1 of
2", "Important information about your bill", "Residential Service", "Welcome to AutoPay"). A provider's name has a
word of its own ("Your Hometown Electric Cooperative", "Customer First Utilities")."""
_KIND_OF_HEADING = re.compile(rf"\b(?:{_HEADING_WORDS})\b", re.IGNORECASE)
_DOCUMENT = re.compile(
    r"\b(?:bills?|billing|statements?|notices?|invoices?|service|summary|reminders?)\b", re.IGNORECASE
)
"""The words of ``_BILL_WORDING`` that name a kind of bill ("FINAL NOTICE", "Residential Service"), and the document
they name it of. Beside a provider's word ("Commercial Energy", "New Energy") and no document, they are a provider's
name: refused, the customer's name under it was taken for the provider's."""
_KIND_OF_BILL = re.compile(
    r"(?:[^\W\d_][\w'&.-]*\s+){0,5}(?:bills?|billing|notices?|statements?|invoices?|reminders?|letter)[\s.:!]*",
    re.IGNORECASE,
)
"""A heading that ends in what the document is: "PAST DUE NOTICE", "Disconnection Warning Notice"."""
_ORGANIZATION = re.compile(rf"\b(?:{_ORGANIZATION_WORDS}|city|town|village|county)\b", re.IGNORECASE)
"""A word of a provider's name: a heading with one ("Xcel Energy Statement") names the sender; refused, the next
line (the customer's name at times) was taken instead. All the bill's wording ("Water Bill") is ``_BILL_WORDING``."""
