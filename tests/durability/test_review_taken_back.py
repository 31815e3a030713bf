"""An operator terminates a job waiting for review (its end recorded FAILED, its task closed CANCELED), then resets
its run to the last workflow task (``temporal workflow reset --type LastWorkflowTask``): the new run waits for a
decision, so it takes its review task back at once, wherever in the review the reset lands. Never over what the new
run's own steps wrote first (its escalation), a take-back that fails for good reads failed, a failure beside it is
its own step's, and a run reset before its review opens the task itself, with no take-back."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.jobs import JobActivities
from activities.review import ReviewActivities
from shared.models import JobProgress, JobRef, JobStatus, JobStatusUpdate
from shared.review import ReviewAction, ReviewDecision, ReviewStatus, ReviewTaskOpen, ReviewTaskUpdate
from shared.settings import Settings
from tests.helpers import (
    _reset_to_workflow_task as reset_to_workflow_task,
)
from tests.helpers import (
    create_account,
    insert_job,
    reset_to_last_workflow_task,
    wait_until,
)
from tests.review.support import (
    awaiting_review,
    job_id_of,
    read_task,
    real_activity,
    replacing,
    result_of,
    start_upload_on_queue,
)
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


async def start_upload(
    http: httpx.AsyncClient, client: Client, resources: Resources, settings: Settings, unique: str
) -> tuple[WorkflowHandle[Any, Any], str]:
    """An upload's workflow started on ``settings``' queue, and its job id."""
    handle = await start_upload_on_queue(
        http=http, pool=resources.pool, store=resources.store, client=client, settings=settings, unique=unique
    )
    return handle, job_id_of(handle)


async def terminate(http: httpx.AsyncClient, client: Client, job_id: str, workflow_id: str) -> None:
    """An operator's terminate: the job's end is recorded FAILED (as the API reads it), its task closed CANCELED."""
    await client.get_workflow_handle(workflow_id).terminate(reason="operator cleanup")
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == JobStatus.FAILED
    assert (await read_task(http, job_id))["status"] == ReviewStatus.CANCELED


async def reset_after_termination(
    http: httpx.AsyncClient, client: Client, job_id: str, workflow_id: str, status: ReviewStatus
) -> dict[str, Any]:
    """Terminate, reset to the last workflow task, and return the review task once it is open again as ``status``."""
    await terminate(http, client, job_id, workflow_id)
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
        handle, job_id = await start_upload(http, client, resources, settings, unique)
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
    return [step.name for step in progress.steps if step.finished_at and not step.attempt_error].count(
        "take_back_review"
    )


async def test_a_run_reset_to_the_opening_of_its_review_takes_it_back_before_its_sla(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    """Not only once the SLA's escalation (an hour on) takes it back: the task is PENDING again at once."""
    settings = on_queue(app_settings, queue, sla=3600)
    async with build_worker(client, resources, settings):
        handle, job_id = await start_upload(http, client, resources, settings, unique)
        revision = await awaiting_review(handle)

        task = await reset_after_termination(http, client, job_id, handle.id, ReviewStatus.PENDING)

        assert task["revision"] == revision, task
        assert (await http.get(f"/jobs/{job_id}")).json()["status"] == JobStatus.NEEDS_REVIEW
        rejected = await http.post(f"/reviews/{job_id}", json={"action": "reject", "revision": revision, "note": "no"})
        assert rejected.status_code in (200, 202), rejected.text
        assert (await result_of(client, handle.id)).status is JobStatus.REJECTED
    assert (await read_task(http, job_id))["status"] == ReviewStatus.DONE


async def test_a_run_reset_twice_takes_its_review_task_back_each_time(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    """The second reset replays the first one's take-back from history, then takes the task back itself."""
    settings = on_queue(app_settings, queue, sla=1)
    async with build_worker(client, resources, settings):
        handle, job_id = await start_upload(http, client, resources, settings, unique)
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


T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""When Temporal scheduled a run's first step, in the tests that call the activities as runs would."""


def as_run(run_id: str, at: datetime) -> ActivityEnvironment:
    """Activities as run ``run_id`` sends them, its step scheduled ``at`` (Temporal's clock, never Postgres's)."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_run_id=run_id, scheduled_time=at)
    return env


async def review_task_row(pool: asyncpg.Pool, job_id: str) -> tuple[Any, ...]:
    row = await pool.fetchrow("SELECT status, revision, run_id, closed_at FROM review_tasks WHERE job_id = $1", job_id)
    assert row is not None
    return tuple(row)


async def test_a_take_back_that_commits_after_its_runs_escalation_leaves_the_escalation(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """A reset run's take-back carries the task as the run saw it when it scheduled it (PENDING, r1). Delayed (a
    database blip, its completion lost and retried), it commits after the run's escalation (ESCALATED, r2): the
    task stays as the escalation left it, or reviewers would be shown r1, which the workflow refuses as stale."""
    pool = resources.pool
    review, jobs = ReviewActivities(pool), JobActivities(pool)
    account = await create_account(http, provider="pge", account_number=f"PG-{uuid.uuid4().hex[:8]}")
    for taken_back_first in (False, True):
        job_id = await insert_job(pool, account, status="PENDING")
        opening = ReviewTaskOpen(
            job_id=job_id, reasons=["total_mismatch"], bill=None, artifact_uri="gs://b/o", revision="r1"
        )
        await as_run("run-1", T0).run(jobs.mark_job_running, JobRef(job_id=job_id))
        await as_run("run-1", T0 + timedelta(minutes=1)).run(review.open_review_task, opening)
        ended = JobStatusUpdate(job_id=job_id, status=JobStatus.FAILED, error="terminated")
        await as_run("run-1", T0 + timedelta(minutes=2)).run(jobs.mark_job_finished, ended)
        assert (await review_task_row(pool, job_id))[:3] == (ReviewStatus.CANCELED, "r1", "run-1")

        # The operator's reset: run-2 schedules its take-back, then its SLA runs out and it escalates.
        taking_back = as_run("run-2", T0 + timedelta(hours=1))
        take_back = opening.model_copy(update={"taking_back": True})
        if taken_back_first:
            await taking_back.run(review.open_review_task, take_back)
            assert await review_task_row(pool, job_id) == (ReviewStatus.PENDING, "r1", "run-2", None)
        escalation = ReviewTaskUpdate(job_id=job_id, status=ReviewStatus.ESCALATED, revision="r2")
        await as_run("run-2", T0 + timedelta(hours=1, seconds=1)).run(review.escalate_review, escalation)
        escalated = await review_task_row(pool, job_id)
        assert escalated == (ReviewStatus.ESCALATED, "r2", "run-2", None)

        await taking_back.run(review.open_review_task, take_back)  # late, or again after a lost completion

        assert await review_task_row(pool, job_id) == escalated, taken_back_first
        job = await pool.fetchrow("SELECT status, last_run_id FROM ingestion_jobs WHERE id = $1", job_id)
        assert tuple(job) == (JobStatus.NEEDS_REVIEW, "run-2"), taken_back_first


async def test_an_escalated_task_taken_back_keeps_when_it_was_escalated(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """The run a reset replaced escalated the task, then ended (the task closed CANCELED with its end): the reset run
    takes it back ESCALATED, and the queue still says since when, as it did before the end."""
    pool = resources.pool
    review, jobs = ReviewActivities(pool), JobActivities(pool)
    account = await create_account(http, provider="pge", account_number=f"PG-{uuid.uuid4().hex[:8]}")
    job_id = await insert_job(pool, account, status="PENDING")
    opening = ReviewTaskOpen(
        job_id=job_id, reasons=["total_mismatch"], bill=None, artifact_uri="gs://b/o", revision="r1"
    )
    await as_run("run-1", T0).run(jobs.mark_job_running, JobRef(job_id=job_id))
    await as_run("run-1", T0 + timedelta(minutes=1)).run(review.open_review_task, opening)
    escalation = ReviewTaskUpdate(job_id=job_id, status=ReviewStatus.ESCALATED, revision="r2")
    await as_run("run-1", T0 + timedelta(minutes=2)).run(review.escalate_review, escalation)
    escalated_at = await pool.fetchval("SELECT escalated_at FROM review_tasks WHERE job_id = $1", job_id)
    assert escalated_at is not None
    ended = JobStatusUpdate(job_id=job_id, status=JobStatus.FAILED, error="terminated")
    await as_run("run-1", T0 + timedelta(minutes=3)).run(jobs.mark_job_finished, ended)

    take_back = opening.model_copy(update={"revision": "r2", "status": ReviewStatus.ESCALATED, "taking_back": True})
    await as_run("run-2", T0 + timedelta(hours=1)).run(review.open_review_task, take_back)

    assert await review_task_row(pool, job_id) == (ReviewStatus.ESCALATED, "r2", "run-2", None)
    task = await pool.fetchrow("SELECT escalated_at FROM review_tasks WHERE job_id = $1", job_id)
    assert task["escalated_at"] == escalated_at


async def task_owned_by_another_run(pool: asyncpg.Pool, job_id: str) -> bool:
    """Whether the job's review task is there and another run's than the running activity's: a reset run taking
    its task back (open_review_task) or escalating it first (escalate_review)."""
    owner = await pool.fetchval("SELECT run_id FROM review_tasks WHERE job_id = $1", job_id)
    return owner is not None and owner != activity.info().workflow_run_id


async def reset_to_review_opened(client: Client, workflow_id: str) -> str:
    """Reset the latest run to the workflow task that saw its review task open (it starts the SLA's timer): the new
    run takes its task back and waits the whole SLA again, however far the run it replaces had gone."""
    handle = client.get_workflow_handle(workflow_id)
    run_id = (await handle.describe()).run_id
    events = [event async for event in handle.fetch_history_events()]
    opening = next(
        e.event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "open_review_task"
    )
    opened = next(
        e.event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        and e.activity_task_completed_event_attributes.scheduled_event_id == opening
    )
    return await reset_to_workflow_task(client, workflow_id, run_id, lambda tasks: min(t for t in tasks if t > opened))


async def latest_progress(client: Client, workflow_id: str) -> JobProgress:
    progress: JobProgress = await client.get_workflow_handle(workflow_id).query(BillIngestionWorkflow.progress)
    return progress


async def test_a_take_back_delayed_past_the_escalation_leaves_the_escalated_task_to_decide(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    """The reset run's take-back is held until its escalation has committed (ESCALATED, a new revision): the task
    keeps the escalation's revision, which the workflow accepts, not the one the take-back was scheduled with."""
    settings = on_queue(app_settings, queue, sla=2)
    real_open = real_activity(resources, settings, "open_review_task")

    @activity.defn(name="open_review_task")
    async def open_review_task(task: ReviewTaskOpen) -> None:
        if await task_owned_by_another_run(resources.pool, task.job_id):  # the reset run's take-back

            async def escalated_by_this_run() -> bool:
                row = await resources.pool.fetchrow(
                    "SELECT status, run_id FROM review_tasks WHERE job_id = $1", task.job_id
                )
                return row is not None and (row["status"], row["run_id"]) == (
                    ReviewStatus.ESCALATED,
                    activity.info().workflow_run_id,
                )

            await wait_until(escalated_by_this_run, within=12, what="the reset run's escalation committed")
        await real_open(task)

    activities = replacing(resources, settings, {"open_review_task": open_review_task})
    async with build_worker(client, resources, settings, activities=activities):
        handle, job_id = await start_upload(http, client, resources, settings, unique)
        await awaiting_review(handle)
        await terminate(http, client, job_id, handle.id)
        await reset_to_review_opened(client, handle.id)

        async def both_done() -> JobProgress | None:
            progress = await latest_progress(client, handle.id)
            done = {step.name for step in progress.steps if step.finished_at}
            waiting = progress.current_step == "awaiting_review"
            return progress if waiting and {"take_back_review", "escalate_review"} <= done else None

        progress = await wait_until(both_done, within=30, what="the reset run's take-back and escalation done")

        task = await read_task(http, job_id)
        assert (task["status"], task["revision"]) == (ReviewStatus.ESCALATED, progress.review_revision), task
        decided = await http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": task["revision"]})
        assert decided.status_code in (200, 202), decided.text
        assert (await result_of(client, handle.id)).status is JobStatus.SUCCEEDED


async def test_a_take_back_that_fails_for_good_ends_its_step_with_its_error(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    """The run waits on (a decision or the escalation takes the task back): the step reads failed, not running, in
    the progress query and in the steps the job's end saves."""
    settings = on_queue(app_settings, queue, sla=3600)
    real_open = real_activity(resources, settings, "open_review_task")

    @activity.defn(name="open_review_task")
    async def open_review_task(task: ReviewTaskOpen) -> None:
        if await task_owned_by_another_run(resources.pool, task.job_id):
            raise ApplicationError("the review database refused it", type="Refused", non_retryable=True)
        await real_open(task)

    activities = replacing(resources, settings, {"open_review_task": open_review_task})
    async with build_worker(client, resources, settings, activities=activities):
        handle, job_id = await start_upload(http, client, resources, settings, unique)
        revision = await awaiting_review(handle)
        await terminate(http, client, job_id, handle.id)
        await reset_to_last_workflow_task(client, handle.id)

        async def take_back_failed() -> JobProgress | None:
            progress = await latest_progress(client, handle.id)
            failed = [step for step in progress.steps if step.name == "take_back_review" and step.attempt_error]
            return progress if failed else None

        progress = await wait_until(take_back_failed, within=30, what="the take-back's failure recorded")
        (step,) = [step for step in progress.steps if step.name == "take_back_review"]
        assert step.finished_at is not None and "refused" in (step.attempt_error or ""), step
        assert progress.current_step == "awaiting_review", progress
        assert (await read_task(http, job_id))["status"] == ReviewStatus.CANCELED  # nothing took it back

        decision = ReviewDecision(action=ReviewAction.APPROVE, revision=revision, reviewer="r")
        ack = await client.get_workflow_handle(handle.id).execute_update(BillIngestionWorkflow.submit_review, decision)
        assert ack.status is JobStatus.SUCCEEDED, ack
    saved = (await http.get(f"/jobs/{job_id}")).json()["steps"]
    (step_saved,) = [s for s in saved if s["name"] == "take_back_review"]
    assert step_saved["finished_at"] and step_saved["attempt_error"], step_saved
    assert (await read_task(http, job_id))["status"] == ReviewStatus.DONE


async def test_an_escalation_failing_beside_a_take_back_is_the_failure_the_job_records(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    """The take-back starts first and finishes while the escalation still runs; the escalation then fails for good:
    the job's error and the failed step are the escalation's, not the wait's (nor the take-back's)."""
    settings = on_queue(app_settings, queue, sla=2)
    real_open = real_activity(resources, settings, "open_review_task")
    real_escalate = real_activity(resources, settings, "escalate_review")
    escalating = asyncio.Event()

    @activity.defn(name="open_review_task")
    async def open_review_task(task: ReviewTaskOpen) -> None:
        if await task_owned_by_another_run(resources.pool, task.job_id):
            await escalating.wait()  # the take-back finishes once the escalation has started
        await real_open(task)

    @activity.defn(name="escalate_review")
    async def escalate_review(update: ReviewTaskUpdate) -> None:
        if not await task_owned_by_another_run(resources.pool, update.job_id):  # not the reset run's
            return await real_escalate(update)
        escalating.set()

        async def taken_back() -> bool:
            progress = await latest_progress(client, activity.info().workflow_id or "")
            return any(step.name == "take_back_review" and step.finished_at for step in progress.steps)

        await wait_until(taken_back, within=12, what="the take-back finished")
        raise ApplicationError("the pager refused it", type="PagerDown", non_retryable=True)

    activities = replacing(
        resources, settings, {"open_review_task": open_review_task, "escalate_review": escalate_review}
    )
    async with build_worker(client, resources, settings, activities=activities):
        handle, job_id = await start_upload(http, client, resources, settings, unique)
        await awaiting_review(handle)
        await terminate(http, client, job_id, handle.id)
        await reset_to_review_opened(client, handle.id)

        with pytest.raises(WorkflowFailureError):
            await result_of(client, handle.id)
    job = (await http.get(f"/jobs/{job_id}")).json()
    assert job["status"] == JobStatus.FAILED and job["error"].startswith("escalate_review failed: PagerDown"), job
    failed = [(s["name"], s["attempt_error"]) for s in job["steps"] if s["attempt_error"]]
    assert [name for name, _ in failed] == ["escalate_review"] and "pager refused" in failed[0][1], job["steps"]


async def test_a_run_reset_before_its_review_opens_it_itself_and_takes_nothing_back(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str
) -> None:
    """Reset to an early workflow task (mark_job_running's) while it waits for a decision: the new run opens its
    review task again itself (open_review_task), so no take-back follows it."""
    settings = on_queue(app_settings, queue, sla=3600)
    async with build_worker(client, resources, settings):
        handle, job_id = await start_upload(http, client, resources, settings, unique)
        first = await awaiting_review(handle)
        # Past its first workflow task: a reset there starts the run's history anew, with no reseed to notice.
        await reset_to_workflow_task(
            client, handle.id, (await handle.describe()).run_id, lambda tasks: sorted(tasks)[1]
        )

        latest = client.get_workflow_handle(handle.id)
        revision = await awaiting_review(latest)
        assert revision != first
        steps = [step.name for step in (await latest_progress(client, handle.id)).steps]
        assert "take_back_review" not in steps and steps.count("open_review_task") == 1, steps
        task = await read_task(http, job_id)
        assert (task["status"], task["revision"]) == (ReviewStatus.PENDING, revision), task
        decided = await http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": revision})
        assert decided.status_code in (200, 202), decided.text
        assert (await result_of(client, handle.id)).status is JobStatus.SUCCEEDED
    steps = [s["name"] for s in (await http.get(f"/jobs/{job_id}")).json()["steps"]]
    assert "take_back_review" not in steps, steps
