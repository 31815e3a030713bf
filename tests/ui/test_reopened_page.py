"""A reopened bill's review page: it says who reopened it and why, offers approval of the bill as stored and no
rejection (the workflow refuses one: nothing would be removed), and a correction sent from it replaces the bill."""

from __future__ import annotations

import httpx

from tests.helpers import account_digits, january_text, upload_and_wait, wait_for_status
from tests.review.test_reopened_bills import NOTE, reopened, stored
from tests.ui.conftest import csrf_of
from tests.ui.test_ui_http import form_fields
from worker.resources import Resources


async def test_the_page_of_a_reopened_bill_shows_the_note_and_corrects_it(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    account, first = await stored(http, unique)
    bill_id = first["result"]["bill_id"]
    job = await reopened(http, http, bill_id)

    page = await reviewer.get(f"/ui/reviews/{job['id']}")
    assert page.status_code == 200, page.text
    assert "Reopened by test-admin (key " in page.text and NOTE.replace("'", "&#39;") in page.text
    assert "a stored bill a reviewer reopened" in page.text
    assert "Approve as stored" in page.text
    assert 'value="reject"' not in page.text, "no rejection offered"

    assert "Approve keeps the stored bill as it is" in page.text

    assert (await upload_and_wait(http, account, january_text(account_digits(unique))))["status"] == "SUCCEEDED"
    fields = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct"}
    onto = fields | {"bill_period_start": "2026-01-01", "bill_period_end": "2026-01-31"}
    refused = await reviewer.post(f"/ui/reviews/{job['id']}", data=onto)
    assert refused.status_code == 409, refused.text
    assert "a reopened bill cannot take another bill&#39;s period" in refused.text
    assert 'name="onto_stored_period"' not in refused.text, "no box that could never work"

    form = fields | {"csrf_token": csrf_of(refused), "due_date": "2026-03-27"}
    response = await reviewer.post(f"/ui/reviews/{job['id']}", data=form)
    assert response.status_code == 303, response.text
    ended = await wait_for_status(http, job["id"])
    assert (ended["status"], ended["result"]["revises"]) == ("SUCCEEDED", first["id"])
    row = await resources.pool.fetchrow("SELECT job_id, due_date FROM bills WHERE id = $1", bill_id)
    assert (str(row["job_id"]), row["due_date"].isoformat()) == (job["id"], "2026-03-27")
