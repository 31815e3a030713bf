"""Doubts of a due date read: a notice's deadline read in its place, or a request to pay by another date.

A disconnection notice or a payment plan prints a date of its own beside the bill's due date. Where the bill's own is
printed in a wording no label reads, the rules read the notice's and accepted it: the worst outcome, a wrong figure
no person sees. Hunts with adversarial bills (sessions 67 to 69) drove both doubts; each only sends a bill to review.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from extraction.rules.layout import Candidate, Line, Wordings, cells, sentence_around
from extraction.values import Found

_CUT_OFF = r"(?:disconnect\w*|shut[\s-]*off|terminat\w*|suspen[ds]\w*|cut[\s-]*off|turned\s+off|discontinu\w*)"
"""Service taken away for not paying ("services may be discontinued", a re-read's, 69F); not "interruption", which
planned works name too ("Planned interruption scheduled 12/03/2026", "service will be interrupted on Dec 3 for line
maintenance")."""
_LOSING_SERVICE = rf"(?:{_CUT_OFF}|interrupt\w*|loss\s+of\s+service)"
_AVOID_LOSING_SERVICE = rf"\b(?:avoid|avert|prevent|stop|halt)\s+(?:[\w,]+\s+){{0,4}}?{_LOSING_SERVICE}"
"""A notice's warning: "to avoid (having your electric service) disconnected", "to prevent shut-off", "to avoid late
fees, collection, or disconnection"; not "to avoid a late fee or service interruption", five words on (the bill's own
request, a re-read found)."""
_A_WARNING = (
    rf"{_AVOID_LOSING_SERVICE}"
    rf"|\b(?:services?|gas|power|electricity|water)\s+(?:will|may|can|could)\s+be\s+{_CUT_OFF}"
    r"|\bwe\s+(?:will|may|can)\s+(?:\w+\s+)?(?:disconnect|shut\s*off|terminate|cut\s+off)\b"
    rf"|(?<!\bnot\s)(?<!\bnot\sbe\s)(?<!n't\s)(?<!\bnever\s)\bsubject\s+to\s+{_CUT_OFF}"
    rf"|\b{_CUT_OFF}(?:\s+[\w-]+){{0,4}}?\s+(?:may|will|could)\s+(?:occur|result|begin|follow)\b"
    r"|\b(?:keep|restore)\s+(?:your\s+)?(?:\w+\s+)?service\s+(?:on|connected|active)\b"
    r"|\bremain\s+connected\b"
    r"|\b(?:disconnection|shut[\s-]*off|termination)\s+(?:is\s+)?scheduled\b"
)
"""A warning of a cut-off for not paying: "or service will be disconnected", "or we may disconnect", "subject to
termination", "or termination of service may occur", "to keep your service on", "disconnection scheduled"."""
_WARNING = re.compile(_A_WARNING, re.IGNORECASE)
_NOTICE_HEADING = re.compile(
    r"[\W_]*(?:\d+[\s-]*hours?[\s-]+)?"
    rf"(?:(?:{_CUT_OFF}|final|second|third|reminder|late|past[\s-]+due|delinquen\w*)\s+notice"
    rf"|notice\s+of\s+(?:pending\s+|intent\s+to\s+)?{_CUT_OFF}|{_CUT_OFF}\s+(?:warning|pending))"
    r"(?:[\W_]*$|\s+[-\u2013\u2014]\s+(?:please\s+)?(?:pay|amount|due|balance)\b)",
    re.IGNORECASE,
)
"""A notice's heading opening a cell ("DISCONNECT NOTICE", "*** FINAL NOTICE ***", "48-HOUR SHUT-OFF NOTICE", "NOTICE
OF INTENT TO DISCONNECT", "Disconnect notice - Pay by: 12/15/2026"; "SECOND NOTICE", "REMINDER NOTICE", "LATE NOTICE",
"NOTICE OF PENDING DISCONNECTION", "DISCONNECTION WARNING", "DISCONNECTION PENDING", re-reads found accepted): it
names what the line under it, or the row beside it, asks. Not a sentence naming one ("A past due notice will be
mailed if ...", "Past Due Notice: None", "SHUT-OFF NOTICE - Planned water main work", "Final Notice - N/A"), re-reads
found."""
_A_NOTICES_DEADLINE = (
    rf"{_A_WARNING}"
    r"|\b(?:past[\s-]+due|overdue|delinquent|deferred|outstanding|unpaid)\s+(?:amount|balance)\b(?:\s+of\s+\S+)?"
    r"\s+(?:[-\u2013\u2014]\s+)?(?:is\s+|now\s+)?(?:payment\s+)?due\b"
    r"|\bminimum\s+(?:payment|amount)(?:\s+of\s+\S+)?\s+(?:is\s+)?due\b"
    r"|\barrears\b(?:\s+(?:installment|balance|amount|payment))?(?:\s+of\s+\S+)?\s+(?:is\s+|now\s+)?due\b"
    r"|\binstall?ment\b(?:\s+(?:of|amount)\s+\S+)?\s+(?:is\s+)?due\s+(?:by|on)\b"
    r"|\b(?:arrangement|deferred|payment\s+(?:extension|agreement)|extension\s+granted|promise\s+to\s+pay"
    r"|install?ment\s+plan)\b"
    r"(?:(?![.;?!](?:\s|$)).){0,60}?"
    r"(?<!\bnot\s)(?<!\bamount\s)\bdue\b"
)
"""A sentence dating what a notice or a plan asks ("Past due amount due by 12/15/2026 to avoid disconnection",
"Pay $50.00 by 12/15/2026 to keep your service on", "Installment of $45.00 due by 12/20/2026", "Deferred Payment
Arrangement: next payment due 12/20/2026"), whose date may be the bill's due date or not: hunts (sessions 67, 68)
found bills accepted with the notice's date, the bill's own printed in a wording the reader does not know. A demand
for a part is one saying it is due ("Overdue balance of $50.00 due by"), not a word naming it ("Past Due Balance:
$0.00", "applies to overdue amounts", "ask about a payment extension"), which re-reads found sent to review. A budget
plan's installment is no exception: a plan's name stands in notices' sentences as often ("Past due amount due by
12/15/2026 or you will be removed from Budget Billing", a re-read found accepted by an exception for it)."""
_NOTICES_DEADLINE = re.compile(_A_NOTICES_DEADLINE, re.IGNORECASE)
_A_NOTICES_WORD = re.compile(
    r"disconnect|shut|terminat|suspen|cut|turned\s+off|interrupt|loss\s+of\s+service|keep|restore|remain\s+connected"
    r"|past[\s-]+due|overdue|delinquent|deferred|arrears|instal|arrangement|extension|promise|notice|discontinu"
    r"|outstanding|unpaid|minimum|agreement"
)
"""A word each of ``_NOTICES_DEADLINE``'s wordings and ``_NOTICE_HEADING`` holds, in lower case: one scan of a bill's
text without them (most bills) costs 0.03 ms, where ``_NOTICES_DEADLINE`` itself, case-blind with its look-behinds,
cost 1.2 ms (300 generated bills)."""


def read_in_a_notice(
    lines: Sequence[Line],
    folded: str,
    readings: Callable[[], Sequence[Candidate[Any]]],
    due: date,
    total: Decimal | None,
) -> bool:
    """Whether the due date read stands only in a notice's or a plan's deadline (``_in_a_notice``) for another amount
    than the bill's: it may be that one, not the bill's, and a reviewer tells them apart. Not dropped: the bill's own
    due date is printed in such a sentence as often ("Pay by 11/30/2026 to avoid disconnection"), and a weaker
    wording's date was read in its place (three adversarial re-reads, session 67). A line printing the amount due is
    the bill's own ("Budget installment due on 11/30/2026: $139.00"). ``readings`` gives the due date's readings,
    asked for only where the text (``folded``: in lower case) holds a notice's word."""
    if not _A_NOTICES_WORD.search(folded):  # most bills: nothing to read again
        return False
    read = [c for c in readings() if c.value == due]
    if not read or not all(_in_a_notice(lines, c) for c in read):
        return False
    figures = {f"{total:,.2f}", f"{total:.2f}"} if total is not None else set()
    return not all(any(f in lines[c.line].text for f in figures) for c in read)


def _in_a_notice(lines: Sequence[Line], candidate: Candidate[Any]) -> bool:
    """Whether a reading's label stands in a notice's or a plan's deadline: in its sentence,
    or the sentence going on over the next line with a warning ("Amount due by 12/15/2026 / to avoid disconnection"),
    or under a notice's heading on its row or the line above ("FINAL NOTICE      Due by: 12/15/2026"). The label's
    own name is no exemption: a notice's deadline is labelled "Payment Due:" and "Due Date:" too (a re-read found
    five accepted so)."""
    line = lines[candidate.line]
    if _a_heading(line.text) or any(
        _NOTICE_HEADING.match(text.strip()) for text in _texts_above(lines, candidate.line, 2)
    ):
        return True
    start, end = sentence_around(line.text, candidate.column)
    if _NOTICES_DEADLINE.search(line.text, start, end):
        return True
    below = next(_texts(lines, candidate.line, 1), None)
    if below is None or end < len(line.text) or not _GOES_ON.match(below):
        return False
    return _WARNING.search(below, 0, sentence_around(below, 0)[1]) is not None


def _a_heading(text: str) -> bool:
    return any(_NOTICE_HEADING.match(cell.text.strip()) for cell in cells(text))


_GOES_ON = re.compile(r"\s*\(?(?:to|or|and|otherwise|before|by)\b")
"""A line going on with the sentence of the one above ("to avoid disconnection of service."), not a line of its own
that opens in lower case ("safety tip: ...", a web address)."""


_REQUESTS_TO_PAY = Wordings.of(
    r"date due",
    r"pay (?:on or )?before",
    r"pay no later than",
    r"payable (?:(?:on or )?(?:by|before)|no later than)",
    r"is due(?: by| on)?",
    r"payment deadline",
    r"remit(?: payment)? (?:(?:on or )?(?:by|before)|no later than)",
    r"must be received(?: [a-z]+){0,3}? (?:(?:on or )?(?:by|before)|no later than)",
    r"submit (?:your )?payment (?:(?:on or )?(?:by|before)|no later than)",
    r"last day to pay(?: is)?",
)
"""Requests to pay by a date in wordings no label reads ("Please remit by 11/30/2026.", "Date Due: 11/30/2026",
"Payment must be received in our office by 11/30/2026"): the hunts' bills (sessions 67, 68) printed their own due
date so, and 17 were accepted with a notice's date a label read. Words one space apart: "Date      Due" is two
columns' headings. Not a bare "Deadline:", which dates a programme's application or a survey as often (69F)."""
_THE_BILLS = r"bill|(?:total\s+)?amount\s+due|balance\s+due|payments?"
"""What a request to pay may name as paid: the bill, its amount or its payment."""
_OPENS_ITS_SENTENCE = re.compile(
    r"(?:.*?\s[-\u2013\u2014]\s)?\s*(?:[^\W\d_]+:\s+)?(?:(?:please|kindly)\s+)?(?:(?:your|this|the)\s+)?"
    rf"(?P<subject>(?:{_THE_BILLS}|payments?\s+of\s+\S+)\s+)?(?:is\s+)?",
    re.IGNORECASE,
)
"""What may stand before a request to pay in its sentence or cell: the bill or its payment ("Your bill is payable
by", "Amount due must be received by", "Payment of $221.15 must be received by"), after a word and a colon
("IMPORTANT: Please remit by") or a dash ("Amount Due $221.15 - Please remit by"); not a subject of its own ("A
deposit of $150.00 is payable by", "Applications must be received by"), which asks for another thing's payment."""
_DATE_FOLLOWS = re.compile(
    r"[\s:.\-\u2013\u2014]*(?:on\s+)?(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?", re.IGNORECASE
)
"""What may stand between a request to pay and its date: a colon, a column's gap or dot leaders ("Date Due ......
11/30/2026"), a weekday; a date further on is no date it asks ("must be received by 5:00 p.m. on 12/04/2026")."""
_DATE_REACH = 80
"""How far after a request to pay its date may stand: a column's gap or leaders, not the rest of a long line (each
request read its line's rest: a line of 1,000 characters repeating one took a second, an adversarial re-read's)."""
A_DRAFTS_DATE = r"\bwill\b|['\u2019]ll\b|scheduled|automatic|auto\s*pay"
"""A sentence dating a draft, not a payment asked for ("We'll pay $X by ...", "will be drafted automatically"): the
request to pay's fallback (``extractor._FALLBACK``) and its doubt leave it alike."""
_NOT_THE_BILLS_REQUEST = re.compile(
    rf"{A_DRAFTS_DATE}|\bsave\b|discount|waive|\bto\s+post\b|reach(?:es)?\s+us|deliver", re.IGNORECASE
)
"""A draft's date ("Your payment is due 12/01/2026 and will be drafted automatically"), an offer's ("Pay on or before
11/22/2026 and save $2.13", "pay before 04/01/2027 and we waive the reconnect fee"), or advice on when to send a
payment for it to arrive ("Payments must be received by 12/23/2026 to post before the holiday closure", "Remit by
11/23/2026 so it reaches us by the due date"), not a date asked for. A late charge's is asked for: "Please remit by
11/30/2026 to avoid a late payment charge" is how bills print their own (a grace period's end, "by 12/10/2026 to
avoid a late payment penalty", goes to review with it: which of the two is the due date is a reviewer's call)."""
_ANOTHER_CHARGES_ROW = re.compile(
    r"install?ment|deposit|rebate|assessment|settle|true[\s-]?up|\bfees?\b", re.IGNORECASE
)
"""A row dating another payment than the bill's, before the request on its line ("PAYMENT PLAN    Installment 4 of 6
Date Due 12/22/2026", "Sidewalk Assessment No. 2026-14    $310.00    Payable by 01/31/2027")."""
_NOTICES_REACH = timedelta(days=31)
"""How far from the due date read a notice's deadline falls: the hunts' were one to three weeks after it. A date
months away is another thing's ("Deadline: 03/15/2027" for a backflow test's report, an assessment payable by
01/31/2027), as is one before the statement (a past bill's row)."""


def requested_otherwise(
    lines: Sequence[Line],
    folded: str,
    due: date,
    statement: date | None,
    take: Callable[[str], Found[Any] | None],
) -> bool:
    """Whether the bill asks to be paid by another date than the due date read, in a wording no label reads
    (``_REQUESTS_TO_PAY``), opening its sentence or cell: one of the two is a notice's or another thing's, and a
    reviewer tells which. These wordings only ever doubt a reading, never make one: read as labels, they read a
    deposit's, a rebate's or a plan's date in place of a bill's own "Please pay $X by" (an adversarial re-read, 69D:
    23 wrong accepts). Not a notice's own sentence ("Please remit by 12/15/2026 to avoid disconnection"): a bill
    prints its own due date beside one. ``folded`` is the bill's text in lower case (``layout.fold``)."""
    if _REQUESTS_TO_PAY.search(folded) is None:  # most bills: one scan
        return False
    for line in lines:
        for match in _REQUESTS_TO_PAY.finditer(line.folded):
            after = line.text[match.end() : match.end() + _DATE_REACH]
            found = take(after)
            if (
                found is None
                or found.value == due
                or not _DATE_FOLLOWS.fullmatch(after, 0, found.start)
                or abs(found.value - due) > _NOTICES_REACH
                or (statement is not None and found.value < statement)
            ):
                continue
            if _asks_for_this_bill(line.text, match.start()):
                return True
    return False


def _asks_for_this_bill(text: str, at: int) -> bool:
    """Whether the request to pay at ``at`` opens its sentence or cell asking for the bill's payment: not a notice's
    sentence, a draft, an offer or a late charge, another charge's row, or a clause after ";" going on about what came
    before ("Solid waste fees are billed by the County; remit by 12/15/2026 to the County Treasurer")."""
    start, end = sentence_around(text, at)
    opening = _OPENS_ITS_SENTENCE.fullmatch(text, start, at)
    return not (
        opening is None
        or (opening["subject"] is None and text[at:].lower().startswith("must"))  # "Must be received by": a ballot?
        or text[start - 1 : start] == ";"
        or _ANOTHER_CHARGES_ROW.search(text, 0, at)
        or _NOTICES_DEADLINE.search(text, start, end)
        or _NOT_THE_BILLS_REQUEST.search(text, start, end)
    )


def _texts_above(lines: Sequence[Line], index: int, count: int) -> list[str]:
    """The ``count`` nearest lines with text above on the same page: a notice's heading stands over a line or two of
    its text ("DISCONNECT NOTICE" / "Your previous balance remains unpaid." / "Pay By: 12/15/2026")."""
    return list(itertools.islice(_texts(lines, index, -1), count))


def _texts(lines: Sequence[Line], index: int, step: int) -> Iterator[str]:
    """The lines with text above (``step`` -1) or below (1) line ``index``, nearest first, on its page."""
    page = lines[index].page
    index += step
    while 0 <= index < len(lines) and lines[index].page == page:
        if lines[index].text.strip():
            yield lines[index].text
        index += step
