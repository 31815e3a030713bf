"""A bill as the rows a publish writes: one builder, so both sinks store the same rows with the
same insertIds, in the same order."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import ROUND_DOWN, Decimal
from typing import Any

from shared.analytics.schema import BILL_LINE_ITEMS, INTERVAL_USAGE, NORMALIZED_BILLS, USAGE_COLUMNS, AnalyticsBill
from shared.bill import NormalizedBill, account_key
from shared.logs import ANY_DASH, DASH_CHARS, DIGIT_GAP, FIGURE_AFTER, FIGURE_BEFORE, SPACE_CHARS, mask_account

_KWH_SCALE = Decimal("0.000000001")  # NUMERIC's nine decimal places
_MAX_SPREAD_DAYS = 400


class AnalyticsPublishFailed(Exception):
    """The warehouse refused rows; retried by Temporal like any outage."""


class AnalyticsRowsUnstreamable(AnalyticsPublishFailed):
    """The warehouse refused a bill's rows for a date it does not stream into a table partitioned by it
    (BigQuery: 5 years back to 1 year ahead): retried like any refusal, since only the table is wrong and
    the operator can recreate it, and named apart so the Web UI's last failure says which it is."""


OUT_OF_BOUNDS = "outside the allowed bounds"
"""How BigQuery words the refusal of a row dated outside the range a partitioned table streams."""


@dataclass
class BillRows:
    """The rows one publish writes, per table name, each with its stable insertId."""

    rows: dict[str, list[dict[str, Any]]]
    ids: dict[str, list[str]]


CHILDREN_FIRST = (BILL_LINE_ITEMS, INTERVAL_USAGE, NORMALIZED_BILLS)
"""Insert order: a bill row only ever lands after its line items and intervals."""


def raise_refused(refused: Mapping[str, str]) -> None:
    """Turn ``publish_bills``'s refusals into the failure callers of one bill expect."""
    if refused:
        raise refusal("; ".join(refused.values()))


def refusal(reason: str) -> AnalyticsPublishFailed:
    """The failure for a refused bill, retryable: a table patched moments ago may still refuse a new column,
    and one partitioned by a bill's dates takes them once the operator has recreated it."""
    return AnalyticsRowsUnstreamable(reason) if OUT_OF_BOUNDS in reason else AnalyticsPublishFailed(reason)


def revision_of(bill: NormalizedBill) -> str:
    """A content hash: equal for retries of one publish, different for a corrected bill."""
    return hashlib.sha256(bill.model_dump_json().encode()).hexdigest()[:16]


WITHHELD = "[withheld]"
"""What the warehouse holds in place of the bill's customer name or service address in free text."""
_SHORTEST_WITHHELD = 4
"""A name or address part shorter than this ("Al", "Apt") is no one's in a description: left as printed."""


def who_a_bill_is_for(customer_name: object, service_address: object) -> tuple[str, ...]:
    """The bill's customer name, its service address, and the address's first part (its street, before a comma or a
    line's end, as a description quotes it): what a line item's text may carry of who the bill is for."""
    parts: list[str] = []
    for value in (customer_name, service_address):
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
    if isinstance(service_address, str):
        parts.append(re.split(r"[,\n]", service_address.strip(), maxsplit=1)[0].strip())
    return tuple(dict.fromkeys(part for part in parts if len(part) >= _SHORTEST_WITHHELD))


def _withheld(text: str, who: tuple[str, ...]) -> str:
    """``text`` with each of ``who`` as ``WITHHELD``, whatever its case and spacing ("Medical baseline credit  ALICE
    SECRET-PERSON": the warehouse's line items held a customer's name, 76A). Longest first, so an address goes whole
    before its street."""
    for part in sorted(who, key=len, reverse=True):
        spaced = r"\s+".join(re.escape(word) for word in part.split())
        text = re.sub(rf"(?<!\w){spaced}(?!\w)", WITHHELD, text, flags=re.IGNORECASE)
    return text


def warehouse_payload(bill: NormalizedBill, masking_number: str | None) -> str:
    """The bill as ``json_payload`` holds it: the warehouse is shared more widely than any other store, so
    it gets the account number masked as the API shows it, its line items' descriptions masked alike
    (``warehouse_text`` with ``masking_number``: the bill's own, or its job's where the bill's was not read), and
    no name or address. Analytics joins on ``utility_account_id``, never on these."""
    masked = bill.account_number and mask_account(bill.account_number)
    who = who_a_bill_is_for(bill.customer_name, bill.service_address)
    items = [
        item.model_copy(update={"description": warehouse_text(item.description, masking_number, who)})
        for item in bill.line_items
    ]
    shown = bill.model_copy(update={"account_number": masked, "line_items": items})
    return shown.model_dump_json(exclude={"customer_name", "service_address"})


def remasked_payload(payload: dict[str, Any], account_number: str | None) -> dict[str, Any]:
    """A ``json_payload`` an earlier release published, as ``warehouse_payload`` would write it now: no name or
    address, the account number masked, and the line items' descriptions masked with the bill's number (its own,
    or ``account_number`` where it is masked already or was never read). Everything else stays as held."""
    held = payload.get("account_number")
    unmasked = held if isinstance(held, str) and held and not held.startswith("****") else None
    number = unmasked or account_number
    shown = {key: value for key, value in payload.items() if key not in ("customer_name", "service_address")}
    who = who_a_bill_is_for(payload.get("customer_name"), payload.get("service_address"))
    if unmasked:
        shown["account_number"] = mask_account(unmasked)
    items = payload.get("line_items")
    if isinstance(items, list):
        shown["line_items"] = [
            {**item, "description": warehouse_text(item["description"], number, who)}
            if isinstance(item, dict) and isinstance(item.get("description"), str)
            else item
            for item in items
        ]
    return shown


def warehouse_text(text: str, account_number: str | None, who: tuple[str, ...] = ()) -> str:
    """Free text of a bill (a line item's description) as the warehouse may hold it: masked are the bill's
    ``account_number`` (its own, or its job's where the bill's was not read), however it is spaced or dashed
    there, a value labelled as an account ("account no: ...", "Acct #...", "Account: ...", "Acct. 99887766"),
    and 10 or more digits in a run or in three or more groups (a card's "4111 1111 1111 1111", another account's
    "0123-4567-8901"). Not the logs' broader ``mask_text``:
    its 8 digits joined by spaces or dashes are a bill's tier ranges ("501-1000 kWh") and compact dates, and
    its "name ending in key:" rule redacts words ("Turnkey: rebate"). ``who`` (``who_a_bill_is_for``), withheld."""
    text = _withheld(text, who)
    own = _own_number(account_number)
    if own is not None:
        text = own.sub(lambda match: mask_account(match.group()), text)
    for labelled in (_LABELLED_ACCOUNT, _BARE_ACCOUNT_LABEL):
        text = labelled.sub(lambda match: match[1] + match[2] + mask_account(match[3]), text)
    return _MANY_DIGITS.sub(_masked_if_long, text)


def _masked_if_long(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match.group())
    return mask_account(match.group()) if digits >= _LONG_DIGIT_COUNT else match.group()


# A space between a number's digit groups, ASCII or not (``shared.logs``' ``DIGIT_GAP`` for a space or a dash): a
# no-break space is as much a separator as a space.
_SPACE = f"[{SPACE_CHARS}]"

# "account no: 4111 1111 1111 1111", "Acct #: 12-345": the label, then a value with a digit in it (and its
# digit groups after single spaces or dashes); "Account number change fee" has none, so it stays.
_LABELLED_ACCOUNT = re.compile(
    r"(?i)(?<![\w-])((?:account|acct)(?:[_ -]?(?:number|num|no|nr)(?![a-z])\.?|\s?#))"
    rf"([\"']?\s*[:=#]?\s*[\"']?)(?=[^\s\"',;&}}]*\d)([^\s\"',;&}}]+(?:{DIGIT_GAP}\d+)*)"
)
# "Account: 1234 5678 9012", "Acct. 99887766": a bare label, then ":" or "#" and a value with a digit, or a value
# of six digits or more ("Account 3 of 5" stays).
_BARE_ACCOUNT_LABEL = re.compile(
    r"(?i)(?<![\w-])((?:account|acct)\.?)(\s*[:#]\s*(?=[^\s\"',;&}]*\d)|\s+(?=\d{6,}))"
    rf"([^\s\"',;&}}]+(?:{DIGIT_GAP}\d+)*)"
)
# A run of digits, glued to a word or not ("ACCT1234567890", "account_9876543210", "Acct-9876543210"), or three or
# more groups of them joined by single spaces, dashes or dots ("Card4111-1111-1111-1111" too), not followed by a
# word and not part of a longer dashed figure (``shared.logs.FIGURE_BEFORE``: a dash of prose, "card—4111...", is
# no part of one); never a decimal amount (with a point or a comma): masked at 10 digits
# or more (``_masked_if_long``), so a card number is, and "20240101-20240131", "501-1000", "12 345 678" or
# "123.456.789.012,50" are not. After a dot only where the dot ends a word's abbreviation ("card no.4111...",
# "acct.9876543210"): a dot after a digit or a blank starts a decimal ("$0.12345678", "@ .12345678901").
_AFTER_A_WORD_OR_NO_DOT = r"(?:(?<=[^\W\d_]\.)|(?<!\.))"
_MANY_DIGITS = re.compile(
    rf"(?<!\d,){_AFTER_A_WORD_OR_NO_DOT}"
    rf"(?:(?<!\d)\d{{10,}}(?!\d)|(?<!\d){FIGURE_BEFORE}\d{{3,6}}(?:[.{SPACE_CHARS}{DASH_CHARS}]\d{{3,6}}){{2,}}"
    rf"(?!\w){FIGURE_AFTER})(?![.,]\d)"
)
_LONG_DIGIT_COUNT = 10


def _own_number(account_number: str | None) -> re.Pattern[str] | None:
    """The account number in any spacing or dashes (``account_key``'s rule); None for one too short to tell from
    a word or an amount (at most the four characters ``mask_account`` would show anyway). A key of fewer than
    eight characters is matched only whole, as the bill prints it: spread over separators it would match amounts
    and ranges ("$123.45" for 12345). A longer one may be spread with dots too, as decimal-comma bills group digits
    ("12.345.678"), and glued to a word ("ACCT12345678"), which a shorter one would match inside words and codes.
    Never right after a currency sign or inside a decimal, with a point or a comma ("1.234,56"); after a word's dot
    it is ("Ref No.98765")."""
    key = account_key(account_number or "")
    if len(key) <= 4:
        return None
    if len(key) < _SPREAD_KEY_LENGTH:
        forms = sorted({re.escape(key), _as_printed((account_number or "").strip())}, key=len, reverse=True)
        shapes, beside = "|".join(forms), "A-Za-z0-9"
    else:
        shapes, beside = rf"[\s./{DASH_CHARS}]{{0,3}}".join(re.escape(char) for char in key), "0-9"
    return re.compile(
        rf"(?<![{beside}$€£])(?<!\d,){_AFTER_A_WORD_OR_NO_DOT}(?:{shapes})(?![{beside}]|[.,]\d)", re.IGNORECASE
    )


_SPREAD_KEY_LENGTH = 8


def _as_printed(number: str) -> str:
    """A pattern for ``number`` as written, each space or dash in it any of its kind: "12-345" is "12‐345" too."""
    return "".join(_separator_kind(char) or re.escape(char) for char in number)


def _separator_kind(char: str) -> str | None:
    return next((kind for kind in (ANY_DASH, _SPACE) if re.fullmatch(kind, char)), None)


def _num(value: Decimal | None) -> str | None:
    """Fixed-point text for a NUMERIC column: ``str`` writes ``0E-9`` or ``1E+3`` for some values, which
    the insert API is not documented to take."""
    return None if value is None else _fixed(value)


def _fixed(value: Decimal) -> str:
    return format(value, "f")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _usage_totals(bill: NormalizedBill) -> dict[str, str | None]:
    totals: dict[str, Decimal] = {}
    for reading in bill.usage:
        column = USAGE_COLUMNS.get((reading.commodity, reading.unit))
        if column is not None:
            totals[column] = totals.get(column, Decimal(0)) + reading.quantity
    return {column: _num(totals.get(column)) for column in USAGE_COLUMNS.values()}


def daily_kwh(start: date, end: date, kwh: Decimal) -> list[tuple[date, Decimal]]:
    """Spread a bill's kWh evenly over the days of its period (both ends included).

    Bills carry one reading per period, not meter intervals, so ``interval_usage``
    holds one row per day at midnight UTC; the last day takes the rounding remainder
    so the days add up to the bill exactly.
    """
    days = (end - start).days + 1
    if days < 1 or days > _MAX_SPREAD_DAYS:
        return []
    share = (kwh / days).quantize(_KWH_SCALE, rounding=ROUND_DOWN)
    spread = [(start + timedelta(days=i), share) for i in range(days)]
    spread[-1] = (end, kwh - share * (days - 1))
    return spread


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _microseconds(moment: datetime) -> int:
    """``moment`` in microseconds since 1970: exact, where ``timestamp()`` is a float."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def bill_rows(row: AnalyticsBill, *, published_at: datetime) -> BillRows:
    """JSON-ready rows (Decimal as string, ISO dates) for the three fact tables, and their insert ids: the same for
    every try of one version's publish, so BigQuery drops a retry's rows, and another for each version, by when it was
    stored: a correction back to an earlier version's figures has that version's ``revision`` (a content hash), and
    under its id alone it would be dropped within BigQuery's deduplication window, the view showing the figures it
    corrected."""
    bill = row.bill
    revision = revision_of(bill)
    masking_number = bill.account_number or row.account_number  # the job's where the bill's was not read
    who = who_a_bill_is_for(bill.customer_name, bill.service_address)
    stamps = {
        "created_at": row.created_at.astimezone(UTC).isoformat(),
        "published_at": published_at.astimezone(UTC).isoformat(),
    }
    keys = {
        "bill_id": row.bill_id,
        "revision": revision,
        "job_id": row.job_id,
        "customer_id": row.customer_id,
        "utility_account_id": row.utility_account_id,
    }
    totals = _usage_totals(bill)
    normalized = {
        **keys,
        "provider": bill.provider.value if bill.provider else bill.provider_name,
        "statement_date": _day(bill.statement_date),
        "bill_period_start": _day(bill.bill_period_start),
        "bill_period_end": _day(bill.bill_period_end),
        "due_date": _day(bill.due_date),
        "total_amount": _num(bill.total_amount),
        "current_charges": _num(bill.current_charges),
        "currency": bill.currency,
        **totals,
        "usage": [
            {
                "commodity": u.commodity.value,
                "quantity": _fixed(u.quantity),
                "unit": u.unit.value,
                "meter_number": u.meter_number,
            }
            for u in bill.usage
        ],
        "json_payload": warehouse_payload(bill, masking_number),
        **stamps,
    }
    line_items = [
        {
            **keys,
            "line_no": n,
            "description": warehouse_text(item.description, masking_number, who),
            "category": item.category.value,
            "commodity": item.commodity.value if item.commodity else None,
            "amount": _fixed(item.amount),
            "currency": bill.currency,
            **stamps,
        }
        for n, item in enumerate(bill.line_items, start=1)
    ]
    intervals: list[dict[str, Any]] = []
    kwh = totals["kwh"]
    if kwh is not None and bill.bill_period_start and bill.bill_period_end:
        intervals = [
            {**keys, "ts": datetime.combine(day, clock(0), UTC).isoformat(), "kwh": _fixed(share), **stamps}
            for day, share in daily_kwh(bill.bill_period_start, bill.bill_period_end, Decimal(kwh))
        ]
    base = f"{row.bill_id}:{revision}:{_microseconds(row.created_at)}"
    return BillRows(
        rows={
            NORMALIZED_BILLS.name: [normalized],
            BILL_LINE_ITEMS.name: line_items,
            INTERVAL_USAGE.name: intervals,
        },
        ids={
            NORMALIZED_BILLS.name: [base],
            BILL_LINE_ITEMS.name: [f"{base}:li{r['line_no']}" for r in line_items],
            INTERVAL_USAGE.name: [f"{base}:{r['ts'][:10]}" for r in intervals],
        },
    )
