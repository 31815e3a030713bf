"""The review form to and from a NormalizedBill, and the reason codes it flags."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from api.review_reasons import describe, fields_for, flagged_fields
from api.ui.forms import (
    CREDIT,
    CURRENCY_CODE,
    NO_CURRENCY,
    NOT_A_DATE,
    NOT_A_NUMBER,
    TO_FOUR_PLACES,
    TO_THE_CENT,
    BillForm,
    error_messages,
    is_multiline,
)
from shared.bill import NormalizedBill

BILL = NormalizedBill.model_validate(
    {
        "provider": "pge",
        "account_number": "1234-5678-90",
        "due_date": "2026-03-25",
        "total_amount": "75.00",
        "current_charges": "60.00",
        "usage": [{"commodity": "electricity", "quantity": "350", "unit": "kWh"}],
        "line_items": [
            {"description": "Supply", "category": "supply", "amount": "40.00"},
            {"description": "Delivery", "category": "delivery", "amount": "20.00"},
        ],
    }
)


def posted(form: BillForm, blanks: int = 2) -> dict[str, str]:
    """What a browser submits for the rendered form (blank rows included)."""
    data = dict(form.fields)
    for kind in ("line_items", "usage"):
        for i, row in enumerate(form.rendered_rows(kind, blanks)):
            data.update({f"{kind}-{i}-{k}": v for k, v in row.items()})
    return data


def test_an_unchanged_form_gives_back_the_same_bill() -> None:
    form = BillForm.from_form(posted(BillForm.from_bill(BILL)))
    assert form.to_bill() == BILL


def test_edits_blank_rows_and_typed_money() -> None:
    data = posted(BillForm.from_bill(BILL))
    data |= {
        "total_amount": "$1,060.00",
        "line_items-1-amount": "1,020",
        "line_items-2-description": "Tax",
        "line_items-2-amount": "0.5",
        "usage-0-quantity": "",
        "customer_name": "  ",
    }
    bill = BillForm.from_form(data).to_bill()
    assert bill.total_amount == Decimal("1060.00")
    assert [i.amount for i in bill.line_items] == [Decimal("40.00"), Decimal("1020.00"), Decimal("0.50")]
    assert bill.usage == [], "a cleared quantity removes the row"
    assert bill.customer_name is None


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("total_amount", "12,50"),
        ("line_items-0-amount", "1.234,56"),
        ("usage-0-quantity", "1,5"),
        ("total_amount", "0,500"),  # three decimals after a zero: no thousands group starts with 0
        ("usage-0-quantity", "-0,750"),
        ("usage-0-quantity", "012,500"),
    ],
)
def test_a_decimal_comma_is_refused_not_read_as_thousands(field: str, typed: str) -> None:
    """A keyboard in many locales types 12,50 for twelve and a half: read as 1250 it would pass unseen."""
    data = posted(BillForm.from_bill(BILL)) | {field: typed}
    with pytest.raises(ValueError, match="point for decimals"):
        BillForm.from_form(data).to_bill()


def test_an_edited_form_is_not_the_bill_as_extracted() -> None:
    """What the review page compares before an Approve (clicked after editing fields)."""
    assert BillForm.from_form(posted(BillForm.from_bill(BILL))) == BillForm.from_bill(BILL).as_submitted()
    edited = posted(BillForm.from_bill(BILL)) | {"total_amount": "60.00"}
    assert BillForm.from_form(edited) != BillForm.from_bill(BILL).as_submitted()


def browser_posted(form: BillForm) -> dict[str, str]:
    """``posted`` as a browser sends it: a value with line breaks is in a box of lines, which sends each as
    CRLF (a text input would drop them)."""
    return {
        name: value.replace("\r\n", "\n").replace("\n", "\r\n") if is_multiline(name, value) else value
        for name, value in posted(form).items()
    }


def test_an_untouched_form_is_unedited_even_when_the_extraction_has_line_breaks() -> None:
    """Gemini keeps an address's line breaks and a description's trailing space; a text input sends
    neither back, and the reviewer who changed nothing must still be able to Approve."""
    bill = BILL.model_copy(
        update={
            "service_address": "1 Main St\nSpringfield, IL",
            "line_items": [BILL.line_items[0].model_copy(update={"description": "Supply "}), *BILL.line_items[1:]],
        }
    )
    untouched = BillForm.from_form(browser_posted(BillForm.from_bill(bill)))
    assert untouched != BillForm.from_bill(bill), "compared as stored, an untouched form reads as edited"
    assert untouched == BillForm.from_bill(bill).as_submitted()
    edited = browser_posted(BillForm.from_bill(bill)) | {"service_address": "2 Main St Springfield, IL"}
    assert BillForm.from_form(edited) != BillForm.from_bill(bill).as_submitted()


def test_a_correction_keeps_the_line_breaks_of_fields_the_reviewer_did_not_edit() -> None:
    """Saving a fixed total must not store the address and descriptions as the text inputs flattened them."""
    bill = BILL.model_copy(
        update={
            "service_address": "1 Main St\nSpringfield, IL",
            "line_items": [
                BILL.line_items[0].model_copy(update={"description": "Delivery\ncharge"}),
                *BILL.line_items[1:],
            ],
        }
    )
    shown = BillForm.from_bill(bill)
    sent = browser_posted(shown) | {"customer_name": "Jane Q Public"}
    corrected = BillForm.from_form(sent).keeping_untouched(shown).to_bill()
    assert corrected.service_address == "1 Main St\nSpringfield, IL"
    assert corrected.line_items[0].description == "Delivery\ncharge"
    assert corrected.customer_name == "Jane Q Public", "an edited field is taken as typed"

    retyped = browser_posted(shown) | {
        "service_address": "2 Main St, Springfield, IL",
        "line_items-0-description": "Delivery",
    }
    corrected = BillForm.from_form(retyped).keeping_untouched(shown).to_bill()
    assert (corrected.service_address, corrected.line_items[0].description) == (
        "2 Main St, Springfield, IL",
        "Delivery",
    )

    removed_first = {k: v for k, v in browser_posted(shown).items() if not k.startswith("line_items-0-")}
    corrected = BillForm.from_form(removed_first).keeping_untouched(shown).to_bill()
    assert [item.description for item in corrected.line_items] == [item.description for item in bill.line_items[1:]]


def test_invalid_values_are_named_by_field_and_row() -> None:
    data = posted(BillForm.from_bill(BILL)) | {"due_date": "soon", "line_items-1-amount": "lots"}
    with pytest.raises(ValidationError) as err:
        BillForm.from_form(data).to_bill()
    messages, invalid = error_messages(err.value)
    assert set(invalid) == {"due_date", "line_items-1-amount"}, "keyed by the input that holds the value"
    assert any(m.startswith("line items row 2, amount:") for m in messages)


def test_a_decimal_comma_is_located_at_its_input() -> None:
    """Reported like any other refused value, so the page can mark the input it was typed in."""
    data = posted(BillForm.from_bill(BILL)) | {"total_amount": "12,50", "line_items-1-amount": "1.234,56"}
    with pytest.raises(ValidationError) as err:
        BillForm.from_form(data).to_bill()
    messages, invalid = error_messages(err.value)
    assert set(invalid) == {"total_amount", "line_items-1-amount"}
    assert all("point for decimals" in m for m in invalid["total_amount"] + invalid["line_items-1-amount"])
    assert "line items row 2, amount: write numbers with a point for decimals (1234.50 or 1,234.50)" in messages


@pytest.mark.parametrize(
    ("field", "typed", "said"),
    [
        # 1.234 stored as 1.23 would pass unseen, as 12,50 read as 1250 would: the reviewer says which they meant.
        ("total_amount", "1.234", TO_THE_CENT),
        ("line_items-1-amount", "12.345", TO_THE_CENT),
        ("usage-0-quantity", "350.12345", TO_FOUR_PLACES),
        # Its ``decimal.Overflow`` was no ValueError: the page answered 500 and the reviewer lost the form.
        ("total_amount", "1e999999999", "amounts must be finite and below 1,000,000,000,000 in size"),
        ("usage-0-quantity", "5e1000000", "quantities must be finite and below 100,000,000,000,000 in size"),
    ],
)
def test_a_figure_the_bill_cannot_hold_as_typed_is_refused_at_its_input(field: str, typed: str, said: str) -> None:
    data = posted(BillForm.from_bill(BILL)) | {field: typed}
    with pytest.raises(ValidationError) as err:
        BillForm.from_form(data).to_bill()
    _, invalid = error_messages(err.value)
    assert list(invalid) == [field] and said in invalid[field][0], invalid


def test_an_amount_or_a_quantity_that_only_looks_longer_is_taken() -> None:
    """A trailing zero past the cent changes nothing; a reading keeps its four places."""
    data = posted(BillForm.from_bill(BILL)) | {"total_amount": "75.000", "usage-0-quantity": "350.1234"}
    bill = BillForm.from_form(data).to_bill()
    assert bill.total_amount == Decimal("75.00")
    assert bill.usage[0].quantity == Decimal("350.1234")


@pytest.mark.parametrize("typed", ["(1,234.50)", "1,234.50 CR", "1,234.50-", "(75.00)", "75.00cr"])
def test_a_credit_as_a_bill_prints_it_is_told_how_to_write_a_credit(typed: str) -> None:
    """Not "a point for decimals", which the reviewer already wrote: a minus sign in front."""
    data = posted(BillForm.from_bill(BILL)) | {"total_amount": typed}
    with pytest.raises(ValidationError) as err:
        BillForm.from_form(data).to_bill()
    _, invalid = error_messages(err.value)
    assert invalid == {"total_amount": [CREDIT]}
    assert "-1234.50" in CREDIT and "point for decimals" not in CREDIT
    credit = posted(BillForm.from_bill(BILL)) | {"total_amount": "-1,234.50"}
    assert BillForm.from_form(credit).to_bill().total_amount == Decimal("-1234.50")


@pytest.mark.parametrize("typed", ["04/31/2026", "2026-04-31", "2026-4-1", "25.03.2026"])
def test_a_date_not_written_year_month_day_is_refused_at_its_input_with_the_others(typed: str) -> None:
    data = posted(BillForm.from_bill(BILL)) | {"statement_date": typed, "line_items-1-amount": "lots"}
    with pytest.raises(ValidationError) as err:
        BillForm.from_form(data).to_bill()
    _, invalid = error_messages(err.value)
    assert invalid["statement_date"] == [NOT_A_DATE]
    assert set(invalid) == {"statement_date", "line_items-1-amount"}, "what else is wrong is said at once"


def test_reason_codes_point_at_their_fields() -> None:
    assert fields_for("missing_field:due_date") == ("due_date",)
    assert fields_for("no_evidence:total_amount") == ("total_amount",)
    assert set(fields_for("sum_mismatch")) == {"current_charges", "line_items"}
    assert "total_amount" in fields_for("balance_mismatch")
    assert fields_for("bad_period") == ("bill_period_start", "bill_period_end")
    assert fields_for("unit_mismatch:gas") == ("usage",)
    assert fields_for("account_mismatch") == ("account_number",)
    assert fields_for("non_usd_currency") == ("currency",)
    assert fields_for("conflicting_values:period") == ("bill_period_start", "bill_period_end")
    assert fields_for("conflicting_values:total_amount") == ("total_amount",)
    assert fields_for("no_bill_extracted") == ()
    assert fields_for("missing_field:not_a_field") == ()
    flagged = flagged_fields(["sum_mismatch", "balance_mismatch"])
    assert len(flagged["current_charges"]) == 2
    assert describe("missing_field:due_date") == "due date: missing"
    assert describe("something_new") == "something new"
    # Beside a usage table holding a kWh row, "usage: missing" left a reviewer guessing (a reviewer's probe).
    assert "gas charges need a gas reading" in describe("missing_field:usage")
    assert fields_for("missing_field:usage") == ("usage",)
    assert "enter the utility's name" in describe("missing_field:provider_name")
    assert fields_for("missing_field:provider_name") == ("provider_name",)


def test_every_reason_the_checks_give_reads_as_a_sentence() -> None:
    """A reviewer sees what to do, not a code: "usage: ... multiplied out", not "unit scale:usage"."""
    assert describe("unit_scale:usage").startswith("usage: printed in thousands")
    assert fields_for("unit_scale:usage") == ("usage",)
    assert describe("conflicting_values:total_amount").startswith("total amount: the bill prints different values")
    assert describe("unreadable_value:due_date") == "due date: printed in a form that could not be read"
    assert describe("ambiguous_date_order").startswith("the dates are numbers that read as a bill either way round")
    assert fields_for("ambiguous_date_order") == ("bill_period_start", "bill_period_end", "statement_date", "due_date")
    # Raised when only the reading (Gemini's "EUR" on a US bill) names another currency, too.
    assert describe("non_usd_currency").startswith("the bill, or its reading, names a currency other than US dollars")
    assert "or counts in cubic metres" in describe("non_usd_currency"), "a US dollar m\u00b3 gas bill read as foreign"
    assert describe("extractor_disagreement:current_charges").startswith("current charges: the rules reader and Gemini")
    assert fields_for("extractor_disagreement:current_charges") == ("current_charges",)
    # No one field: any figure that reads either way (1.234) may be wrong.
    assert describe("mixed_number_format").startswith("the bill writes decimals both ways (1.234,56 and 1,234.56)")
    assert fields_for("mixed_number_format") == ()
    assert describe("dated_in_the_future").startswith("the bill is dated after the day it was read")
    assert "statement_date" in fields_for("dated_in_the_future")


@pytest.mark.parametrize(
    ("reason", "fields", "text"),
    [
        ("unknown_currency", ("currency",), "the currency is not an ISO 4217 code (USD, CAD, EUR…): check for a typo"),
        ("no_evidence:meter_number", ("usage",), "meter number: not found in the bill's text"),
        ("no_evidence:line_items", ("line_items",), "line items: not found in the bill's text"),
        ("no_evidence:customer_name", ("customer_name",), "customer name: not found in the bill's text"),
        ("commodity_mismatch", ("provider", "provider_name"), "the provider named on the bill does not bill"),
        ("provider_mismatch", ("provider", "provider_name"), "the bill shows another provider than its account's"),
    ],
    ids=lambda value: value if isinstance(value, str) and " " not in value else "",
)
def test_the_checks_newer_reasons_point_at_their_fields(reason: str, fields: tuple[str, ...], text: str) -> None:
    """A meter number Gemini invented flagged no field (the meter is in the usage table), and a currency typo or
    another utility's bill read as its code spelt with spaces ("unknown currency", "commodity mismatch")."""
    assert fields_for(reason) == fields
    assert describe(reason).startswith(text)


@pytest.mark.parametrize("code", ["not_a_bill", "no_bill_extracted", "parse_timeout", "malformed_model_output"])
def test_a_reason_the_reader_gives_without_a_field_says_what_to_do(code: str) -> None:
    """The extraction's own reasons for a review (nothing read, or nothing to trust) read as a sentence, not as the
    code spelt with spaces ("parse timeout"): the reviewer of a blank form learns why it is blank."""
    assert describe(code) != code.replace("_", " ")
    assert fields_for(code) == ()


@pytest.mark.parametrize("typed", ["", "   "])
def test_a_blank_currency_is_refused_at_its_input_not_taken_as_us_dollars(typed: str) -> None:
    """A cleared currency was dropped with the blank fields, and the bill's default stored the euro bill in USD."""
    data = posted(BillForm.from_bill(BILL.model_copy(update={"currency": "EUR"}))) | {"currency": typed}
    with pytest.raises(ValidationError) as err:
        BillForm.from_form(data).to_bill()
    _, invalid = error_messages(err.value)
    assert list(invalid) == ["currency"] and invalid["currency"] == [NO_CURRENCY]


def test_a_currency_typed_in_lower_case_is_the_code() -> None:
    data = posted(BillForm.from_bill(BILL)) | {"currency": " usd "}
    assert BillForm.from_form(data).to_bill().currency == "USD"


SHOWN = BillForm.from_bill(BILL).as_submitted().input_digests()


def read_anew_with(*amounts: str) -> BillForm:
    """BILL read anew with another total and these line item amounts (Supply, Delivery, then Taxes rows)."""
    names = [("Supply", "supply"), ("Delivery", "delivery"), ("Taxes", "tax"), ("Fee", "fee")]
    form = BillForm.from_bill(BILL.model_copy(update={"total_amount": Decimal("79.00")}))
    rows = zip(names, amounts, strict=False)
    form.rows["line_items"] = [{"description": d, "category": c, "amount": a, "commodity": ""} for (d, c), a in rows]
    return form


def test_a_form_over_a_new_reading_keeps_only_what_the_reviewer_changed() -> None:
    """The page showed BILL; the bill was read anew (another total, another supply amount); the reviewer had
    changed the account number and the delivery line's amount: the account number stays theirs, every other
    field shows the new reading. Their line items stay whole as sent, never mixed with the new reading's rows
    (the new Supply amount beside their Delivery), and the page says to check them."""
    typed = posted(BillForm.from_bill(BILL)) | {"account_number": "1234-5678-99", "line_items-1-amount": "21.00"}
    read_anew = read_anew_with("41.00", "20.00")

    merged, rows_as_sent = BillForm.from_form(typed).over_new_reading(SHOWN, read_anew)
    assert (merged.fields["account_number"], merged.fields["total_amount"]) == ("1234-5678-99", "79.00")
    assert [row["amount"] for row in merged.rows["line_items"]] == ["40.00", "21.00"]
    assert merged.rows["usage"] == read_anew.rows["usage"] and rows_as_sent == ["line_items"]
    untouched = BillForm.from_form(posted(BillForm.from_bill(BILL)))
    assert untouched.over_new_reading(SHOWN, read_anew_with("41.00", "20.00", "4.00")) == (
        read_anew_with("41.00", "20.00", "4.00"),
        [],
    ), "a table the reviewer left whole is the new reading's, a row it added included"


def test_an_edited_table_whose_rows_the_new_reading_kept_is_theirs_without_a_note() -> None:
    """Nothing to check where the new reading has the very rows the page showed: their edit stands, unflagged."""
    typed = posted(BillForm.from_bill(BILL)) | {"line_items-1-amount": "21.00"}
    merged, rows_as_sent = BillForm.from_form(typed).over_new_reading(SHOWN, read_anew_with("40.00", "20.00"))
    assert amounts(merged) == ["40.00", "21.00"] and rows_as_sent == []


def amounts(form: BillForm) -> list[str]:
    return [row["amount"] for row in form.rows["line_items"]]


def test_a_row_the_reviewer_removed_keeps_their_rows_rather_than_shifting_the_new_reading_into_them() -> None:
    """(a) They cleared the supply row, so Delivery came back at index 0: the new reading's row 0 (Supply) must
    not take its place, and the Delivery row must not go. (c) Nor does the new reading's changed Delivery amount
    silently become the row they kept: their rows stay as sent, and the page says to check them."""
    removed_first = posted(BillForm.from_bill(BILL)) | {"line_items-0-description": "", "line_items-0-amount": ""}
    for read_anew in (read_anew_with("41.00", "20.00"), read_anew_with("40.00", "21.00")):
        merged, rows_as_sent = BillForm.from_form(removed_first).over_new_reading(SHOWN, read_anew)
        assert [row["description"] for row in merged.rows["line_items"]] == ["Delivery"] and amounts(merged) == [
            "20.00"
        ]
        assert rows_as_sent == ["line_items"] and merged.rows["usage"] == read_anew.rows["usage"]


def test_a_row_the_reviewer_added_is_not_overwritten_by_a_row_of_the_new_reading() -> None:
    """(b) The new reading has a third row (Taxes) and the reviewer typed a Fee into the first blank row (index 2):
    their Fee stays, as sent, beside their other rows, and the page says to check them against the new reading."""
    added = posted(BillForm.from_bill(BILL)) | {"line_items-2-description": "Fee", "line_items-2-amount": "1.00"}
    merged, rows_as_sent = BillForm.from_form(added).over_new_reading(SHOWN, read_anew_with("40.00", "20.00", "5.00"))
    assert [row["description"] for row in merged.rows["line_items"]] == ["Supply", "Delivery", "Fee"]
    assert amounts(merged) == ["40.00", "20.00", "1.00"] and rows_as_sent == ["line_items"]


def test_an_edited_row_is_not_matched_by_position_when_the_new_reading_added_a_row() -> None:
    """The new reading put a row before the others: the reviewer's edited Delivery (index 1) would meet the new
    reading's Supply there, and their untouched Supply would turn into the new Taxes. Their rows stay as sent."""
    typed = posted(BillForm.from_bill(BILL)) | {"line_items-1-amount": "21.00"}
    read_anew = read_anew_with("4.00", "40.00", "20.00")
    merged, rows_as_sent = BillForm.from_form(typed).over_new_reading(SHOWN, read_anew)
    assert amounts(merged) == ["40.00", "21.00"] and rows_as_sent == ["line_items"]


def line_items(*rows: tuple[str, str]) -> list[dict[str, str]]:
    return [{"description": d, "category": "other", "amount": a, "commodity": ""} for d, a in rows]


def descriptions(form: BillForm) -> list[tuple[str, str]]:
    return [(row["description"], row["amount"]) for row in form.rows["line_items"]]


def test_a_row_cleared_and_another_added_keeps_their_rows_as_sent_though_the_count_is_the_same() -> None:
    """Cleared Supply, added a Fee: two rows, as the page showed, but not the same two; no row of the new reading
    may stand in for theirs."""
    typed = posted(BillForm.from_bill(BILL)) | {
        "line_items-0-description": "",
        "line_items-0-amount": "",
        "line_items-2-description": "Fee",
        "line_items-2-amount": "1.00",
    }
    new = read_anew_with("41.00", "22.00")
    merged, rows_as_sent = BillForm.from_form(typed).over_new_reading(SHOWN, new)
    assert descriptions(merged) == [("Delivery", "20.00"), ("Fee", "1.00")] and rows_as_sent == ["line_items"]


def test_a_duplicate_row_cleared_is_not_read_as_the_untouched_one_after_it() -> None:
    """The page showed [A, A, B]; the reviewer cleared the first A and added C: the second A moved up into the
    first's place and matches it, yet the table is theirs as sent."""
    supply, delivery = BILL.line_items
    shown_bill = BILL.model_copy(update={"line_items": [supply, supply, delivery]})
    shown = BillForm.from_bill(shown_bill).as_submitted().input_digests()
    typed = posted(BillForm.from_bill(shown_bill)) | {
        "line_items-0-description": "",
        "line_items-0-amount": "",
        "line_items-3-description": "Fee",
        "line_items-3-amount": "1.00",
    }
    new = BillForm.from_bill(shown_bill)
    new.rows["line_items"] = line_items(("X", "1.00"), ("Y", "2.00"), ("Z", "3.00"))
    merged, rows_as_sent = BillForm.from_form(typed).over_new_reading(shown, new)
    assert descriptions(merged) == [("Supply", "40.00"), ("Delivery", "20.00"), ("Fee", "1.00")]
    assert rows_as_sent == ["line_items"]


def test_an_edited_row_is_not_merged_into_a_reordered_new_reading_of_the_same_count() -> None:
    """The new reading dropped Taxes and put a Meter fee between Supply and Delivery: three rows either way, but
    the reviewer's edited Delivery (index 1) would meet the Meter fee there. Their rows stay as sent."""
    taxes = BILL.line_items[1].model_copy(update={"description": "Taxes", "amount": Decimal("4.00")})
    shown_bill = BILL.model_copy(update={"line_items": [*BILL.line_items, taxes]})
    shown = BillForm.from_bill(shown_bill).as_submitted().input_digests()
    typed = posted(BillForm.from_bill(shown_bill)) | {"line_items-1-amount": "21.00"}
    new = BillForm.from_bill(shown_bill)
    new.rows["line_items"] = line_items(("Supply", "40.00"), ("Meter fee", "3.00"), ("Delivery", "20.00"))
    merged, rows_as_sent = BillForm.from_form(typed).over_new_reading(shown, new)
    assert descriptions(merged) == [("Supply", "40.00"), ("Delivery", "21.00"), ("Taxes", "4.00")]
    assert rows_as_sent == ["line_items"]


def test_rows_for_add_rows_keep_anything_entered_and_no_blank_row() -> None:
    """Add rows gives the page back to go on typing: a row with only a choice or a meter entered is kept; a
    blank line item (its category reads "other" untouched) is not. A decision sends neither."""
    posted_rows = {
        "line_items-0-category": "other",
        "line_items-0-commodity": "",
        "line_items-1-category": "other",
        "line_items-1-commodity": "water",
        "usage-0-unit": "",
        "usage-1-meter_number": "M-7",
    }
    form = BillForm.from_form(posted_rows, partial_rows=True)
    assert form.rows["line_items"] == [{"description": "", "category": "other", "amount": "", "commodity": "water"}]
    assert [row["meter_number"] for row in form.rows["usage"]] == ["M-7"]
    assert BillForm.from_form(posted_rows).rows == {"line_items": [], "usage": []}


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ({"customer_name": "x" * 201}, "customer name: too long: at most 200 characters (this is 201)"),
        (
            {"line_items-0-description": "y" * 201},
            "line items row 1, description: too long: at most 200 characters (this is 201)",
        ),
        ({"currency": "US$"}, f"currency: {CURRENCY_CODE}"),
        ({"total_amount": "\u20ac160.09"}, f"total amount: {NOT_A_NUMBER}"),
        ({"line_items-0-amount": "abc"}, f"line items row 1, amount: {NOT_A_NUMBER}"),
    ],
    ids=["name", "row", "currency", "another-currency-sign", "not-a-number"],
)
def test_a_refused_value_is_said_in_a_reviewers_words(typed: dict[str, str], said: str) -> None:
    """The page showed pydantic's words: "Value should have at most 200 items after validation, not 201" for a name,
    "String should match pattern '^[A-Z]{3}$'" for a currency, "Input should be a valid decimal" for "€160.09"."""
    with pytest.raises(ValidationError) as refused:
        BillForm.from_form(posted(BillForm.from_bill(BILL)) | typed).to_bill()
    assert error_messages(refused.value)[0] == [said]
