"""The review form as flat strings, to and from a NormalizedBill.

The form keeps what the reviewer typed, valid or not, so a refused correction is shown
again exactly as submitted. Rows are named ``line_items-<n>-<field>`` and ``usage-<n>-<field>``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from shared.bill import CENT, MONEY_FIELDS, QUANTITY_STEP, NormalizedBill, past_its_places

SCALAR_FIELDS = (
    "provider",
    "provider_name",
    "account_number",
    "customer_name",
    "service_address",
    "statement_date",
    "bill_period_start",
    "bill_period_end",
    "due_date",
    "currency",
    "previous_balance",
    "payments_received",
    "current_charges",
    "total_amount",
)
"""In the review page's order: the keyboard starts on the first of them flagged (``routes._first_marked``)."""
DATE_FIELDS = frozenset({"statement_date", "bill_period_start", "bill_period_end", "due_date"})
MULTILINE_FIELDS = frozenset({"service_address"})
"""Shown in a box of lines whatever their value; any other value with a line break is too (``is_multiline``)."""
ROW_FIELDS: dict[str, tuple[str, ...]] = {
    "line_items": ("description", "category", "amount", "commodity"),
    "usage": ("commodity", "quantity", "unit", "meter_number"),
}
# A row with none of these filled in is an unused blank row (or one the reviewer cleared).
ROW_KEYS: dict[str, tuple[str, ...]] = {"line_items": ("description", "amount"), "usage": ("quantity",)}
_ROW_NAME = re.compile(r"(line_items|usage)-(\d{1,5})-(\w+)")

Row = dict[str, str]
BLANK_ROW_CHOICES: dict[str, Row] = {"line_items": {"category": "other"}, "usage": {}}
"""What a blank row's selects send untouched (a line item's category has no blank choice)."""


@dataclass
class BillForm:
    fields: dict[str, str] = field(default_factory=dict)
    rows: dict[str, list[Row]] = field(default_factory=lambda: {"line_items": [], "usage": []})

    @classmethod
    def from_bill(cls, bill: NormalizedBill | None) -> BillForm:
        data = (bill or NormalizedBill()).model_dump(mode="json")
        return cls(
            fields={name: _text(data[name]) for name in SCALAR_FIELDS},
            rows={
                kind: [{k: _text(row.get(k)) for k in keys} for row in data[kind]] for kind, keys in ROW_FIELDS.items()
            },
        )

    @classmethod
    def from_form(cls, form: Mapping[str, Any], *, partial_rows: bool = False) -> BillForm:
        """``partial_rows``: keep a row with anything entered (a meter, a unit chosen), not only one a decision
        would send, for a page given back to go on typing (Add rows)."""
        kept = _entered if partial_rows else _sendable
        fields = {name: _as_input(str(form.get(name) or "")) for name in SCALAR_FIELDS}
        indexed: dict[str, dict[int, Row]] = {kind: {} for kind in ROW_FIELDS}
        for name, value in form.items():
            match = _ROW_NAME.fullmatch(name)
            if match and match[3] in ROW_FIELDS[match[1]]:
                indexed[match[1]].setdefault(int(match[2]), {})[match[3]] = _as_input(str(value or ""))
        rows = {
            kind: [
                {k: row.get(k, "") for k in ROW_FIELDS[kind]} for _, row in sorted(by_index.items()) if kept(kind, row)
            ]
            for kind, by_index in indexed.items()
        }
        return cls(fields=fields, rows=rows)

    def sendable(self) -> BillForm:
        """This form with only the rows a decision sends (``_sendable``): one without its key values is an unused
        blank row, or one the reviewer cleared to remove it."""
        rows = {kind: [row for row in rows if _sendable(kind, row)] for kind, rows in self.rows.items()}
        return BillForm(fields=dict(self.fields), rows=rows)

    def sendable_positions(self) -> dict[str, list[int]]:
        """Where each row ``sendable`` keeps stands in this form, by table: an error in the bill's row ``i`` is
        marked at row ``positions[kind][i]`` of the page (``error_messages``), not ``i`` rows down it."""
        return {kind: [i for i, row in enumerate(rows) if _sendable(kind, row)] for kind, rows in self.rows.items()}

    def as_submitted(self, *, text_inputs_only: bool = False) -> BillForm:
        """The form as a browser sends it back untouched: a value with line breaks is in a box of lines
        (``is_multiline``), which sends each as CRLF, and ``from_form`` reads them as LF and trims.

        ``text_inputs_only``: as a page from before boxes of lines sent it, every value from a text input,
        which drops line breaks."""
        read_back = _as_text_input if text_inputs_only else _as_input
        return BillForm(
            fields={name: read_back(value) for name, value in self.fields.items()},
            rows={
                kind: [{k: read_back(v) for k, v in row.items()} for row in rows] for kind, rows in self.rows.items()
            },
        )

    def input_digests(self) -> dict[str, str]:
        """Each input's value fingerprinted, keyed by its form name (``total_amount``, ``line_items-0-amount``):
        for a page to say what it showed, field by field, without carrying the bill. Not sealed: it only tells
        which fields the reviewer changed, never what is sent."""
        named = dict(self.fields)
        for kind, rows in self.rows.items():
            named |= {f"{kind}-{i}-{k}": v for i, row in enumerate(rows) for k, v in row.items()}
        return {name: _digest(value) for name, value in sorted(named.items())}

    def over_new_reading(self, shown: Mapping[str, str], new: BillForm) -> tuple[BillForm, list[str]]:
        """The ``new`` reading of the bill wherever this form still has what the page showed (``shown``: that
        page's ``input_digests``), the reviewer's own entry wherever they changed one; and the tables whose rows
        are left as the reviewer sent them though the new reading's differ from the page's.

        A table is taken whole, never row by row: positions do not name the same row across two readings (a
        cleared row shifts the rest up, a reading may reorder them), so mixing rows could put one reading's
        line in the other's place. A table left exactly as shown is the new reading's; any other is the
        reviewer's as sent, to be checked where the new reading's rows differ from the page's."""

        def changed(name: str, value: str) -> bool:
            return shown.get(name) != _digest(value)

        fields = {
            name: value if changed(name, value) else new.fields.get(name, "") for name, value in self.fields.items()
        }
        rows: dict[str, list[Row]] = {}
        kept_as_sent: list[str] = []
        new_digests, my_digests = new.as_submitted().input_digests(), self.input_digests()
        for kind, mine in self.rows.items():
            if _rows_digests(kind, my_digests) == _rows_digests(kind, shown):
                rows[kind] = new.rows.get(kind, [])
                continue
            rows[kind] = mine
            if _rows_digests(kind, new_digests) != _rows_digests(kind, shown):
                kept_as_sent.append(kind)
        return BillForm(fields=fields, rows=rows), kept_as_sent

    def keeping_untouched(self, shown: BillForm) -> BillForm:
        """This form with every value the reviewer left as the page showed it put back as extracted.

        A box of lines sends its breaks as CRLF and the form trims, so a correction would otherwise
        change an address or description nobody edited. Rows are matched by position; a row the reviewer
        removed shifts the rest, and only values equal to what the page showed are put back."""
        return self._replacing(shown.as_submitted(), by=shown)

    def sent_from_text_inputs(self, shown: BillForm) -> BillForm:
        """This form, sent by a page from before boxes of lines (its text inputs dropped line breaks), as a
        page of today would send it: each value left as that page showed ``shown`` is ``shown``'s with its lines.

        Otherwise an address in lines nobody touched reads as edited: Approve is refused, a correction
        stores it in one line."""
        return self._replacing(shown.as_submitted(text_inputs_only=True), by=shown.as_submitted())

    def _replacing(self, found: BillForm, *, by: BillForm) -> BillForm:
        """This form with each value equal to ``found``'s at the same place (rows by position) taken from ``by``."""

        def swapped(value: str, found_value: str | None, replacement: str | None) -> str:
            return replacement if replacement is not None and value == found_value else value

        fields = {
            name: swapped(value, found.fields.get(name), by.fields.get(name)) for name, value in self.fields.items()
        }
        rows = {
            kind: [
                {k: swapped(v, _at(found.rows[kind], i).get(k), _at(by.rows[kind], i).get(k)) for k, v in row.items()}
                for i, row in enumerate(rows)
            ]
            for kind, rows in self.rows.items()
        }
        return BillForm(fields=fields, rows=rows)

    def to_bill(self) -> NormalizedBill:
        """The bill the form describes; raises ``ValidationError`` naming the bad inputs.

        A decimal comma, a credit written as a bill prints it, an amount past the cent and a date not written
        year-month-day are reported as a ValidationError too, located at its field or row, so the page flags
        the input it is in rather than only quoting the value at the top."""
        refused: list[InitErrorDetails] = []

        def read_with(parse: Callable[[str], str]) -> Callable[[str, tuple[str | int, ...]], str]:
            def read(value: str, loc: tuple[str | int, ...]) -> str:
                try:
                    return parse(value)
                except _Refused as err:
                    refused.append({"type": PydanticCustomError(err.code, err.message), "loc": loc, "input": value})
                    return value

            return read

        def when(value: str, loc: tuple[str | int, ...]) -> str:
            if not _is_iso_date(value):
                refused.append({"type": PydanticCustomError("date_format", NOT_A_DATE), "loc": loc, "input": value})
            return value

        money, number = read_with(_money), read_with(_quantity)  # an amount is to the cent, a reading to four places
        checks = {name: money for name in MONEY_FIELDS} | {name: when for name in DATE_FIELDS}
        readers = {"amount": money, "quantity": number}
        data: dict[str, Any] = {
            name: checks[name](value, (name,)) if name in checks else value
            for name, value in self.fields.items()
            if value
        }
        if "currency" in data:  # "usd" is plainly USD: not a refusal quoting the code's pattern
            data["currency"] = data["currency"].upper()
        elif "currency" in self.fields:
            # Left out as blank, the bill's default made a cleared currency USD unseen: a euro bill stored in dollars.
            missing = PydanticCustomError("missing", NO_CURRENCY)
            refused.append({"type": missing, "loc": ("currency",), "input": self.fields["currency"]})
        for kind, rows in self.rows.items():
            data[kind] = [
                {k: readers[k](v, (kind, i, k)) if k in readers else v for k, v in row.items() if v}
                for i, row in enumerate(rows)
            ]
        if refused:  # reported with whatever else is wrong, so one round of fixes is enough
            raise ValidationError.from_exception_data(NormalizedBill.__name__, refused + _other_errors(data, refused))
        return NormalizedBill.model_validate(data)

    def rendered_rows(self, kind: str, blanks: int) -> list[Row]:
        """The rows plus a few blank ones to add entries without JavaScript."""
        return self.rows[kind] + [dict.fromkeys(ROW_FIELDS[kind], "") for _ in range(blanks)]


def _other_errors(data: dict[str, Any], refused: list[InitErrorDetails]) -> list[InitErrorDetails]:
    """What else is wrong with the bill, once the values already refused are taken out."""
    rest = {name: [dict(row) for row in value] if name in ROW_FIELDS else value for name, value in data.items()}
    for error in refused:
        *where, name = error.get("loc", ())
        target: Any = rest[str(where[0])][int(where[1])] if where else rest
        target.pop(name, None)
    try:
        NormalizedBill.model_validate(rest)
    except ValidationError as err:  # not "field required" where a refused value was taken out
        taken_out = {tuple(error.get("loc", ())) for error in refused}
        return [_details(e) for e in err.errors() if tuple(e["loc"]) not in taken_out]
    return []


def _details(error: Any) -> InitErrorDetails:
    """A reported error as one to raise again (its ``ctx`` carries what its message quotes)."""
    details: InitErrorDetails = {"type": error["type"], "loc": error["loc"], "input": error["input"]}
    if "ctx" in error:
        details["ctx"] = error["ctx"]
    return details


def _at(rows: list[Row], index: int) -> Row:
    return rows[index] if index < len(rows) else {}


def is_multiline(name: str, value: str) -> bool:
    """Whether the page shows this input as a box of lines: a text input would glue its lines together."""
    return _ROW_NAME.sub(r"\3", name) in MULTILINE_FIELDS or "\n" in value or "\r" in value


def is_bill_input(name: str) -> bool:
    """Whether ``name`` is one of the bill's inputs on the review page: a field, or a row's field."""
    match = _ROW_NAME.fullmatch(name)
    return name in SCALAR_FIELDS or (match is not None and match[3] in ROW_FIELDS[match[1]])


def _sendable(kind: str, row: Row) -> bool:
    """Whether a decision sends this row: any other is an unused blank row, or one the reviewer cleared."""
    return any(row.get(k) for k in ROW_KEYS[kind])


def _entered(kind: str, row: Row) -> bool:
    """Whether anything was entered in this row: a value typed, or a choice other than a blank row's."""
    return any(value and value != BLANK_ROW_CHOICES[kind].get(name, "") for name, value in row.items())


def _rows_digests(kind: str, digests: Mapping[str, str]) -> dict[str, str]:
    """The fingerprints of one table's inputs: equal when the table has the same rows, field by field."""
    return {name: value for name, value in digests.items() if name.startswith(f"{kind}-")}


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _as_input(value: str) -> str:
    """A value as the form reads it back: line breaks as LF (a box of lines sends CRLF), trimmed."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _as_text_input(value: str) -> str:
    """A value as a text input sends it back: without its line breaks (the browser drops them), trimmed."""
    return value.replace("\r", "").replace("\n", "").strip()


_THOUSANDS = re.compile(r"-?[1-9]\d{0,2}(,\d{3})+(\.\d+)?")
"""A number grouped in thousands: its first group starts with 1-9, so ``0,500`` (half, typed with a decimal comma)
is refused, not stored as 500."""
_CREDIT_NOTATION = re.compile(r"\(.*\)|.*-|.*CR", re.IGNORECASE)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


DECIMAL_COMMA = "write numbers with a point for decimals (1234.50 or 1,234.50)"
CREDIT = "write a credit with a minus sign in front (-1234.50), not in brackets, with CR or a trailing minus"
NOT_A_DATE = "not a date: write it as year-month-day, e.g. 2026-03-25"
TO_THE_CENT = "amounts are written to the cent: no more than two decimals (12.35)"
TO_FOUR_PLACES = "readings are written to four decimals at most (512.1234)"
NO_CURRENCY = "enter the bill's currency code, e.g. USD"


class _Refused(ValueError):
    """A number typed in a way the form will not guess at, with what to type instead."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _money(value: str) -> str:
    """A number as ``_number`` reads it, to the cent: ``1.234`` is refused, not stored as 1.23 unseen
    (``1.230`` is the same amount, and taken). One that is no number, or too long for the cent, is left to the
    bill's own validation (``past_its_places``)."""
    plain = _number(value)
    if past_its_places(plain, CENT):
        raise _Refused("past_the_cent", TO_THE_CENT)
    return plain


def _quantity(value: str) -> str:
    """A reading as ``_number`` reads it, to four places: ``1.23456`` is refused, not stored as 1.2346 unseen."""
    plain = _number(value)
    if past_its_places(plain, QUANTITY_STEP):
        raise _Refused("past_four_places", TO_FOUR_PLACES)
    return plain


def _number(value: str) -> str:
    """Accept what people type: ``$1,234.50`` is 1234.50; ``12,50`` is refused, not read as 1250.

    A credit as a bill prints it, ``(1,234.50)``, ``1,234.50 CR`` or ``1,234.50-``, is refused with how to
    write it: read as a charge it would pass unseen."""
    plain = value.replace("$", "").replace(" ", "")
    if _CREDIT_NOTATION.fullmatch(plain):
        raise _Refused("credit_notation", CREDIT)
    if "," in plain and not _THOUSANDS.fullmatch(plain):
        raise _Refused("decimal_comma", DECIMAL_COMMA)
    return plain.replace(",", "")


def _is_iso_date(value: str) -> bool:
    """Only year-month-day: 04/05/2026 is April or May depending on who typed it, and 2026-04-31 is no day."""
    if not _ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def error_messages(
    err: ValidationError, positions: Mapping[str, Sequence[int]] | None = None
) -> tuple[list[str], dict[str, list[str]]]:
    """Readable messages for the summary, and each input's own messages to show beside it.

    Inputs are keyed by their form name (``total_amount``, ``line_items-2-amount``); an error about a
    whole list (``line_items``) is keyed by the list. ``positions``: the page row of each row the bill was
    read from (``BillForm.sendable_positions``): a row the reviewer cleared to remove it stays on the page,
    and an error in a later row was marked at the row above it, the summary naming that one too."""
    messages: list[str] = []
    by_input: dict[str, list[str]] = {}
    for error in err.errors():
        loc = [str(part) for part in error.get("loc", ())]
        message = _in_a_reviewers_words(error)
        if loc and loc[0] in ROW_FIELDS and len(loc) >= 3 and loc[1].isdigit():
            placed = (positions or {}).get(loc[0], ())
            loc[1] = str(placed[int(loc[1])]) if int(loc[1]) < len(placed) else loc[1]
            where = f"{loc[0].replace('_', ' ')} row {int(loc[1]) + 1}, {loc[2]}"
            name = f"{loc[0]}-{loc[1]}-{loc[2]}"
        else:
            where = " ".join(loc).replace("_", " ") or "bill"
            name = loc[0] if loc else ""
        if name:
            by_input.setdefault(name, []).append(message)
        messages.append(f"{where}: {message}")
    return messages, by_input


CURRENCY_CODE = "write the currency as its three-letter code in capitals, e.g. USD or CAD"
NOT_A_NUMBER = "type a number, e.g. 1234.50: digits, a dot for the cents, no currency sign but $"


def _in_a_reviewers_words(error: ErrorDetails) -> str:
    """Pydantic's message, but where it speaks of types and patterns ("Value should have at most 200 items after
    validation, not 201", "String should match pattern '^[A-Z]{3}$'"): what to type instead."""
    context = error.get("ctx") or {}
    if error["type"] in {"too_long", "string_too_long"} and "max_length" in context:
        typed_length = len(typed_value) if isinstance(typed_value := error.get("input"), str) else None
        typed = f" (this is {typed_length})" if typed_length is not None else ""
        return f"too long: at most {context['max_length']} characters{typed}"
    if error["type"] == "string_pattern_mismatch" and tuple(error.get("loc", ())) == ("currency",):
        return CURRENCY_CODE
    if error["type"] == "decimal_parsing":  # "€160.09", "abc": pydantic's "Input should be a valid decimal"
        return NOT_A_NUMBER
    return str(error.get("msg", "invalid"))
