"""An operator's reset of a run waiting for review, to a point past ``open_review_task``
(``temporal workflow reset --type LastWorkflowTask``): the new run never opens the task again, yet
the task is its own once it acts on it, so a decision it receives closes the task as decided."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.client import Client

from shared.models import JobStatus
from shared.review import ReviewStatus
from tests.helpers import reset_to_last_workflow_task
from tests.review.support import (
    OwnQueue,
    awaiting_review,
    job_id_of,
    open_review,
    read_task,
    result_of,
    wait_until,
)


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
