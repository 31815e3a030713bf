"""A decision that reaches the run in the workflow task firing the review's SLA timer stands."""

from __future__ import annotations

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from shared.settings import Settings
from tests.review.support import job_id_of
from tests.workflows.scenarios import review_decided_as_it_escalated
from worker.resources import Resources


async def test_a_rejection_that_reaches_the_run_with_its_sla_timer_stands_unescalated(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """Before DECIDED_AS_TIME_RAN_OUT_PATCH the timer's side won: the decided task was escalated, and a reviewer
    paged for a review already done."""
    workflow_id = await review_decided_as_it_escalated(http, client=client, resources=resources, settings=app_settings)
    handle = client.get_workflow_handle(workflow_id)
    events = list((await handle.fetch_history()).events)

    kinds = [e.event_type for e in events]
    fired = kinds.index(EventType.EVENT_TYPE_TIMER_FIRED)
    signalled = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, fired)
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED not in kinds[fired:signalled], "not one task: no race"
    names = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert "record_review_decision" in names and "escalate_review" not in names, names
    status = await resources.pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", job_id_of(handle))
    assert status == "REJECTED"
