"""A closed job is run again only by its own chain: an operator's reset, not a new start under its id.

Anyone who reaches the Temporal frontend can copy a job's sealed input out of its history and start it
again under the job's own workflow id (``ALLOW_DUPLICATE``). That run has a first execution run id of its
own, where a reset keeps the job's: ``mark_job_running`` refuses it (``ForeignRun``), before any work.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, WorkflowIdReusePolicy
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError

from shared import search_attributes as sa
from shared.bill import Provider
from shared.models import IngestionResult, JobStatus
from shared.settings import Settings
from tests.durability.conftest import Job, create_account, history_events, job_row, patches, start_on_queue
from tests.helpers import reset_to_first_workflow_task, wait_for_failed_run, wait_for_refused_run
from worker.main import build_worker
from worker.resources import Resources
from workflows.bill_ingestion import FOREIGN_RUN_PATCH


@pytest.fixture()
async def own_worker(client: Client, resources: Resources, app_settings: Settings, queue: str) -> AsyncIterator[None]:
    async with build_worker(client, resources, app_settings, task_queue=queue):
        yield


async def succeeded_job(resources: Resources, client: Client, settings: Settings, queue: str, number: str) -> Job:
    account = await create_account(resources.pool, provider=Provider.PGE, account_number=number)
    job = await start_on_queue(pool=resources.pool, client=client, settings=settings, queue=queue, account=account)
    result = await asyncio.wait_for(job.handle.result(), timeout=30)
    assert result.status == JobStatus.SUCCEEDED, result
    return job


async def start_copied_from_history(client: Client, job: WorkflowHandle[Any, Any], queue: str) -> str:
    """What someone without the payload keys can do: start the job's workflow id again with its sealed input."""
    started = (await history_events(job))[0].workflow_execution_started_event_attributes
    response = await client.workflow_service.start_workflow_execution(
        StartWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_id=job.id,
            workflow_type=started.workflow_type,
            task_queue=TaskQueue(name=queue),
            input=started.input,
            identity="copied-from-history",
            request_id=str(uuid.uuid4()),
            workflow_id_reuse_policy=WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
        )
    )
    return response.run_id


def activities_scheduled(events: list[Any]) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def test_a_closed_job_started_again_under_its_id_fails_at_once_and_changes_nothing(
    client: Client, resources: Resources, app_settings: Settings, own_worker: None, queue: str, unique: str
) -> None:
    job = await succeeded_job(resources, client, app_settings, queue, f"FOREIGN-{unique}")
    before = await job_row(resources.pool, job.id)

    foreign_run = await start_copied_from_history(client, job.handle, queue)

    await wait_for_refused_run(client, job.handle.id, "ForeignRun")
    refusal = (await wait_for_failed_run(client, job.handle.id)).cause
    assert f"-r {before['last_run_id']}" in str(refusal), "names the job's own run, the one to reset"
    events = await history_events(client.get_workflow_handle(job.handle.id, run_id=foreign_run))
    assert activities_scheduled(events) == ["mark_job_running"], "no work, and no end written over the job's"
    assert patches(events) == [FOREIGN_RUN_PATCH]
    described = await client.get_workflow_handle(job.handle.id, run_id=foreign_run).describe()
    # Not listed by an operator's JobStatus="RUNNING" query for good: its status ended with it.
    assert described.typed_search_attributes.get(sa.JOB_STATUS) == JobStatus.FAILED
    assert await job_row(resources.pool, job.id) == before  # status, result, attempts, updated_at: all as they were
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job.id) == 1


async def test_an_operators_reset_of_a_closed_job_still_runs_it_again(
    client: Client, resources: Resources, app_settings: Settings, own_worker: None, queue: str, unique: str
) -> None:
    """Also after a start of another chain was refused: that refusal does not lock the job's own chain out."""
    job = await succeeded_job(resources, client, app_settings, queue, f"RESET-{unique}")
    first_run = (await job_row(resources.pool, job.id))["last_run_id"]
    await start_copied_from_history(client, job.handle, queue)
    await wait_for_refused_run(client, job.handle.id, "ForeignRun")

    reset_run = await reset_to_first_workflow_task(client, job.handle.id, first_run)

    reset = client.get_workflow_handle(job.handle.id, run_id=reset_run, result_type=IngestionResult)
    assert (await asyncio.wait_for(reset.result(), timeout=30)).status == JobStatus.SUCCEEDED
    started = (await history_events(reset))[0].workflow_execution_started_event_attributes
    assert started.first_execution_run_id == first_run, "a reset keeps the chain's first run id"
    row = await job_row(resources.pool, job.id)
    assert (row["status"], row["attempts"], row["last_run_id"], row["ended_run_id"]) == (
        JobStatus.SUCCEEDED,
        2,
        reset_run,
        reset_run,
    )
    assert row["first_run_id"] == first_run


async def test_a_run_whose_job_row_was_lost_fails_at_once_naming_why(
    client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    """Postgres restored from a backup taken before the job was accepted, its run kept by Temporal: it ran on, and
    each step after the first failed on a foreign key for the DATABASE policy's hour."""
    account = await create_account(resources.pool, provider=Provider.PGE, account_number=f"LOST-{unique}")
    job = await start_on_queue(pool=resources.pool, client=client, settings=app_settings, queue=queue, account=account)
    await resources.pool.execute("DELETE FROM ingestion_jobs WHERE id = $1", job.id)  # no worker has run it yet

    async with build_worker(client, resources, app_settings, task_queue=queue):
        failure = (await wait_for_failed_run(client, job.handle.id, within=30)).cause

    assert isinstance(failure, ApplicationError) and failure.non_retryable, failure
    assert "mark_job_running failed: JobRowMissing: the job's row is not in the database" in failure.message
    events = await history_events(job.handle)
    assert activities_scheduled(events) == ["mark_job_running", "mark_job_finished"], "no step after the refusal"
    [refused] = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED]
    assert refused.activity_task_failed_event_attributes.failure.application_failure_info.type == "JobRowMissing"
