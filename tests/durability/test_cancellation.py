"""Cancelling a job: one waiting for review closes its task; one storing its bill or recording its end finishes."""

from __future__ import annotations

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from shared.bill import Provider
from shared.models import JobStatus
from shared.review import ReviewStatus
from shared.settings import Settings
from tests.durability.conftest import (
    attempts_by_activity,
    create_account,
    history_events,
    job_row,
    patches,
    start_on_queue,
    stored_text_bill,
)
from tests.helpers import account_digits, wait_for_failed_run, wait_until
from tests.workflows.scenarios import (
    cancelled_while_finishing,
    cancelled_while_persisting,
    job_cancelled_while_finishing,
)
from worker.main import build_worker
from worker.resources import Resources
from workflows.bill_ingestion import FINISH_ONCE_ENDING_PATCH, FINISH_ONCE_STORING_PATCH


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


async def test_cancel_while_a_failure_is_recorded_still_fails_the_job(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """fetch_bill fails for good; mark_job_finished is held until the workflow has seen the cancel:
    the job ends FAILED with its cause, written once, and the run fails rather than ending CANCELED."""
    workflow_id = await cancelled_while_finishing(http, client=client, resources=resources, settings=app_settings)

    failure = await wait_for_failed_run(client, workflow_id)
    assert isinstance(failure.cause, ApplicationError) and failure.cause.type == "IngestionFailed", failure.cause
    events = await history_events(client.get_workflow_handle(workflow_id))
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED in [e.event_type for e in events]
    assert FINISH_ONCE_ENDING_PATCH in patches(events)
    assert [e.activity_task_scheduled_event_attributes.activity_type.name for e in events].count(
        "mark_job_finished"
    ) == 1
    job = await resources.pool.fetchrow("SELECT status, error FROM ingestion_jobs WHERE workflow_id = $1", workflow_id)
    assert job["status"] == JobStatus.FAILED
    assert job["error"].startswith("fetch_bill failed: BillNotAvailable"), job["error"]


async def test_cancel_while_a_stored_bill_ends_records_the_storing_patch_only(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """Recording the end of a stored bill runs inside the storing steps: their decline answers the cancel,
    so the run records that patch alone. (A guard on the nesting; it held before the ending patch too.)"""
    done = await job_cancelled_while_finishing(
        http, client=client, resources=resources, settings=app_settings, provider="pge"
    )

    assert done["status"] == "SUCCEEDED", done
    handle = client.get_workflow_handle(done["workflow_id"])
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    recorded = patches(await history_events(handle))
    assert FINISH_ONCE_STORING_PATCH in recorded and FINISH_ONCE_ENDING_PATCH not in recorded, recorded
