"""The currency a bill's text names: by code, symbol, tax or place; else US dollars, as the templates are US
utilities'. A bill that names another currency is read, but a person confirms it. A Canadian, Australian or
New Zealand bill prints a bare "$" too: its place names the currency."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PROVINCE = (
    r"(?i:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT|Alberta|British\s+Columbia|Manitoba|New\s+Brunswick"
    r"|Newfoundland(?:\s+and\s+Labrador)?|Nova\s+Scotia|Ontario|Prince\s+Edward\s+Island|Qu[e\u00e9]bec"
    r"|Saskatchewan|Yukon|Northwest\s+Territories|Nunavut)"
)
_POSTAL_CODE = r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ \t]?\d[ABCEGHJ-NPRSTV-Z]\d\b"
_POSTAL_CODE_RE = re.compile(_POSTAL_CODE)
_AU_POSTCODES = {
    **dict.fromkeys(("NSW", "VIC", "QLD", "TAS"), r"\d{4}"),
    "WA": r"6\d{3}",
    "ACT": r"(?:02\d\d|26(?:0\d|1[0-8])|29(?:[01]\d|20))",
}
"""A state with its postcode ("Sydney NSW 2001", "Perth WA 6000", "Canberra ACT 2601"). WA and ACT only with
their own postcodes (6000-6999; 0200-0299, 2600-2618, 2900-2920): US bills print the letters too, Washington's
with five digits ("WA 98101"). Not SA or NT: "SA 1234" is an agreement on a US bill."""
_AU_STATE_RE = re.compile(rf"(?:{'|'.join(_AU_POSTCODES)})[ \t]+\d{{4}}")
_COUNTRY = re.compile(
    r"Australia|Canada|New\s+Zealand|NZ|United\s+Kingdom|UK|Western\s+Australia|Australian\s+Capital\s+Territory"
)
"""Countries, and the Australian states that US bills' abbreviations hide, named where an address ends."""
_PROVINCE_BEFORE = re.compile(rf"\b{_PROVINCE}\)?,?(?:[ \t]+|[ \t]*\r?\n[ \t]*)$")
"""On the code's line or ending the line before it ("OTTAWA ON" above "K1P 1J1"). Looked for before a postal
code only: tried at every position of the text, it took ~20 ms a 100 kB text."""
_POSTCODE_BEFORE = re.compile(r"(?<![\d-])\d{4}[ \t]+$")
_POSTCODE_AFTER = re.compile(r"[ \t]+\d{4}(?:[ \t]*$|[ \t]{2}|,)", re.MULTILINE)
"""A four-digit postcode beside a country or a state, ending its cell: "Hamilton 3240 New Zealand", "Perth,
Western Australia 6000"."""
_REGISTER_BEFORE = re.compile(r"\b(?:read(?:ing)?|register|meter)\b[^\n]{0,12}$", re.IGNORECASE)
"""A meter's wording before "ACT 2605": a register read actual, not Canberra's postcode."""
_FOREIGN_CURRENCIES: dict[str, tuple[re.Pattern[str], ...]] = {
    code: tuple(re.compile(wording) for wording in wordings)
    for code, wordings in {
        "AUD": (
            r"AUD\b",
            r"AU?\$",
            r"ABN\b",
            r"Australia\b",
            r"Western\s+Australia\b",
            r"Australian\s+Capital\s+Territory\b",
            *(rf"{state}[ \t]+{postcode}(?![\d-])" for state, postcode in _AU_POSTCODES.items()),
        ),
        "CAD": (
            r"CAD\b",
            r"CA?\$",
            r"Canada\b",
            _POSTAL_CODE,  # after its province: "ON M5V 2T6", "(Quebec) H2Z 1A4"
            r"GST/HST",  # Canadian sales taxes: "GST/HST registration", "HST Reg. No.", Quebec's QST
            r"HST[ \t]+(?:Reg|No\b|#)",
            r"QST\b",
        ),
        "EUR": (r"EUR\b", "\u20ac"),
        "GBP": (
            r"GBP\b",
            "\u00a3",
            r"United\s+Kingdom\b",
            r"UK\b",
            r"VAT\b[^\n\d]{0,30}GB[ \t]?\d{3}[ \t]?\d{4}[ \t]?\d{2}(?:[ \t]?\d{3})?(?!\d)",  # a British VAT number
        ),
        "NZD": (r"NZD\b", r"NZ\$", r"New\s+Zealand\b", r"NZ\b", r"NZBN\b"),  # NZBN: a New Zealand business number
    }.items()
}
"""Each wording a pattern of its own that starts with a letter or a symbol, which ``re`` looks for quickly;
in one alternation, or after a leading ``\\b``, every wording was tried at every position of the text (~1 ms
a bill). ``_foreign_currencies`` checks that a match starts a word instead."""
_UNNAMED_CURRENCY_TAX = re.compile(r"GST\b|VAT\b")
"""A goods and services tax (Australia's, Canada's, New Zealand's) or a value-added tax (Britain's, Ireland's,
the EU's, South Africa's): no US bill charges one, and neither names one currency."""
_RATE_NAME_BEFORE = re.compile(r"\b(?:schedule|rate|tier|class|plan|option|block)\s*$", re.IGNORECASE)
"""A rate's name before "A$0.1123": "Rate Schedule A$0.1123 per kWh" is schedule A at $0.1123."""


@dataclass(frozen=True)
class BillCurrency:
    code: str
    """The one currency ``text`` names; "USD" when it names none, or several (a person picks)."""
    foreign: bool
    """Whether anything says the amounts are not US dollars: then a person confirms ``code``."""


def bill_currency(text: str) -> BillCurrency:
    """The currency of a bill's ``text`` (see ``BillCurrency``)."""
    named = _foreign_currencies(text)
    taxed = any(_starts_a_word(text, match.start()) for match in _UNNAMED_CURRENCY_TAX.finditer(text))
    return BillCurrency(named[0] if len(named) == 1 else "USD", foreign=bool(named) or taxed)


def _foreign_currencies(text: str) -> list[str]:
    """The non-USD currencies ``text`` names by code, symbol or place ("CAD", "C$", "€", "£", "ABN")."""
    return [
        code
        for code, patterns in _FOREIGN_CURRENCIES.items()
        if any(_names_currency(text, match) for pattern in patterns for match in pattern.finditer(text))
    ]


def _names_currency(text: str, match: re.Match[str]) -> bool:
    """Whether ``match`` names its currency: a word of its own; a country as an address's country line
    ("Wellington, New Zealand"), not a street's or a town's ("12 Canada Ave", "La Canada Flintridge, CA") nor
    a sentence's ("US and Canada 1-800-..."); a dollar sign not after a rate's name ("Schedule A$0.11"); a
    state's postcode not after a meter's wording ("Current read ACT 2605")."""
    if not _starts_a_word(text, match.start()):
        return False
    if _COUNTRY.fullmatch(match.group()):
        return _country_line(text, match)
    if match.group() in ("A$", "C$"):
        return _RATE_NAME_BEFORE.search(text, max(0, match.start() - 12), match.start()) is None
    if _POSTAL_CODE_RE.fullmatch(match.group()):
        return _PROVINCE_BEFORE.search(text, max(0, match.start() - 40), match.start()) is not None
    if _AU_STATE_RE.fullmatch(match.group()):
        return _REGISTER_BEFORE.search(text, max(0, match.start() - 30), match.start()) is None
    return True


def _country_line(text: str, match: re.Match[str]) -> bool:
    """Whether a country name ends an address: first in its cell, after a comma or a postcode, and last in
    its cell or before a postcode that is."""
    line_start = text.rfind("\n", 0, match.start()) + 1
    before = text[line_start : match.start()]
    first = not before.strip() or before.rstrip().endswith(",") or before.endswith("  ")
    first = first or _POSTCODE_BEFORE.search(before) is not None
    after = text[match.end() : match.end() + 3]
    last = not after.strip(" .\t") or after.startswith("\n") or after.startswith("  ")
    return first and (last or _POSTCODE_AFTER.match(text, match.end()) is not None)


def _starts_a_word(text: str, at: int) -> bool:
    """Not inside a word: "FRAUD" names no Australian dollars, "12,50€" euros all the same."""
    return at == 0 or not (text[at - 1].isalnum() and text[at].isalnum())
