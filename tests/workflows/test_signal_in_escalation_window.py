"""A decision signalled with the revision the task shows while escalate_review writes the new one stands, as the
update path's does (tests/durability/test_escalation_window.py); once the escalation has committed, the revision it
replaced is stale again."""

from __future__ import annotations

import asyncio
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from shared import search_attributes as sa
from shared.models import JobStatus
from shared.review import ReviewAction, ReviewDecision, ReviewStatus
from shared.settings import Settings
from tests.durability.conftest import patches
from tests.review.support import (
    Held,
    activity_names,
    awaiting_review,
    held,
    history,
    job_id_of,
    read_task,
    real_activity,
    replacing,
    result_of,
    start_upload_on_queue,
)
from tests.workflows.predeploy import PreWindowBillIngestionWorkflow
from tests.workflows.scenarios import decided_or_escalated, review_escalated, signal_taken
from worker.main import build_worker
from worker.resources import Resources
from workflows.bill_ingestion import SIGNALLED_WHILE_ESCALATING_PATCH, BillIngestionWorkflow


def escalating_soon(settings: Settings) -> Settings:
    """A queue of the test's own, its review escalated a second after it opens and expiring in an hour."""
    return settings.model_copy(
        update={
            "temporal_task_queue": f"escalation-window-{uuid.uuid4().hex[:8]}",
            "review_sla": timedelta(seconds=1),
            "review_timeout": timedelta(hours=1),
        }
    )


def ignored(caplog: pytest.LogCaptureFixture, job_id: str) -> list[str]:
    """The reasons the workflow logged for the job's dropped signals."""
    return [
        str(r.__dict__.get("reason"))
        for r in caplog.records
        if r.getMessage() == "review signal ignored" and r.__dict__.get("job_id") == job_id
    ]


async def uploaded_to_review(
    http: httpx.AsyncClient, client: Client, resources: Resources, settings: Settings
) -> tuple[WorkflowHandle[Any, Any], str, str]:
    """A job uploaded on ``settings``' queue, awaiting review: its handle, id and the revision its task opened with."""
    handle = await start_upload_on_queue(
        http=http,
        pool=resources.pool,
        store=resources.store,
        client=client,
        settings=settings,
        unique=uuid.uuid4().hex,
    )
    return handle, job_id_of(handle), await awaiting_review(handle)


async def in_the_window(
    http: httpx.AsyncClient, client: Client, resources: Resources, settings: Settings, escalation: Held
) -> tuple[WorkflowHandle[Any, Any], str, str]:
    """``uploaded_to_review``, then held in its escalation window: the SLA fired and escalate_review is held, so the
    workflow has a new revision while the task still shows the one it opened with (returned)."""
    uploaded = await uploaded_to_review(http, client, resources, settings)
    await asyncio.wait_for(escalation.reached.wait(), timeout=60)
    return uploaded


def window_patches(patch_ids: list[str]) -> list[str]:
    """The SIGNALLED_WHILE_ESCALATING_PATCH ids (``-2``, ``-3``... included) among a run's recorded patch ids."""
    return [p for p in patch_ids if p.startswith(SIGNALLED_WHILE_ESCALATING_PATCH)]


async def test_a_signal_read_before_the_escalation_committed_stands(
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before, the signal handler dropped it as stale (logged), and the job waited on, escalated, for a reviewer who
    had already approved. The escalation still commits (the SLA was missed), then the approval closes its task."""
    settings = escalating_soon(app_settings)
    escalation = held(real_activity(resources, settings, "escalate_review"))
    activities = replacing(resources, settings, {"escalate_review": escalation.activity})
    async with build_worker(client, resources, settings, activities=activities):
        handle, job_id, opened = await in_the_window(http, client, resources, settings, escalation)
        shown = await read_task(http, job_id)
        assert (shown["status"], shown["revision"]) == (ReviewStatus.PENDING, opened), shown

        approval = ReviewDecision(action=ReviewAction.APPROVE, revision=opened, reviewer="window script")
        with caplog.at_level(logging.WARNING, logger="temporalio.workflow"):
            await handle.signal(BillIngestionWorkflow.review_decision, approval)
            await signal_taken(handle)
            escalation.release.set()
            assert await decided_or_escalated(handle, opened) == "", "the signal was dropped: the review waits on"
        result = await result_of(client, handle.id)
        described = await handle.describe()

    assert (result.status, result.reviewer) == (JobStatus.SUCCEEDED, "window script"), result
    assert ignored(caplog, job_id) == []
    audits = await resources.pool.fetch(
        "SELECT revision, action, reviewer FROM review_decisions WHERE job_id = $1", job_id
    )
    assert [(a["action"], a["reviewer"]) for a in audits] == [(ReviewAction.APPROVE, "window script")], audits
    # The task reads as it happened: escalated under the new revision (the SLA was missed), then decided under it.
    task = await resources.pool.fetchrow(
        "SELECT status, revision, escalated_at, closed_at FROM review_tasks WHERE job_id = $1", job_id
    )
    assert (task["status"], task["revision"]) == (ReviewStatus.DONE, audits[0]["revision"]), task
    assert task["revision"] != opened
    assert task["escalated_at"] is not None and task["closed_at"] is not None
    assert task["escalated_at"] <= task["closed_at"]
    assert described.typed_search_attributes.get(sa.REVIEW_STATUS) == ReviewStatus.DONE
    names = activity_names(await history(handle))
    assert [names.count(n) for n in ("escalate_review", "check_corrected_bill", "record_review_decision")] == [1, 1, 1]


async def test_the_revision_an_escalation_replaced_is_stale_once_it_committed(
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The page then shows the new revision: a signal with the old one is dropped and logged, the task unchanged."""
    settings = escalating_soon(app_settings)
    async with build_worker(client, resources, settings):
        handle, job_id, opened = await uploaded_to_review(http, client, resources, settings)
        escalated = await review_escalated(handle)
        assert escalated != opened

        late = ReviewDecision(action=ReviewAction.APPROVE, revision=opened, reviewer="late script")
        with caplog.at_level(logging.WARNING, logger="temporalio.workflow"):
            await handle.signal(BillIngestionWorkflow.review_decision, late)
            await signal_taken(handle)
        progress = await handle.query(BillIngestionWorkflow.progress)
        assert (progress.status, progress.review_revision) == (JobStatus.NEEDS_REVIEW, escalated), progress
        assert set(ignored(caplog, job_id)) == {"the review task changed since it was read"}
        task = await read_task(http, job_id)
        assert (task["status"], task["revision"]) == (ReviewStatus.ESCALATED, escalated), task
        assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0

        rejection = ReviewDecision(action=ReviewAction.REJECT, revision=escalated, reviewer="current script")
        await handle.signal(BillIngestionWorkflow.review_decision, rejection)
        result = await result_of(client, handle.id)

    assert (result.status, result.reviewer) == (JobStatus.REJECTED, "current script"), result


async def test_a_signal_in_the_window_dropped_whatever_its_revision_asks_no_patch(
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A second signal with the escalated-from revision, once the first decided, is dropped (no longer awaiting
    review) at any revision. Before, it still asked a patch id of its own (``-2``, a marker for a signal the run
    could never take), shifting the id of every later one."""
    settings = escalating_soon(app_settings)
    escalation = held(real_activity(resources, settings, "escalate_review"))
    activities = replacing(resources, settings, {"escalate_review": escalation.activity})
    async with build_worker(client, resources, settings, activities=activities):
        handle, job_id, opened = await in_the_window(http, client, resources, settings, escalation)
        with caplog.at_level(logging.WARNING, logger="temporalio.workflow"):
            for reviewer in ("first script", "second script"):
                approval = ReviewDecision(action=ReviewAction.APPROVE, revision=opened, reviewer=reviewer)
                await handle.signal(BillIngestionWorkflow.review_decision, approval)
                await signal_taken(handle)
            escalation.release.set()
            result = await result_of(client, handle.id)
        events = await history(handle)

    assert (result.status, result.reviewer) == (JobStatus.SUCCEEDED, "first script"), result
    [reason] = ignored(caplog, job_id)
    assert reason.startswith("job is not awaiting review"), reason
    assert window_patches(patches(events)) == [SIGNALLED_WHILE_ESCALATING_PATCH]


async def test_a_signal_after_a_deploy_inside_the_window_takes_the_next_id(
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A run escalates once, so it has one window; escalate_review may retry in it for an hour (policies.NOTIFY),
    and a deploy can land there. A signal dropped as stale on the code before the patch, then, on the current code,
    one more with the same revision: it asks ``-2`` and stands. Asked under the first one's id, it would meet that
    id's memoized False on replay and be dropped too.

    Activities run on a worker of their own, so escalate_review stays held while the workflow workers change."""
    settings = escalating_soon(app_settings)
    queue = settings.temporal_task_queue
    escalation = held(real_activity(resources, settings, "escalate_review"))
    activity_worker = Worker(
        client,
        task_queue=queue,
        activities=replacing(resources, settings, {"escalate_review": escalation.activity}),
        activity_executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="window-activities"),
    )
    async with activity_worker:
        async with Worker(client, task_queue=queue, workflows=[PreWindowBillIngestionWorkflow]):
            handle, job_id, opened = await in_the_window(http, client, resources, settings, escalation)
            before = ReviewDecision(action=ReviewAction.APPROVE, revision=opened, reviewer="before the deploy")
            with caplog.at_level(logging.WARNING, logger="temporalio.workflow"):
                await handle.signal(BillIngestionWorkflow.review_decision, before)
                await signal_taken(handle)
        # The deploy: no cache, so every task replays the run from its start, the first signal included.
        async with Worker(client, task_queue=queue, workflows=[BillIngestionWorkflow], max_cached_workflows=0):
            after = ReviewDecision(action=ReviewAction.REJECT, revision=opened, reviewer="after the deploy")
            await handle.signal(BillIngestionWorkflow.review_decision, after)
            await signal_taken(handle)
            escalation.release.set()
            result = await result_of(client, handle.id)
            events = await history(handle)

    assert set(ignored(caplog, job_id)) == {"the review task changed since it was read"}
    assert (result.status, result.reviewer) == (JobStatus.REJECTED, "after the deploy"), result
    assert window_patches(patches(events)) == [f"{SIGNALLED_WHILE_ESCALATING_PATCH}-2"]
