"""Pages left open while what they were made for moved on: a sign-in form past its nonce cookie's hour, a task
page past a re-run of its job. Each says what happened and gives back what the reviewer had; nothing is sent."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.review import ReviewActivities
from shared.bill import NormalizedBill
from shared.review import ReviewTaskOpen
from tests.helpers import bill_needing_review
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.test_ui_http import SAME_ORIGIN, assert_typed_entries_back, form_fields, typed_correction
from worker.resources import Resources

OPEN_TOO_LONG = "This sign-in page was open too long"


async def signed_out_with_a_draft(
    browser: httpx.AsyncClient, reviewer_key: str, resources: Resources, job_id: str
) -> httpx.Response:
    """The sign-in form answering a correction sent after the browser's session ended (it carries the draft)."""
    await sign_in(browser, reviewer_key)
    page = await browser.get(f"/ui/reviews/{job_id}")
    await resources.pool.execute(
        "UPDATE ui_sessions SET expires_at = now() WHERE id_hash = $1",
        hashlib.sha256(browser.cookies["mm_session"].encode()).hexdigest(),
    )
    signed_out = await browser.post(f"/ui/reviews/{job_id}", data=typed_correction(page), headers=SAME_ORIGIN)
    assert signed_out.status_code == 401 and 'name="draft"' in signed_out.text, signed_out.text
    return signed_out


async def test_a_sign_in_form_open_past_its_nonce_comes_back_with_its_draft(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, resources: Resources, review_job: dict[str, Any]
) -> None:
    """The reviewer leaves the sign-in form that carries their correction open past its nonce cookie's hour (the
    browser drops the cookie): signing in there answers with the form again, a new nonce and the draft still
    carried, not a 403 that loses it; nothing is signed in without a nonce, and the next try brings the task back."""
    job_id = review_job["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        signed_out = await signed_out_with_a_draft(browser, reviewer_key, resources, job_id)
        login = form_fields(signed_out.text) | {"csrf_token": csrf_of(signed_out), "key": reviewer_key}
        browser.cookies.delete("mm_login")  # its max-age is up

        again = await browser.post("/ui/login", data=login, headers=SAME_ORIGIN)
        assert again.status_code == 403, again.text
        assert OPEN_TOO_LONG in again.text and 'name="key"' in again.text
        assert "mm_session" not in again.cookies and "mm_login" in again.cookies, again.headers
        resent = form_fields(again.text) | {"csrf_token": csrf_of(again), "key": reviewer_key}
        assert (resent["next"], resent["draft"]) == (login["next"], login["draft"]), "the same draft, for the task"

        back = await browser.post("/ui/login", data=resent, headers=SAME_ORIGIN)
        assert back.status_code == 200, back.text
        assert "Sign out" in back.text
        assert_typed_entries_back(back)
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


async def test_a_stale_sign_in_form_carries_only_a_draft_we_signed(
    ui_url: str, reviewer_key: str, resources: Resources, review_job: dict[str, Any]
) -> None:
    """Past its nonce the draft's own token cannot be checked (it is bound to the nonce gone with the cookie): the
    form comes back with a draft only where our seal on it holds, for that task and those entries."""
    job_id = review_job["id"]
    crafted = urlencode({"action": "correct", "total_amount": "1.00", "note": "crafted"})
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        signed_out = await signed_out_with_a_draft(browser, reviewer_key, resources, job_id)
        login = form_fields(signed_out.text) | {"csrf_token": csrf_of(signed_out), "key": reviewer_key}
        browser.cookies.delete("mm_login")
        for name, posted in {
            "no seal": {k: v for k, v in login.items() if k != "draft_seal"},
            "other entries": login | {"draft": crafted},
            "other task": login | {"next": "/ui/reviews/00000000-0000-0000-0000-000000000007"},
        }.items():
            again = await browser.post("/ui/login", data=posted, headers=SAME_ORIGIN)
            assert again.status_code == 403 and OPEN_TOO_LONG in again.text, (name, again.text)
            assert 'name="draft"' not in again.text and "60.00" not in again.text, name
            assert "crafted" not in again.text and 'name="key"' in again.text, name


@pytest.mark.parametrize(
    "headers",
    [{}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://127.0.0.1:1"}],
    ids=["browser-says-nothing", "another-port-or-subdomain", "another-origin"],
)
async def test_a_sign_in_without_its_nonce_that_no_browser_says_this_origin_sent_gets_no_form(
    ui_url: str, reviewer_key: str, resources: Resources, review_job: dict[str, Any], headers: dict[str, str]
) -> None:
    """The form comes back only where the browser says a page of this origin posted it: anything else without
    a valid nonce is the bare refusal it always was (login CSRF), never a fresh nonce and token to sign in with."""
    job_id = review_job["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        signed_out = await signed_out_with_a_draft(browser, reviewer_key, resources, job_id)
        login = form_fields(signed_out.text) | {"csrf_token": csrf_of(signed_out), "key": reviewer_key}
        browser.cookies.delete("mm_login")
        refused = await browser.post("/ui/login", data=login, headers=headers)
    assert refused.status_code == 403, refused.text
    assert "set-cookie" not in refused.headers and 'name="key"' not in refused.text and "draft" not in refused.text


async def open_task_of_a_reset_run(resources: Resources, job_id: str, bill: NormalizedBill) -> str:
    """What an operator's reset of the job does once the new run reaches review with the bill read otherwise
    (Gemini's reading, say): the real ``open_review_task`` of a later run opens the task anew. Returns its revision."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_run_id="reset-run", scheduled_time=datetime.now(UTC))
    revision = "reset" + "0" * 27
    opening = ReviewTaskOpen(
        job_id=job_id, reasons=["balance_mismatch"], bill=bill, artifact_uri="gs://b/o", revision=revision
    )
    await env.run(ReviewActivities(resources.pool).open_review_task, opening)
    return revision


def total_shown(page: httpx.Response) -> str:
    total = re.search(r'<input id="f-total_amount"[^>]*value="([^"]*)"', page.text)
    assert total is not None, page.text
    return total[1]


async def test_approve_on_a_page_from_before_a_re_run_says_the_task_changed(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The job ran again while the task page was open, and its new task has the bill read anew: Approve on the
    old page says the task changed and shows the new one (its revision, its values), not "You changed some
    fields", which the reviewer never did; nothing is sent."""
    job_id = (await bill_needing_review(http, unique))["id"]
    old_page = await reviewer.get(f"/ui/reviews/{job_id}")
    task = (await http.get(f"/reviews/{job_id}")).json()
    read_anew = NormalizedBill.model_validate({**task["bill"], "total_amount": "61.00"})
    revision = await open_task_of_a_reset_run(resources, job_id, read_anew)

    approve = form_fields(old_page.text) | {"csrf_token": csrf_of(old_page), "action": "approve"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=approve)
    assert response.status_code == 409, response.text
    assert "You changed some fields" not in response.text
    assert "the job ran again since you opened this page" in response.text
    assert form_fields(response.text)["revision"] == revision and total_shown(response) == "61.00"
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"

    edited = approve | {"total_amount": "62.00"}  # typed into the old page, then Enter (Approve)
    kept = await reviewer.post(f"/ui/reviews/{job_id}", data=edited)
    assert kept.status_code == 409 and "the job ran again" in kept.text, kept.text
    assert total_shown(kept) == "62.00" and "use Save corrections" in kept.text
