"""How bills label their fields: the generic wordings, best first, as regular expressions.

Templates add provider-specific wordings in front of these (``Template.labels``).
"""

from __future__ import annotations

import re

from extraction.rules.layout import LabelSet

_A_DATE = r"(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d)"
"""A date's opening, as bills print one ("10/31/2026", "Oct 31"): what a bare label's value must be."""
_NOT_CURRENT = r"past\s+due|previous|\bprev\b|prior|last\s+(?:bill|month|statement)|minimum|after|late|enclosed|overdue"
_OTHER_BILL = r"\b(?:next|previous|prev|prior|last|upcoming|scheduled|future)\b|\bago\b"
"""A date or period of another bill: "Next Billing Date", "Previous Statement Date", "Last year's billing period",
"Scheduled Meter Read Dates"."""


def _opening_a_cell(word: str) -> str:
    """``word`` (a literal) only where a cell starts: at the line's start or after a column's gap, as a row's
    label stands, not in a row's wording ("Payment Received on Previous Bill"). Looked behind for after the word,
    so that ``re`` still skips ahead to its first letter (``layout.Wordings``)."""
    return rf"{word}(?:(?<=^{word})|(?<=  {word})|(?<=\t{word}))"


_INDENTS = 12
"""How far a summary's rows may be indented (``_opening_a_line``)."""


def _opening_a_line(word: str) -> str:
    """``word`` (a literal) only where its line starts, indented or not: a summary's row, not a comparison's cell
    after another ("This bill  $241.28   Previous bill  $188.10"). Looked behind for after the word, as
    ``_opening_a_cell``."""
    indents = "|".join(f"(?<=^{' ' * spaces}{word})" for spaces in range(_INDENTS + 1))
    return rf"{word}(?:{indents})"


_ROW_OF_A_GAP = r"(?=[ \t]*(?:[-\u2013:]|$|[ \t]{2}))"
"""What ends a row's label: a dash or colon, the line's end or a column's gap; not a sentence's next word."""
_FIGURE_BESIDE = r"(?=[ \t]*[:.]?[ \t]*[-\u2212(]?\$?[ \t]?\d)"
"""A row label's figure right after it on its line, not one under it: a comparison's column heading has its under."""

_SUPPLIERS = r"supplier|\bchoice\b|\besco\b|marketer|generation|third[-\s]party"
"""A competitive supplier's section names its own account with the bill's ("Supplier Account Number: KCE-558120-3",
"Choice Account #"): on a bill whose own account's label the reader does not know ("Customer Number"), it was
stored as the bill's account, and accepted."""

GENERIC: dict[str, LabelSet] = {
    "account_number": LabelSet.of(
        r"customer\s+account\s+(?:number|no\.?|#)",
        r"account\s+number",
        r"account\s+no\.?",
        r"account\s*#",
        r"acct\.?\s*(?:no\.?|#|number)",
        r"acct\.?(?=\s*:)",
        r"account\s+id",
        r"account",
        exclude=_SUPPLIERS,
    ),
    "total_amount": LabelSet.of(
        r"total\s+amount\s+due",
        r"total\s+amount\s+now\s+due",
        r"(?:amount|amt\.?)\s+due",
        r"total\s+due",
        r"total\s+balance\s+due",
        r"balance\s+due",
        r"amount\s+now\s+due",
        r"please\s+pay",
        r"pay\s+this\s+amount",
        r"amount\s+to\s+pay",
        r"total\s+to\s+pay",  # a British bill's (76B)
        r"new\s+balance",
        r"amount\s+you\s+owe",
        r"credit\s+balance\s*[-\u2013\u2014:]?\s*do\s+not\s+pay",  # "Credit balance - do not pay  -$163.60"
        exclude=_NOT_CURRENT,
    ),
    "previous_balance": LabelSet.of(
        r"prev(?:ious|\.)?\s+bal(?:ance|\.)?",
        r"prev(?:ious|\.)?\s+(?:amount|amt\.?)\s+due",
        r"balance\s+from\s+(?:your\s+)?(?:last|previous)\s+bill",
        r"(?:last|previous)\s+bill\s+amount",
        r"amount\s+of\s+(?:your\s+)?last\s+bill",
        r"(?:amount|amt\.?)\s+due\s+on\s+(?:your\s+)?(?:last|previous|prior)\s+bill",
        r"prior\s+balance",
        r"(?:amount|amt\.?)\s+billed\s+on(?=\s+\d)",  # the last bill's, by its date: "Amount billed on 10/20/2026"
        # A summary row's "Previous bill  $198.62", its figure beside it: not a payment's "on Previous Bill", nor
        # "Previous Bill Date", nor a comparison's ("This bill   Previous bill" over their figures, or beside them).
        rf"{_opening_a_line('previous')}\s+bill{_FIGURE_BESIDE}(?![^\n]*\bthis\s+(?:bill|month|period|year)\b)",
        # "Unpaid charges  $90.00", "Previous unpaid balance  $90.00" opening its cell, its figure right
        # after it: not a sentence's ("Unpaid charges may be subject to a late fee of $5.00"), nor a charge's ("1.5%
        # charge on unpaid amount  $1.35"). Read as one of the charges, the unpaid amount was stored as this bill's
        # cost.
        rf"(?:{_opening_a_cell('unpaid')}|(?:{'|'.join(_opening_a_cell(w) for w in ('previous', 'prior', 'your'))})"
        r"\s+unpaid)\s+(?:balance|charges?|amount)"
        rf"(?:\s+from\s+(?:your\s+)?(?:last|previous|prior)\s+(?:bill|statement))?{_FIGURE_BESIDE}",
        r"balance\s+brought\s+forward",  # Britain's and Ireland's (76B): never "carried forward", the balance left
        r"balance\s+forward",  # last: under a payment it is what is left of the balance ("Balance Forward $0.00")
    ),
    "payments_received": LabelSet.of(
        r"(?:payments?|pmts?\.?)\s+(?:received|rec(?:ei)?ve?d\.?|rcvd\.?)",
        r"total\s+payments",
        r"payments?\s+and\s+credits",
        r"payments?\s*-?\s*thank\s+you",
        r"thank\s+you\s+for\s+your\s+payment",
        # A payment's row, its figure on its line: "Thank you - Sep 14   ($198.62)", "Amount paid Sep 14   ($100.00)".
        rf"{_opening_a_cell('thank')}\s+you{_ROW_OF_A_GAP}(?=[^\n]*\d)",
        r"(?:amount|amt\.?)\s+paid(?=[^\n]*\d)",
        r"paid\s+(?:by|on|via)\b(?=[^\n]*\d)",  # "Paid by check on 11/03/2026   118.62 CR"
        r"payments?",
        exclude=r"due|enclos|remit|options|coupon|stub|address|ways|charge|fee|penalt|late",
        exclude_in_sentence=r"\bwill\b|scheduled|upcoming",  # a payment yet to be made, not one received
    ),
    "current_charges": LabelSet.of(
        r"total\s+current\s+(?:month(?:'s)?\s+)?charges",
        r"total\s+new\s+charges",
        r"curr(?:ent|\.)?\s+(?:(?:month(?:'s)?|billing)\s+)?(?:charges|chg?s\.?)",
        r"new\s+charges",
        r"total\s+charges\s+this\s+(?:period|month|bill)",
        r"charges\s+this\s+period",
        # Not "Current Electric Charges": beside "Current Gas Charges" it is one commodity's part of a bill's charges.
    ),
    "statement_date": LabelSet.of(
        r"(?:statement|stmt\.?)\s+(?:date|dt\.?)",
        r"bill(?:ing)?\s+(?:date|dt\.?)",
        r"date\s+of\s+(?:bill|statement)",
        r"invoice\s+date",
        r"issue\s+date",
        r"date\s+issued",
        r"bill\s+issued",
        r"mailing\s+date",
        r"date\s+mailed",
        # "Mailed: 11/09/2026" opening a cell, not a sentence's ("Disconnection notice mailed 11/06/2026"). Not a bare
        # "Date:", which a payment's, a meter read's or a stub's due date opens as often as a statement's.
        rf"{_opening_a_cell('mailed')}(?=\s*:\s*{_A_DATE})",
        exclude=_OTHER_BILL,
    ),
    "due_date": LabelSet.of(
        r"payment\s+due\s+date",
        r"due\s+(?:date|dt\.?)",
        r"payment\s+due(?:\s+by|\s+on)?",
        r"please\s+pay\s+by",
        r"pay\s+by",
        r"due\s+by",
        r"due\s+on",
        r"(?:total|amount|balance)\s+due(?=\s+(?:[a-z]{3,9}\.?\s+\d|\d{1,2}/\d))",  # "Total due Nov 24, 2026  $263.34"
        # "Due: 01/26/26" opening its line or cell, a date after it: not "Next meter reading due: 01/27/26"
        r"(?:^\s*|(?<=\s\s))due(?=\s*:\s*(?:[a-z]{3,9}\.?\s+\d|\d{1,4}[/-]\d))",
    ),
    "period": LabelSet.of(
        r"billing\s+period",
        r"(?:service|svc\.?|serv\.?)\s+period",
        r"billing\s+cycle",
        r"statement\s+period",
        r"bill\s+period",
        r"service\s+dates",
        r"period\s+of\s+service",
        r"service\s+from",
        r"for\s+service(?:\s+from)?",
        r"usage\s+period",
        r"period(?=\s*:|[ \t]{2,}\S)",  # a bare "Period: 10/28/2026 - 11/27/2026", or its own cell
        rf"service(?=\s*:\s*{_A_DATE})",  # "Service: 10/31/2026 to 12/01/2026"; not "Service: 12 Elm St"
        exclude=_OTHER_BILL,
    ),
    "customer_name": LabelSet.of(r"customer\s+name", r"account\s+holder", r"service\s+for", r"customer(?=\s*:)"),
    "service_address": LabelSet.of(r"service\s+address", r"service\s+location", r"premises\s+address"),
    "meter_number": LabelSet.of(r"meter\s+(?:number|no\.?|#|id)", r"meter"),
}

_PAST_DUE_AMOUNT = r"(?:\s+(?:amount|balance|charges?))?(?:\s+due)?"
_UNPAID = (r"(?:amount\s+)?past[\s-]+due", r"overdue", r"(?:amount\s+in\s+)?arrears?")
PAST_DUE_WORDINGS = tuple(f"{unpaid}{_PAST_DUE_AMOUNT}" for unpaid in _UNPAID)
"""The labels of what is unpaid of earlier bills ("Past Due Amount", "Overdue Balance", "Arrears"): the previous
balance's fallback here, and the evidence check's (``extraction.evidence``) past-due amounts."""
_ABOUT_PAST_DUE = (
    r"\b(?:if|after|before|by|will|may|applies|apply|avoid|fees?|late|interest|penalt\w*|notice|disconnect\w*"
    r"|your|is|are|of|the|program|plan|management|forgiv\w*|credit|agreement|installment)\b"
)
"""Words of a sentence or heading about past-due amounts ("A late fee applies to past due balances", "Amount due if
past due after 04/21: $260.00", "PAST DUE NOTICE"): its figure is a fee or a total, not what is unpaid. Nor is an
arrears programme's row ("Arrears Management Program credit  ($25.00)"): a charge or credit of this bill."""

FALLBACK: dict[str, LabelSet] = {
    "period": LabelSet.of(r"(?:meter\s+)?read(?:ing)?\s+(?:dates|period)", exclude=_OTHER_BILL),
    "previous_balance": LabelSet.of(*PAST_DUE_WORDINGS, exclude=_ABOUT_PAST_DUE),
}
"""Wordings read only when none of the field's own labels is found: a bill printing no period gives its meter's
read dates (or its "Reading Period"), but beside a "Service Period" they may differ from it (and sent a good bill to
review). A bill printing no previous balance gives what is unpaid of earlier bills ("Past Due Amount $50.00",
"Arrears $50.00"): read with none, it added up only with that amount folded into the charges, and went to review."""

NOT_A_COMMODITY = re.compile(r"\bgreenhouse[\s-]+gas(?:es)?\b|\bwater[\s-]+heat(?:ers?|ing)?\b", re.IGNORECASE)
"""Wordings with a commodity's word in them that name no commodity: an electric bill's "Greenhouse gas credit" was
stored as a gas item, and a gas bill's "Water heater rental" made its "88 CCF" water. Read commodity words in
``without_false_commodities`` of a text."""


def without_false_commodities(text: str) -> str:
    """``text`` with its ``NOT_A_COMMODITY`` wordings blanked out ("Gas water heater rental": "Gas  rental")."""
    return NOT_A_COMMODITY.sub(" ", text)
