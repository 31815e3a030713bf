"""A worker that caches no workflow replays the whole history on every task: review included."""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.client import Client

from shared.models import JobStatus
from shared.review import ReviewAction, ReviewDecision
from shared.settings import Settings
from tests.durability.conftest import history_events, job_row, stored_upload
from tests.helpers import wait_until
from worker.main import build_worker
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow


async def test_review_and_approval_with_max_cached_workflows_zero(
    client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    stored = await stored_upload(resources, unique)

    async with build_worker(client, resources, app_settings, task_queue=queue, max_cached_workflows=0):
        job = await stored.start(client=client, settings=app_settings, queue=queue)

        async def review_task_open() -> bool:
            return (await job_row(resources.pool, job.id))["status"] == JobStatus.NEEDS_REVIEW

        await wait_until(review_task_open, within=30, every=0.2, what="a review task")
        revision = (await job.handle.query(BillIngestionWorkflow.progress)).review_revision
        assert revision is not None
        ack = await job.handle.execute_update(
            BillIngestionWorkflow.submit_review,
            ReviewDecision(action=ReviewAction.APPROVE, revision=revision, reviewer="durability"),
        )
        result = await asyncio.wait_for(job.handle.result(), timeout=30)

    assert ack.status == JobStatus.SUCCEEDED
    assert result.status == JobStatus.SUCCEEDED and result.reviewer == "durability"
    assert (await job_row(resources.pool, job.id))["status"] == JobStatus.SUCCEEDED
    events = await history_events(job.handle)
    tasks = [
        e.workflow_task_scheduled_event_attributes.task_queue
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
    ]
    # No sticky queue ever: each of these tasks was run by replaying the history from the start.
    assert len(tasks) >= 10
    assert {t.kind for t in tasks} == {TaskQueueKind.TASK_QUEUE_KIND_NORMAL}
    assert any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in events)
