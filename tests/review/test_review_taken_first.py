"""A decision refused because a colleague's was taken first says so, whose and when, and how to see the outcome:
in the window before the job reads RUNNING (the colleague's decision taken, not yet recorded) and after."""

from __future__ import annotations

import asyncio
import re

import httpx
from temporalio.client import Client

from api.auth import Role, create_key
from tests.review.support import (
    OwnQueue,
    awaiting_review,
    held,
    job_id_of,
    real_activity,
    replacing,
    result_of,
)
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.test_ui_http import form_fields
from worker.resources import Resources


async def test_a_decision_after_a_colleagues_says_whose_came_first_and_where_to_see_it(
    own_queue: OwnQueue,
    reviewer_http: httpx.AsyncClient,
    reviewer_identity: str,
    client: Client,
    resources: Resources,
    api_url: str,
) -> None:
    settings = own_queue.settings()
    recording = held(real_activity(resources, settings, "record_review_decision"))
    activities = replacing(resources, settings, {"record_review_decision": recording.activity})
    colleague = await create_key(resources.pool, name=f"taken-first-{own_queue.unique}", role=Role.REVIEWER)
    async with (
        own_queue.upload(settings, activities=activities) as handle,
        httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {colleague.key}"}, timeout=60) as api,
        httpx.AsyncClient(base_url=api_url, timeout=60) as browser,
    ):
        job_id = job_id_of(handle)
        revision = await awaiting_review(handle)
        assert (await sign_in(browser, colleague.key)).status_code == 303
        page = await browser.get(f"/ui/reviews/{job_id}")
        first = asyncio.create_task(
            reviewer_http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": revision})
        )
        try:
            await asyncio.wait_for(recording.reached.wait(), timeout=30)  # taken, not yet recorded
            assert (await api.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"

            late = await api.post(f"/reviews/{job_id}", json={"action": "reject", "revision": revision, "note": "no"})
            assert late.status_code == 409, late.text
            problem = late.json()
            assert problem["detail"].startswith("another decision was taken first: approved by"), problem
            assert "status NEEDS_REVIEW" not in problem["detail"]
            assert f"GET /reviews/{job_id}" in problem["detail"]
            assert problem["reason"] == problem["code"] == "taken_first"
            assert (problem["taken_by"], problem["action"], problem["recorded"]) == (
                reviewer_identity,
                "approve",
                False,
            )
            # The first reviewer's own decision sent again with a change: not "another decision ... by" themselves.
            own = await reviewer_http.post(
                f"/reviews/{job_id}", json={"action": "reject", "revision": revision, "note": "no"}
            )
            assert own.status_code == 409 and own.json()["reason"] == "taken_first", own.text
            assert own.json()["detail"].startswith(
                "your own earlier decision was taken first, and this one differs from it: approved at "
            ), own.text

            typed = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct", "total_amount": "61"}
            refused = await browser.post(f"/ui/reviews/{job_id}", data=typed | {"note": "page 2 total"})
            assert refused.status_code == 409, refused.text
            assert f"another decision was taken first (approved by {reviewer_identity} at " in refused.text
            assert "reload the task in a moment" in refused.text
            assert 'value="correct"' not in refused.text, "no decision can be sent from it any more"
            yours = re.search(r'<section class="yours".*?</section>', refused.text, re.DOTALL)
            assert yours is not None and "61" in yours[0] and "page 2 total" in yours[0], refused.text
        finally:
            recording.release.set()
        assert (await first).status_code == 200
        await result_of(client, handle.id)

        later = await api.post(f"/reviews/{job_id}", json={"action": "reject", "revision": revision, "note": "no"})
        assert later.status_code == 409, later.text
        assert later.json()["recorded"] is True and "the job is now SUCCEEDED" in later.json()["detail"]
        assert later.json()["taken_by"] == reviewer_identity
        again = await browser.post(f"/ui/reviews/{job_id}", data=typed)
        assert again.status_code == 409 and "It stands, as shown below" in again.text, again.text
        assert "Your entries (not sent)" in again.text
