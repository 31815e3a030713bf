"""A decision survives a worker that is down while the workflow waits, and is applied exactly once.

Each test runs its own worker on its own task queue (the session worker never sees these
jobs), started through ``start_job`` with a settings copy, exactly as the API would.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from temporalio.client import Client

from shared.models import JobStatus
from shared.review import ReviewAction, ReviewDecision
from tests.review.support import (
    CORRECT_TOTAL,
    OwnQueue,
    activity_names,
    awaiting_review,
    decisions_in_history,
    history,
    job_id_of,
    read_task,
    result_of,
    wait_for_job,
)
from worker.main import build_worker
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow


@pytest.mark.parametrize("path", ["signal", "rest"])
async def test_decision_sent_while_the_worker_is_down_completes_exactly_once(
    path: str, own_queue: OwnQueue, reviewer_http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    settings = own_queue.settings()
    pool = resources.pool
    # No cache: the restarted worker rebuilds the workflow from history alone.
    async with own_queue.upload(settings, max_cached_workflows=0) as handle:
        await awaiting_review(handle)
    job_id = job_id_of(handle)

    # The worker is gone: the API still serves the task from Postgres.
    task = await read_task(reviewer_http, job_id)
    corrected = {**task["bill"], "total_amount": CORRECT_TOTAL}
    pending: asyncio.Task[httpx.Response] | None = None
    if path == "signal":
        await handle.signal(
            BillIngestionWorkflow.review_decision,
            ReviewDecision(action=ReviewAction.CORRECT, revision=task["revision"], bill=corrected, reviewer="ops-cli"),
        )
    else:
        body = {"action": "correct", "revision": task["revision"], "bill": corrected}
        pending = asyncio.create_task(reviewer_http.post(f"/reviews/{job_id}", json=body))
        await asyncio.sleep(0.5)
        assert not pending.done(), "an update cannot be answered without a worker"
    assert (await pool.fetchrow("SELECT status FROM ingestion_jobs WHERE id = $1", job_id))["status"] == "NEEDS_REVIEW"

    async with build_worker(client, resources, settings, max_cached_workflows=0):
        if pending is not None:
            response = await asyncio.wait_for(pending, timeout=30)
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "SUCCEEDED"
        result = await result_of(client, handle.id)
    assert result.status is JobStatus.SUCCEEDED

    assert (await wait_for_job(pool, job_id, {"SUCCEEDED"}))["status"] == "SUCCEEDED"
    assert await pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job_id) == 1
    assert str(await pool.fetchval("SELECT total_amount FROM bills WHERE job_id = $1", job_id)) == CORRECT_TOTAL
    assert await pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 1
    events = await history(handle)
    assert len(await decisions_in_history(client, events)) == 1
    names = activity_names(events)
    once = ("record_review_decision", "persist_bill", "publish_analytics")
    assert {name: names.count(name) for name in once} == dict.fromkeys(once, 1)
