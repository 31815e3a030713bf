"""Cancelling a job waiting for review must leave no open review task and no job row stuck."""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus

from shared.bill import Provider
from shared.models import JobStatus
from shared.review import ReviewStatus
from shared.settings import Settings
from tests.durability.conftest import create_account, job_row, start_on_queue, stored_text_bill, wait_until
from tests.helpers import account_digits
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
