"""The currency reader's work on a long line naming a place again and again: counted, never timed."""

from __future__ import annotations

import re

import pytest

from extraction.rules import currency
from extraction.rules.currency import BillCurrency, bill_currency
from tests.extraction.scanning import ScanCounter


@pytest.fixture
def counters(monkeypatch: pytest.MonkeyPatch) -> list[ScanCounter]:
    """Every pattern the currency reader holds, alone or in a table, replaced by one that counts its work."""
    counters: list[ScanCounter] = []

    def counted(value: object) -> object:
        if isinstance(value, re.Pattern):
            counters.append(counter := ScanCounter(value))
            return counter
        if isinstance(value, tuple):
            return tuple(counted(item) for item in value)
        if isinstance(value, dict):
            return {key: counted(item) for key, item in value.items()}
        return value

    for name, value in vars(currency).items():
        if not name.startswith("__") and isinstance(value, re.Pattern | tuple | dict):
            monkeypatch.setattr(currency, name, counted(value))
    return counters


@pytest.mark.parametrize(
    "place",
    [
        "UK",
        "Canada",
        "New Zealand",
        "Western Australia 6230",
        "Perth WA 6000",
        "Toronto ON M5V 2T6",
        "London, UK",
        "Sydney, Australia 2000",
        "PERTH  WA  6000",
    ],
)
def test_each_place_on_a_long_line_costs_the_same_work(counters: list[ScanCounter], place: str) -> None:
    """One line of "UK " 3,000 times took 1.8 s, of "Canada " 4 s: all of the line before each name was searched
    for a postcode, so each name cost more than the one before it. Each costs the same now, wherever it stands."""

    def work(names: int) -> int:
        for counter in counters:
            counter.scanned = 0
        bill_currency(" ".join([place] * names))
        return sum(counter.scanned for counter in counters)

    assert work(3000) - work(2000) == work(2000) - work(1000) > 0


@pytest.mark.parametrize(
    "note", ["SVC  WA  6250 gal", "Irrigation WA 6250 gal", "Hot water ACT 2607 kWh", "Residential ACT   2607   2698"]
)
def test_a_reading_after_a_states_letters_is_no_postcode(note: str) -> None:
    """A figure in a unit, or in the next cell, is a meter's reading ("ACT": read actual), whatever stands
    before the letters: these read as Western Australia's and the ACT's postcodes, and a US bill's amounts
    as Australian dollars."""
    assert bill_currency(f"Meter readings\n{note}\n") == currency.BillCurrency("USD", foreign=False)


@pytest.mark.parametrize(("state", "letters"), [("WA 6000", "WB 6000"), ("Meter ACT 2601", "Meter ACX 2601")])
@pytest.mark.parametrize("names", [1, 1000])
def test_a_states_town_is_found_without_searching(
    counters: list[ScanCounter], state: str, letters: str, names: int
) -> None:
    """A pattern looked for a town's word at each position of a window before each "WA" and "ACT": a text of
    "WA 6000" (no town before any) at the size limit took 1.26 s. The town is found by hand now: a state's
    letters cost no pattern more work than letters that name none."""

    def work(place: str) -> int:
        for counter in counters:
            counter.scanned = 0
        bill_currency(" ".join([place] * names))
        return sum(counter.scanned for counter in counters)

    assert work(state) == work(letters) > 0


@pytest.mark.parametrize(
    ("text", "code", "foreign"),
    [
        ("Total Due  â‚¬135.00", "EUR", True),  # "€" in UTF-8, read as Windows-1252
        ("Total Due  135,00 â‚¬", "EUR", True),
        ("Total Due  Â£42.10", "GBP", True),
        ("Total Due  Â¥4200", "USD", True),  # a currency no template names: a person picks
        ("Total Due  \ufffd135.00", "USD", True),  # a Windows-1252 "€" in UTF-8 text
        ("Total Due  135.00 \ufffd", "USD", True),
        ("Service 2025 \ufffd 2026", "USD", False),  # a Windows-1252 dash
        ("Outdoor 72\ufffdF", "USD", False),  # a degree sign
        ("H\ufffdl\ufffdne, 12 rue", "USD", False),
        ("Rate 12.5Â¢ per kWh", "USD", False),  # a US cent, garbled
        ("Total Due  \u20b91,234.00", "USD", True),  # rupees, printed plainly: read as dollars and accepted
        ("Total Due  \u20b1 1,234.00", "USD", True),  # pesos
        ("Total Due  1,234.00 \u20ba", "USD", True),  # lira
        ("Total Due  \u00a5 4200", "USD", True),
        ("Total Due  135.00 \u20ac", "EUR", True),
        ("Rate 12.5\u00a2 per kWh", "USD", False),  # a US cent
        ("Total Due  \uff04135.00", "USD", False),  # a full-width dollar sign
    ],
)
def test_a_sign_by_a_figure_garbled_or_not_is_a_currency(text: str, code: str, foreign: bool) -> None:
    assert bill_currency(text) == currency.BillCurrency(code, foreign=foreign)


@pytest.mark.parametrize(
    ("text", "code", "foreign"),
    [
        ("Total Due  1,234.00 MXN", "MXN", True),  # read as dollars and accepted
        ("Total Due  CHF 135.00", "CHF", True),
        ("Amount due CDN$ 135.00", "CAD", True),
        ("Total Due  $135.00 MXN", "MXN", True),
        ("Total Due  JPY 4,200", "JPY", True),  # no cents: its thousands set apart
        ("Total Due  CHF 1.234,00", "CHF", True),
        ("Total Due  INR 1,234.00 (MXN 20.00 fee)", "USD", True),  # two: a person picks
        ("Total Due  INR 1,234.00 MXN", "USD", True),  # one amount between them
        ("Total Due  USD 135.00", "USD", False),
        ("Usage  512 KWH   Meter ABC 123   CHFX 12", "USD", False),  # capitals that name no currency
        ("PAYMENTS 135.00   MEXICO BRLX", "USD", False),
    ],
)
def test_a_currency_code_by_a_figure_is_a_currency(text: str, code: str, foreign: bool) -> None:
    assert bill_currency(text) == currency.BillCurrency(code, foreign=foreign)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("All amounts are shown in Canadian dollars.", "CAD"),  # read as dollars and accepted
        ("MONTANTS EN DOLLARS CANADIENS / AMOUNTS IN CANADIAN DOLLARS", "CAD"),
        ("Importes en pesos mexicanos (MXN)", "MXN"),  # the code by no amount, the currency's name beside it
        ("Amounts in Australian dollars", "AUD"),
        ("All charges in euros", "EUR"),
        ("Payable in pounds sterling", "GBP"),
        ("Betrag in Swiss francs", "CHF"),
        ("Amounts in Indian rupees", "INR"),
        ("All amounts are Canadian dollars.", "CAD"),  # no "in" before it, nor a refusal after (a second re-read)
        ("Currency: Canadian Dollars", "CAD"),
        ("All amounts are in Canadian dollars except where noted.", "CAD"),
        ("All amounts in Canadian dollars; no cash payments accepted.", "CAD"),
        ("Importes expresados en pesos mexicanos; no incluye IVA.", "MXN"),
        ("Moneda: Pesos Mexicanos", "MXN"),
    ],
)
def test_a_currency_named_in_words_is_the_bills(text: str, code: str) -> None:
    assert bill_currency(f"Total Due  $135.00\n{text}\n") == currency.BillCurrency(code, foreign=True)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("HST (13%) ............... $6.78", "CAD"),  # an Ontario bill's, accepted as US dollars (76B)
        ("HST                                      $14.05", "CAD"),
        ("HST 13%                                $20.20", "CAD"),
        ("PST 7%   $9.10", "CAD"),
        ("TPS 5 %                                            21,85 $", "CAD"),
        ("TVQ 9,975 %                                        43,59 $", "CAD"),
        ("Pay easily with BPAY: Biller code 12345, Ref 662044710 9.", "AUD"),
    ],
)
def test_a_tax_or_a_payment_scheme_of_one_country_names_its_currency(text: str, code: str) -> None:
    assert bill_currency(f"Total Due  $135.00\n{text}\n") == currency.BillCurrency(code, foreign=True)


@pytest.mark.parametrize(
    "text",
    [
        "Call us 8 AM - 5 PM PST, Monday to Friday",
        "Outage restored at 4:15 PM HST 11/02",
        "Office hours: 7:30 am to 4:00 pm HST",
        "Meter read 10/02 at 09:14 PST",
        # A time zone then a fee's amount (76D): each was read as Canada's tax, and the bill's currency as CAD.
        "Pay by phone until 8 PM PST $2.50 convenience fee",
        "after 5 PM PST. $10 late fee",
        "7am-7pm PST: $0 fee",
        "Hours 8-5 HST. $25 returned check fee",
        "Due by 11:59 PM PST   $56.78",
    ],
)
def test_a_time_zone_is_no_sales_tax(text: str) -> None:
    """Hawaii's and the Pacific's time read as Canada's taxes would send US bills to review."""
    assert bill_currency(f"Total Due  $135.00\n{text}\n") == currency.BillCurrency("USD", foreign=False)


@pytest.mark.parametrize(
    "text",
    [
        "Sterling, VA 20164",
        "Mail to: 12 Euro Way",
        "Pay by check to Pesos Plumbing LLC",
        "Euro Motors ad",
        "12 Euros Lane",
        "Indian Rupees Restaurant",
        "Checks in Canadian dollars will be returned.",  # a border state's notice: sent US bills to review
        "Payments in Mexican pesos are not accepted.",
        "We cannot accept payment in Canadian funds.",
        "We accept payment in U.S. funds only; checks in Canadian dollars will be returned.",
        "U.S. FUNDS ONLY - NO CANADIAN FUNDS",  # refusals a third re-read found the narrowed list missed
        "Please do not send Canadian funds.",
        "No se aceptan pagos en pesos mexicanos.",
        "All payments are accepted except Canadian dollars.",
        "Checks drawn in Canadian dollars will be charged a $15.00 exchange fee.",
        "Like a Swiss franc, our rates are stable.",
        "Invest in Euro-style heat pumps",
        "Los Euros Cafe LLC",
    ],
)
def test_a_word_near_a_currencys_name_names_none(text: str) -> None:
    assert bill_currency(f"Total Due  $135.00\n{text}\n") == currency.BillCurrency("USD", foreign=False)


@pytest.mark.parametrize(
    "text",
    [
        "Heat pumps rated COP 3.0 or higher qualify",
        "Meter Type: IDR   Meter No. IDR 00451237",
        "TRY 2 MONTHS OF PAPERLESS BILLING FREE",
        "Tariff code CHF 12",
        "Ref No. 4512 CHF",
        "Meter MXN12345",
        "12 Calle MXN 4",
        "Meter ID: SEK 004512",
        "Serial 9AED12",
        "Serial 9AED12.00",
        "Part A12.00 CHF",
        "CNY 2026 holiday",
        "Plan 12 JPY",
        "Tax ID 12-345 CDN",
    ],
)
def test_a_currency_code_by_a_figure_no_amount_names_no_currency(text: str) -> None:
    """US bills print the letters by meters', references' and slogans' figures: each named its currency, and a
    reviewer approving the bill as read stored a US bill in rupiah."""
    assert bill_currency(f"Total Due  $135.00\n{text}\n") == currency.BillCurrency("USD", foreign=False)


@pytest.mark.parametrize(
    "text",
    [
        "Heat pumps rated COP 3.00 or higher qualify",
        "Rebate for a COP 4.50 heat pump",
        "Copyright \u00a5 2025 Harbor Water Co",  # a copyright sign a font or a charset turned into a yen sign
        "COPYRIGHT \u00a52024-2025",
        "(c) Â¥ 2025",
    ],
)
def test_letters_or_a_sign_that_name_no_currency_here_name_none(text: str) -> None:
    """A heat pump's coefficient of performance read as Colombian pesos and a copyright's year as yen: each
    US bill went to review as foreign, yen preselected as dollars for lack of a code."""
    assert bill_currency(f"Total Due  $135.00\n{text}\n") == currency.BillCurrency("USD", foreign=False)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Total a pagar  COP 125.430", "COP"),
        ("Total a pagar  COP 1.250.000,00", "COP"),
        ("Total  125.430 COP", "COP"),
        ("Total Due  IDR 1,250,000.00", "IDR"),
        ("Total Due  \u00a5 2025", "USD"),  # yen with no cents, not in a copyright notice: a person picks
        ("Copyright 2025.  Total Due  \u00a5 4,200", "USD"),
    ],
)
def test_a_small_units_currency_is_named_by_its_thousands(text: str, code: str) -> None:
    assert bill_currency(text) == currency.BillCurrency(code, foreign=True)


@pytest.mark.parametrize(
    ("text", "code", "foreign"),
    [
        ("Amount due: HK$ 265.05", "HKD", True),  # read as US dollars and accepted
        ("Amount due: HK$265.05", "HKD", True),
        ("Amount due: S$ 265.05", "SGD", True),
        ("Amount due: NT$ 265.05", "TWD", True),
        ("Amount due: MX$ 265.05", "MXN", True),
        ("Amount due: Mex$ 265.05", "MXN", True),
        ("Amount due: RD$ 265.05", "DOP", True),
        ("Valor a pagar: R$ 265,05", "BRL", True),
        ("Amount due:\nS$ 265.05", "SGD", True),
        ("Total (R$) 265,05", "BRL", True),
        # A US text layer's capitals glued to the sign: no currency (an unknown pair sent such bills to review).
        *(
            (f"{label}$ 45.10", "USD", False)
            for label in ("ZZ", "KWH", "EST", "CR", "GAS", "KW", "PMT", "ADJ", "WTR", "PD", "USAGE CHG", "CA 94105 X")
        ),
        ("Unit J$ 3.00", "USD", False),  # a label's letter, not Jamaican dollars
        ("Line R$ 12.00", "USD", False),
        ("Acct #1234 S$ 5.00", "USD", False),
        ("Amount due: CA$ 265.05", "CAD", True),
        ("Amount due: US$ 265.05", "USD", False),
        ("Amount due: USD 265.05", "USD", False),
        ("Amount due: USD$ 265.05", "USD", False),
        ("AMOUNT DUE$ 265.05", "USD", False),  # a label in capitals, glued to the sign
        ("Total$ 265.05   Amount Due$ 265.05", "USD", False),
        ("TOTAL$ 265.05", "USD", False),
        ("Energy 512 KWH X$0.1123", "USD", False),
        ("Rate Schedule B$0.1123 per kWh", "USD", False),  # schedule B at $0.1123
    ],
)
def test_letters_before_a_dollar_sign_name_its_currency(text: str, code: str, foreign: bool) -> None:
    assert bill_currency(f"{text}\n") == currency.BillCurrency(code, foreign=foreign)


@pytest.mark.parametrize(
    ("text", "foreign"),
    [
        ("Water Consumption   29 m3 @ $2.19   $63.51", True),
        ("Consumption 29 m\u00b3   Total $63.51", True),
        ("Gas Delivery 2.4 GJ @ $5.41   $12.98", True),
        ("Water used 14 kL   $40.10", True),
        ("Water used 14 Cubic Metres   $40.10", True),
        ("Rate M3 Residential   Total $63.51", False),  # a rate's name, no quantity
        ("Water used 14 CCF   $40.10", False),
        ("Usage 12 KLM   $40.10", False),
        ("Payment confirmation: 20260914KL   $40.10", False),  # an identifier's letters, glued to its figures
        ("Meter number: 0045123M3   $40.10", False),
        ("(code 40GJ)   $40.10", False),
        ("Water used 14m\u00b3   $40.10", True),
    ],
)
def test_dollars_beside_readings_in_metric_units_are_a_persons_to_confirm(text: str, foreign: bool) -> None:
    """A Canadian bill naming neither its currency nor a postal code was stored in US dollars: no US utility counts
    in cubic metres or gigajoules, and dollars beside them are as likely Canada's or Australia's."""
    assert bill_currency(text) == BillCurrency("USD", foreign=foreign)
