"""An operator terminates a job waiting for review (its end recorded FAILED, its task closed CANCELED), then resets
its run to the last workflow task (``temporal workflow reset --type LastWorkflowTask``): the new run waits for a
decision, so it takes its review task back at once, wherever in the review the reset lands."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from shared.models import JobStatus
from shared.review import ReviewStatus
from shared.settings import Settings
from tests.helpers import reset_to_last_workflow_task
from tests.review.support import awaiting_review, job_id_of, read_task, result_of, start_upload_on_queue, wait_until
from tests.workflows.scenarios import review_escalated
from worker.main import MAX_CACHED_WORKFLOWS, build_worker
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow


def on_queue(settings: Settings, queue: str, *, sla: float) -> Settings:
    return settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "review_sla": timedelta(seconds=sla),
            "review_timeout": timedelta(hours=1),
        }
    )


async def reset_after_termination(
    http: httpx.AsyncClient, client: Client, job_id: str, workflow_id: str, status: ReviewStatus
) -> dict[str, Any]:
    """Terminate, reset to the last workflow task, and return the review task once it is open again as ``status``."""
    await client.get_workflow_handle(workflow_id).terminate(reason="operator cleanup")
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == JobStatus.FAILED
    assert (await read_task(http, job_id))["status"] == ReviewStatus.CANCELED

    await reset_to_last_workflow_task(client, workflow_id)

    async def open_again() -> dict[str, Any] | None:
        task = await read_task(http, job_id)
        return task if task["status"] == status and task["closed_at"] is None else None

    return await wait_until(open_again, within=30, what=f"review task of {job_id} open again as {status}")


@pytest.mark.parametrize("cached", [MAX_CACHED_WORKFLOWS, 0], ids=["cached", "replayed-every-task"])
async def test_a_run_reset_past_its_escalation_takes_its_review_task_back(
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    queue: str,
    unique: str,
    cached: int,
) -> None:
    """Nothing else would: the run's next review step is the expiry's, an hour on, which closes the task EXPIRED.
    Uncached, every workflow task replays the reset from history, and takes the task back once all the same."""
    settings = on_queue(app_settings, queue, sla=1)
    async with build_worker(client, resources, settings, max_cached_workflows=cached):
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=settings, unique=unique
        )
        job_id = job_id_of(handle)
        revision = await review_escalated(handle)

        task = await reset_after_termination(http, client, job_id, handle.id, ReviewStatus.ESCALATED)

        assert task["revision"] == revision, task
        job = (await http.get(f"/jobs/{job_id}")).json()
        assert (job["status"], job["error"], job["attempts"]) == (JobStatus.NEEDS_REVIEW, None, 2), job
        decided = await http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": revision})
        assert decided.status_code in (200, 202), decided.text
        assert (await result_of(client, handle.id)).status is JobStatus.SUCCEEDED
        assert await taken_back(handle.id, client) == 1
    assert (await read_task(http, job_id))["status"] == ReviewStatus.DONE


async def taken_back(workflow_id: str, client: Client) -> int:
    """How many times the workflow's latest run took its review task back (``take_back_review``, finished)."""
    progress = await client.get_workflow_handle(workflow_id).query(BillIngestionWorkflow.progress)
    return [step.name for step in progress.steps if step.finished_at].count("take_back_review")


async def test_a_run_reset_to_the_opening_of_its_review_takes_it_back_before_its_sla(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    """Not only once the SLA's escalation (an hour on) takes it back: the task is PENDING again at once."""
    settings = on_queue(app_settings, queue, sla=3600)
    async with build_worker(client, resources, settings):
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=settings, unique=unique
        )
        job_id = job_id_of(handle)
        revision = await awaiting_review(handle)

        task = await reset_after_termination(http, client, job_id, handle.id, ReviewStatus.PENDING)

        assert task["revision"] == revision, task
        assert (await http.get(f"/jobs/{job_id}")).json()["status"] == JobStatus.NEEDS_REVIEW
        rejected = await http.post(f"/reviews/{job_id}", json={"action": "reject", "revision": revision})
        assert rejected.status_code in (200, 202), rejected.text
        assert (await result_of(client, handle.id)).status is JobStatus.REJECTED
    assert (await read_task(http, job_id))["status"] == ReviewStatus.DONE


async def test_a_run_reset_twice_takes_its_review_task_back_each_time(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    """The second reset replays the first one's take-back from history, then takes the task back itself."""
    settings = on_queue(app_settings, queue, sla=1)
    async with build_worker(client, resources, settings):
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=settings, unique=unique
        )
        job_id = job_id_of(handle)
        revision = await review_escalated(handle)
        await reset_after_termination(http, client, job_id, handle.id, ReviewStatus.ESCALATED)
        # Its completion in history: the next reset, to the last workflow task, lands after it.
        await wait_until(lambda: taken_back(handle.id, client), within=30, what="the first take-back finished")

        task = await reset_after_termination(http, client, job_id, handle.id, ReviewStatus.ESCALATED)

        assert task["revision"] == revision, task
        job = (await http.get(f"/jobs/{job_id}")).json()
        assert (job["status"], job["attempts"]) == (JobStatus.NEEDS_REVIEW, 3), job
        decided = await http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": revision})
        assert decided.status_code in (200, 202), decided.text
        assert (await result_of(client, handle.id)).status is JobStatus.SUCCEEDED
        assert await taken_back(handle.id, client) == 2
