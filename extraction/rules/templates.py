"""Known providers, invoice2data style: keywords that identify the bill, plus its own wordings.

A template is data, not code: adding a provider means adding one entry here. ``quirks``
is also sent to Gemini when the provider is known.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.bill import Commodity, Provider


@dataclass(frozen=True)
class Template:
    provider: Provider
    name: str
    keywords: tuple[str, ...]
    """Its names: they identify a bill where the bill names its sender (``identifying_lines``), not anywhere."""
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ccf_commodity: Commodity | None = None
    quirks: str = ""
    sites: tuple[str, ...] = ()
    """Its web addresses: they identify a bill where its names do. Another utility's bill prints them in passing too
    (a water district's "Smell gas? Call PG&E ... or visit pge.com/gassafety")."""
    commodities: frozenset[Commodity] = frozenset(Commodity)
    """What it bills for: a bill of another commodity is some other utility's, whatever its letterhead says."""

    def matches(self, text: str, identifying: str | None = None) -> bool:
        """Whether ``text`` names this provider as the bill's sender: a name or a site in its ``identifying_lines``
        (given, when the caller has them for every template)."""
        identifying = identifying_lines(text) if identifying is None else identifying
        return self.names(identifying)

    def names(self, text: str) -> bool:
        """Whether ``text`` has one of its names or sites."""
        return any(re.search(pattern, text, re.IGNORECASE) for pattern in (*self.keywords, *self.sites))


TEMPLATES: tuple[Template, ...] = (
    Template(
        provider=Provider.PGE,
        name="Pacific Gas and Electric Company",
        keywords=(r"pacific\s+gas\s+(?:and|&)\s+electric", r"\bPG&E\b"),
        sites=(r"pge\.com",),
        commodities=frozenset({Commodity.ELECTRICITY, Commodity.GAS}),
        labels={
            "previous_balance": (r"amount\s+due\s+on\s+previous\s+statement",),
            "payments_received": (r"payment\(s\)\s+received(?:\s+since\s+last\s+statement)?",),
            "current_charges": (r"total\s+pg&e\s+charges",),
        },
        ccf_commodity=Commodity.GAS,
        quirks=(
            "Combined electric (kWh) and gas (therms) statements; 'Amount Due on Previous "
            "Statement' is the previous balance, not the total; account numbers look like "
            "1234567890-1."
        ),
    ),
    Template(
        provider=Provider.CONED,
        name="Con Edison",
        keywords=(r"\bcon\s*edison\b", r"consolidated\s+edison"),
        sites=(r"coned\.com",),
        commodities=frozenset({Commodity.ELECTRICITY, Commodity.GAS}),
        labels={
            "previous_balance": (r"balance\s+from\s+last\s+bill",),
            "current_charges": (r"total\s+charges",),
        },
        ccf_commodity=Commodity.GAS,
        quirks=(
            "Dates are printed like 'Dec 05, 2025'; gas usage is in therms or ccf; account "
            "numbers look like 12-3456-7890-1234-5."
        ),
    ),
    Template(
        provider=Provider.DUKE,
        name="Duke Energy",
        keywords=(r"\bduke\s+energy\b",),
        sites=(r"duke-energy\.com",),
        commodities=frozenset({Commodity.ELECTRICITY, Commodity.GAS}),
        labels={
            "current_charges": (r"current\s+bill",),
            "usage": (r"energy\s+used",),
        },
        quirks=(
            "Electric only (kWh); 'Current Bill' is the current charges; account numbers are 12 digits grouped 4-4-4."
        ),
    ),
    Template(
        provider=Provider.SFPUC,
        name="San Francisco Public Utilities Commission",
        keywords=(
            r"san\s+francisco\s+public\s+utilities",
            r"\bSFPUC\b",
            r"san\s+francisco\s+water\W+power\W+(?:and\s+|&\s+)?sewer",  # its brand's letterhead
        ),
        sites=(r"sfwater\.org",),
        commodities=frozenset({Commodity.WATER, Commodity.ELECTRICITY}),
        labels={
            "current_charges": (r"total\s+water\s+and\s+sewer\s+charges",),
            "usage": (r"units\s+billed",),
        },
        ccf_commodity=Commodity.WATER,
        quirks=(
            "Water and sewer; usage is in units of CCF (1 CCF = 748 gallons); sewer charges "
            "are line items, not a separate usage."
        ),
    ),
)

BY_PROVIDER: dict[Provider, Template] = {t.provider: t for t in TEMPLATES}


@dataclass(frozen=True)
class TemplateChoice:
    """The template to read with; ``matched`` only when the text has its keywords (a hint alone is a guess)."""

    template: Template | None
    matched: bool = False
    clash: bool = False


def select_template(text: str, hint: Provider | None, sender: str | None = None) -> TemplateChoice:
    """The template the bill names as its sender (``Template.matches``), else the hint's (unmatched), and whether
    they clash. Where the bill's letterhead names an organization (``sender``), only a template of that name: a line
    under another utility's letterhead names a provider in too many wordings to list ("Gas emergencies: PG&E", "Your
    utility is Con Edison", "Duke Energy's natural gas utility"), and made the bill that provider's, trusted unread.
    ``sender`` may be several names, one a line (a brand over its owner's name), or an e-mail's whole "From:" line:
    a template named in any of them, or whose site is the sender's address, is the sender's."""
    identifying = identifying_lines(text)
    matched: Sequence[Template] = [
        t for t in TEMPLATES if t.matches(text, identifying) and (sender is None or t.names(sender))
    ]
    if len(matched) == 1:
        template = matched[0]
        return TemplateChoice(template, matched=True, clash=hint is not None and hint is not template.provider)
    if hint is not None and hint in BY_PROVIDER:
        guess = BY_PROVIDER[hint]
        return TemplateChoice(guess, clash=_another_utility(sender, guess) and not _sent_by(guess, text, identifying))
    return TemplateChoice(None)


_UTILITY_WORD = re.compile(
    r"\b(?:utilit(?:y|ies)|authority|district|cooperative|co-?op|commission|energy|power|light|electric(?:ity)?|gas"
    r"|water|sewer)\b",
    re.IGNORECASE,
)
"""A word of a utility's name: not of every organization's, since a business customer's ("Keystone Foundry Inc.")
may head a bill whose utility's name is an image."""


def _sent_by(template: Template, text: str, identifying: str) -> bool:
    """Whether the bill names ``template``'s provider as its sender: by name where it names its sender (letterhead,
    payee, stub), or by its site anywhere ("Pay online at pge.com"). Not a name anywhere: "Gas emergencies: call
    PG&E" or "Not affiliated with Pacific Gas and Electric Company" under another utility's letterhead made the bill
    PG&E's."""
    return template.names(identifying) or any(re.search(site, text, re.IGNORECASE) for site in template.sites)


def _another_utility(sender: str | None, guess: Template) -> bool:
    """Whether the letterhead names a utility the account's provider is not ("Lakeshore Power Cooperative" on a PG&E
    account): read as the account's, another utility's bill was filed as PG&E's, and accepted unseen. Asked only of
    a bill not sent by the account's provider (``_sent_by``): a business customer's name heads a bill as often ("Acme
    Solar Power LLC", "Smith Electric Inc."), its utility's name an image, its payee or site in the text below."""
    if sender is None or guess.names(sender):
        return False
    return any(_UTILITY_WORD.search(line) for line in sender.splitlines())


HEAD_LINES = 10
"""How many of a bill's first non-blank lines are its letterhead (or an e-mail's headers)."""
_PAYEE_LINE = re.compile(r"payable\s+to|\bremit|^\s*(?:from|sender)\s*:", re.IGNORECASE | re.MULTILINE)
_STUB_START = re.compile(r"return\s+this\s+(?:portion|stub|coupon)|\bdetach\b|payment\s+(?:coupon|stub)", re.IGNORECASE)
STUB_LINES = 6
"""How many non-blank lines after a remittance stub's opening ("Please detach and return this portion") name the
payee."""


def identifying_lines(text: str) -> str:
    """The lines a bill names its sender on: its first ``HEAD_LINES`` non-blank lines, any naming the payee ("Make
    checks payable to PG&E", "Remit to") or the sender ("From: ..."), and a remittance stub's first lines (a
    letterhead that is an image leaves the stub's "Please return this portion ... / Pacific Gas and Electric
    Company"). Not a mention anywhere: a water bill's "Power outage? Call Duke Energy" or a supplier's "Delivery is
    billed by Con Edison" made the bill that provider's, and accepted; nor a head line's account label, a utility
    named beside or under its label, an owner's tagline ("A Duke Energy Company"), or a sentence (a top banner's
    "Smell gas? Call PG&E 1-800-743-5000")."""
    lines = [line for line in text.splitlines() if line.strip()]
    head = [_without_cells(line, _ACCOUNT_LABEL, _SENTENCE) for line in _without_utility_columns(lines[:HEAD_LINES])]
    payees = [line for line in lines if _PAYEE_LINE.search(line)]
    stubs = [
        line
        for at, opening in enumerate(lines)
        if _STUB_START.search(opening)
        for line in lines[at : at + 1 + STUB_LINES]
    ]
    return "\n".join(without_tagline(line) for line in head + payees + stubs)


def without_tagline(line: str) -> str:
    """``line`` without an owner's tagline (``_TAGLINE``): "A Duke Energy Co." names no sender."""
    return _TAGLINE.sub("", line)


_TAGLINE = re.compile(
    r"\ban?\s+(?:\S+ ){1,5}?(?:company|corporation|co(?![\w-])\.?|subsidiary|affiliate)(?!\w)"
    r"|\b(?:(?:an?|wholly[- ]owned)\s+)?(?:subsidiary|affiliate|division|member|part)\s+of\b(?: ?\S)*"
    r"|\b(?:wholly[- ])?owned\s+by\b(?: ?\S)*",
    re.IGNORECASE,
)
"""A sender's owner named beside it ("Piedmont Natural Gas / A Duke Energy Company", "Orange & Rockland / A
ConEdison, Inc. Company", "a subsidiary of ...", "A Duke Energy Co.", "Owned by Duke Energy"): the bill is the
subsidiary's, and was taken for the owner's. Up to the end of its cell."""
_UTILITY = (
    r"(?:your\s+)?(?:utility|ldc|(?:local\s+)?distribution\s+(?:company|utility)|delivery\s+(?:company|provider|utility))"
    r"(?:\s+(?:company|name|provider))*(?:\s*\([^)]{0,40}\))?"
)
_ACCOUNT_LABEL = re.compile(
    rf"\bacc(?:oun)?t\b\.?\s*(?:number|no\b|#|id\b|:)|\b{_UTILITY}\s*(?::|[-\u2013\u2014]\s)", re.IGNORECASE
)
"""An account's label, or the utility's beside a supplier's name: "Utility:", "Utility Company Name:", "Local
Distribution Company (LDC):", "Delivery Provider:", "Utility - Con Edison"."""
_UTILITY_HEADING = re.compile(rf"{_UTILITY}\s*:?", re.IGNORECASE)
"""A cell that heads the utility's name printed under it ("Utility", "Utility Company:")."""
# Cells split at a run of blanks or a tab only: a no-break space inside "Utility:\xa0Con Edison" joins one cell.
_CELL_GAP = re.compile(r"[ \t]{2,}|\t")
_CELL = re.compile(r"[^ \t]+(?: [^ \t]+)*")
"""A cell, as ``_CELL_GAP`` splits them."""


def _without_utility_columns(lines: list[str]) -> list[str]:
    """``lines`` without the cells under a utility's heading: a supplier's invoice prints its utility in a box
    ("Utility          Utility Account Number" over "Con Edison       45-8812-..."), and was taken for its bill."""
    kept = list(lines)
    for at, line in enumerate(lines[:-1]):
        for heading in _CELL.finditer(line):
            if _UTILITY_HEADING.fullmatch(heading.group()):
                kept[at + 1] = _blanked_under(kept[at + 1], heading.start(), heading.end())
    return kept


def _blanked_under(line: str, start: int, end: int) -> str:
    """``line`` with blanks for its cells that overlap the columns ``start``-``end``."""
    for cell in _CELL.finditer(line):
        if cell.start() < end and start < cell.end():
            line = line[: cell.start()] + " " * len(cell.group()) + line[cell.end() :]
    return line


def _without_cells(line: str, *unwanted: re.Pattern[str]) -> str:
    """A letterhead line without its cells that label an account or a utility (``_ACCOUNT_LABEL``: a supplier's
    invoice heads its utility's account, "Con Edison Account Number: 12-3456-...", "Utility: Con Edison", and was
    taken for that utility's bill), or that are sentences (``_SENTENCE``)."""
    return "  ".join(cell for cell in _CELL_GAP.split(line) if not any(p.search(cell) for p in unwanted))


_SENTENCE = re.compile(
    r"\?|(?:^|[.!:;,]\s*|\b(?:please|or|and|then)\s+|\b(?:to|for)\s+\w+\s+)"
    r"(?:call|dial|visit|report|contact|text|e-?mail|go\s+to|log\s*(?:in|on)\s+to)\b(?!\s+cent(?:er|re)\b|\s*:)",
    re.IGNORECASE,
)
"""A sentence: a question, or a request to call, visit, report or contact ("For outages call Duke Energy at ...",
"Please contact Con Edison"). Not a name with such a word ("Duke Energy Call Center") nor a label ("Email:"). Another
utility's safety banner at the top of a bill ("Smell gas? Call PG&E 1-800-743-5000") identified an electric co-op's
bill as PG&E's; the sender's name in a cell beside it ("PG&E      Questions? Call 1-800-743-5000") still counts."""
