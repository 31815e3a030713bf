"""Cancelling a job: one waiting for review closes its task; one already storing its bill finishes."""

from __future__ import annotations

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from shared.bill import Provider
from shared.models import JobStatus
from shared.review import ReviewStatus
from shared.settings import Settings
from tests.durability.conftest import (
    attempts_by_activity,
    create_account,
    history_events,
    job_row,
    start_on_queue,
    stored_text_bill,
    wait_until,
)
from tests.helpers import account_digits
from tests.workflows.scenarios import cancelled_while_persisting
from worker.main import build_worker
from worker.resources import Resources


async def test_cancel_while_awaiting_review_closes_the_job_and_the_task(
    client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    number = account_digits(unique)
    account = await create_account(resources.pool, provider=Provider.PGE, account_number=number)
    job_id, upload = await stored_text_bill(resources.store, number)
    async with build_worker(client, resources, app_settings, task_queue=queue):
        job = await start_on_queue(
            pool=resources.pool,
            client=client,
            settings=app_settings,
            queue=queue,
            account=account,
            job_id=job_id,
            upload=upload,
        )

        async def status_is(status: JobStatus) -> bool:
            return (await job_row(resources.pool, job.id))["status"] == status

        await wait_until(lambda: status_is(JobStatus.NEEDS_REVIEW), within=30, what="a review task")
        await job.handle.cancel()

        async def closed() -> bool:
            return (await job.handle.describe()).status != WorkflowExecutionStatus.RUNNING

        await wait_until(closed, within=15, what="the workflow to close")

    assert (await job.handle.describe()).status == WorkflowExecutionStatus.CANCELED
    row = await job_row(resources.pool, job.id)
    assert JobStatus(row["status"]).is_terminal, row
    task = await resources.pool.fetchval("SELECT status FROM review_tasks WHERE job_id = $1", job.id)
    assert task not in (ReviewStatus.PENDING, ReviewStatus.ESCALATED), task


async def test_cancel_after_the_bill_began_storing_finishes_the_job(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """persist_bill is held until the workflow has seen the cancel: the bill is stored, published, SUCCEEDED."""
    workflow_id = await cancelled_while_persisting(http, client=client, resources=resources, settings=app_settings)

    handle = client.get_workflow_handle(workflow_id)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    events = await history_events(handle)
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED in [e.event_type for e in events]
    assert attempts_by_activity(events)["publish_analytics"] == 1
    job = await resources.pool.fetchrow("SELECT id, status FROM ingestion_jobs WHERE workflow_id = $1", workflow_id)
    assert job["status"] == JobStatus.SUCCEEDED
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job["id"]) == 1
