"""Validation of a NormalizedBill: reason codes, [] meaning verified.

Pure and deterministic: workflow code calls ``check_bill(bill, text=None)`` in an update
validator, so this module and its imports stay stdlib + pydantic + ``shared.bill``
(``extraction.evidence``, ``extraction.values`` and the rules reader's ``usage``, ``layout`` and
``currency`` the text checks share import nothing else but ``extraction.charsets`` and ``extraction.pages``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Set as AbstractSet
from datetime import date
from decimal import Decimal

from extraction.evidence import Evidence
from extraction.pages import has_text_layer
from extraction.rules.currency import bill_currency
from extraction.values import (
    DATE_RE,
    ambiguous_figures,
    ambiguous_quantities,
    ambiguous_signs,
    number_format,
    swap_day_and_month,
)
from shared.bill import UNITS_BY_COMMODITY, Commodity, NormalizedBill, Provider, UsageUnit, same_account

MAX_PERIOD_DAYS = 100
"""The longest period a bill may cover, both ends counted (as the warehouse's daily rows count them)."""
MAX_STATEMENT_LAG_DAYS = 180
"""A statement dated half a year after its period ends is a misread (or mistyped) year, not a bill."""
MAX_DUE_DAYS = 180
"""Likewise a due date half a year after the statement: bills are due in weeks."""
TYPICAL_LAG_DAYS = 45
"""Bills are issued days after their period ends and fall due weeks later: a reading further out than
this is the less likely of two."""
CORE_DATES = ("bill_period_start", "bill_period_end", "due_date")


def check_bill(bill: NormalizedBill, *, text: str | None) -> list[str]:
    """Every reason not to trust ``bill`` as-is; ``text`` adds the evidence and currency checks.

    A document with no text layer (a photo, a scan) has no text to find values in: ``no_text_layer``
    sends its bill to a person who reads the image, not a ``no_evidence`` on every field."""
    reasons = _missing(bill)
    reasons += _arithmetic(bill)
    reasons += _dates(bill)
    reasons += _units(bill)
    if text is not None:
        reasons += _evidence(bill, Evidence(text)) if has_text_layer(text) else ["no_text_layer"]
        reasons += _currency(bill, text)
        reasons += ["mixed_number_format"] if number_format(text).mixed else []
        reasons += _ambiguous_grouping(bill, text)
        reasons += _ambiguous_sign(bill, text)
        reasons += _several_readings(bill)
        reasons += _days_printed_otherwise(bill, text)
    return list(dict.fromkeys(reasons))  # one reason said twice (a reading missed, by the bill and by its text) once


OVERRIDABLE = frozenset(
    {
        "sum_mismatch",
        "balance_mismatch",
        "bad_period",
        "one_day_period",
        "bad_statement_date",
        "bad_due_date",
        "missing_field:due_date",
        "missing_field:usage",
        "missing_field:current_charges",
        "dated_in_the_future",
    }
)
"""Checks of plausibility, not of shape: a true bill can fail them (an adjustment outside the charges,
a sewer-only bill with no reading, a catch-up period of four months), so a reviewer may store it as
entered. A bill without account, total or period, with a unit the commodity cannot have, or with a
period that ends before the day it starts, never is (one of a single day is: a move-out's final bill)."""


def check_correction(
    bill: NormalizedBill,
    *,
    override: bool,
    account_number: str | None = None,
    provider: Provider | None = None,
    today: date | None = None,
) -> list[str]:
    """What refuses a reviewer's bill: every check, or with ``override`` only those no bill may fail;
    a currency ISO 4217 does not know, and, given the job's ``account_number`` and its account's ``provider``, a bill
    for another account or of another provider (none overridable). Given ``today``, a bill dated after it
    (``check_issued_by``): a reviewer's typo in the year ("2027") was stored unasked, the customer's latest bill in a
    month to come."""
    failing = _a_reviewers_bill(bill, today)
    if override:
        start, end = bill.bill_period_start, bill.bill_period_end
        backwards = start is not None and end is not None and end < start
        failing = [r for r in failing if r not in OVERRIDABLE or (r == "bad_period" and backwards)]
    unknown = [] if bill.currency in ISO_4217_CURRENCIES else ["unknown_currency"]
    return failing + unknown + check_account(bill, account_number) + check_provider(bill, provider)


_ISO_4217_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
    CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
    HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
    RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
"""
ISO_4217_CURRENCIES = frozenset(_ISO_4217_CODES.split())
"""The currencies of ISO 4217 a bill can be in (not its funds, metals or testing codes): a reviewer's typo ("uds",
read as UDS) is refused, not stored as a currency of its own. No library in the image lists them."""


APPROVABLE_UNREAD = frozenset({"missing_field:account_number"})
"""The one check no correction may fail that an approval may: an account number the reader did not find (a
photo, a scan). The job names the account, and the bill is stored under it."""


def passes_with_override(bill: NormalizedBill, account_number: str | None, provider: Provider | None = None) -> bool:
    """Whether a reviewer's ``bill`` fails only checks the override lets it pass: the workflow's validator then
    offers the override, and the review page's box ("The bill really says this")."""
    return not check_correction(bill, override=True, account_number=account_number, provider=provider)


def check_approval(bill: NormalizedBill, account_number: str | None, provider: Provider | None = None) -> list[str]:
    """What refuses approving ``bill`` as read: the checks no bill may fail, but ``APPROVABLE_UNREAD`` (the
    plausibility checks it failed are why it is in review). Asked by ``submit_review``'s validator and, for an
    approval sent by signal, by ``check_corrected_bill``."""
    failing = check_correction(bill, override=True, account_number=account_number, provider=provider)
    return [reason for reason in failing if reason not in APPROVABLE_UNREAD]


def check_account(bill: NormalizedBill, account_number: str | None) -> list[str]:
    """``account_mismatch`` when the bill reads another account's number than the job's (never overridable)."""
    return [] if same_account(account_number, bill.account_number) else ["account_mismatch"]


def check_provider(bill: NormalizedBill, provider: Provider | None) -> list[str]:
    """``provider_mismatch`` when the bill names another provider than its account's ``provider`` (never
    overridable): a reviewer typing the number on file stored another utility's statement under the account, counted
    in its months and in two customers' figures (a reviewer's probe). One sure it is the account's bill sets its
    provider to the account's; one who is not rejects it. Neither named: nothing to compare."""
    mismatch = provider is not None and bill.provider is not None and bill.provider != provider
    return ["provider_mismatch"] if mismatch else []


ISSUED_AHEAD_DAYS = 1
"""How far past the day it is read a bill may be dated: tomorrow is already today where its provider is."""


def check_issued_by(bill: NormalizedBill, today: date) -> list[str]:
    """``dated_in_the_future`` for a bill dated after ``today`` (its statement date, or its period's end where it
    states none): a misread year ("2062" for "2026") that dates the whole bill alike passes every other date check,
    and was stored, first among the customer's recent bills, in a month decades ahead. Asked when a bill is read
    (``validate_bill``, and the eval's ``analyze``), and of a reviewer's correction, which may store such a bill by
    override (the reviewer has it before them); not of an approval, which confirms the doubt it was sent for."""
    issued = bill.statement_date or bill.bill_period_end
    return ["dated_in_the_future"] if issued is not None and (issued - today).days > ISSUED_AHEAD_DAYS else []


def overridden_checks(bill: NormalizedBill, today: date | None = None) -> list[str]:
    """The plausibility checks a bill stored by override fails (kept in the audit trail)."""
    return [r for r in _a_reviewers_bill(bill, today) if r in OVERRIDABLE]


def _a_reviewers_bill(bill: NormalizedBill, today: date | None) -> list[str]:
    """The checks a reviewer's bill is asked: those of its own figures and dates (a person read the text), and, given
    ``today``, whether it is dated after it."""
    return check_bill(bill, text=None) + (check_issued_by(bill, today) if today is not None else [])


def _missing(bill: NormalizedBill) -> list[str]:
    required: dict[str, object] = {
        "account_number": bill.account_number,
        "total_amount": bill.total_amount,
        "bill_period_start": bill.bill_period_start,
        "bill_period_end": bill.bill_period_end,
        "due_date": bill.due_date,
    }
    reasons = [f"missing_field:{name}" for name, value in required.items() if value is None]
    billed = {item.commodity for item in bill.line_items if item.commodity is not None}
    if not bill.usage or billed - {reading.commodity for reading in bill.usage}:
        # Gas charges without a gas reading: a usage line was missed, not a gas-free bill.
        reasons.append("missing_field:usage")
    if bill.current_charges is None and not bill.line_items:
        # Without charges nothing corroborates the total: it could be any number on the page.
        reasons.append("missing_field:current_charges")
    return reasons


def _arithmetic(bill: NormalizedBill) -> list[str]:
    reasons: list[str] = []
    added = items_sum(bill)
    if bill.line_items and bill.current_charges is not None and added != bill.current_charges:
        reasons.append("sum_mismatch")
    current = bill.current_charges if bill.current_charges is not None else (added if bill.line_items else None)
    if bill.total_amount is not None and current is not None and not _balances(bill, current):
        reasons.append("balance_mismatch")
    return reasons


def implied_current_charges(bill: NormalizedBill) -> Decimal | None:
    """The current charges of a bill that states none: its line items' sum, where with the previous balance
    and payments it makes the total. Analytics counts a bill's current charges as its cost, else its amount
    due, which counts an unpaid balance a second time."""
    if bill.current_charges is not None or not bill.line_items or bill.total_amount is None:
        return None
    added = items_sum(bill)
    return added if _balances(bill, added) else None


def with_implied_charges(bill: NormalizedBill) -> NormalizedBill:
    """``bill`` with the current charges its line items imply, where it states none: an extractor's reading
    and a reviewer's alike. Depends on the bill alone, so the same bill always becomes the same one."""
    implied = implied_current_charges(bill)
    if implied is None:
        return bill
    return bill.model_copy(update={"current_charges": implied})


def figures_read_otherwise(stored: NormalizedBill, copy: NormalizedBill) -> list[str]:
    """The figures ``copy``, another file of ``stored``'s statement, reads otherwise, each as stored (the current
    charges its line items imply filled in: ``with_implied_charges``): its amounts, currency, due date, line items'
    amounts and readings (not its wording, a customer's name or an address, which two readers may copy alike or not).
    Two copies of one statement that disagree on any is one of them misread. A figure only one of them read is not
    read otherwise: a summary that prints no zero balance, a scan whose readings were not read."""
    stored, copy = with_implied_charges(stored), with_implied_charges(copy)
    differing = [
        name
        for name in ("total_amount", "previous_balance", "payments_received", "current_charges", "currency", "due_date")
        if None not in (getattr(stored, name), getattr(copy, name)) and getattr(stored, name) != getattr(copy, name)
    ]
    if stored.line_items and copy.line_items and _amounts(stored) != _amounts(copy):
        differing.append("line_items")
    if stored.usage and copy.usage and _readings(stored) != _readings(copy):
        differing.append("usage")
    return differing


def _amounts(bill: NormalizedBill) -> list[Decimal]:
    return sorted(item.amount for item in bill.line_items)


def _readings(bill: NormalizedBill) -> list[tuple[str, Decimal, str]]:
    return sorted((str(reading.commodity), reading.quantity, str(reading.unit)) for reading in bill.usage)


def payments_typed_negative(bill: NormalizedBill) -> bool:
    """Whether the bill fails to balance only because its payments are negative: as many bills print them
    ("Payments -11.53"), where the balance takes them off the previous balance, so positive."""
    paid = bill.payments_received
    if paid is None or paid >= 0 or "balance_mismatch" not in _arithmetic(bill):
        return False
    return "balance_mismatch" not in _arithmetic(bill.model_copy(update={"payments_received": -paid}))


def items_sum(bill: NormalizedBill) -> Decimal:
    """What the bill's line items add up to (``sum_mismatch`` compares it with the current charges)."""
    return sum((item.amount for item in bill.line_items), Decimal("0"))


def _balances(bill: NormalizedBill, current: Decimal) -> bool:
    # Payments beside no previous balance are not let off ("Thank you for your payment of $88.10" then goes to review):
    # whatever a line naming a payment printed ("Payments of $25.00 or more can be made at any office", "Amount to be
    # paid by AutoPay") was stored as paid, unchecked, each time that was tried.
    previous = bill.previous_balance or Decimal("0")
    paid = bill.payments_received or Decimal("0")
    return previous - paid + current == bill.total_amount


def _dates(bill: NormalizedBill) -> list[str]:
    return date_reasons(bill.bill_period_start, bill.bill_period_end, bill.statement_date, bill.due_date)


def date_reasons(
    start: date | None,
    end: date | None,
    statement: date | None,
    due: date | None,
    *,
    max_lag: int = MAX_STATEMENT_LAG_DAYS,
    max_due: int = MAX_DUE_DAYS,
) -> list[str]:
    """What is wrong with a bill's dates (those it has): ``bad_period`` (it ends before it starts, or covers over
    ``MAX_PERIOD_DAYS``), ``one_day_period`` (both ends one date: a final bill, or one date read twice; a reviewer
    may confirm it, where the check it failed before refused even an override), ``bad_statement_date``,
    ``bad_due_date``."""
    reasons: list[str] = []
    if start is not None and end is not None:
        days = (end - start).days + 1
        if days == 1:
            reasons.append("one_day_period")
        elif not 1 <= days <= MAX_PERIOD_DAYS:
            reasons.append("bad_period")
    if statement is not None and end is not None and not 0 <= (statement - end).days <= max_lag:
        reasons.append("bad_statement_date")
    issued: date | None = statement or end
    # 0 days: "due upon receipt"
    if due is not None and issued is not None and not 0 <= (due - issued).days <= max_due:
        reasons.append("bad_due_date")
    return reasons


def date_fit(start: date | None, end: date | None, statement: date | None, due: date | None) -> tuple[bool, bool]:
    """How well dates fit a bill: within the checks' bounds, and within a billing cycle's weeks (a
    statement and its due date within ``TYPICAL_LAG_DAYS``). Between a text's two readings of numeric
    dates ("04/03/2026"), the one that fits better is the bill's."""
    return (
        not date_reasons(start, end, statement, due),
        not date_reasons(start, end, statement, due, max_lag=TYPICAL_LAG_DAYS, max_due=TYPICAL_LAG_DAYS),
    )


_DAYS_LABELLED = re.compile(
    r"\b(?:(?:billing|service)\s+days|days\s+(?:in|of)\s+(?:the\s+)?(?:billing\s+|service\s+)?(?:period|cycle|service)"
    r"|number\s+of\s+days)\b((?:[ \t:]*\d{1,3}\b)+)",
    re.IGNORECASE,
)
"""A period's length under a label of its own: "Days in Billing Period: 31", "Billing Days   30"; each column's, in
a table comparing periods ("Number of Days   29   31": last period's, this one's)."""
_DAYS_BESIDE = re.compile(r"\((\d{1,3})\s+days?\)", re.IGNORECASE)
"""A period's length beside its dates: "March 4, 2026 to April 2, 2026 (30 days)"; on a line of no two dates, a
notice's ("pay within (15 days)") is not read."""


def _days_printed_otherwise(bill: NormalizedBill, text: str) -> list[str]:
    """``period_days_mismatch`` where the bill prints its period's days and no count it prints fits the dates read,
    counted with both ends or one: "March 4, 2026 to April 2, 2026 (45 days)" was stored unflagged, where a printed
    count is a cheap witness to a misread date."""
    start, end = bill.bill_period_start, bill.bill_period_end
    if start is None or end is None:
        return []
    printed = {int(count) for counts in _DAYS_LABELLED.findall(text) for count in re.findall(r"\d+", counts)}
    for beside in _DAYS_BESIDE.finditer(text):  # its line alone, not every line of every bill
        line_end = text.find("\n", beside.end())
        line = text[text.rfind("\n", 0, beside.start()) + 1 : line_end if line_end != -1 else len(text)]
        if len(DATE_RE.findall(line)) >= 2:
            printed.add(int(beside[1]))
    spanned = (end - start).days
    if not printed or printed & {spanned, spanned + 1}:
        return []
    return ["period_days_mismatch"]


def _units(bill: NormalizedBill) -> list[str]:
    return [
        f"unit_mismatch:{reading.commodity.value}"
        for reading in bill.usage
        if reading.unit not in UNITS_BY_COMMODITY[reading.commodity]
    ]


def _currency(bill: NormalizedBill, text: str) -> list[str]:
    """``non_usd_currency`` when the text names another currency, or the reading does: whoever read the bill
    (Gemini writes "$" for Canadian dollars as readily as for US ones, and "EUR" on a US bill), the
    templates are US utilities' and a person confirms any other currency."""
    return ["non_usd_currency"] if bill_currency(text).foreign or bill.currency != "USD" else []


def _several_readings(bill: NormalizedBill) -> list[str]:
    """``several_readings:usage`` when a reading of a bill has another in its commodity and unit, and they are
    not each their own meter's (each with a meter number of its own): analytics adds them up, and a total beside
    its parts (on-peak 150, off-peak 194, total 344 kWh), a meter's reading beside the bill's or a sewer reading
    copying the water's counted twice. The rules read one a commodity; Gemini is asked for one a commodity.

    Only on an extractor's reading (``check_bill`` with a text): a reviewer's several readings are entered so."""
    meters: dict[tuple[Commodity, UsageUnit], list[str | None]] = defaultdict(list)
    for reading in bill.usage:
        meters[(reading.commodity, reading.unit)].append(_meter_key(reading.meter_number))
    shared = any(
        len(numbers) > 1 and (None in numbers or len(set(numbers)) < len(numbers)) for numbers in meters.values()
    )
    return ["several_readings:usage"] if shared else []


def _meter_key(number: str | None) -> str | None:
    """A meter number as compared: "4473-2410" is 44732410; none when it has no letter or digit."""
    return "".join(ch for ch in (number or "").upper() if ch.isalnum()) or None


def _ambiguous_grouping(bill: NormalizedBill, text: str) -> list[str]:
    """``ambiguous_grouping:<field>`` for each figure of the bill that a decimal-comma text's "1 125,00" after a
    word may be, as one figure (1,125.00) or as a label's "1" and 125,00 (``ambiguous_figures``), and for a usage
    its "Verbrauch 12 345 kWh" may be (``ambiguous_quantities``): both are printed, so no evidence tells them
    apart, and either reading may be the wrong one."""
    figures = ambiguous_figures(text)
    quantities = figures | ambiguous_quantities(text)  # "2 412,5 kWh" is among the figures
    if not quantities:
        return []
    amounts = ("total_amount", "previous_balance", "payments_received", "current_charges")
    doubted = _amounts_among(bill, figures, amounts)
    doubted += ["usage"] if any(abs(reading.quantity) in quantities for reading in bill.usage) else []
    return [f"ambiguous_grouping:{name}" for name in doubted]


def _ambiguous_sign(bill: NormalizedBill, text: str) -> list[str]:
    """``ambiguous_sign:<field>`` for each amount of the bill whose sign the text leaves open ("Amount due - $30.40":
    a separator or a credit's minus, ``ambiguous_signs``): the evidence check compares amounts without their signs,
    and a bill read with every figure's sign the wrong way round adds up as well."""
    figures = ambiguous_signs(text)
    if not figures:
        return []
    doubted = _amounts_among(bill, figures, ("total_amount", "previous_balance", "current_charges"))
    return [f"ambiguous_sign:{name}" for name in doubted]


def _amounts_among(bill: NormalizedBill, figures: AbstractSet[Decimal], names: tuple[str, ...]) -> list[str]:
    """Those of the bill's amounts ``names``, and ``line_items``, whose figure (unsigned) is among ``figures``."""
    doubted = [name for name in names if (value := getattr(bill, name)) is not None and abs(value) in figures]
    return doubted + (["line_items"] if any(abs(item.amount) in figures for item in bill.line_items) else [])


def _evidence(bill: NormalizedBill, evidence: Evidence) -> list[str]:
    reasons: list[str] = []
    if bill.account_number is not None and not evidence.has_account(bill.account_number):
        reasons.append("no_evidence:account_number")
    if bill.total_amount is not None and not evidence.has_amount(bill.total_amount):
        reasons.append("no_evidence:total_amount")
    reasons += _balance_evidence(bill, evidence)
    reasons += _copied_evidence(bill, evidence)
    named: dict[str, date] = {
        name: value for name in (*CORE_DATES, "statement_date") if (value := getattr(bill, name)) is not None
    }
    day_first = evidence.day_first_reading(list(named.values()))
    reasons += [f"no_evidence:{name}" for name, value in named.items() if not evidence.has_date(value, day_first)]
    if _ambiguous_date_order(bill, evidence, day_first=day_first):
        reasons.append("ambiguous_date_order")
    # On a bill that counts in thousands of gallons, a gallon reading must be multiplied out.
    scaled = [r for r in bill.usage if r.unit is UsageUnit.GAL and evidence.gallon_scales]
    if any(not evidence.has_reading(r.quantity, r.unit) for r in bill.usage if r not in scaled):
        reasons.append("no_evidence:usage")
    if any(not evidence.has_gallon_reading(r.quantity) for r in scaled):
        reasons.append("unit_scale:usage")
    if bill.usage and _gas_unread(bill, evidence):
        reasons.append("missing_field:usage")
    return reasons + _priced_otherwise(bill, evidence)


def _gas_unread(bill: NormalizedBill, evidence: Evidence) -> bool:
    """Whether the text prints a reading in therms, gas's own unit, and the bill has no gas reading: a dual-fuel bill
    whose gas section names no gas ("HEATING SERVICE ... Gas delivered 63 therms") was stored as electricity alone,
    accepted (an extraction probe, 75B)."""
    printed_therms = any(unit is UsageUnit.THERM for _, unit in evidence.readings)
    return printed_therms and all(reading.commodity is not Commodity.GAS for reading in bill.usage)


def _priced_otherwise(bill: NormalizedBill, evidence: Evidence) -> list[str]:
    """``priced_otherwise:usage`` for a bill's one reading in a unit that differs from the quantity the bill's rates
    in that unit price, where they price one ("Energy Charge  783 kWh @ $0.0940"): what the bill charges for. A
    promotion's "Members who used less than 500 kWh" was the reading, accepted, and printed, so evidenced."""
    units = Counter(reading.unit for reading in bill.usage)
    doubted = any(
        units[reading.unit] == 1 and evidence.priced.get(reading.unit, reading.quantity) != reading.quantity
        for reading in bill.usage
    )
    return ["priced_otherwise:usage"] if doubted else []


def _balance_evidence(bill: NormalizedBill, evidence: Evidence) -> list[str]:
    """The previous balance and payments, where not zero, printed: with the total they make the current charges
    a bill that prints none is counted at, and Gemini's reading (the rules take printed figures) has nothing
    else to witness them when the rules do not run. Payments may be printed one by one."""
    reasons: list[str] = []
    if bill.previous_balance and not evidence.has_amount(bill.previous_balance):
        reasons.append("no_evidence:previous_balance")
    if bill.payments_received and not evidence.has_payments(bill.payments_received):
        reasons.append("no_evidence:payments_received")
    if not bill.previous_balance and evidence.past_due:
        # "Past Due Amount $50.00" under no previous-balance label: a reading without one took the unpaid amount
        # for a charge, or folded it into the current charges, and adds up either way.
        reasons.append("missing_field:previous_balance")
    return reasons


def _copied_evidence(bill: NormalizedBill, evidence: Evidence) -> list[str]:
    """The line items' amounts, the customer's name and the meter numbers: printed. Nothing
    else checks them, and Gemini's invented charges (adding up to the current charges), name or meter were stored
    and published as the bill's. The rules copy them off the text, so their readings pass."""
    reasons: list[str] = []
    if any(item.amount and not evidence.has_amount(item.amount) for item in bill.line_items):
        reasons.append("no_evidence:line_items")
    if bill.customer_name is not None and not evidence.has_words(bill.customer_name):
        reasons.append("no_evidence:customer_name")
    reasons += _provider_name_evidence(bill, evidence)
    meters = (reading.meter_number for reading in bill.usage if reading.meter_number is not None)
    if any(_meter_key(meter) and not evidence.has_account(meter) for meter in meters):
        reasons.append("no_evidence:meter_number")
    return reasons


def _provider_name_evidence(bill: NormalizedBill, evidence: Evidence) -> list[str]:
    """A provider no template knows is published to the warehouse by the name read for it, so that name is printed,
    and is not the customer's: Gemini's "Hello Ivan Haddad," or "Totally Invented Utility Co" was stored unreviewed
    as the bill's provider, the customer's name thus reaching the warehouse, which otherwise never holds it. The
    rules read it off the letterhead, which ``_letterhead`` keeps from being a greeting or an address. A bill of such a
    provider with no name read (a billing service's mail, a letterhead drawn as an image) is ``missing_field``: it was
    accepted, and published with no provider at all."""
    if bill.provider is not None:
        return []
    if bill.provider_name is None:  # a billing service's mail, a letterhead that is an image: no one to publish
        return ["missing_field:provider_name"]
    if not evidence.has_words(bill.provider_name):
        return ["no_evidence:provider_name"]
    customer = _words(bill.customer_name or "")
    return ["provider_is_customer"] if customer and customer <= _words(bill.provider_name) else []


def _words(name: str) -> frozenset[str]:
    return frozenset(re.findall(r"[^\W_]+", name.casefold()))


def _ambiguous_date_order(bill: NormalizedBill, evidence: Evidence, *, day_first: bool) -> bool:
    """Whether the bill's numeric dates might be its own the other way round ("04/03/2026" as 4 March,
    not 3 April): read against the order of its place (a US address, pounds), which only a reading of
    that order making no bill justifies (see ``extract_with_rules``); or, with nothing to say where it is
    from, read in the dollar's month-first order, they fit a bill as well the other way round, or fit it
    worse (a bill due net 60 fits a billing cycle's weeks worse than its day-first reading does); read day
    first, against that order, month first makes a bill too, or day first fits no billing cycle's weeks (a
    four-month catch-up period, no bill month first, made a bill of day-first dates months apart). Stored
    either way they may be a month or more off; a person settles it."""
    two_way = evidence.two_way_dates(day_first=day_first)
    if not two_way:
        return False
    dates = (bill.bill_period_start, bill.bill_period_end, bill.statement_date, bill.due_date)
    other = tuple(swap_day_and_month(d) if d in two_way else d for d in dates)
    if other == dates:
        return False
    if evidence.day_first_place is not None:
        return evidence.day_first_place is not day_first
    other_fit, own_fit = date_fit(*other), date_fit(*dates)
    if day_first:
        return other_fit[0] or not own_fit[1]
    return other_fit[0] and (other_fit[1] or not own_fit[1])
