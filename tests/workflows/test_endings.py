"""How a run ends when its last steps meet trouble: the job's row keeps the end its data reached."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError

import workflows.policies as policies
from shared.models import ExtractRequest
from shared.settings import Settings
from tests.review.support import (
    activity_names,
    history,
    job_id_of,
    real_activity,
    refusing,
    replacing,
    start_upload_on_queue,
    wait_for_job,
)
from tests.workflows.scenarios import (
    Scenario,
    end_recorded_again,
    review_decided_as_it_expired,
    review_decided_as_it_expired_across_deploy,
    review_signalled_as_it_expired,
)
from worker.main import build_worker
from worker.resources import Resources


async def test_a_job_whose_end_failed_to_record_keeps_its_stored_bill(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """mark_job_finished failing for good overwrote SUCCEEDED with "unknown failed: ...", without the bill: the
    same file again came back DUPLICATE of a job that read FAILED."""
    workflow_id = await end_recorded_again(http, client=client, resources=resources, settings=app_settings)
    handle = client.get_workflow_handle(workflow_id)
    row = await wait_for_job(resources.pool, job_id_of(handle), {"SUCCEEDED", "FAILED"})

    assert not (row["error"] or "").startswith("unknown failed"), row["error"]
    assert (row["status"], row["error"]) == ("SUCCEEDED", None)
    stored = await resources.pool.fetchval("SELECT id FROM bills WHERE job_id = $1", row["id"])
    assert stored is not None and row["result"]["bill_id"] == str(stored)
    assert activity_names(await history(handle)).count("mark_job_finished") == 2  # refused, then recorded again


async def test_a_failed_job_whose_end_failed_to_record_keeps_its_cause(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """Only a SUCCEEDED end was recorded again: find_duplicate failing for good, then mark_job_finished failing
    once recording that FAILED, failed the run at once, the row left RUNNING for the reconciler's cause-less
    "workflow failed before recording its end"."""
    own = app_settings.model_copy(update={"temporal_task_queue": f"failed-end-again-{uuid.uuid4().hex[:8]}"})
    failing = {
        "find_duplicate": refusing(real_activity(resources, own, "find_duplicate")),
        "mark_job_finished": refusing(real_activity(resources, own, "mark_job_finished"), times=1),
    }
    async with build_worker(client, resources, own, activities=replacing(resources, own, failing)):
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=own, unique=uuid.uuid4().hex
        )
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), timeout=60)

    # The run recorded its end before it failed: no reconciler comes into it.
    row = await resources.pool.fetchrow("SELECT status, error FROM ingestion_jobs WHERE id = $1", job_id_of(handle))
    assert row is not None
    assert (row["status"], (row["error"] or "").split(":")[0]) == ("FAILED", "find_duplicate failed"), dict(row)
    assert activity_names(await history(handle)).count("mark_job_finished") == 2  # refused, then recorded again


@activity.defn(name="extract_bill")
async def hanging_extract(request: ExtractRequest) -> None:
    """An extraction whose every attempt outlives its start-to-close (Gemini hanging, say)."""
    await asyncio.sleep(10)


@pytest.mark.parametrize("failing", ["refused", "timed-out"])
async def test_a_failed_jobs_error_names_its_cause_once_and_a_timeout_by_its_kind(
    failing: str,
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The job's error read "find_duplicate failed: ApplicationError: ApplicationError: ...", the SDK's text of the
    error already naming its type, and a step out of its schedule-to-close "extract_bill failed: 3: ..."."""
    own = app_settings.model_copy(update={"temporal_task_queue": f"error-text-{uuid.uuid4().hex[:8]}"})
    if failing == "refused":
        replaced = {"find_duplicate": refusing(real_activity(resources, own, "find_duplicate"))}
    else:
        replaced = {"extract_bill": hanging_extract}
        brief = timedelta(seconds=1), policies.EXTRACT.retry
        monkeypatch.setattr(
            policies, "EXTRACT", policies.ActivityPolicy(*brief, schedule_to_close=timedelta(seconds=3))
        )
    async with build_worker(client, resources, own, activities=replacing(resources, own, replaced)):
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=own, unique=uuid.uuid4().hex
        )
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), timeout=60)

    row = await wait_for_job(resources.pool, job_id_of(handle), {"FAILED"})
    if failing == "refused":
        assert row["error"] == "find_duplicate failed: ApplicationError: find_duplicate refused (injected)", row[
            "error"
        ]
    else:
        assert row["error"].startswith("extract_bill failed: TimeoutError (SCHEDULE_TO_CLOSE): "), row["error"]


@pytest.mark.parametrize(
    "scenario",
    [review_decided_as_it_expired, review_signalled_as_it_expired, review_decided_as_it_expired_across_deploy],
    ids=["update", "signal", "signal-after-the-old-codes-sla-race"],
)
async def test_a_rejection_that_reaches_the_run_with_its_expiry_stands(
    scenario: Scenario, http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """The timer's wait raised before it saw a decision that came in the same workflow task, and the job ended
    REVIEW_EXPIRED: the reviewer's update was accepted (the API's 200) and lost. So did a run whose SLA timer met
    such a decision on the old code, while both timers asked one patch id (its False was memoized)."""
    workflow_id = await scenario(http, client=client, resources=resources, settings=app_settings)
    handle = client.get_workflow_handle(workflow_id)
    events = await history(handle)

    kinds = [e.event_type for e in events]
    expired = kinds.index(EventType.EVENT_TYPE_TIMER_FIRED, kinds.index(EventType.EVENT_TYPE_TIMER_FIRED) + 1)
    decided = [
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    ]
    decision = next(i for i in range(expired, len(kinds)) if kinds[i] in decided)
    # A signal is written before the task that takes it starts; an accepted update with that task's completion.
    assert kinds[expired:decision].count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) <= 1, "not one task: no race"
    row = await wait_for_job(resources.pool, job_id_of(handle), {"REJECTED", "REVIEW_EXPIRED"})
    assert row["status"] == "REJECTED", row["error"]
    names = activity_names(events)
    assert "record_review_decision" in names and "close_review_task" not in names, names
