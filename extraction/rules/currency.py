"""The currency a bill's text names: by code, symbol, tax or place; else US dollars, as the templates are US
utilities'. A bill that names another currency is read, but a person confirms it. A Canadian, Australian or
New Zealand bill prints a bare "$" too: its place names the currency (as do Singapore, Hong Kong, Jamaica,
Trinidad and Tobago, the Bahamas, Barbados and Fiji)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from extraction.charsets import WINDOWS_1252
from extraction.values import METRIC_UNIT, number_format

_PROVINCE = (
    r"(?i:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT|Alberta|British\s+Columbia|Manitoba|New\s+Brunswick"
    r"|Newfoundland(?:\s+and\s+Labrador)?|Nova\s+Scotia|Ontario|Prince\s+Edward\s+Island|Qu[e\u00e9]bec"
    r"|Saskatchewan|Yukon|Northwest\s+Territories|Nunavut)"
)
_POSTAL_CODE = r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ \t]?\d[ABCEGHJ-NPRSTV-Z]\d\b"
_POSTAL_CODE_RE = re.compile(_POSTAL_CODE)
_AU_STATES = ("NSW", "VIC", "QLD", "TAS")
"""With a postcode ("Sydney NSW 2001"), wherever it stands: US bills print none of them."""
_AU_STATES_US_BILLS_PRINT = {"WA": r"6\d{3}", "ACT": r"(?:26(?:0\d|1[0-8])|29(?:[01]\d|20))"}
"""Western Australia and the ACT only as an address writes them: a town, the state and its own street
postcode ("Perth WA 6000", "Canberra ACT 2601", pypdf's layout mode's "PERTH  WA  6000", the town on the line
above), no unit nor another figure after it. US bills print the letters too: Washington's with five digits
("WA 98101"), a register read actual in a table ("01/02/26    ACT    2607      512 kWh", "Meter reading ACT
2605"), a rate ("Schedule WA 6001"). The ACT's 0200-0299 belong to its university and government mail, no
home's or utility's address, and "Clean Air ACT 0250" is a US bill's."""
_NOT_A_READING = (
    rf"(?![\d-])(?![ \t]*+(?i:k?wh|kw|therms?|ccf|hcf|k?gal(?:lons?)?|units?|{METRIC_UNIT})\b)"
    r"(?![ \t]{2,}+\d)"  # a meter table's next cell: "Residential ACT   2607   2698"
)
"""Blanks taken whole (``*+``): given back one by one, each tried for a unit, a run of blanks after each
"WA 6000" cost ~250 ns a character."""
_METER_RATE_OR_FIGURE_WORDS = frozenset(
    {
        *("read", "reading", "register", "meter", "type", "schedule", "rate", "tier", "class", "plan", "option"),
        "block",  # a meter's, a rate's
        *("suite", "ste", "unit", "apt", "box", "lockbox", "invoice", "account", "acct", "no", "number"),  # a figure's
    }
)
"""A meter's, a rate's or a figure's wording, where a town's word would stand: no town."""
_NOT_A_STATES_TOWN = _METER_RATE_OR_FIGURE_WORDS | {"usage", "service", "svc"}
"""Before "WA" or "ACT": no town ("Meter reading ACT 2605", "SVC  WA  6250 gal"). "Page" is one, a suburb of
Canberra ("Page ACT 2614")."""
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NOT_A_TOWN = "|".join(sorted(_METER_RATE_OR_FIGURE_WORDS | {"page"}))
_TOWN = rf"(?<![A-Za-z])(?!(?i:{_NOT_A_TOWN})\b)[A-Za-z]{{2,24}}"
"""A town's (last) word: letters, not a meter's, a rate's or a number's wording ("Meter reading ACT 2605",
"Suite 1200 UK", "Invoice 1234, NZ")."""
_UK_POSTCODE = r"(?<![A-Za-z\d])[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
_COUNTRY = re.compile(
    r"Australia|Canada|New\s+Zealand|NZ|United\s+Kingdom|UK|Western\s+Australia|Australian\s+Capital\s+Territory",
    re.IGNORECASE,
)
"""Countries, and the Australian states that US bills' abbreviations hide, named where an address ends."""
_ABBREVIATIONS = ("NZ", "UK")
"""A country's letters, which any list or slogan prints ("US, Canada, UK", "NZ 2050"): a country line only
alone on its line, after its postcode ("Wellington 6011, NZ", "London SW1A 1AA, UK"), after a town and a
comma ("London, UK"), after a town's cell ("Ltd  |  London  |  UK") or after a "Country:" label."""
_NOT_A_COUNTRYS_TOWN = _NOT_A_STATES_TOWN | frozenset(
    {"us", "usa", "america", "states", "canada", "mexico", "australia", "zealand", "nz", "uk", "kingdom"}
    | {"britain", "england", "ireland", "europe", "eu"}
)
"""A list's countries before the letters ("Customer service: US, Canada, UK"): no town."""
_CELL_SEPARATORS = " \t|"
_COUNTRY_LABEL = "country:"
_POSTCODE_AFTER_COUNTRY = {"Australia", "New Zealand"}
"""Countries whose postcode may follow their name after a town ("Sydney, Australia 2000"). Alone ("Australia
2025") it is a year."""
_FOUR_DIGIT_POSTCODE = re.compile(r"[ \t]{1,4}\d{4}(?:[ \t]*\r?$|[ \t]{2}|,)", re.MULTILINE)
_TOWN_POSTCODE = rf"{_TOWN}(?:[ \t]+|,?[ \t]*\r?\n[ \t]*)\d{{4}}"
_POSTCODE_BEFORE = {
    country: re.compile(rf"{postcode}(?:,[ \t]*|[ \t]+)$")
    for country, postcode in {
        "Australia": _TOWN_POSTCODE,
        "Canada": rf"(?<![A-Za-z\d]){_POSTAL_CODE}",
        "New Zealand": _TOWN_POSTCODE,
        "NZ": _TOWN_POSTCODE,
        "United Kingdom": _UK_POSTCODE,
        "UK": _UK_POSTCODE,
        "Western Australia": _TOWN_POSTCODE,
        "Australian Capital Territory": _TOWN_POSTCODE,
    }.items()
}
"""A town and its postcode, or a postcode of the country's own form, before its name: "Hamilton 3240 New
Zealand", "Wellington\\n6011 New Zealand", "Toronto M5V 2T6, Canada". Canada's and Britain's are letters and
digits: "1200 Canada" and "Suite 1200 UK" are no addresses, nor is "Invoice 1234 NZ"."""
_POSTCODE_AFTER = {
    state: re.compile(rf"[ \t]{{1,4}}{_AU_STATES_US_BILLS_PRINT[code]}(?:[ \t]*\r?$|[ \t]{{2}}|,)", re.MULTILINE)
    for state, code in {"Western Australia": "WA", "Australian Capital Territory": "ACT"}.items()
}
"""A state's own postcode after its name, ending its cell: "Bunbury, Western Australia 6230". A country's
name comes after its postcode: "Australia 2025" and "Canada 2025" are years."""
_CELL_START = re.compile(r"(?:,[ \t]*|  )$")
_CELL_END = re.compile(r"\.?(?:[ \t]*\r?$|[ \t]{2})", re.MULTILINE)
_BEFORE_WINDOW = 48
"""How far back a name's postcode or town is looked for: a town's word (24 letters at most), a postcode (8
characters at most) and the blanks between fit. Looked for in all of the line before each name, "UK UK UK
..." on one line took seconds."""
_AFTER_WINDOW = 12
"""How far after a name its cell's end, or a state's postcode and then its cell's end, is looked for. A
window's end reads as a line's end to ``$``: only after two blanks at least, which end a cell anyway."""
_CANONICAL_COUNTRY = {name.upper(): name for name in _POSTCODE_BEFORE}
"""A country's name as the tables key it, whatever its case ("AUSTRALIA", "NEW ZEALAND")."""
_PROVINCE_BEFORE = re.compile(rf"\b{_PROVINCE}\)?,?(?:[ \t]+|[ \t]*\r?\n[ \t]*)$")
"""On the code's line or ending the line before it ("OTTAWA ON" above "K1P 1J1"). Looked for before a postal
code only: tried at every position of the text, it took ~20 ms a 100 kB text."""
_PLACE_SUFFIX = r"(?:[ \t]*,?[ \t]*(?:SAR|W\.?[ \t]*I\.?|Islands|[A-Z]{2}\d{5}|\d{4,6}))?"
"""What an address prints after such a place's name: "Hong Kong SAR", "Jamaica, W.I.", "Fiji Islands", "Barbados
BB14000", "Singapore 079903"."""
_ENDS_AN_ADDRESS = rf"(?={_PLACE_SUFFIX}[ \t]*[.,]?[ \t]*(?:\r?\n|\Z|[ \t]{{2}}|(?i:tel|phone|fax)\b))"
"""After a place's name: the end of its line or cell, or a telephone number's label, its suffix (``_PLACE_SUFFIX``)
and a stop between. Not a US address's town ("Jamaica, NY 11432", "Jamaica Plain, MA"), a street ("1200 Bahamas
Dr") nor a business ("HONG KONG GARDEN RESTAURANT", "Bahamas Breeze #4012")."""
_NO_NAME_AFTER = r"\b(?!\s+[A-Z][a-z])"
"""After a currency's name: not a proper name's next word ("Euros Lane", "Indian Rupees Restaurant")."""
_CHARGED = r"(?:[ \t]*\(?[ \t]*\d{1,2}(?:[.,]\d{1,3})?[ \t]*%|[ \t.:]*\$[ \t]*\d)"
"""After a tax's name, that it is charged: its rate ("(13%)", "9,975 %") or its amount ("$14.05")."""
_FOREIGN_CURRENCIES: dict[str, tuple[re.Pattern[str], ...]] = {
    code: tuple(re.compile(wording) for wording in wordings)
    for code, wordings in {
        "AUD": (
            r"AUD\b",
            r"AU?\$",
            r"ABN\b",
            r"BPAY\b",  # Australia's bill payment scheme ("Pay easily with BPAY: Biller code 12345"): 76B
            r"Australia\b",
            r"AUSTRALIA\b",
            r"Western\s+Australia\b",
            r"WESTERN\s+AUSTRALIA\b",
            r"Australian\s+Capital\s+Territory\b",
            rf"Australian\s+[Dd]ollars?{_NO_NAME_AFTER}",
            r"AUSTRALIAN\s+CAPITAL\s+TERRITORY\b",
            r"AUSTRALIAN\s+DOLLARS?\b",
            *(rf"{state}[ \t]+\d{{4}}(?![\d-])" for state in _AU_STATES),
            *(
                rf"{state}[ \t]{{1,12}}{postcode}{_NOT_A_READING}"
                for state, postcode in _AU_STATES_US_BILLS_PRINT.items()
            ),
        ),
        "CAD": (
            r"CAD\b",
            r"CA?\$",
            r"Canada\b",
            r"CANADA\b",
            _POSTAL_CODE,  # after its province: "ON M5V 2T6", "(Quebec) H2Z 1A4"
            r"GST/HST",  # Canadian sales taxes: "GST/HST registration", "HST Reg. No.", Quebec's QST
            r"HST[ \t]+(?:Reg|No\b|#)",
            r"QST\b",
            # A provincial sales tax charged, at its rate or as an amount ("HST (13%)", "HST   $14.05", "TPS 5 %"):
            # not Hawaii's or the Pacific's time ("8 AM - 5 PM PST"). An Ontario bill's "HST (13%)" was accepted as
            # US dollars (76B).
            *(rf"{tax}{_CHARGED}" for tax in ("HST", "PST", "TPS", "TVQ")),
            # A currency's name ("All amounts are shown in Canadian dollars.": read as dollars, accepted), not a
            # proper name's part ("Euros Lane", "Indian Rupees Restaurant") nor a refusal's (``_REFUSED``).
            rf"Canadian\s+(?:[Dd]ollars?|[Ff]unds){_NO_NAME_AFTER}",
            r"CANADIAN\s+(?:DOLLARS?|FUNDS)\b",
            r"[Dd]ollars?\s+[Cc]anadiens?\b",
            r"DOLLARS?\s+CANADIENS?\b",
        ),
        "EUR": (
            r"EUR\b",
            "\u20ac",
            rf"[Ee]uros{_NO_NAME_AFTER}",
            r"EUROS\b(?!\s+[A-Z])",
            r"[IiEe]n\s+[Ee]uro\b(?![-\w])",
        ),
        "GBP": (
            r"GBP\b",
            "\u00a3",
            rf"[Pp]ounds?\s+[Ss]terling{_NO_NAME_AFTER}",  # not "Sterling" alone: Sterling, VA is a US town
            r"POUNDS?\s+STERLING\b",
            r"United\s+Kingdom\b",
            r"UNITED\s+KINGDOM\b",
            r"UK\b",
            r"VAT\b[^\n\d]{0,30}GB[ \t]?\d{3}[ \t]?\d{4}[ \t]?\d{2}(?:[ \t]?\d{3})?(?!\d)",  # a British VAT number
            r"GB[ \t]?VAT\b[^\n\d]{0,30}\d{3}[ \t]?\d{4}[ \t]?\d{2}(?:[ \t]?\d{3})?(?!\d)",  # "GB VAT No: 123 4567 89"
        ),
        "MXN": (
            r"[Pp]esos\s+[Mm]exicanos\b",
            r"PESOS\s+MEXICANOS\b",
            rf"Mexican\s+[Pp]esos{_NO_NAME_AFTER}",
            r"MEXICAN\s+PESOS\b",
        ),
        "CHF": (rf"Swiss\s+[Ff]rancs{_NO_NAME_AFTER}", r"SWISS\s+FRANCS\b"),  # not "Like a Swiss franc, ..."
        "INR": (rf"Indian\s+[Rr]upees{_NO_NAME_AFTER}", r"INDIAN\s+RUPEES\b(?!\s+[A-Z])"),
        "NZD": (
            r"NZD\b",
            r"NZ\$",
            r"New\s+Zealand\b",
            r"NEW\s+ZEALAND\b",
            r"NZ\b",
            r"NZBN\b",  # a New Zealand business number
        ),
        # Other places whose bills print a bare "$", where an address ends (``_ENDS_AN_ADDRESS``).
        "SGD": tuple(rf"{name}{_ENDS_AN_ADDRESS}" for name in ("Singapore", "SINGAPORE")),
        "HKD": tuple(rf"{name}{_ENDS_AN_ADDRESS}" for name in (r"Hong\s+Kong", r"HONG\s+KONG", "Kowloon", "KOWLOON")),
        # Trinidad only with Tobago: "Trinidad, CO" is a US address.
        "JMD": tuple(rf"{name}{_ENDS_AN_ADDRESS}" for name in ("Jamaica", "JAMAICA")),
        "TTD": (r"Trinidad[ \t]+(?:and|&)[ \t]+Tobago\b", r"TRINIDAD[ \t]+(?:AND|&)[ \t]+TOBAGO\b"),
        "BSD": tuple(rf"{name}{_ENDS_AN_ADDRESS}" for name in ("Bahamas", "BAHAMAS")),
        "BBD": tuple(rf"{name}{_ENDS_AN_ADDRESS}" for name in ("Barbados", "BARBADOS")),
        "FJD": tuple(rf"{name}{_ENDS_AN_ADDRESS}" for name in ("Fiji", "FIJI")),
    }.items()
}
"""Each wording a pattern of its own that starts with a letter or a symbol, which ``re`` looks for quickly;
in one alternation, or after a leading ``\\b``, every wording was tried at every position of the text (~1 ms
a bill). ``_foreign_currencies`` checks that a match starts a word instead."""
_UNNAMED_CURRENCY_TAX = tuple(
    re.compile(rf"{wording}\b")
    for wording in (
        "GST",
        "VAT",
        "Vat",
        "vat",
        r"VALUE[\s-]+ADDED\s+TAX",
        r"Value[\s-]+Added\s+Tax",
        r"Value[\s-]+added\s+tax",
        r"value[\s-]+added\s+tax",
    )
)
"""A goods and services tax (Australia's, Canada's, New Zealand's) or a value-added tax (Britain's, Ireland's,
the EU's, South Africa's), however cased ("Vat @ 5%", "Value-added tax"): no US bill charges one, and neither
names one currency. Each casing a pattern of its own: ``re`` looks for a literal start quickly, for one
ignoring case ~15 times slower."""
_METRIC_READING = re.compile(
    r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d{1,6})(?:\.\d+)?"
    r"(?:[ \u00a0\u2009\u202f]?[mM]\u00b3|[ \u00a0\u2009\u202f]"
    r"(?:[mM]3|k[lL]|KL|G[Jj]|gj|(?i:cubic\s+met(?:re|er)s?|gigajoules?|kilolit(?:re|er)s?)))(?![A-Za-z0-9])"
)
"""A quantity in cubic metres, kilolitres or gigajoules ("29 m3", "2.4 GJ"): no US utility counts in them, and
a dollar sign beside them is Canada's, Australia's or New Zealand's as likely. A quantity's figure, apart from
the unit's letters: glued to them, a long one is an identifier's ("Meter 0045123M3", "code 40GJ"). Mostly cased
as printed: ``re`` skips to a digit quickly, and tries the few words after it ignoring case only there."""
_SIGN_CURRENCIES = {"\u20ac": "EUR", "\u00a3": "GBP"}
"""The signs ``_FOREIGN_CURRENCIES`` names a currency by."""


def _garbled(sign: str) -> str:
    """``sign`` written as UTF-8 and read as Windows-1252, as a file of both charsets is read: "€" as "â‚¬"."""
    return "".join(WINDOWS_1252[byte] for byte in sign.encode())


_OTHER_SIGNS = [
    sign
    for sign in map(chr, range(0x80, 0x10000))  # the signs beyond are of historical scripts
    if unicodedata.category(sign) == "Sc" and not {"DOLLAR", "CENT"} & set(unicodedata.name(sign).split())
]
"""Each currency sign but a dollar's or a cent's: "£", "€", "¥", "₹", "₱"."""
_GARBLED_SIGNS = {_garbled(sign): _SIGN_CURRENCIES.get(sign) for sign in _OTHER_SIGNS}
"""Each of ``_OTHER_SIGNS`` garbled ("Â£", "â‚¬", "Â¥"), and the currency it names."""
_SIGNS = {**_GARBLED_SIGNS, **{sign: _SIGN_CURRENCIES.get(sign) for sign in _OTHER_SIGNS}}
"""Each of ``_OTHER_SIGNS`` as printed too: "₹1,234.00" or "₱1,234.00" was read as dollars and accepted, while
the same sign garbled ("â‚¹") went to review."""
_SIGN = "|".join(re.escape(sign) for sign in sorted(_GARBLED_SIGNS, key=len, reverse=True))
_SIGN += "|[" + "".join(re.escape(sign) for sign in _OTHER_SIGNS) + "]"
_SIGN_BY_FIGURE_RE = re.compile(
    rf"(?=[^\x00-\x7f])(?P<before>{_SIGN})[ \t]?\d|\d[ \t]?(?P<after>{_SIGN})"  # signs, garbled too, are not ASCII
    r"|\ufffd[ \t]?\d[\d,.]*[.,]\d\d(?!\d)|\d[.,]\d\d[ \t]?\ufffd"
)
"""A currency sign, garbled or not, right before or after a figure ("â‚¬135", "12,50â‚¬", "₹135.00"), or a byte
UTF-8 could not read (U+FFFD: a Windows-1252 "€", 0x80, among UTF-8 text) before or after an amount with its
cents ("\ufffd135.00"), not any figure: a Windows-1252 dash or degree sign reads so too ("2025 \ufffd 2026",
"72\ufffdF"). The bill's currency, which it does not show plainly."""
_COPYRIGHT_BEFORE = re.compile(r"(?:\b[Cc]opyright|\bCOPYRIGHT|\([Cc]\)|\u00a9)[ \t]*$")
_COPYRIGHT_WITHIN = 16
_YEAR_AFTER = re.compile(r"(?:19|20)\d\d(?![\d,.]?\d)")
_OTHER_CODES: dict[str, str] = {
    code: code
    for code in (
        *("MXN", "CHF", "JPY", "CNY", "INR", "HKD", "SGD", "ZAR", "SEK", "NOK", "DKK", "PLN"),
        *("CZK", "HUF", "BRL", "ARS", "CLP", "COP", "KRW", "TWD", "THB", "IDR", "MYR", "PHP"),
        *("ILS", "AED", "SAR", "TRY", "RUB", "EGP", "NGN", "KES", "PKR", "VND"),
    )
} | {"CDN": "CAD"}
"""Currency codes ``_FOREIGN_CURRENCIES`` does not name anywhere, and the code they stand for, named by an amount
only ("1,234.00 MXN", "CHF 135.00", "CDN$ 135.00"): "1,234.00 MXN" was read as dollars and accepted."""
_AMOUNT = r"(?:\d[\d,.]*[.,]\d\d|\d{1,3}(?:[,.]\d{3})+)(?![.,]?\d)"
"""A figure shaped as an amount: with its cents ("135.00", "1.234,00") or its thousands set apart ("4,200"
yen)."""
_THOUSANDS_RE = re.compile(r"\d{4}|\d[,.]\d{3}(?![,.]?\d)|\d[,.]\d{3}[,.]")
"""An amount of a thousand or more: four digits together, or a thousands group ("125.430", "1,250.00")."""
_CODE_BEFORE_AMOUNT_RE = re.compile(rf"(?<![A-Za-z0-9])(?P<code>[A-Z]{{3}})[ \t]?(?:\$[ \t]?)?{_AMOUNT}")
_CODE_AFTER_AMOUNT_RE = re.compile(rf"(?<![A-Za-z0-9.,]){_AMOUNT}[ \t]?(?P<code>[A-Z]{{3}})(?![A-Za-z0-9])")
"""Three capitals, a word of their own, by an amount ("CHF 135.00", "CDN$ 135.00", "$135.00 MXN"): one of
``_OTHER_CODES`` names its currency. Not by any figure: a US bill prints them by its meters' and references'
("Meter No. IDR 00451237", "Ref No. 4512 CHF", "rated COP 3.0", "Serial 9AED12"), and each was a bill in that
currency. Two patterns, as an amount may stand between two codes ("INR 1,234.00 MXN")."""
_THOUSANDS_ONLY_CODES = frozenset({"COP", "IDR", "VND", "KRW", "CLP", "HUF"})
"""Currencies of so small a unit that a bill's amounts in them run into thousands ("COP 125.430", "IDR
1.250.000"): named by such an amount only. Their letters by a small figure with cents are something else, a
heat pump's coefficient of performance ("rated COP 3.00"), and read as pesos."""
_DOLLAR_PREFIXES = {
    **{"AU": "AUD", "CA": "CAD", "CAD": "CAD", "CDN": "CAD", "NZ": "NZD", "NZD": "NZD", "HK": "HKD", "HKD": "HKD"},
    **{"SG": "SGD", "SGD": "SGD", "NT": "TWD", "TWD": "TWD", "MX": "MXN", "MXN": "MXN", "Mex": "MXN", "RD": "DOP"},
    **{"BRL": "BRL", "TT": "TTD", "BZ": "BZD", "FJ": "FJD", "Bds": "BBD"},
}
"""Letters that name a dollar other than the US one, glued to its sign: "HK$ 265.05", "NT$", "Mex$". Only these:
a US text layer glues its own capitals to the sign too ("KWH$ 45.10", "EST$", "CR$", "AMOUNT DUE$"), and an
unknown pair of letters sent such a bill to review."""
_DOLLAR_PREFIX_RE = re.compile(rf"(?<![A-Za-z0-9])(?P<letters>{'|'.join(_DOLLAR_PREFIXES)})\$")
_ONE_LETTER_DOLLARS = {"S": "SGD", "R": "BRL", "J": "JMD"}
"""One letter before the sign ("S$ 265.05", "R$ 265,05"), taken only where no word stands before it on its line
but a label's colon or parenthesis ("Amount due: S$", "(R$)"): "Unit J$ 3" or "Line R$" is a label's letter.
"A$" and "C$" are ``_FOREIGN_CURRENCIES``' own."""
_ONE_LETTER_DOLLAR_RE = re.compile(r"(?:^|[:(=])[ \t]*(?P<letters>[SRJ])\$", re.MULTILINE)
_DOLLAR_CODES = {**_DOLLAR_PREFIXES, **_ONE_LETTER_DOLLARS}
_RATE_NAME_BEFORE = re.compile(r"\b(?:schedule|rate|tier|class|plan|option|block)\s*$", re.IGNORECASE)
"""A rate's name before "A$0.1123": "Rate Schedule A$0.1123 per kWh" is schedule A at $0.1123."""


_DOLLAR_BY_A_FIGURE = re.compile(r"\$[ \t\u00a0\u202f]{0,3}\d|\d[ \t\u00a0\u202f]{0,3}\$")
"""A dollar's sign by a figure, a blank or a column's gap between ("1 318,75\u00a0$", French typography): on a bill in
decimal commas, no US dollar ("1 318,75 $" is a Quebec bill's, "$ 1.318,75" a Latin American peso's). No US bill
writes decimal commas; one that prints no currency at all is read as the templates' dollars, as before."""


@dataclass(frozen=True)
class BillCurrency:
    code: str
    """The one currency ``text`` names; "USD" when it names none, or several (a person picks)."""
    foreign: bool
    """Whether anything says the amounts are not US dollars: then a person confirms ``code``."""


def bill_currency(text: str) -> BillCurrency:
    """The currency of a bill's ``text`` (see ``BillCurrency``)."""
    named = _foreign_currencies(text)
    garbled = _garbled_currencies(text)
    named += sorted({code for code in garbled if code is not None} - set(named))
    named += sorted(_coded_currencies(text) - set(named))
    prefixed = _dollar_prefixed_currencies(text)
    named += sorted(prefixed - set(named))
    taxed = any(
        _starts_a_word(text, match.start()) for pattern in _UNNAMED_CURRENCY_TAX for match in pattern.finditer(text)
    )
    metric = _METRIC_READING.search(text) is not None
    dollar_in_commas = _DOLLAR_BY_A_FIGURE.search(text) is not None and number_format(text).decimal_comma
    foreign = bool(named) or bool(garbled) or bool(prefixed) or taxed or metric or dollar_in_commas
    return BillCurrency(named[0] if len(named) == 1 else "USD", foreign=foreign)


def _garbled_currencies(text: str) -> set[str | None]:
    """The currencies of the signs, garbled or unreadable ones too, by ``text``'s figures: a sign's own currency,
    or None where it cannot be told (an unreadable byte, a sign ``_FOREIGN_CURRENCIES`` does not name). A file
    of two charsets (a mail merge's Windows-1252 address in a UTF-8 bill) garbles one or the other."""
    return {
        _SIGNS.get(match["before"] or match["after"] or "")
        for match in _SIGN_BY_FIGURE_RE.finditer(text)
        if not (match["before"] and _copyright_year(text, match))
    }


def _copyright_year(text: str, match: re.Match[str]) -> bool:
    """Whether a sign before a figure stands in a copyright notice, before its year ("Copyright \u00a5 2025", a
    "\u00a9" a font or a charset turned into another sign): a US bill's footer went to review as in yen."""
    before = _COPYRIGHT_BEFORE.search(text, max(0, match.start() - _COPYRIGHT_WITHIN), match.start())
    return before is not None and _YEAR_AFTER.match(text, match.end() - 1) is not None


def _coded_currencies(text: str) -> set[str]:
    """The currencies of ``_OTHER_CODES`` that ``text`` names by an amount."""
    patterns = (_CODE_BEFORE_AMOUNT_RE, _CODE_AFTER_AMOUNT_RE)
    found = (
        match["code"]
        for pattern in patterns
        for match in pattern.finditer(text)
        if match["code"] not in _THOUSANDS_ONLY_CODES or _THOUSANDS_RE.search(match.group())
    )
    return {_OTHER_CODES[code] for code in found if code in _OTHER_CODES}


def _dollar_prefixed_currencies(text: str) -> set[str]:
    """The currencies of the dollars ``text`` names by letters before the sign (``_DOLLAR_PREFIXES``,
    ``_ONE_LETTER_DOLLARS``); not a rate's name ("Rate Schedule RD$0.1123" is schedule RD at $0.1123)."""
    return {
        _DOLLAR_CODES[match["letters"]]
        for pattern in (_DOLLAR_PREFIX_RE, _ONE_LETTER_DOLLAR_RE)
        for match in pattern.finditer(text)
        if _RATE_NAME_BEFORE.search(text, max(0, match.start("letters") - 12), match.start("letters")) is None
    }


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
    a sentence's ("US and Canada 1-800-..."); a dollar sign not after a rate's name ("Schedule A$0.11"); the
    letters WA or ACT after a town ("Perth WA 6000"), not a meter's wording ("Meter reading ACT 2605")."""
    if not _starts_a_word(text, match.start()):
        return False
    if match.group().split()[0] in _AU_STATES_US_BILLS_PRINT:
        return _town_before_state(text, match.start())
    if _COUNTRY.fullmatch(match.group()):
        return _country_line(text, match)
    if match.group() in ("A$", "C$"):
        return _RATE_NAME_BEFORE.search(text, max(0, match.start() - 12), match.start()) is None
    if _POSTAL_CODE_RE.fullmatch(match.group()):
        return _PROVINCE_BEFORE.search(text, max(0, match.start() - 40), match.start()) is not None
    if _CURRENCY_NAME.search(match.group()):
        return not _refused(text, match.start(), match.end())
    if _PROVINCIAL_TAX.match(match.group()):
        return _opens_a_cell(text, match.start())
    return True


_PROVINCIAL_TAX = re.compile(r"(?:HST|PST|TPS|TVQ)\b")
"""Canada's sales taxes by the letters a time zone shares (``_CHARGED``)."""


def _opens_a_cell(text: str, at: int) -> bool:
    """Whether ``at`` opens its line or a cell of it (after a tab or two spaces): a tax's row ("HST (13%)   $6.78"), not
    a clock's time zone ("Pay by 8 PM PST $2.50 fee", "Hours 8-5 HST. $25 returned check fee": 76D)."""
    before = text[text.rfind("\n", 0, at) + 1 : at]
    return not before.strip() or before.endswith(("  ", "\t"))


_CURRENCY_NAME = re.compile(r"dollar|fund|peso|euro|pound|franc|rupee", re.IGNORECASE)
"""The currency names of ``_FOREIGN_CURRENCIES`` ("Canadian dollars", "pesos mexicanos")."""
_REFUSED_BEFORE = re.compile(r"\b(?:no|not|never|except|only|no\s+se\s+aceptan|no\s+aceptamos)\b", re.IGNORECASE)
_REFUSED_AFTER = re.compile(
    r"\bnot\s+(?:be\s+)?(?:accepted|honou?red)\b|\bno\s+son\s+aceptad|\b(?:returned|refused|rejected)\b"
    r"|\bmust\s+be\s+converted|\bexchange\s+fee|\bat\s+par\b",
    re.IGNORECASE,
)
_REFUSED_ANYWHERE = re.compile(
    r"\b(?:cannot|can't|do\s+not|don't|does\s+not|doesn't|won't|will\s+not)\s+(?:be\s+)?accept", re.IGNORECASE
)


_SENTENCE_STOP = re.compile(r"[.!?](?=\s|$)|\n")
"""A sentence's end: a stop before a blank, not an amount's point ("a $15.00 exchange fee")."""
_SENTENCE_REACH = 200
"""How far either side of a currency's name its sentence is looked at."""


def _refused(text: str, start: int, end: int) -> bool:
    """Whether the sentence naming a currency at ``start``-``end`` refuses it, as a US bill's notice does near a border
    ("U.S. FUNDS ONLY - NO CANADIAN FUNDS", "Checks in Canadian dollars will be returned", "Payments in Mexican pesos
    are not accepted"): a negation before the name, a refusal after it, or a refusal to accept anywhere in it. Not
    the bill's own statement's words after the name ("in Canadian dollars except where noted", "...; no cash
    payments accepted", "not including taxes")."""
    window = text[max(0, start - _SENTENCE_REACH) : start]
    opening = start - len(window) + max((stop.end() for stop in _SENTENCE_STOP.finditer(window)), default=0)
    closing_stop = _SENTENCE_STOP.search(text, end, end + _SENTENCE_REACH)
    closing = closing_stop.start() if closing_stop is not None else min(len(text), end + _SENTENCE_REACH)
    return bool(
        _REFUSED_BEFORE.search(text, opening, start)
        or _REFUSED_AFTER.search(text, end, closing)
        or _REFUSED_ANYWHERE.search(text, opening, closing)
    )


def _town_before_state(text: str, at: int) -> bool:
    """Whether a town's word stands before a state's letters: after blanks, a comma or a line's end ("Perth WA",
    "PERTH  WA", "PERTH\\nWA"). Found by hand: a pattern looking for it at each position of a window took
    ~3 µs a character of a text of "WA 6000" again and again."""
    since = max(0, at - _BEFORE_WINDOW)
    before = text[since:at].rstrip(" \t")
    if before.endswith(","):
        before = before[:-1].rstrip(" \t")
    elif before.endswith("\n"):
        before = before[:-1].rstrip("\r").rstrip(" \t")
    return _ends_in_a_town(text, since, before, _NOT_A_STATES_TOWN)


def _ends_in_a_town(text: str, since: int, before: str, not_a_town: frozenset[str]) -> bool:
    """Whether ``before`` (``text`` from ``since`` on) ends in a capitalised word of 2 to 24 letters, not a
    figure's or a list's wording."""
    word = before[len(before.rstrip(_LETTERS)) :]
    cut_off = len(word) == len(before) and since > 0 and text[since - 1].isalpha()
    return 2 <= len(word) <= 24 and not cut_off and word[0].isupper() and word.lower() not in not_a_town


def _country_line(text: str, match: re.Match[str]) -> bool:
    """Whether a country name ends an address: first on its line or in its cell, after a comma or after its
    postcode; and last in its cell, a state's name before the state's postcode, or Australia's or New
    Zealand's name after a town and before its postcode. Its letters ("UK", "NZ") only where an address ends
    (see ``_ABBREVIATIONS``). Each looked for in a few characters
    around the name (see ``_BEFORE_WINDOW``)."""
    name = _CANONICAL_COUNTRY[" ".join(match.group().split()).upper()]
    at, end = match.start(), match.end()
    since, until = max(0, at - _BEFORE_WINDOW), min(len(text), end + _AFTER_WINDOW)
    last = _CELL_END.match(text, end, until) is not None
    if name in _ABBREVIATIONS:
        return last and (
            _at_line_start(text, at)
            or _POSTCODE_BEFORE[name].search(text, since, at) is not None
            or _after_a_town_or_label(text, since, at)
        )
    if not last and name in _POSTCODE_AFTER_COUNTRY and _FOUR_DIGIT_POSTCODE.match(text, end, until):
        return _after_a_town_or_label(text, since, at, comma_only=True)
    last = last or (name in _POSTCODE_AFTER and _POSTCODE_AFTER[name].match(text, end, until) is not None)
    return last and (
        _at_line_start(text, at)
        or _CELL_START.search(text, since, at) is not None
        or _POSTCODE_BEFORE[name].search(text, since, at) is not None
        or _after_a_town_or_label(text, since, at)
    )


def _after_a_town_or_label(text: str, since: int, at: int, comma_only: bool = False) -> bool:
    """Whether a country's name ends an address: after a town and a comma ("London, UK", "Sydney, Australia
    2000"), after a town's cell ("Ltd  |  London  |  UK") or after a "Country:" label. Not after a list's
    country ("US, Canada, UK") nor a figure ("Call 1-800-555-0100  UK"). Found by hand, as the state's town."""
    window = text[since:at]
    before = window.rstrip(" \t")
    if before.endswith(","):
        before = before[:-1].rstrip(" \t")
    elif comma_only:
        return False
    elif before.lower().endswith(_COUNTRY_LABEL):
        return True
    elif before.endswith("|") or len(window) - len(before) >= 2:
        before = before.rstrip(_CELL_SEPARATORS)
        town_cell = before.rstrip(_LETTERS)
        if town_cell and not (town_cell.endswith("  ") or town_cell.endswith("|") or town_cell.endswith("\n")):
            return False
    else:
        return False
    return _ends_in_a_town(text, since, before, _NOT_A_COUNTRYS_TOWN)


def _at_line_start(text: str, at: int) -> bool:
    """Whether only blanks stand before ``at`` on its line: each blank is looked at for the one word after it."""
    start = at
    while start and text[start - 1] not in "\r\n" and text[start - 1].isspace():
        start -= 1
    return start == 0 or text[start - 1] in "\r\n"


def _starts_a_word(text: str, at: int) -> bool:
    """Not inside a word: "FRAUD" names no Australian dollars, "12,50€" euros all the same."""
    return at == 0 or not (text[at - 1].isalnum() and text[at].isalnum())
