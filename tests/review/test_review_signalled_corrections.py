"""A correction or approval sent by signal is checked by an activity, never in the signal handler (which replays).

A failing one is logged and dropped; the review waits on, same task, same revision, same deadline.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle

from shared.models import JobProgress, JobStatus
from shared.review import CorrectionVerdict, ReviewAction, ReviewDecision
from tests.helpers import bill_of_another_account, wait_until
from tests.review.support import (
    CORRECT_TOTAL,
    OwnQueue,
    activity_names,
    awaiting_review,
    decisions_in_history,
    history,
    job_id_of,
    read_task,
    result_of,
    timer_seconds,
    verdicts,
    wait_for_job,
    wait_for_review_status,
)
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow

# The extracted bill still out of balance (75.00 against 60.00 of charges), and now without a due date.
BROKEN = {"due_date": None}
BROKEN_CHECKS = ["missing_field:due_date", "balance_mismatch"]


async def signal_correction(handle: WorkflowHandle[Any, Any], revision: str, bill: dict[str, Any]) -> None:
    decision = ReviewDecision(action=ReviewAction.CORRECT, revision=revision, bill=bill, reviewer="ops-cli")
    await handle.signal(BillIngestionWorkflow.review_decision, decision)


async def dropped(handle: WorkflowHandle[Any, Any], revision: str) -> JobProgress:
    """The progress once the check of a signalled correction has run and the workflow awaits a decision again."""

    async def waiting_again() -> JobProgress | None:
        progress = await handle.query(BillIngestionWorkflow.progress)
        checked = any(s.name == "check_corrected_bill" and s.finished_at is not None for s in progress.steps)
        again = progress.current_step == "awaiting_review" and progress.review_revision == revision
        return progress if checked and again else None

    return await wait_until(waiting_again, within=30, what=f"{handle.id} to drop the correction and wait again")


async def test_failing_signalled_correction_is_dropped_and_a_fixed_one_completes(
    own_queue: OwnQueue,
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = resources.pool
    # No cache: every workflow task replays the run from its history, signal handler included.
    async with own_queue.upload(own_queue.settings(), max_cached_workflows=0) as handle:
        job_id = job_id_of(handle)
        revision = await awaiting_review(handle)
        task = await read_task(http, job_id)

        with caplog.at_level(logging.WARNING, logger="temporalio.workflow"):
            await signal_correction(handle, revision, {**task["bill"], **BROKEN})
            progress = await dropped(handle, revision)
        assert progress.status is JobStatus.NEEDS_REVIEW
        assert (await read_task(http, job_id))["status"] == "PENDING"
        assert (await pool.fetchrow("SELECT status FROM ingestion_jobs WHERE id = $1", job_id))["status"] == (
            "NEEDS_REVIEW"
        )
        assert await pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0
        assert await pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job_id) == 0

        await signal_correction(handle, revision, {**task["bill"], "total_amount": CORRECT_TOTAL})
        result = await result_of(client, handle.id)

    assert result.status is JobStatus.SUCCEEDED and result.reviewer == "ops-cli"
    assert (await wait_for_job(pool, job_id, {"SUCCEEDED"}))["status"] == "SUCCEEDED"
    assert await pool.fetchval("SELECT total_amount FROM bills WHERE job_id = $1", job_id) == Decimal(CORRECT_TOTAL)
    audit = await pool.fetch("SELECT revision, after FROM review_decisions WHERE job_id = $1", job_id)
    assert [(row["revision"], row["after"]["total_amount"]) for row in audit] == [(revision, CORRECT_TOTAL)]

    # This job's warning. Without a cache a query's replay may log it again (the SDK marks the last
    # activation of such a replay as new), so each one is checked rather than counted.
    warnings = [
        r
        for r in caplog.records
        if r.getMessage().startswith("review signal ignored") and r.__dict__.get("job_id") == job_id
    ]
    assert warnings
    for warning in warnings:
        assert warning.__dict__["failing_checks"] == BROKEN_CHECKS
        assert task["bill"]["account_number"] not in repr(vars(warning)), "no bill data in the log"

    events = await history(handle)
    assert [kind for kind, _ in await decisions_in_history(client, events)] == ["signal", "signal"]
    names = activity_names(events)
    assert await verdicts(client, events) == [CorrectionVerdict(failing=BROKEN_CHECKS), CorrectionVerdict(failing=[])]
    assert names.count("record_review_decision") == 1 and names.count("persist_bill") == 1


async def test_a_dropped_correction_does_not_restart_the_review_deadline(
    own_queue: OwnQueue, http: httpx.AsyncClient, client: Client
) -> None:
    async with own_queue.upload(own_queue.settings(sla=3, timeout=60)) as handle:
        job_id = job_id_of(handle)
        revision = await awaiting_review(handle)
        task = await read_task(http, job_id)
        await signal_correction(handle, revision, {**task["bill"], **BROKEN})
        await dropped(handle, revision)

        await wait_for_review_status(client, handle.id, "ESCALATED")
        escalated = await awaiting_review(handle)
        assert escalated != revision
        await signal_correction(handle, escalated, {**task["bill"], "total_amount": CORRECT_TOTAL})
        assert (await result_of(client, handle.id)).status is JobStatus.SUCCEEDED

    sla, rest_of_sla, after_escalation = timer_seconds(await history(handle))
    assert sla == 3
    assert 0 < rest_of_sla < 3, "the wait went on to the SLA's deadline, not a fresh 3 s"
    assert after_escalation == 57, "the timeout counts from the start of the review, as before"


async def test_a_signalled_approval_of_another_accounts_extraction_is_dropped(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Approved as read, another account's bill would be stored under this one: refused as the API refuses it."""
    job = await bill_of_another_account(http, unique)
    job_id = job["id"]
    task = await read_task(http, job_id)
    handle = client.get_workflow_handle(job["workflow_id"])

    approval = ReviewDecision(action=ReviewAction.APPROVE, revision=task["revision"], reviewer="ops-cli")
    with caplog.at_level(logging.WARNING, logger="temporalio.workflow"):
        await handle.signal(BillIngestionWorkflow.review_decision, approval)
        progress = await dropped(handle, task["revision"])
    assert progress.status is JobStatus.NEEDS_REVIEW
    assert (await read_task(http, job_id))["status"] == "PENDING"
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job_id) == 0
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0
    assert any(
        r.getMessage().startswith("review signal ignored") and r.__dict__.get("failing_checks") == ["account_mismatch"]
        for r in caplog.records
        if r.__dict__.get("job_id") == job_id
    )

    rejection = ReviewDecision(
        action=ReviewAction.REJECT, revision=task["revision"], reviewer="ops-cli", note="not ours"
    )
    await handle.signal(BillIngestionWorkflow.review_decision, rejection)
    assert (await result_of(client, handle.id)).status is JobStatus.REJECTED
    assert await verdicts(client, await history(handle)) == [CorrectionVerdict(failing=["account_mismatch"])]
