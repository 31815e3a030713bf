"""An operator's reset of a run waiting for review, to a point past ``open_review_task``
(``temporal workflow reset --type LastWorkflowTask``): the new run never opens the task again, yet
the task is its own once it acts on it, so a decision it receives closes the task as decided."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from shared.models import JobStatus
from shared.review import ReviewStatus
from shared.settings import Settings
from tests.helpers import reset_to_before_the_decision, reset_to_last_workflow_task, wait_until
from tests.review.support import (
    CORRECT_TOTAL,
    OwnQueue,
    Review,
    activity_names,
    analytics_rows,
    awaiting_review,
    history,
    job_id_of,
    open_review,
    read_task,
    result_of,
    wait_for_job,
)
from worker.resources import Resources


async def test_a_decision_on_a_run_reset_past_the_opening_of_its_review_closes_the_task_as_decided(
    http: httpx.AsyncClient, client: Client, unique: str
) -> None:
    """Not left PENDING in the queue while the job runs on, then closed CANCELED with the job's end."""
    review = await open_review(http, unique)
    handle = client.get_workflow_handle(review.workflow_id)
    await awaiting_review(handle)
    reset_run = await reset_to_last_workflow_task(client, review.workflow_id)
    await awaiting_review(client.get_workflow_handle(review.workflow_id, run_id=reset_run))

    decided = await http.post(
        f"/reviews/{review.job_id}", json={"action": "approve", "revision": review.task["revision"]}
    )

    assert decided.status_code in (200, 202), decided.text
    assert (await result_of(client, review.workflow_id)).status is JobStatus.SUCCEEDED
    task = await read_task(http, review.job_id)
    assert (task["status"], task["decision"]["action"]) == (ReviewStatus.DONE, "approve"), task
    job = (await http.get(f"/jobs/{review.job_id}")).json()
    assert (job["status"], job["attempts"]) == (JobStatus.SUCCEEDED, 2), job


async def test_a_run_reset_past_the_opening_of_a_review_its_old_run_ended_takes_it_back_and_escalates_it(
    own_queue: OwnQueue, http: httpx.AsyncClient, client: Client
) -> None:
    """Terminated while it waited (the job recorded FAILED, its task CANCELED), then reset past the opening:
    the new run takes the task and the job back at once (RESET_REVIEW_PATCH), and its SLA's escalation keeps
    them open; a decision on the escalated task is taken and closes it as decided."""
    async with own_queue.upload(own_queue.settings(sla=8, timeout=600)) as handle:
        job_id = job_id_of(handle)
        await awaiting_review(handle)
        await handle.terminate(reason="operator cleanup")
        assert (await http.get(f"/jobs/{job_id}")).json()["status"] == JobStatus.FAILED  # recorded at once
        assert (await read_task(http, job_id))["status"] == ReviewStatus.CANCELED

        await reset_to_last_workflow_task(client, handle.id)

        async def escalated() -> dict[str, Any] | None:
            task = await read_task(http, job_id)
            return task if task["status"] == ReviewStatus.ESCALATED else None

        task = await wait_until(escalated, within=30, what=f"review task of {job_id} back, escalated")
        assert task["closed_at"] is None, task
        job = (await http.get(f"/jobs/{job_id}")).json()
        assert (job["status"], job["error"]) == (JobStatus.NEEDS_REVIEW, None), job

        decided = await http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": task["revision"]})
        assert decided.status_code in (200, 202), decided.text
        assert (await result_of(client, handle.id)).status is JobStatus.SUCCEEDED
    assert (await read_task(http, job_id))["status"] == ReviewStatus.DONE


async def decide(http: httpx.AsyncClient, job_id: str, revision: str, action: str, note: str) -> None:
    decided = await http.post(f"/reviews/{job_id}", json={"action": action, "revision": revision, "note": note})
    assert decided.status_code in (200, 202), decided.text


async def audit_of(resources: Resources, job_id: str) -> list[tuple[str, str]]:
    rows = await resources.pool.fetch(
        "SELECT action, note FROM review_decisions WHERE job_id = $1 ORDER BY decided_at", job_id
    )
    return [(r["action"], r["note"]) for r in rows]


async def rejected_then_taken_back(http: httpx.AsyncClient, client: Client, unique: str) -> Review:
    """A review rejected, then reset back into the wait without the decision (to take it again), its task taken back
    by the new run under the same revision."""
    review = await open_review(http, unique)
    await awaiting_review(client.get_workflow_handle(review.workflow_id))
    await decide(http, review.job_id, review.revision, "reject", "looked wrong")
    assert (await result_of(client, review.workflow_id)).status is JobStatus.REJECTED

    reset_run = await reset_to_before_the_decision(client, review.workflow_id, retake=True)
    assert await awaiting_review(client.get_workflow_handle(review.workflow_id, run_id=reset_run)) == review.revision

    async def taken_back() -> dict[str, Any] | None:
        task = await read_task(http, review.job_id)
        return task if task["closed_at"] is None else None

    task = await wait_until(taken_back, within=30, what=f"review task of {review.job_id} taken back")
    assert (task["status"], task["revision"], task["decision"]) == (ReviewStatus.PENDING, review.revision, None), task
    assert (await http.get(f"/jobs/{review.job_id}")).json()["status"] == JobStatus.NEEDS_REVIEW
    return review


async def test_a_decision_taken_again_after_a_reset_back_into_the_wait_is_audited_beside_the_first(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str
) -> None:
    """The reset run takes the task back at once (RESET_WAKES_PATCH: the reset was all its workflow task brought), and
    its approval is audited and shown, beside (not instead of) the rejection."""
    review = await rejected_then_taken_back(http, client, unique)
    await decide(http, review.job_id, review.revision, "approve", "it was right after all")
    assert (await result_of(client, review.workflow_id)).status is JobStatus.SUCCEEDED

    task = await read_task(http, review.job_id)
    assert (task["status"], task["decision"]["action"], task["decision"]["note"]) == (
        ReviewStatus.DONE,
        "approve",
        "it was right after all",
    ), task
    assert await audit_of(resources, review.job_id) == [
        ("reject", "looked wrong"),
        ("approve", "it was right after all"),
    ]


async def test_a_task_taken_back_after_a_reset_then_cancelled_shows_no_decision(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str
) -> None:
    """The rejection it was taken back from is the old run's: the task, cancelled, was closed by no decision."""
    review = await rejected_then_taken_back(http, client, unique)
    await client.get_workflow_handle(review.workflow_id).cancel()
    await wait_for_job(resources.pool, review.job_id, {JobStatus.CANCELED})

    task = await read_task(http, review.job_id)
    assert (task["status"], task["decision"]) == (ReviewStatus.CANCELED, None), task
    late = await http.post(f"/reviews/{review.job_id}", json={"action": "approve", "revision": review.revision})
    assert late.status_code == 409, late.text
    assert "looked wrong" not in late.text and "rejected" not in late.text.lower(), late.text


async def test_a_decision_a_reset_run_receives_again_is_audited_once(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str
) -> None:
    """Reset to before the decision, which the new run then receives again (the default): it records the same
    decision a second time, and the audit keeps one row."""
    review = await open_review(http, unique)
    await awaiting_review(client.get_workflow_handle(review.workflow_id))
    await decide(http, review.job_id, review.revision, "reject", "looked wrong")
    assert (await result_of(client, review.workflow_id)).status is JobStatus.REJECTED

    reset_run = await reset_to_before_the_decision(client, review.workflow_id, retake=False)
    reset = client.get_workflow_handle(review.workflow_id, run_id=reset_run)
    assert (await result_of(client, review.workflow_id)).status is JobStatus.REJECTED
    assert "record_review_decision" in activity_names(await history(reset)), "the new run recorded it too"
    assert await audit_of(resources, review.job_id) == [("reject", "looked wrong")]


async def test_the_same_decision_taken_again_after_a_reset_back_into_the_wait_is_shown_as_the_tasks(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str
) -> None:
    """Rejected as before, word for word: its audit row matched the first one's and kept the first one's time, from
    before the task was taken back, so the task closed DONE showed no decision. One row, dated as taken again."""
    review = await rejected_then_taken_back(http, client, unique)
    taken_back_at = await resources.pool.fetchval(
        "SELECT created_at FROM review_tasks WHERE job_id = $1", review.job_id
    )
    await decide(http, review.job_id, review.revision, "reject", "looked wrong")
    assert (await result_of(client, review.workflow_id)).status is JobStatus.REJECTED

    task = await read_task(http, review.job_id)
    assert (task["status"], task["decision"] and task["decision"]["action"]) == (ReviewStatus.DONE, "reject"), task
    assert await audit_of(resources, review.job_id) == [("reject", "looked wrong")]
    decided_at = await resources.pool.fetchval(
        "SELECT decided_at FROM review_decisions WHERE job_id = $1", review.job_id
    )
    assert decided_at >= taken_back_at


async def test_a_correction_taken_again_after_a_reset_leaves_the_bill_the_first_stored_and_says_so(
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    unique: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The second correction is audited and shown on the task; the stored bill stands everywhere (Postgres, the job's
    result, the warehouse), and the worker says so: it stood silently beside a task showing the second's figures (an
    analyst's probe). Replacing it bypassed the checks against other jobs' bills of the period (a diff review)."""
    review = await open_review(http, unique)
    await awaiting_review(client.get_workflow_handle(review.workflow_id))
    first = review.corrected(total_amount=CORRECT_TOTAL)
    corrected = await http.post(
        f"/reviews/{review.job_id}", json={"action": "correct", "revision": review.revision, "bill": first}
    )
    assert corrected.status_code == 200, corrected.text
    assert (await result_of(client, review.workflow_id)).status is JobStatus.SUCCEEDED
    bill_id = await resources.pool.fetchval("SELECT id FROM bills WHERE job_id = $1", review.job_id)

    reset_run = await reset_to_before_the_decision(client, review.workflow_id, retake=True)
    assert await awaiting_review(client.get_workflow_handle(review.workflow_id, run_id=reset_run)) == review.revision

    async def taken_back() -> dict[str, Any] | None:
        task = await read_task(http, review.job_id)
        return task if task["closed_at"] is None else None

    await wait_until(taken_back, within=30, what=f"review task of {review.job_id} taken back")
    due = date.fromisoformat(first["due_date"]) + timedelta(days=1)
    second = {**first, "due_date": due.isoformat()}
    with caplog.at_level(logging.WARNING, logger="activities.bills"):
        again = await http.post(
            f"/reviews/{review.job_id}", json={"action": "correct", "revision": review.revision, "bill": second}
        )
        assert again.status_code == 200, again.text
        assert (await result_of(client, review.workflow_id)).status is JobStatus.SUCCEEDED

    stored = await resources.pool.fetchrow("SELECT id, due_date FROM bills WHERE job_id = $1", review.job_id)
    assert (stored["id"], stored["due_date"].isoformat()) == (bill_id, first["due_date"])
    assert await resources.pool.fetchval("SELECT count(*) FROM bill_revisions WHERE bill_id = $1", bill_id) == 0
    assert (await http.get(f"/bills/{bill_id}")).json()["due_date"] == first["due_date"]
    assert (await read_task(http, review.job_id))["bill"]["due_date"] == due.isoformat(), "the decision is shown"
    [published] = await analytics_rows(app_settings, review.job_id, "bill_id, job_id, due_date")
    assert str(published["due_date"])[:10] == first["due_date"]
    said = [r for r in caplog.records if r.getMessage().startswith("decision taken again not stored")]
    assert [r.__dict__["job_id"] for r in said] == [review.job_id], "the worker says the stored bill stands"
