"""A refused decision gives the form back with everything the reviewer typed: every field and every row, a row not
yet complete too, and writes nothing."""

from __future__ import annotations

import re

import httpx
import pytest
from temporalio.client import Client

from tests.helpers import bill_needing_review
from tests.ui.conftest import csrf_of
from tests.ui.test_ui_http import form_fields
from worker.resources import Resources

PARTIAL_ROWS = {
    # A reading begun: unit and meter chosen, quantity not yet typed.
    "usage-3-commodity": "electricity",
    "usage-3-unit": "kWh",
    "usage-3-meter_number": "M-77",
    # A line begun: its category and commodity chosen, description and amount not yet typed.
    "line_items-4-category": "fee",
    "line_items-4-commodity": "water",
}


def input_value(html: str, name: str) -> str | None:
    found = re.search(rf'<input name="{re.escape(name)}" value="([^"]*)"', html)
    return found[1] if found else None


def chosen(html: str, name: str) -> str | None:
    select = re.search(rf'<select name="{re.escape(name)}".*?</select>', html, re.DOTALL)
    option = re.search(r'<option value="([^"]*)" selected>', select[0]) if select else None
    return option[1] if option else None


@pytest.mark.parametrize(
    "refused",
    [
        {"action": "reject", "note": ""},  # a rejection needs a note
        {"action": "correct", "total_amount": "12,50"},  # an invalid value
        {"action": "reject", "note": "not a bill", "revision": "0" * 32},  # a stale revision: the workflow's 409
    ],
    ids=["reject-without-note", "invalid-value", "stale-revision"],
)
async def test_a_refused_decision_keeps_the_rows_not_yet_complete(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str, refused: dict[str, str]
) -> None:
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    typed = {"customer_name": "Jane Q. Public", "line_items-3-description": "Late fee"} | PARTIAL_ROWS
    form = form_fields(page.text) | {"csrf_token": csrf_of(page)} | typed | refused

    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)

    assert response.status_code in {409, 422}, response.text
    html = response.text
    assert 'value="Jane Q. Public"' in html and input_value(html, "line_items-2-description") == "Late fee"
    meters = [m for m in re.findall(r'<input name="usage-\d+-meter_number" value="([^"]*)"', html) if m]
    assert meters == ["M-77"], "the reading begun is still there"
    usage_row = next(i for i in range(10) if input_value(html, f"usage-{i}-meter_number") == "M-77")
    assert chosen(html, f"usage-{usage_row}-unit") == "kWh"
    fees = [i for i in range(10) if chosen(html, f"line_items-{i}-category") == "fee"]
    assert len(fees) == 1 and chosen(html, f"line_items-{fees[0]}-commodity") == "water", "the line begun too"
    if refused.get("note"):
        assert f">{refused['note']}</textarea>" in html
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0


async def test_a_decision_a_colleague_beat_keeps_the_refused_entries_apart_from_the_stored_bill(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """The fields show the colleague's stored bill (the page says so); what this reviewer typed, rows not yet
    complete and their note included, is shown apart, read-only, so it is not lost."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    task = (await http.get(f"/reviews/{job_id}")).json()
    stored = {"action": "correct", "revision": task["revision"], "bill": {**task["bill"], "total_amount": "60.00"}}
    assert (await http.post(f"/reviews/{job_id}", json=stored)).status_code == 200

    typed = form_fields(page.text) | {"csrf_token": csrf_of(page)} | PARTIAL_ROWS
    typed |= {"action": "correct", "total_amount": "61.00", "note": "total from page 2"}
    refused = await reviewer.post(f"/ui/reviews/{job_id}", data=typed)

    assert refused.status_code == 409, refused.text
    total = re.search(r'<input id="f-total_amount"[^>]*>', refused.text)
    assert total is not None and 'value="60.00"' in total[0], "the fields show the bill as stored"
    yours = re.search(r'<section class="yours".*?</section>', refused.text, re.DOTALL)
    assert yours is not None, refused.text
    assert '<dd class="pre">61.00</dd>' in yours[0] and "M-77" in yours[0] and "fee" in yours[0]
    assert "Your note: total from page 2" in yours[0]
    assert "<input" not in yours[0] and "<textarea" not in yours[0], "shown, never sent again"


async def test_a_decision_on_a_job_ended_from_outside_is_refused_in_the_pages_words(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, client: Client, unique: str
) -> None:
    """The run was terminated while the reviewer had the page open: the 409 says the task closed, not the JSON
    API's "not awaiting review (status …): GET /reviews/<id> shows how the task stands"."""
    job = await bill_needing_review(http, unique)
    page = await reviewer.get(f"/ui/reviews/{job['id']}")
    await client.get_workflow_handle(job["workflow_id"]).terminate(reason="operator cleanup")

    typed = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "reject", "note": "not a bill"}
    refused = await reviewer.post(f"/ui/reviews/{job['id']}", data=typed)

    assert refused.status_code == 409, refused.text
    assert "Nothing was sent: this task has been closed since you opened it" in refused.text
    assert "GET /reviews" not in refused.text and "not awaiting review" not in refused.text


def why(html: str, name: str) -> str:
    """What the page says beside input ``name`` (empty when nothing)."""
    found = re.search(rf'<ul class="why" id="why-{re.escape(name)}">(.*?)</ul>', html, re.DOTALL)
    return found[1] if found else ""


async def test_an_error_after_a_removed_row_is_marked_at_its_own_row(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """The first line cleared to remove it stays on the page (its category still chosen), but the bill is read
    without it: the second line's refused amount was marked at the first line's emptied box, and the summary
    named row 1, so the reviewer was sent to fill in the line they had removed."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    fields = form_fields(page.text)
    assert fields.get("line_items-1-description"), "the bill has two lines to work with"
    cleared = {"line_items-0-description": "", "line_items-0-amount": "", "line_items-0-category": "tax"}
    form = fields | {"csrf_token": csrf_of(page), "action": "correct"} | cleared | {"line_items-1-amount": "12,50"}

    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)

    assert response.status_code == 422, response.text
    html = response.text
    assert chosen(html, "line_items-0-category") == "tax", "the removed line is still shown"
    assert "point for decimals" in why(html, "line_items-1-amount")
    assert why(html, "line_items-0-amount") == ""
    assert "line items row 2, amount: write numbers with a point" in html


async def test_payments_typed_with_the_bills_minus_sign_are_said_to_be_positive_not_overridden(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """A payment copied as the bill prints it ("-11.53") failed balance_mismatch, and the page offered the override,
    which stored the payment with the wrong sign."""
    job = await bill_needing_review(http, unique)  # prints no payment: 0.00 + 60.00 charges against a 75.00 total
    page = await reviewer.get(f"/ui/reviews/{job['id']}")
    assert 'id="hint-payments_received"' in page.text and "may print a minus sign" in page.text
    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct"}
    typed = form | {"previous_balance": "26.53", "payments_received": "-11.53"}

    refused = await reviewer.post(f"/ui/reviews/{job['id']}", data=typed)
    assert refused.status_code == 422, refused.text
    assert "the bill balances once its payments received are positive" in refused.text
    assert "tick \u201cThe bill really says this\u201d" not in refused.text, "the override is not what fixes it"
    fixed = form_fields(refused.text) | {"csrf_token": csrf_of(refused), "action": "correct"}
    sent = await reviewer.post(f"/ui/reviews/{job['id']}", data=fixed | {"payments_received": "11.53"})
    assert sent.status_code == 303, sent.text
