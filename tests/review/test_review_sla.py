"""Review timers: escalation when the SLA passes, expiry at the timeout (real timers, short durations).

The durations come from settings (``review_sla`` / ``review_timeout``) through ``start_job``,
as in production; each test has its own worker on its own task queue.
"""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from shared.models import JobStatus
from shared.review import ReviewAction, ReviewDecision
from tests.helpers import wait_until
from tests.review.support import (
    CORRECT_TOTAL,
    OwnQueue,
    activity_names,
    awaiting_review,
    history,
    job_id_of,
    read_task,
    result_of,
    timer_seconds,
    wait_for_job,
    wait_for_review_status,
)
from worker.main import build_worker
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow


async def escalated_task(pool: Any, job_id: str) -> dict[str, Any]:
    """The task row once ``escalate_review`` ran (the search attribute is upserted just before it)."""

    async def row() -> dict[str, Any] | None:
        found = await pool.fetchrow("SELECT * FROM review_tasks WHERE job_id = $1", job_id)
        return dict(found) if found is not None and found["status"] == "ESCALATED" else None

    return await wait_until(row, within=10, what=f"review task of {job_id} escalated")


async def test_review_escalates_after_the_sla_then_expires_at_the_timeout(
    own_queue: OwnQueue, reviewer_http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    pool = resources.pool
    async with own_queue.upload(own_queue.settings(sla=2, timeout=5)) as handle:
        job_id = job_id_of(handle)
        await wait_for_review_status(client, handle.id, "PENDING")
        opened = await read_task(reviewer_http, job_id)
        assert opened["status"] == "PENDING"

        await wait_for_review_status(client, handle.id, "ESCALATED")
        task = await escalated_task(pool, job_id)
        assert task["escalated_at"] is not None and task["closed_at"] is None
        assert task["revision"] != opened["revision"], "escalation invalidates what reviewers had read"
        queue_page = (await reviewer_http.get("/reviews", params={"customer_id": opened["customer_id"]})).json()
        assert [(i["job_id"], i["status"]) for i in queue_page["items"]] == [(job_id, "ESCALATED")]

        result = await result_of(client, handle.id)
    assert result.status is JobStatus.REVIEW_EXPIRED

    job = await wait_for_job(pool, job_id, {"REVIEW_EXPIRED"})
    assert job["error"] == "no review decision before the timeout"
    await wait_for_review_status(client, handle.id, "EXPIRED")
    task = await pool.fetchrow("SELECT status, closed_at FROM review_tasks WHERE job_id = $1", job_id)
    assert task["status"] == "EXPIRED" and task["closed_at"] is not None
    assert await pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0

    events = await history(handle)
    names = activity_names(events)
    assert names.count("escalate_review") == 1
    assert names.count("close_review_task") == 1
    assert "record_review_decision" not in names and "persist_bill" not in names
    assert timer_seconds(events) == [2, 3], "the SLA timer, then the rest of the timeout"

    late = await reviewer_http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": opened["revision"]})
    assert late.status_code == 409, late.text
    assert "REVIEW_EXPIRED" in late.json()["detail"]


async def test_escalated_review_is_decided_with_the_revision_it_shows_now(
    own_queue: OwnQueue, reviewer_http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    pool = resources.pool
    async with own_queue.upload(own_queue.settings(sla=1, timeout=60)) as handle:
        job_id = job_id_of(handle)
        await wait_for_review_status(client, handle.id, "PENDING")
        before = await read_task(reviewer_http, job_id)
        await escalated_task(pool, job_id)
        now = await read_task(reviewer_http, job_id)
        assert now["status"] == "ESCALATED"

        body = {"action": "correct", "bill": {**now["bill"], "total_amount": CORRECT_TOTAL}}
        stale = await reviewer_http.post(f"/reviews/{job_id}", json={**body, "revision": before["revision"]})
        assert stale.status_code == 409, stale.text
        # Only its status and revision changed: said so, not "check the bill" (a reviewer's probe).
        assert (stale.json()["reason"], stale.json()["revision"]) == ("stale_revision", now["revision"])
        assert "was escalated since it was read" in stale.json()["detail"], stale.text
        assert "bill and reasons are as they were" in stale.json()["detail"], stale.text
        never = await reviewer_http.post(f"/reviews/{job_id}", json={**body, "revision": "0" * 32})
        assert "check the bill" in never.json()["detail"], "a revision the task never had: it changed otherwise"
        decided = await reviewer_http.post(f"/reviews/{job_id}", json={**body, "revision": now["revision"]})
        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "SUCCEEDED"

    await wait_for_review_status(client, handle.id, "DONE")
    assert str(await pool.fetchval("SELECT total_amount FROM bills WHERE job_id = $1", job_id)) == CORRECT_TOTAL
    row = await pool.fetchrow("SELECT revision FROM review_decisions WHERE job_id = $1", job_id)
    assert row["revision"] == now["revision"]
    assert (await pool.fetchrow("SELECT status FROM review_tasks WHERE job_id = $1", job_id))["status"] == "DONE"


async def test_a_decision_that_arrives_with_the_deadline_counts(
    own_queue: OwnQueue, client: Client, resources: Resources
) -> None:
    """No worker runs while the SLA passes and a decision arrives: one task then brings both.

    The SDK applies signals and updates before timers within a task, so the decision is seen
    before the deadline's timer: this keeps it so (the job neither escalates nor expires)."""
    settings = own_queue.settings(sla=2, timeout=60)
    pool = resources.pool
    async with own_queue.upload(settings) as handle:
        revision = await awaiting_review(handle)

    async def timer_fired() -> bool:
        return any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in await history(handle))

    await wait_until(timer_fired, within=30, what="the SLA timer fired with no worker running")
    await handle.signal(
        BillIngestionWorkflow.review_decision,
        ReviewDecision(action=ReviewAction.APPROVE, revision=revision, reviewer="on-time reviewer"),
    )
    async with build_worker(client, resources, settings):
        result = await result_of(client, handle.id)

    assert result.status is JobStatus.SUCCEEDED and result.reviewer == "on-time reviewer"
    names = activity_names(await history(handle))
    assert "escalate_review" not in names, "the decision came in time: nothing to escalate"
    audited = await pool.fetchval("SELECT revision FROM review_decisions WHERE job_id = $1", job_id_of(handle))
    assert audited == revision, "audited under the revision the reviewer saw"
