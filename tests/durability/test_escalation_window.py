"""The SLA fires: the workflow takes a new revision at once, but the task reviewers read keeps the old one until
escalate_review commits it. A decision sent with what the task shows in that window stands."""

from __future__ import annotations

import httpx
from temporalio.client import Client, WorkflowUpdateStage

from shared.models import JobStatus
from shared.review import ReviewAction, ReviewDecision, ReviewStatus
from shared.settings import Settings
from tests.durability.test_review_taken_back import on_queue, start_upload
from tests.review.support import awaiting_review, held, read_task, real_activity, replacing
from worker.main import build_worker
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow


async def test_a_decision_read_before_the_escalation_committed_stands(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    """Before, the workflow refused it (409 StaleRevision) until the reviewer reloaded a page that still showed the
    same bill. Once the escalation has committed, the old revision is refused as before (test_review_sla.py)."""
    settings = on_queue(app_settings, queue, sla=1)
    escalation = held(real_activity(resources, settings, "escalate_review"))
    activities = replacing(resources, settings, {"escalate_review": escalation.activity})
    async with build_worker(client, resources, settings, activities=activities):
        handle, job_id = await start_upload(http, client, resources, settings, unique)
        opened = await awaiting_review(handle)
        await escalation.reached.wait()  # the SLA fired: the workflow holds a new revision, the task not yet

        shown = await read_task(http, job_id)
        assert (shown["status"], shown["revision"]) == (ReviewStatus.PENDING, opened), shown
        decision = ReviewDecision(action=ReviewAction.APPROVE, revision=shown["revision"], reviewer="window reviewer")
        workflow = client.get_workflow_handle(handle.id)
        update = await workflow.start_update(
            BillIngestionWorkflow.submit_review, decision, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        escalation.release.set()
        ack = await update.result()

    assert ack.status is JobStatus.SUCCEEDED, ack
    audited = await resources.pool.fetchrow("SELECT revision, reviewer FROM review_decisions WHERE job_id = $1", job_id)
    task = await read_task(http, job_id)
    assert (task["status"], task["revision"]) == (ReviewStatus.DONE, audited["revision"]), task
    assert audited["revision"] != opened and audited["reviewer"] == "window reviewer"
