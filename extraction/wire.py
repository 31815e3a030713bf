"""The JSON shape Gemini fills in, and its conversion to a NormalizedBill.

The wire schema is deliberately plain (strings, lists, no defaults, no Decimal/date):
structured output handles that reliably, and all parsing happens here, where a bad
value becomes ``MalformedModelOutput`` instead of a crash.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ValidationError

from extraction.values import (
    decimal_commas_as_points,
    number_format,
    parse_date,
    parse_money,
    parse_quantity,
    scaled_quantity,
)
from shared.bill import (
    Commodity,
    LineItem,
    LineItemCategory,
    NormalizedBill,
    Provider,
    UsageReading,
    UsageUnit,
)


class MalformedModelOutput(ValueError):
    """The model answered, but not with a usable bill."""

    @classmethod
    def refused(cls, what: str, error: ValidationError) -> MalformedModelOutput:
        """Which fields were refused and why, never their values (an account number, a name)."""
        said = [f"{'.'.join(map(str, e['loc'])) or '(whole)'}: {e['msg']}" for e in error.errors(include_input=False)]
        return cls(f"{what}: {'; '.join(said[:3])}{' …' if len(said) > 3 else ''}")


class WireUsage(BaseModel):
    commodity: str
    quantity: str
    unit: str
    meter_number: str | None


class WireLineItem(BaseModel):
    description: str
    category: str
    amount: str
    commodity: str | None


class WireBill(BaseModel):
    is_utility_bill: bool
    provider_name: str | None
    account_number: str | None
    customer_name: str | None
    service_address: str | None
    statement_date: str | None
    bill_period_start: str | None
    bill_period_end: str | None
    due_date: str | None
    currency: str | None
    total_amount: str | None
    previous_balance: str | None
    payments_received: str | None
    current_charges: str | None
    usage: list[WireUsage]
    line_items: list[WireLineItem]


_UNITS = {
    "kwh": UsageUnit.KWH,
    "therm": UsageUnit.THERM,
    "therms": UsageUnit.THERM,
    "ccf": UsageUnit.CCF,
    "hcf": UsageUnit.CCF,
    "gal": UsageUnit.GAL,
    "gallon": UsageUnit.GAL,
    "gallons": UsageUnit.GAL,
    **dict.fromkeys(("m3", "m\u00b3", "m^3", "cubic meters", "cubic metres"), UsageUnit.M3),
    **dict.fromkeys(("kl", "kilolitres", "kiloliters"), UsageUnit.M3),  # a kilolitre is a cubic metre
    **dict.fromkeys(("gj", "gigajoules"), UsageUnit.GJ),
    # Stored multiplied out (``scaled_quantity``), as the prompt asks and the rules reader does: a model that
    # copied "12.4 MWh" as printed sent its bill to review for usage in unknown terms.
    "mwh": UsageUnit.KWH,
    "mcf": UsageUnit.CCF,
    **dict.fromkeys(("cubic feet", "cu ft", "cu. ft.", "cuft"), UsageUnit.CCF),
}


_COMMODITIES = {
    "electricity": Commodity.ELECTRICITY,
    "electric": Commodity.ELECTRICITY,
    "power": Commodity.ELECTRICITY,
    "gas": Commodity.GAS,
    "natural gas": Commodity.GAS,
    "water": Commodity.WATER,
    "sewer": Commodity.WATER,
    "wastewater": Commodity.WATER,
}
"""The words the model uses for a commodity (a water bill's sewer charges are water's)."""

_CATEGORIES = frozenset(c.value for c in LineItemCategory)
_CURRENCY_SYMBOLS = {"$": "USD", "US$": "USD", "C$": "CAD", "CA$": "CAD", "€": "EUR", "£": "GBP"}
"""Symbols the model may write despite being asked for ISO 4217 codes; a bare "$" is the US dollar."""
_PLAIN_NUMBER = re.compile(r"[-\u2212]?\d+(?:\.\d{1,2})?")  # U+2212: the model copies a typeset minus
_GROUPED_NUMBER = re.compile(r"[-\u2212]?\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?")
"""A decimal-comma bill's "1.234" (no cents) once turned round: 1,234."""
_ONE_GROUP = re.compile(r"[-\u2212]?(?P<head>\d{1,3})\.(?P<tail>\d{3})")
"""A quantity that reads two ways on a decimal-comma bill: "12.345" is 12,345 there, or a plain decimal 12.345."""


def to_bill(wire: WireBill, *, provider: Provider | None, text: str = "") -> NormalizedBill:
    """Convert, refusing anything the model wrote that does not parse.

    ``text``: the document's. Where it writes decimal commas (``number_format``), the model may copy its figures
    so ("1.234,56", "12,5", "1.234"): they are read in it, as the rules read the text. The plain decimals the
    prompt asks for ("1234.56") and "1,234.56" read one way only and are read as ever; what reads in neither
    ("1,234,56", "12.5.6", an amount "1,234": 1.234 there) is refused. A quantity "12.345" is the text's
    "12.345" (12,345) unless the text prints "12,345" and no "12.345" (``_printed_with_a_decimal_comma``).
    Elsewhere (a US text, a photo's none) a decimal-comma amount is refused as before: the text does not write
    one, so the model read a figure the text does not print, or the bill's convention is in doubt; either
    reading could be wrong, and a refusal sends the bill to a person (with the rules' reading where there is
    one). Quantities are read there as the rules read the text's ("12,5 kWh" is 12.5), and checked against it."""
    decimal_comma = number_format(text).decimal_comma
    try:
        payments = _money(wire.payments_received, decimal_comma=decimal_comma)
        return NormalizedBill(
            provider=provider,
            provider_name=_text(wire.provider_name),
            account_number=_text(wire.account_number),
            customer_name=_text(wire.customer_name),
            service_address=_text(wire.service_address),
            statement_date=_date(wire.statement_date),
            bill_period_start=_date(wire.bill_period_start),
            bill_period_end=_date(wire.bill_period_end),
            due_date=_date(wire.due_date),
            currency=_currency(wire.currency),
            total_amount=_money(wire.total_amount, decimal_comma=decimal_comma),
            previous_balance=_money(wire.previous_balance, decimal_comma=decimal_comma),
            payments_received=abs(payments) if payments is not None else None,
            current_charges=_money(wire.current_charges, decimal_comma=decimal_comma),
            usage=[_usage(u, text=text if decimal_comma else None) for u in wire.usage],
            line_items=[_line_item(i, decimal_comma=decimal_comma) for i in wire.line_items],
        )
    except ValidationError as error:
        raise MalformedModelOutput.refused("the bill's fields", error) from error
    except (KeyError, ValueError) as error:
        raise MalformedModelOutput(str(error)) from error


def _text(value: str | None) -> str | None:
    cleaned = (value or "").strip()
    return cleaned or None


def _currency(value: str | None) -> str:
    """An ISO 4217 code: "USD" when none is given, a known symbol mapped, anything else as written."""
    code = (_text(value) or "USD").upper()
    return _CURRENCY_SYMBOLS.get(code, code)


def _date(value: str | None) -> date | None:
    if not _text(value):
        return None
    parsed = parse_date(value or "")
    if parsed is None:
        raise MalformedModelOutput(f"not a date: {value!r}")
    return parsed


def _money(value: str | None, *, decimal_comma: bool) -> Decimal | None:
    if not _text(value):
        return None
    text = (value or "").strip()
    text = decimal_commas_as_points(text) if decimal_comma else text
    parsed = parse_money(text)
    if parsed is None and (_PLAIN_NUMBER.fullmatch(text) or (decimal_comma and _GROUPED_NUMBER.fullmatch(text))):
        parsed = Decimal(text.replace("\u2212", "-").replace(",", ""))
    if parsed is None:
        raise MalformedModelOutput(f"not an amount: {value!r}")
    # The model's "-0" is Decimal("-0"), stored and published as "-0.00": a zero has no sign.
    return parsed if parsed else abs(parsed)


def _usage(wire: WireUsage, *, text: str | None) -> UsageReading:
    """``text``: a decimal-comma document's, in whose convention the quantity is read ("2.412" kWh is 2,412 kWh);
    None elsewhere."""
    written = wire.quantity.strip()
    in_convention = text is not None and not _printed_with_a_decimal_comma(written, text)
    quantity = parse_quantity(decimal_commas_as_points(written) if in_convention else written)
    if quantity is None:
        raise MalformedModelOutput(f"not a quantity: {wire.quantity!r}")
    commodity = _COMMODITIES.get(wire.commodity.strip().lower())
    unit = _UNITS.get(wire.unit.strip().lower())
    if commodity is None or unit is None:
        raise MalformedModelOutput(f"usage in unknown terms: {wire.commodity!r} in {wire.unit!r}")
    quantity = scaled_quantity(quantity, wire.unit.strip())
    return UsageReading(commodity=commodity, quantity=quantity, unit=unit, meter_number=_text(wire.meter_number))


def _printed_with_a_decimal_comma(written: str, text: str) -> bool:
    """Whether the model's "12.345" is a plain decimal, as the prompt asks amounts to be written: the text prints
    "12,345" and no "12.345". Read in the text's convention, the reviewer was shown 12345 kWh for the bill's 12.345."""
    one_group = _ONE_GROUP.fullmatch(written)
    if one_group is None:
        return False
    head, tail = one_group["head"], one_group["tail"]
    return _printed(rf"{head},{tail}", text) and not _printed(rf"{head}\.{tail}", text)


def _printed(figure: str, text: str) -> bool:
    """Whether ``text`` prints ``figure`` (a pattern) as a whole figure: not within a longer one."""
    return re.search(rf"(?<![\d.,]){figure}(?![.,]?\d)", text) is not None


def _line_item(wire: WireLineItem, *, decimal_comma: bool) -> LineItem:
    amount = _money(wire.amount, decimal_comma=decimal_comma)
    if amount is None:
        raise MalformedModelOutput(f"line item without amount: {wire.description!r}")
    category = wire.category.strip().lower()
    return LineItem(
        description=wire.description.strip()[:200] or "charge",
        category=LineItemCategory(category) if category in _CATEGORIES else LineItemCategory.OTHER,
        amount=amount,
        commodity=_COMMODITIES.get((wire.commodity or "").strip().lower()),  # an unknown word: not said
    )
