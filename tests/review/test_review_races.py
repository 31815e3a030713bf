"""Decisions racing the workflow's own bookkeeping (both races fixed behind ``workflow.patched``).

* A task is readable (Postgres, ``GET /reviews``) as soon as ``open_review_task`` commits,
  but the workflow accepts decisions only once it has seen that activity complete.
* ``submit_review`` answers with the final status before ``mark_job_finished`` has written it.

Each test holds one activity open (or slows it) on its own worker and task queue to make
the window deterministic.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from shared.models import JobProgress, JobStatusUpdate
from shared.review import ReviewDecision
from tests.helpers import wait_until
from tests.review.support import (
    OwnQueue,
    activity_names,
    awaiting_review,
    awaiting_review_with_publish_held,
    held,
    history,
    job_id_of,
    read_task,
    real_activity,
    replacing,
    result_of,
    wait_for_job,
)
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow


@pytest.mark.parametrize("path", ["signal", "rest"])
async def test_decision_on_a_task_the_workflow_has_not_yet_seen_open_is_applied(
    path: str,
    own_queue: OwnQueue,
    http: httpx.AsyncClient,
    reviewer_http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
) -> None:
    settings = own_queue.settings()
    # The task is in Postgres, and the API lists it, but the workflow has not yet seen the activity complete.
    opening = held(real_activity(resources, settings, "open_review_task"), after_real=True)
    activities = replacing(resources, settings, {"open_review_task": opening.activity})
    async with own_queue.upload(settings, activities=activities) as handle:
        job_id = job_id_of(handle)
        try:
            await asyncio.wait_for(opening.reached.wait(), timeout=30)
            task = await read_task(reviewer_http, job_id)
            assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"
            decision = {"action": "approve", "revision": task["revision"]}
            pending: asyncio.Task[httpx.Response] | None = None
            if path == "signal":
                await handle.signal(BillIngestionWorkflow.review_decision, ReviewDecision(**decision))
                await wait_until(lambda: signal_processed(handle), within=10, what="a workflow task after the signal")
            else:
                pending = asyncio.create_task(reviewer_http.post(f"/reviews/{job_id}", json=decision))
                await asyncio.wait([pending], timeout=1)
            opening.release.set()
            if pending is not None:
                response = await pending
                assert response.status_code == 200, response.text
            names = await wait_until(
                lambda: next_step_after_open(handle), within=10, what="the workflow to go on after opening"
            )
            assert "record_review_decision" in names, "the decision was lost: the workflow waits for another"
        finally:
            opening.release.set()
            await finish_if_waiting(client, handle, reviewer_http, job_id)


async def signal_processed(handle: WorkflowHandle[Any, Any]) -> bool:
    events = await history(handle)
    signaled = [e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    completed = [e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]
    return bool(signaled) and any(c > signaled[0] for c in completed)


async def next_step_after_open(handle: WorkflowHandle[Any, Any]) -> list[str] | None:
    """The scheduled activities once the workflow either records a decision or starts its SLA timer."""
    events = await history(handle)
    waiting = any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in events)
    names = activity_names(events)
    return names if waiting or "record_review_decision" in names else None


async def finish_if_waiting(
    client: Client, handle: WorkflowHandle[Any, Any], http: httpx.AsyncClient, job_id: str
) -> None:
    """Leave no open review behind: once the workflow has settled, reject what still waits, then await the end."""

    async def settled() -> JobProgress | None:
        progress = await handle.query(BillIngestionWorkflow.progress)
        return progress if progress.review_revision is not None or progress.status.is_terminal else None

    progress = await wait_until(settled, within=10, what=f"{handle.id} to wait for a review or finish")
    if progress.review_revision is not None:
        body = {"action": "reject", "revision": progress.review_revision, "note": "test cleanup"}
        response = await http.post(f"/reviews/{job_id}", json=body)
        assert response.status_code == 200, response.text
    await result_of(client, handle.id)


async def test_job_reads_final_as_soon_as_the_decision_is_answered(
    own_queue: OwnQueue, http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    settings = own_queue.settings()
    real_finish = real_activity(resources, settings, "mark_job_finished")

    @activity.defn(name="mark_job_finished")
    async def slow_finish(update: JobStatusUpdate) -> None:
        await asyncio.sleep(1.5)  # a slow database (or its retries) between the decision and the final row
        await real_finish(update)

    activities = replacing(resources, settings, {"mark_job_finished": slow_finish})
    async with own_queue.upload(settings, activities=activities) as handle:
        job_id = job_id_of(handle)
        revision = await awaiting_review(handle)
        response = await reviewer_http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": revision})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "SUCCEEDED"
        try:
            assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "SUCCEEDED"
        finally:
            await result_of(client, handle.id)


async def test_a_decided_job_reads_running_while_it_persists_and_publishes(
    own_queue: OwnQueue, http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    """After the decision nobody waits for a person: listing NEEDS_REVIEW jobs must not show it (a warehouse
    outage can hold the publish for hours), in Postgres or in Temporal's visibility."""
    async with awaiting_review_with_publish_held(own_queue, resources) as job:
        handle, job_id, revision, publishing = job.handle, job.job_id, job.revision, job.publishing
        await wait_until(  # visibility lags: see NEEDS_REVIEW first, or RUNNING below could be the run's start
            lambda: _listed(client, f'WorkflowId = "{handle.id}" AND JobStatus = "NEEDS_REVIEW"'),
            within=15,
            what="the job listed NEEDS_REVIEW",
        )
        sent = asyncio.create_task(
            reviewer_http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": revision})
        )
        try:
            await wait_until(
                lambda: _listed(client, f'WorkflowId = "{handle.id}" AND JobStatus = "RUNNING"'),
                within=15,
                what="the decided job listed RUNNING",
            )
            job = (await http.get(f"/jobs/{job_id}")).json()
            assert job["status"] == "RUNNING", job
            listed = await http.get("/jobs", params={"status": "NEEDS_REVIEW", "customer_id": job["customer_id"]})
            assert listed.json()["items"] == []
        finally:
            publishing.release.set()
            await result_of(client, handle.id)
            await sent


async def _listed(client: Client, query: str) -> bool | None:
    return True if [w async for w in client.list_workflows(query)] else None


async def test_a_decision_sent_while_the_job_is_being_cancelled_is_refused(
    own_queue: OwnQueue, reviewer_http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    """While its review task is being closed the job still reads NEEDS_REVIEW, but no decision can
    apply any more: it is refused (409), not accepted and then answered CANCELED. The cancelled job
    keeps the reasons it went to review for."""
    settings = own_queue.settings()
    closing = held(real_activity(resources, settings, "close_review_task"))
    activities = replacing(resources, settings, {"close_review_task": closing.activity})
    async with own_queue.upload(settings, activities=activities) as handle:
        job_id = job_id_of(handle)
        try:
            revision = await awaiting_review(handle)
            reasons = (await handle.query(BillIngestionWorkflow.progress)).reasons
            await handle.cancel()
            await asyncio.wait_for(closing.reached.wait(), timeout=30)
            assert (await handle.query(BillIngestionWorkflow.progress)).review_revision is None
            late = await reviewer_http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": revision})
            assert late.status_code == 409, late.text
            assert late.json()["reason"] == late.json()["code"] == "not_pending", late.text
        finally:
            closing.release.set()
        job = await wait_for_job(resources.pool, job_id, {"CANCELED"})
    assert reasons and job["reasons"] == reasons
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0


async def test_a_decision_whose_recording_a_cancel_overtook_is_not_shown_as_taken(
    own_queue: OwnQueue, reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources
) -> None:
    """An approval accepted, an operator's cancel reaching the run while record_review_decision runs: the job
    ends CANCELED with no bill stored, and the step, committing after, wrote the approval anyway. The task read
    CANCELED with an approval as its decision, and export_corrections would take it for one. A later decision's
    409 then named the approval, "it is being recorded", which it never would be."""
    settings = own_queue.settings()
    real, recorded = real_activity(resources, settings, "record_review_decision"), asyncio.Event()

    @functools.wraps(real)
    async def record_then_tell(*args: Any) -> Any:
        try:
            return await real(*args)
        finally:
            recorded.set()

    recording = held(record_then_tell)
    activities = replacing(resources, settings, {"record_review_decision": recording.activity})
    async with own_queue.upload(settings, activities=activities) as handle:
        job_id = job_id_of(handle)
        revision = await awaiting_review(handle)
        decided = asyncio.create_task(
            reviewer_http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": revision})
        )
        try:
            await asyncio.wait_for(recording.reached.wait(), timeout=30)
            await handle.cancel()
            await wait_for_job(resources.pool, job_id, {"CANCELED"})
        finally:
            recording.release.set()
        await asyncio.wait_for(recorded.wait(), timeout=30)
        assert (await decided).json()["status"] == "CANCELED"
    task = (await reviewer_http.get(f"/reviews/{job_id}")).json()
    assert (task["status"], task["decision"]) == ("CANCELED", None), task
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job_id) == 0
    later = await http.post(f"/reviews/{job_id}", json={"action": "reject", "revision": revision, "note": "no"})
    assert (later.status_code, later.json()["reason"]) == (409, "not_pending"), later.text
    assert "being recorded" not in later.json()["detail"]
