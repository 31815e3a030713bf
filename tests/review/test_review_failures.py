"""A job that fails while its review is open: nobody is left believing a reviewer can still act on it."""

from __future__ import annotations

import pytest
from temporalio.client import Client, WorkflowFailureError

from shared.review import ReviewAction, ReviewDecision
from tests.review.support import (
    OwnQueue,
    awaiting_review,
    job_id_of,
    real_activity,
    refusing,
    replacing,
    result_of,
    wait_for_job,
    wait_for_review_status,
)
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow


@pytest.mark.parametrize("failing", ["escalate_review", "record_review_decision"])
async def test_a_job_failing_in_review_is_no_longer_listed_as_awaiting_a_reviewer(
    failing: str, own_queue: OwnQueue, client: Client, resources: Resources
) -> None:
    """A review step out of retries fails the job and mark_job_finished closes its task (CANCELED). Operators
    filter the Web UI by ReviewStatus: left PENDING (or ESCALATED), the job is listed as one a reviewer can
    still decide."""
    settings = own_queue.settings(sla=1 if failing == "escalate_review" else 3600)
    activities = replacing(resources, settings, {failing: refusing(real_activity(resources, settings, failing))})
    async with own_queue.upload(settings, activities=activities) as handle:
        revision = await awaiting_review(handle)
        if failing == "record_review_decision":
            decision = ReviewDecision(action=ReviewAction.APPROVE, revision=revision, reviewer="script")
            await handle.signal(BillIngestionWorkflow.review_decision, decision)
        with pytest.raises(WorkflowFailureError):
            await result_of(client, handle.id)

    job_id = job_id_of(handle)
    job = await wait_for_job(resources.pool, job_id, {"FAILED"})
    assert f"{failing} failed" in job["error"]
    task = await resources.pool.fetchrow("SELECT status, closed_at FROM review_tasks WHERE job_id = $1", job_id)
    assert task["status"] == "CANCELED" and task["closed_at"] is not None
    await wait_for_review_status(client, handle.id, "CANCELED")
