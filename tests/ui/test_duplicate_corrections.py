"""A correction that turns out to be a bill already stored: the page says it was not stored, and by which job."""

from __future__ import annotations

import asyncio
import re
from html import unescape

import httpx

from activities.bills import ACCOUNT_LOCK_KEY
from tests.helpers import (
    account_digits,
    bill_needing_review,
    bill_text,
    create_account,
    someone_waits_for_a_lock_held_by,
    upload_and_wait,
    wait_for_status,
)
from tests.ui.conftest import csrf_of
from tests.ui.test_ui_http import form_fields, post_review_form
from worker.resources import Resources


async def test_a_correction_of_a_bill_another_job_stored_says_it_was_not_stored(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The same statement uploaded again, misread: corrected, it is the first job's bill, which stays as it is. The page
    says so before anything is sent (a typo in the period met another job's bill that way), and goes ahead once the
    period is confirmed."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    first = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert first["status"] == "SUCCEEDED", first
    again = await http.post(
        "/bills",
        files={"file": ("bill.txt", bill_text(number).encode(), "text/plain")},
        data={"utility_account_id": str(account["id"])},
    )
    job_id = again.json()["id"]
    assert (await wait_for_status(http, job_id, {"NEEDS_REVIEW"}, within=90))["status"] == "NEEDS_REVIEW"

    form, refused = await post_review_form(reviewer, job_id, action="correct", total_amount="60.00")
    assert refused.status_code == 409, refused.text
    said = unescape(refused.text)
    assert f"Nothing was sent: job {first['id']} already stored this account's bill for that period" in said
    assert "be refused as its duplicate, and your corrections not stored" in said
    assert 'name="onto_stored_period">' in refused.text, "confirming the period is offered, unticked"
    assert 'id="reload"' not in refused.text, "nothing to reload: the period is to check"
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW", "nothing was sent"
    form = form_fields(refused.text) | {"csrf_token": csrf_of(refused), "action": "correct", "total_amount": "60.00"}
    # Confirmed, but failing the checks (the workflow's 422): the box stays offered, ticked, beside the override's.
    failing = await reviewer.post(
        f"/ui/reviews/{job_id}", data=form | {"onto_stored_period": "on", "total_amount": "75.00"}
    )
    assert failing.status_code == 422 and 'name="onto_stored_period" checked>' in failing.text, failing.text
    form = form_fields(failing.text) | {"csrf_token": csrf_of(failing), "action": "correct", "total_amount": "60.00"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form | {"onto_stored_period": "on"})
    assert response.status_code == 303, response.text
    assert (await wait_for_status(http, job_id))["status"] == "DUPLICATE"
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job_id) == 0

    queue = await reviewer.get(response.headers["location"])
    flash = re.search(r'<p class="flash">(.*?)</p>', queue.text, re.DOTALL)
    assert flash is not None, queue.text
    said = unescape(flash[1])
    assert f"Job {job_id} corrected, but not stored" in said and f"job {first['id']}" in said, said

    page = await reviewer.get(f"/ui/reviews/{job_id}")
    decided = re.search(r'<section class="decided".*?</section>', page.text, re.DOTALL)
    assert decided is not None, page.text
    assert "Changed: total amount." in decided[0]
    changes = re.search(r'<table class="changes".*?</table>', decided[0], re.DOTALL)
    assert changes is not None, "the extraction, which the fields no longer show"
    cells = [cell.strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", changes[0], re.DOTALL)]
    assert cells[-3:] == ["total amount", "75.00", "60.00"], cells
    assert "the bill as corrected" not in decided[0], "it reads as stored"
    assert f"Not stored: job {first['id']} already holds" in unescape(decided[0]), decided[0]


async def test_approving_a_reissue_over_a_corrected_bill_says_so_and_goes_ahead_once_confirmed(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The utility's re-issue, approved as extracted, replaced a bill a colleague had corrected: the page asks first,
    and offers the box to confirm beside the Approve button."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    first = (
        await http.post(
            "/bills",
            files={"file": ("bill.txt", bill_text(number).encode(), "text/plain")},
            data={"utility_account_id": str(account["id"])},
        )
    ).json()
    assert (await wait_for_status(http, first["id"], {"NEEDS_REVIEW"}, within=90))["status"] == "NEEDS_REVIEW"
    task = (await http.get(f"/reviews/{first['id']}")).json()
    correction = {"action": "correct", "revision": task["revision"], "bill": task["bill"] | {"total_amount": "60.00"}}
    stored = await http.post(f"/reviews/{first['id']}", json=correction)
    assert stored.status_code == 200, stored.text
    reissued = bill_text(number, total="70.00").replace("Statement Date: 03/05/2026", "Statement Date: 03/12/2026")
    again = await http.post(
        "/bills",
        files={"file": ("reissue.txt", reissued.encode(), "text/plain")},
        data={"utility_account_id": str(account["id"])},
    )
    job_id = again.json()["id"]
    assert (await wait_for_status(http, job_id, {"NEEDS_REVIEW"}, within=90))["status"] == "NEEDS_REVIEW"

    form, refused = await post_review_form(reviewer, job_id, action="approve")

    assert refused.status_code == 409, refused.text
    said = unescape(refused.text)
    assert f"Nothing was sent: job {first['id']} stored this account's bill for that period as a reviewer" in said
    assert 'name="onto_stored_period">' in refused.text, "confirming is offered, unticked"
    assert await resources.pool.fetchval("SELECT total_amount FROM bills WHERE job_id = $1", first["id"]) == 60
    form = form_fields(refused.text) | {"csrf_token": csrf_of(refused), "action": "approve"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form | {"onto_stored_period": "on"})
    assert response.status_code == 303, response.text
    assert (await wait_for_status(http, job_id))["status"] == "SUCCEEDED"
    assert await resources.pool.fetchval("SELECT total_amount FROM bills WHERE job_id = $1", job_id) == 70


async def test_a_correction_meeting_a_bill_stored_on_its_way_says_so_and_goes_ahead_once_confirmed(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The first upload's bill is stored after the page's decision passed the check, before its persist (both wait on
    the account's lock, the first upload's first): nothing of the correction is stored, and the page asks as it would
    had the bill been stored a moment sooner, its form under the task's new revision (a QA probe, 74C)."""
    waiting = await bill_needing_review(http, unique)
    job_id, account_id = waiting["id"], waiting["utility_account_id"]
    async with resources.pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({ACCOUNT_LOCK_KEY})", account_id)
        first = await http.post(
            "/bills",
            files={"file": ("first.txt", bill_text(account_digits(unique), total="60.00").encode(), "text/plain")},
            data={"utility_account_id": str(account_id)},
        )
        await someone_waits_for_a_lock_held_by(resources.pool, conn)
        sending = asyncio.create_task(post_review_form(reviewer, job_id, action="correct", total_amount="60.00"))
        await someone_waits_for_a_lock_held_by(resources.pool, conn, at_least=2)
    form, refused = await sending

    assert refused.status_code == 409, refused.text
    said = unescape(refused.text)
    first_id = first.json()["id"]
    assert f"Nothing was stored: while your corrections were on their way, job {first_id} stored" in said, said
    assert "The task was updated while you had it open" not in said, "the refusal says why"
    assert 'name="onto_stored_period">' in refused.text, "confirming the period is offered, unticked"
    assert form_fields(refused.text)["revision"] != form["revision"], "the form carries the task's new revision"
    assert (await wait_for_status(http, first_id))["status"] == "SUCCEEDED"
    form = form_fields(refused.text) | {"csrf_token": csrf_of(refused), "action": "correct", "total_amount": "60.00"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form | {"onto_stored_period": "on"})
    assert response.status_code == 303, response.text
    assert (await wait_for_status(http, job_id))["status"] == "DUPLICATE"
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job_id) == 0
