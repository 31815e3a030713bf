"""Every write activity run twice with the same input writes once: GCS, Postgres and BigQuery."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, storage
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment

from activities.analytics import AnalyticsActivities
from activities.bills import ACCOUNT_LOCK_KEY, BillActivities, _write_bill, bill_id_for
from activities.fetching import FetchActivities
from activities.jobs import JobActivities
from activities.review import ReviewActivities
from activities.storage import StorageActivities
from api.services.reconcile import JobReconciler
from shared.analytics import AnalyticsSink, BigQuerySink
from shared.bill import NormalizedBill
from shared.models import (
    ArtifactRef,
    DuplicateQuery,
    FetchRequest,
    IngestionResult,
    JobRef,
    JobStatus,
    JobStatusUpdate,
    PersistOutcome,
    PersistRequest,
    PublishRequest,
    StoreRequest,
)
from shared.review import ReviewAction, ReviewAudit, ReviewDecision, ReviewStatus, ReviewTaskOpen, ReviewTaskUpdate
from shared.settings import Settings
from tests.api.idle_jobs import idle_queue, start_jobs
from tests.helpers import create_account, insert_job, someone_waits_for_a_lock_held_by
from worker.resources import Resources

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""When Temporal scheduled a run's first step, in the tests that tell runs apart."""


@contextlib.asynccontextmanager
async def analytics_publishing_to(sink: AnalyticsSink | None) -> AsyncIterator[AnalyticsActivities]:
    """``AnalyticsActivities`` whose batcher's flusher task is stopped on the way out, as nothing else stops
    it: left pending on the session's loop, it was destroyed later ("Task was destroyed but it is pending!",
    an ERROR in whichever test's log was being captured then)."""
    analytics = AnalyticsActivities(sink)
    try:
        yield analytics
    finally:
        if analytics._batcher is not None:  # no public close: the worker never closes it either
            await analytics._batcher.close()


async def test_store_persist_publish_twice_write_once(
    http: httpx.AsyncClient, resources: Resources, app_settings: Settings
) -> None:
    account = await create_account(http, provider="sfpuc", account_number=f"SF-{uuid.uuid4().hex[:8]}")
    job_id = await insert_job(resources.pool, account, job_type="connector", status="RUNNING")
    env = ActivityEnvironment()
    fetch = FetchActivities(resources.pool, resources.connectors)
    storage_acts = StorageActivities(resources.pool, resources.store, resources.connectors)
    bills = BillActivities(resources.pool)

    fetched = await env.run(
        fetch.fetch_bill, FetchRequest(job_id=job_id, utility_account_id=account["id"], provider="sfpuc")
    )
    store = StoreRequest(job_id=job_id, fetched=fetched)
    refs = [await env.run(storage_acts.store_raw_bill, store) for _ in range(2)]
    assert refs[0] == refs[1]

    from activities.connectors.mock import MockConnector
    from extraction.document import read_document
    from extraction.engine import extract

    document = read_document(MockConnector().read(fetched.source_uri).data)
    bill = extract(document, provider_hint=None, settings=app_settings).bill
    assert bill is not None
    persist = PersistRequest(
        job_id=job_id, customer_id=account["customer_id"], utility_account_id=account["id"], artifact=refs[0], bill=bill
    )
    outcomes = [await env.run(bills.persist_bill, persist) for _ in range(2)]
    assert outcomes[0] == outcomes[1] and outcomes[0].duplicate_of_job is None
    publish = PublishRequest(
        job_id=job_id,
        bill_id=outcomes[0].bill_id,
        customer_id=account["customer_id"],
        utility_account_id=account["id"],
        bill=bill,
    )
    async with analytics_publishing_to(resources.sink) as analytics:
        for _ in range(2):
            await env.run(analytics.publish_analytics, publish)

    gcs = storage.Client(
        project=app_settings.gcp_project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=app_settings.storage_emulator_host),
    )
    objects = list(gcs.list_blobs(app_settings.gcs_bucket, prefix=f"raw/bills/{job_id}/"))
    assert [o.name for o in objects] == [f"raw/bills/{job_id}/{fetched.sha256}.pdf"]
    pool = resources.pool
    assert await pool.fetchval("SELECT count(*) FROM artifacts WHERE job_id = $1", job_id) == 1
    assert await pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job_id) == 1
    assert await pool.fetchval(
        "SELECT count(*) FROM bill_line_items WHERE bill_id = $1", uuid.UUID(outcomes[0].bill_id)
    ) == len(bill.line_items)

    bq = bigquery.Client(
        project=app_settings.gcp_project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=app_settings.bigquery_emulator_host),
    )
    table = f"`{app_settings.gcp_project}.{app_settings.bq_dataset}"
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("bill_id", "STRING", outcomes[0].bill_id)]
    )

    def count(relation: str) -> int:
        sql = f"SELECT count(*) AS n FROM {table}.{relation}` WHERE bill_id = @bill_id"
        return int(next(iter(bq.query(sql, job_config=config).result()))["n"])

    assert count("normalized_bills") == 2  # the emulator keeps both streamed rows (no insertId dedupe)...
    assert count("normalized_bills_latest") == 1  # ...and readers see exactly one through the view


async def persist_as_a_new_job(
    resources: Resources, account: dict[str, Any], bill: NormalizedBill, sha: str
) -> PersistOutcome:
    """``persist_bill`` for a new RUNNING job of ``account`` whose stored file has hash ``sha``."""
    request = await persist_request(resources, account, bill, sha)
    return await ActivityEnvironment().run(BillActivities(resources.pool).persist_bill, request)


def february_statement(number: str, statement: date, total: str) -> NormalizedBill:
    return NormalizedBill(
        account_number=number,
        statement_date=statement,
        bill_period_start=date(2026, 2, 1),
        bill_period_end=date(2026, 2, 28),
        total_amount=Decimal(total),
    )


async def persist_request(
    resources: Resources, account: dict[str, Any], bill: NormalizedBill, sha: str
) -> PersistRequest:
    """A persist of ``bill`` for a new RUNNING job of ``account`` whose stored file has hash ``sha``."""
    job_id = await insert_job(resources.pool, account, status="RUNNING")
    return PersistRequest(
        job_id=job_id,
        customer_id=account["customer_id"],
        utility_account_id=account["id"],
        artifact=ArtifactRef(uri=f"gs://b/{sha}", sha256=sha, size=1, content_type="text/plain"),
        bill=bill,
    )


async def test_a_persist_retried_after_a_reissue_replaced_its_bill_is_still_stored(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """The first try committed, its answer was lost, and a re-issue replaced the bill before the retry:
    the job stored a bill (not a DUPLICATE of the job that revised it), dated before the re-issue."""
    number = f"PG-{uuid.uuid4().hex[:8]}"
    account = await create_account(http, provider="pge", account_number=number)
    persist = BillActivities(resources.pool).persist_bill
    original = await persist_request(
        resources, account, february_statement(number, date(2026, 3, 5), "60.00"), "1" * 64
    )
    first_try = await ActivityEnvironment().run(persist, original)
    reissue = await persist_request(
        resources, account, february_statement(number, date(2026, 3, 12), "50.00"), "2" * 64
    )
    revised = await ActivityEnvironment().run(persist, reissue)

    retry = await ActivityEnvironment().run(persist, original)
    assert retry.duplicate_of_job is None and retry.bill_id == first_try.bill_id
    assert retry.stored_at == first_try.stored_at
    assert revised.stored_at is not None and retry.stored_at is not None and retry.stored_at < revised.stored_at

    # The re-issue's own answer lost too, and a second re-issue replacing it before its retry:
    # still stored, and still the revision of the original.
    again = await persist_request(resources, account, february_statement(number, date(2026, 3, 20), "40.00"), "5" * 64)
    await ActivityEnvironment().run(persist, again)
    revised_retry = await ActivityEnvironment().run(persist, reissue)
    assert (revised_retry.duplicate_of_job, revised_retry.revised_job) == (None, original.job_id)
    assert revised_retry.stored_at == revised.stored_at


async def test_a_reissue_that_waited_for_the_accounts_lock_is_dated_after_the_bill_it_replaces(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """``now()`` is the transaction's start: a re-issue that began first but got the account's lock after
    the original was stored was dated before it, and the warehouse kept the original for good."""
    number = f"PG-{uuid.uuid4().hex[:8]}"
    account = await create_account(http, provider="pge", account_number=number)
    original = await persist_request(
        resources, account, february_statement(number, date(2026, 3, 5), "60.00"), "3" * 64
    )
    reissue = await persist_request(
        resources, account, february_statement(number, date(2026, 3, 12), "50.00"), "4" * 64
    )
    async with resources.pool.acquire() as holder:
        await holder.execute(f"SELECT pg_advisory_lock({ACCOUNT_LOCK_KEY})", account["id"])  # the original's persist
        persisting = asyncio.create_task(
            ActivityEnvironment().run(BillActivities(resources.pool).persist_bill, reissue)
        )
        await someone_waits_for_a_lock_held_by(resources.pool, holder)  # the re-issue's transaction has begun
        async with holder.transaction():
            original_at = await _write_bill(holder, original, bill_id=bill_id_for(original.job_id), revises=None)
        await holder.execute(f"SELECT pg_advisory_unlock({ACCOUNT_LOCK_KEY})", account["id"])
        revised = await asyncio.wait_for(persisting, 30)
    assert revised.revised_job == original.job_id
    assert revised.stored_at is not None and revised.stored_at > original_at


async def test_a_reset_run_that_read_its_bill_otherwise_is_answered_with_the_version_postgres_stored(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """An operator reset a job that had stored its bill; the new run's reviewer approved other figures
    (or Gemini read them otherwise). ``persist_bill`` keeps the stored row and writes nothing, so the
    run must end with, and publish, that row: the warehouse showed 75.00 where Postgres keeps 60.00."""
    number = f"PG-{uuid.uuid4().hex[:8]}"
    account = await create_account(http, provider="pge", account_number=number)
    stored_bill = february_statement(number, date(2026, 3, 5), "60.00")
    request = await persist_request(resources, account, stored_bill, uuid.uuid4().hex * 2)
    persist = BillActivities(resources.pool).persist_bill
    first_run = await ActivityEnvironment().run(persist, request)
    assert first_run.stored_bill is None

    retried = await ActivityEnvironment().run(persist, request)  # a lost answer: the same reading again
    assert (retried.bill_id, retried.stored_at, retried.stored_bill) == (first_run.bill_id, first_run.stored_at, None)

    reset_bill = february_statement(number, date(2026, 3, 5), "75.00")
    reset_run = await ActivityEnvironment().run(persist, request.model_copy(update={"bill": reset_bill}))
    assert (reset_run.bill_id, reset_run.stored_at) == (first_run.bill_id, first_run.stored_at)
    assert reset_run.stored_bill == stored_bill
    stored_total = await resources.pool.fetchval("SELECT total_amount FROM bills WHERE job_id = $1", request.job_id)
    assert stored_total == Decimal("60.00")


async def open_task_of_a_running_job(
    http: httpx.AsyncClient, pool: asyncpg.Pool, env: ActivityEnvironment, review: ReviewActivities
) -> ReviewTaskOpen:
    """A RUNNING job of a new account, its review task opened (revision r1); returns the opening."""
    account = await create_account(http, provider="pge", account_number=f"PG-{uuid.uuid4().hex[:8]}")
    job_id = await insert_job(pool, account, status="RUNNING")
    opening = ReviewTaskOpen(
        job_id=job_id, reasons=["total_mismatch"], bill=None, artifact_uri="gs://b/o", revision="r1"
    )
    await env.run(review.open_review_task, opening)
    return opening


async def test_a_late_open_review_task_leaves_a_cancelled_job_and_its_closed_task_alone(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    pool = resources.pool
    env = ActivityEnvironment()
    review = ReviewActivities(pool)
    opening = await open_task_of_a_running_job(http, pool, env, review)
    job_id = opening.job_id
    # The job is cancelled: its task closed and its end recorded, as the workflow's cleanup does.
    await env.run(
        review.close_review_task, ReviewTaskUpdate(job_id=job_id, status=ReviewStatus.CANCELED, revision="r2")
    )
    await pool.execute("UPDATE ingestion_jobs SET status = 'CANCELED' WHERE id = $1", job_id)

    await env.run(review.open_review_task, opening)  # the first attempt, still running, commits late

    task = await pool.fetchrow("SELECT status, revision, closed_at FROM review_tasks WHERE job_id = $1", job_id)
    assert (task["status"], task["revision"]) == (ReviewStatus.CANCELED, "r2") and task["closed_at"] is not None
    assert await pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", job_id) == "CANCELED"


async def test_a_late_open_review_task_leaves_a_decided_job_running(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """An attempt that timed out but commits after the decision was recorded must not put the job, now
    persisting and publishing, back to NEEDS_REVIEW (for hours, if the warehouse is down)."""
    pool = resources.pool
    env = ActivityEnvironment()
    review = ReviewActivities(pool)
    opening = await open_task_of_a_running_job(http, pool, env, review)
    decision = ReviewDecision(action=ReviewAction.APPROVE, revision="r1", reviewer="quick")
    await env.run(
        review.record_review_decision, ReviewAudit(job_id=opening.job_id, decision=decision, before=None, revision="r1")
    )
    assert await pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", opening.job_id) == "RUNNING"

    await env.run(review.open_review_task, opening)  # the first attempt commits late

    assert await pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", opening.job_id) == "RUNNING"
    assert await pool.fetchval("SELECT status FROM review_tasks WHERE job_id = $1", opening.job_id) == "DONE"


async def test_a_late_open_review_task_puts_no_task_in_the_queue_of_a_job_that_ended_before_it(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """Cancelled before the task's first write committed: its close found nothing, and nothing appears later."""
    pool = resources.pool
    account = await create_account(http, provider="pge", account_number=f"PG-{uuid.uuid4().hex[:8]}")
    job_id = await insert_job(pool, account, status="CANCELED")
    opening = ReviewTaskOpen(
        job_id=job_id, reasons=["total_mismatch"], bill=None, artifact_uri="gs://b/o", revision="r1"
    )

    await ActivityEnvironment().run(ReviewActivities(pool).open_review_task, opening)

    assert await pool.fetchval("SELECT count(*) FROM review_tasks WHERE job_id = $1", job_id) == 0
    assert await pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", job_id) == "CANCELED"


async def test_a_late_decision_record_leaves_a_cancelled_task_cancelled(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """The decision is audited as made; the task keeps the CANCELED its job's end gave it."""
    pool = resources.pool
    env = ActivityEnvironment()
    review = ReviewActivities(pool)
    opening = await open_task_of_a_running_job(http, pool, env, review)
    cancelled = ReviewTaskUpdate(job_id=opening.job_id, status=ReviewStatus.CANCELED, revision="r1")
    await env.run(review.close_review_task, cancelled)

    decision = ReviewDecision(action=ReviewAction.REJECT, revision="r1", reviewer="late")
    await env.run(
        review.record_review_decision, ReviewAudit(job_id=opening.job_id, decision=decision, before=None, revision="r1")
    )

    assert await pool.fetchval("SELECT status FROM review_tasks WHERE job_id = $1", opening.job_id) == "CANCELED"
    assert await pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", opening.job_id) == 1


async def test_a_corrected_task_keeps_the_bill_as_corrected(http: httpx.AsyncClient, resources: Resources) -> None:
    """The task's page, read-only once decided, shows what was stored: the reviewer's values."""
    pool = resources.pool
    env = ActivityEnvironment()
    review = ReviewActivities(pool)
    opening = await open_task_of_a_running_job(http, pool, env, review)
    corrected = NormalizedBill(account_number="PG-1", total_amount=Decimal("60.00"))
    decision = ReviewDecision(action=ReviewAction.CORRECT, revision="r1", bill=corrected, reviewer="r")
    audit = ReviewAudit(job_id=opening.job_id, decision=decision, before=None, revision="r1")
    for _ in range(2):  # a retry after a lost response changes nothing
        await env.run(review.record_review_decision, audit)

    task = await pool.fetchrow("SELECT status, bill FROM review_tasks WHERE job_id = $1", opening.job_id)
    assert task["status"] == ReviewStatus.DONE
    assert NormalizedBill.model_validate(task["bill"]) == corrected


async def test_a_decided_job_reads_running_until_it_ends(http: httpx.AsyncClient, resources: Resources) -> None:
    """Persist and publish still run after the decision: the job is no longer waiting for a person."""
    pool = resources.pool
    env = ActivityEnvironment()
    review = ReviewActivities(pool)
    opening = await open_task_of_a_running_job(http, pool, env, review)
    assert await pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", opening.job_id) == "NEEDS_REVIEW"

    decision = ReviewDecision(action=ReviewAction.APPROVE, revision="r1", reviewer="r")
    await env.run(
        review.record_review_decision, ReviewAudit(job_id=opening.job_id, decision=decision, before=None, revision="r1")
    )

    assert await pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", opening.job_id) == "RUNNING"


@pytest.mark.parametrize("action", [ReviewAction.APPROVE, ReviewAction.REJECT])
async def test_a_bill_that_came_with_approve_or_reject_is_not_audited_as_stored(
    action: ReviewAction, http: httpx.AsyncClient, resources: Resources
) -> None:
    """A signal may carry one (the REST API refuses it): what was stored is the extracted bill, or none."""
    pool = resources.pool
    env = ActivityEnvironment()
    review = ReviewActivities(pool)
    opening = await open_task_of_a_running_job(http, pool, env, review)
    extracted = NormalizedBill(account_number="PG-1", total_amount=Decimal("75.00"))
    edited = NormalizedBill(account_number="PG-1", total_amount=Decimal("60.00"))
    decision = ReviewDecision(action=action, revision="r1", bill=edited, reviewer="r")
    await env.run(
        review.record_review_decision,
        ReviewAudit(job_id=opening.job_id, decision=decision, before=extracted, revision="r1"),
    )

    audit = await pool.fetchrow("SELECT after, diff FROM review_decisions WHERE job_id = $1", opening.job_id)
    if action is ReviewAction.APPROVE:
        assert (NormalizedBill.model_validate(audit["after"]), audit["diff"]) == (extracted, {})
    else:
        assert audit["after"] is None
    assert await pool.fetchval("SELECT bill FROM review_tasks WHERE job_id = $1", opening.job_id) is None


async def test_a_task_left_open_for_a_job_that_ended_is_not_in_the_reviewers_queue(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """What a late task write racing the job's end could leave (the end's statement cannot see a row
    committed after it began): the queue lists only tasks whose job still waits."""
    pool = resources.pool
    env = ActivityEnvironment()
    opening = await open_task_of_a_running_job(http, pool, env, ReviewActivities(pool))
    customer_id = await pool.fetchval("SELECT customer_id FROM ingestion_jobs WHERE id = $1", opening.job_id)
    assert [i["job_id"] for i in (await http.get("/reviews", params={"customer_id": customer_id})).json()["items"]] == [
        opening.job_id
    ]

    await pool.execute("UPDATE ingestion_jobs SET status = 'CANCELED' WHERE id = $1", opening.job_id)

    queue = (await http.get("/reviews", params={"customer_id": customer_id})).json()
    assert (queue["items"], queue["total"]) == ([], 0)


async def test_a_job_ending_closes_its_open_review_task_and_a_late_escalation_leaves_it_closed(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """A step out of retries while the job waited for review: the task leaves the reviewers' queue."""
    pool = resources.pool
    env = ActivityEnvironment()
    review = ReviewActivities(pool)
    opening = await open_task_of_a_running_job(http, pool, env, review)
    job_id = opening.job_id

    failed = JobStatusUpdate(job_id=job_id, status=JobStatus.FAILED, error="record_review_decision: out of retries")
    for _ in range(2):  # a retry after a lost response changes nothing
        await env.run(JobActivities(pool).mark_job_finished, failed)
    late = ReviewTaskUpdate(job_id=job_id, status=ReviewStatus.ESCALATED, revision="r1")
    await env.run(review.escalate_review, late)  # an attempt from before the failure, committing late

    task = await pool.fetchrow("SELECT status, closed_at FROM review_tasks WHERE job_id = $1", job_id)
    assert task["status"] == ReviewStatus.CANCELED and task["closed_at"] is not None
    assert await pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", job_id) == "FAILED"


@pytest.mark.parametrize(("status", "logged"), [(JobStatus.REJECTED, None), (JobStatus.FAILED, "extract: timed out")])
async def test_a_jobs_end_is_logged_with_its_error_never_a_rejections_note(
    http: httpx.AsyncClient,
    resources: Resources,
    caplog: pytest.LogCaptureFixture,
    status: JobStatus,
    logged: str | None,
) -> None:
    """A rejection's error is the reviewer's note, written for the customer: "job finished" logged it (76D)."""
    opening = await open_task_of_a_running_job(
        http, resources.pool, ActivityEnvironment(), ReviewActivities(resources.pool)
    )
    error = "Rejected: Jane Doe's bill, at 12 Elm St" if status is JobStatus.REJECTED else "extract: timed out"
    with caplog.at_level(logging.INFO, logger="activities.jobs"):
        await ActivityEnvironment().run(
            JobActivities(resources.pool).mark_job_finished,
            JobStatusUpdate(job_id=opening.job_id, status=status, error=error),
        )
    [finished] = [r for r in caplog.records if r.getMessage() == "job finished"]
    assert (getattr(finished, "status", None), getattr(finished, "error", None)) == (str(status), logged)


async def test_a_job_counts_the_runs_that_started_it_not_the_tries(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """mark_job_running again after a lost response is the same run's start; a reset's run is another."""
    pool = resources.pool
    account = await create_account(http, provider="pge", account_number=f"PG-{uuid.uuid4().hex[:8]}")
    job_id = await insert_job(pool, account, status="PENDING")
    jobs = JobActivities(pool)
    env = ActivityEnvironment()

    async def start(run_id: str, attempt: int) -> int:
        scheduled = T0 + timedelta(hours=int(run_id.removeprefix("run-")))  # a reset's run begins later
        env.info = dataclasses.replace(env.info, workflow_run_id=run_id, attempt=attempt, scheduled_time=scheduled)
        await env.run(jobs.mark_job_running, JobRef(job_id=job_id))
        return int(await pool.fetchval("SELECT attempts FROM ingestion_jobs WHERE id = $1", job_id))

    assert [await start("run-1", 1), await start("run-1", 2)] == [1, 1]
    assert await start("run-2", 1) == 2  # an operator reset the workflow: a second run started the job
    assert await pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", job_id) == "RUNNING"


async def test_bills_without_a_period_are_told_apart_by_their_file_alone(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """Two statements approved as they were, neither with a period: two bills, not a DUPLICATE."""
    number = f"PG-{uuid.uuid4().hex[:8]}"
    account = await create_account(http, provider="pge", account_number=number)
    outcomes = [
        await persist_as_a_new_job(
            resources, account, NormalizedBill(account_number=number, total_amount=Decimal(t)), sha
        )
        for t, sha in (("10.00", "a" * 64), ("20.00", "b" * 64), ("20.00", "b" * 64))
    ]

    assert [o.duplicate_of_job is None for o in outcomes] == [True, True, False], "the same file again still is one"


async def test_one_statement_with_its_account_number_written_two_ways_is_stored_once(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """A PDF read as "PG-1234-5678" and its scan read as "pg 1234 5678": the second is a DUPLICATE."""
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    account = await create_account(http, provider="pge", account_number=f"PG-{digits[:4]}-{digits[4:]}")
    outcomes = []
    for printed, sha in ((f"PG-{digits[:4]}-{digits[4:]}", "c" * 64), (f"pg {digits[:4]} {digits[4:]}", "d" * 64)):
        bill = NormalizedBill(
            account_number=printed,
            bill_period_start=date(2026, 1, 1),
            bill_period_end=date(2026, 1, 31),
            total_amount=Decimal("42.00"),
        )
        outcomes.append(await persist_as_a_new_job(resources, account, bill, sha))

    assert outcomes[1].duplicate_of_job is not None and outcomes[1].bill_id == outcomes[0].bill_id
    stored = await resources.pool.fetchval("SELECT count(*) FROM bills WHERE utility_account_id = $1", account["id"])
    assert stored == 1


async def test_a_reissued_statement_persisted_twice_replaces_the_bill_once(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """A retried persist of the re-issue answers as the first did, and keeps one revision, not two."""
    number = f"PG-{uuid.uuid4().hex[:8]}"
    account = await create_account(http, provider="pge", account_number=number)

    def february(statement: date, total: str) -> NormalizedBill:
        return february_statement(number, statement, total)

    first = await persist_as_a_new_job(resources, account, february(date(2026, 3, 5), "60.00"), "e" * 64)
    job_id = await insert_job(resources.pool, account, status="RUNNING")
    reissue = PersistRequest(
        job_id=job_id,
        customer_id=account["customer_id"],
        utility_account_id=account["id"],
        artifact=ArtifactRef(uri="gs://b/f", sha256="f" * 64, size=1, content_type="text/plain"),
        bill=february(date(2026, 3, 12), "50.00"),
    )
    persist = BillActivities(resources.pool).persist_bill
    outcomes = [await ActivityEnvironment().run(persist, reissue) for _ in range(2)]

    first_job = await resources.pool.fetchval("SELECT job_id FROM bill_revisions WHERE bill_id = $1", first.bill_id)
    assert outcomes[0] == outcomes[1], "a retry answers as the first try did"
    assert (outcomes[0].bill_id, outcomes[0].revised_job) == (first.bill_id, str(first_job))
    assert first.stored_at is not None and outcomes[0].stored_at is not None
    assert outcomes[0].stored_at > first.stored_at
    assert await resources.pool.fetchval("SELECT count(*) FROM bill_revisions WHERE bill_id = $1", first.bill_id) == 1
    row = await resources.pool.fetchrow("SELECT job_id, total_amount FROM bills WHERE id = $1", first.bill_id)
    assert (str(row["job_id"]), row["total_amount"]) == (job_id, Decimal("50.00"))
    older = await persist_as_a_new_job(resources, account, february(date(2026, 3, 1), "70.00"), "0" * 64)
    assert older.duplicate_of_job == job_id, "a statement dated before the stored one replaces nothing"

    # The original's publish, retried through a warehouse outage, lands after the re-issue's:
    # the warehouse still shows the re-issue, the version Postgres stored last.
    async with analytics_publishing_to(resources.sink) as analytics:
        for bill, outcome, job in (
            (reissue.bill, outcomes[0], job_id),
            (february(date(2026, 3, 5), "60.00"), first, str(first_job)),
        ):
            publish = PublishRequest(
                job_id=job,
                bill_id=outcome.bill_id,
                customer_id=account["customer_id"],
                utility_account_id=account["id"],
                bill=bill,
                stored_at=outcome.stored_at,
            )
            await ActivityEnvironment().run(analytics.publish_analytics, publish)
    sink = resources.sink
    assert isinstance(sink, BigQuerySink)
    view = sink._ref("normalized_bills_latest")
    latest = sink._run(f"SELECT total_amount FROM {view} WHERE bill_id = '{first.bill_id}'")
    assert [row["total_amount"] for row in latest] == [Decimal("50.00")]


@pytest.mark.parametrize("unread_first", [False, True])
async def test_a_statement_whose_account_number_was_not_read_is_the_bill_whose_number_was(
    unread_first: bool, http: httpx.AsyncClient, resources: Resources
) -> None:
    """The PDF read with its account number, a photo of it approved without one: one bill for the
    period (the second a DUPLICATE), not two that the month's figures count twice. A later-dated
    statement without the number still replaces it."""
    number = f"PG-{uuid.uuid4().hex[:8]}"
    account = await create_account(http, provider="pge", account_number=number)
    read = february_statement(number, date(2026, 3, 5), "60.00")
    unread = read.model_copy(update={"account_number": None})
    first_bill, second_bill = (unread, read) if unread_first else (read, unread)

    first = await persist_as_a_new_job(resources, account, first_bill, "6" * 64)
    second = await persist_as_a_new_job(resources, account, second_bill, "7" * 64)

    assert second.duplicate_of_job is not None and second.bill_id == first.bill_id
    reissue = read.model_copy(update={"account_number": None, "statement_date": date(2026, 3, 12)})
    revised = await persist_as_a_new_job(resources, account, reissue, "8" * 64)
    assert revised.bill_id == first.bill_id and revised.revised_job is not None
    stored = await resources.pool.fetch("SELECT total_amount FROM bills WHERE utility_account_id = $1", account["id"])
    assert len(stored) == 1


class Runs:
    """Activities of one job as several workflow runs send them: ``run(id, at)`` sets the run and when
    Temporal scheduled the step (its clock, never Postgres's)."""

    def __init__(self, pool: asyncpg.Pool, job_id: str) -> None:
        self.pool, self.job_id, self.env = pool, job_id, ActivityEnvironment()

    def run(self, run_id: str, at: datetime) -> Runs:
        self.env.info = dataclasses.replace(self.env.info, workflow_run_id=run_id, scheduled_time=at)
        return self

    async def start(self) -> None:
        await self.env.run(JobActivities(self.pool).mark_job_running, JobRef(job_id=self.job_id))

    async def end(self, status: JobStatus, error: str | None = None, reasons: list[str] | None = None) -> None:
        """The run's end, its result as the workflow sends it (with ``reasons``, the validator's, when given)."""
        result = IngestionResult(job_id=self.job_id, status=status, error=error, reasons=reasons or [])
        update = JobStatusUpdate(job_id=self.job_id, status=status, error=error, result=result if reasons else None)
        await self.env.run(JobActivities(self.pool).mark_job_finished, update)

    async def open_review(self, revision: str) -> None:
        opening = ReviewTaskOpen(
            job_id=self.job_id, reasons=["total_mismatch"], bill=None, artifact_uri="gs://b/o", revision=revision
        )
        await self.env.run(ReviewActivities(self.pool).open_review_task, opening)

    async def decide(self, revision: str) -> None:
        decision = ReviewDecision(action=ReviewAction.APPROVE, revision=revision, reviewer="r")
        audit = ReviewAudit(job_id=self.job_id, decision=decision, before=None, revision=revision)
        await self.env.run(ReviewActivities(self.pool).record_review_decision, audit)

    async def status(self, status: ReviewStatus, revision: str) -> None:
        """The task escalated (``escalate_review``), else closed as ``status`` (``close_review_task``)."""
        update = ReviewTaskUpdate(job_id=self.job_id, status=status, revision=revision)
        review = ReviewActivities(self.pool)
        step = review.escalate_review if status is ReviewStatus.ESCALATED else review.close_review_task
        await self.env.run(step, update)

    async def job(self) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            "SELECT status, error, attempts, last_run_id, finished_at, result, reasons FROM ingestion_jobs"
            " WHERE id = $1",
            self.job_id,
        )
        assert row is not None
        return row

    async def task(self) -> asyncpg.Record:
        row = await self.pool.fetchrow("SELECT * FROM review_tasks WHERE job_id = $1", self.job_id)
        assert row is not None
        return row


async def job_whose_first_run_opened_its_review(http: httpx.AsyncClient, pool: asyncpg.Pool) -> Runs:
    """A new job whose first run (``run-1``) started at ``T0`` and opened its review (``r1``) a minute later."""
    account = await create_account(http, provider="pge", account_number=f"PG-{uuid.uuid4().hex[:8]}")
    job = Runs(pool, await insert_job(pool, account, status="PENDING"))
    await job.run("run-1", T0).start()
    await job.run("run-1", T0 + timedelta(minutes=1)).open_review("r1")
    return job


async def test_a_reset_run_opens_its_ended_job_again_and_records_its_own_end(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """An operator resets a job that failed (a warehouse outage outlasted its retries, say): while the new
    run works the job reads RUNNING, not the old FAILED and error, and its end is its own. Late tries of
    the old run, before or after the reset, change nothing."""
    account = await create_account(http, provider="pge", account_number=f"PG-{uuid.uuid4().hex[:8]}")
    job = Runs(resources.pool, await insert_job(resources.pool, account, status="PENDING"))

    await job.run("run-1", T0).start()
    await job.run("run-1", T0 + timedelta(minutes=5)).end(
        JobStatus.FAILED, "publish_analytics failed: out of retries", reasons=["balance_mismatch"]
    )
    failed = await job.job()
    assert failed["result"] is not None and failed["reasons"] == ["balance_mismatch"]
    await job.run("run-1", T0).start()  # the failed run's own first step, a try committing late
    assert (await job.job())["status"] == "FAILED"

    await job.run("run-2", T0 + timedelta(hours=1)).start()  # reset to the first workflow task
    reset = await job.job()
    assert (reset["status"], reset["error"], reset["finished_at"], reset["attempts"]) == ("RUNNING", None, None, 2)
    assert (reset["result"], reset["reasons"]) == (None, []), "the old run's FAILED result read beside RUNNING"
    await job.run("run-1", T0).start()
    await job.run("run-1", T0 + timedelta(minutes=5)).end(JobStatus.FAILED, "a late try of the replaced run")
    assert (await job.job())[:4] == ("RUNNING", None, 2, "run-2")

    await job.run("run-2", T0 + timedelta(hours=1, minutes=1)).end(JobStatus.SUCCEEDED)
    succeeded = await job.job()
    assert succeeded["status"] == "SUCCEEDED" and succeeded["finished_at"] > failed["finished_at"]

    # Reset to a point past its first steps: the run's end is still its own, not the one before.
    await job.run("run-3", T0 + timedelta(hours=2)).end(JobStatus.FAILED, "run 3 failed")
    again = await job.job()
    assert (again["status"], again["last_run_id"]) == ("FAILED", "run-3")
    assert again["finished_at"] > succeeded["finished_at"]


async def test_a_late_first_step_of_a_run_that_ended_before_it_committed_opens_nothing(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """Cancelled (or terminated) before its first step committed: that step's late try is the same run's."""
    account = await create_account(http, provider="pge", account_number=f"PG-{uuid.uuid4().hex[:8]}")
    job = Runs(resources.pool, await insert_job(resources.pool, account, status="PENDING"))
    await job.run("run-1", T0 + timedelta(seconds=1)).end(JobStatus.CANCELED, "cancelled by request")
    await job.run("run-1", T0).start()
    assert (await job.job())[:3] == ("CANCELED", "cancelled by request", 0)


async def test_a_reset_run_that_needs_review_opens_the_closed_task_again(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """The failed run's task was closed (CANCELED) with its end; the reset run's own review reaches the
    queue again, as new, whether the reset began at the first step or past it. A late try of the old
    run's opening leaves the closed task closed, and one after the reset leaves the new task alone."""
    pool = resources.pool
    for first_step_again in (True, False):
        job = await job_whose_first_run_opened_its_review(http, pool)
        await pool.execute("UPDATE review_tasks SET escalated_at = now() WHERE job_id = $1", job.job_id)
        await job.run("run-1", T0 + timedelta(hours=2)).end(JobStatus.FAILED, "escalate_review failed")
        closed = await job.task()
        await job.run("run-1", T0 + timedelta(minutes=1)).open_review("r1")  # a late try of the old run
        assert (await job.task())["closed_at"] is not None

        if first_step_again:
            await job.run("run-2", T0 + timedelta(hours=3)).start()
        await job.run("run-2", T0 + timedelta(hours=3, minutes=1)).open_review("r-reset")
        await job.run("run-1", T0 + timedelta(minutes=1)).open_review("r-late")  # the replaced run, late
        expired = ReviewTaskUpdate(job_id=job.job_id, status=ReviewStatus.EXPIRED, revision="r-late")
        await job.env.run(ReviewActivities(pool).close_review_task, expired)  # still the replaced run

        task = await job.task()
        assert (task["status"], task["revision"], task["closed_at"], task["escalated_at"]) == (
            ReviewStatus.PENDING,
            "r-reset",
            None,
            None,
        )
        assert task["created_at"] > closed["created_at"]
        assert (await job.job())[:4] == ("NEEDS_REVIEW", None, 2, "run-2")


async def test_a_reset_run_takes_over_a_job_whose_end_was_recorded_from_outside_before_its_first_step(
    resources: Resources, client: Client, app_settings: Settings
) -> None:
    """No worker took the job; an operator terminated its workflow, and the reconciler recorded it FAILED.
    The operator's reset then runs the job again: it reads RUNNING, and the review it needs reaches the
    queue, not the old end (where a decision would be refused and the review expire unseen). A late first
    step of the terminated run still opens nothing. The reset run is then cancelled, so the test leaves no
    open job behind a closed workflow: the session API's reconciler ended it ~35-60 s later, amid another test."""
    settings = idle_queue(app_settings)
    (started,) = await start_jobs(resources.pool, client, settings, 1)
    handle = client.get_workflow_handle(started["workflow_id"])
    await handle.terminate(reason="no worker took it")
    row = await resources.pool.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", started["id"])
    # The session API's reconciler scans for runs closed outside MiniMeter too: either may record it first.
    reconciler = JobReconciler(resources.pool, client, settings)
    await reconciler.record_if_ended(row)
    job = Runs(resources.pool, str(started["id"]))
    assert (await job.job())["status"] == "FAILED"
    terminated = await handle.describe()  # Temporal's clock: the reconciler dates the row by the run's start
    reset_at = terminated.start_time + timedelta(hours=1)

    try:
        await job.run(terminated.run_id, terminated.start_time).start()  # the terminated run's, committing late
        assert (await job.job())["status"] == "FAILED"

        await job.run("reset-run", reset_at).start()
        assert (await job.job())[:2] == ("RUNNING", None)
        await job.run("reset-run", reset_at + timedelta(minutes=1)).open_review("r-reset")
        assert (await job.job())["status"] == "NEEDS_REVIEW"
        task = await job.task()
        assert (task["status"], task["revision"], task["closed_at"]) == (ReviewStatus.PENDING, "r-reset", None)
    finally:
        # As the reset run's workflow records a cancellation: its end, closing the task in the same statement.
        await job.run("reset-run", reset_at + timedelta(minutes=2)).end(JobStatus.CANCELED, "cancelled by request")

    assert (await job.job())[:2] == ("CANCELED", "cancelled by request")
    assert (await job.task())["status"] == ReviewStatus.CANCELED
    assert (await handle.describe()).status is WorkflowExecutionStatus.TERMINATED
    ended = await resources.pool.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", started["id"])
    assert not await reconciler.record_if_ended(ended), "left for the session API's reconciler to end"


async def test_a_late_decision_of_a_run_a_reset_replaced_leaves_the_new_runs_review_alone(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """The replaced run's decision never took effect: the new run's job still waits for its reviewer, and
    the audit trail holds no decision for it. A decision the reset run receives is recorded, even when it
    was reset past the opening of the review (the task is the old run's)."""
    pool = resources.pool
    job = await job_whose_first_run_opened_its_review(http, pool)
    await job.run("run-2", T0 + timedelta(hours=1)).open_review("r2")

    await job.run("run-1", T0 + timedelta(minutes=2)).decide("r1")  # a try committing after the reset

    assert (await job.job())["status"] == "NEEDS_REVIEW"
    assert ((await job.task())["status"], (await job.task())["revision"]) == (ReviewStatus.PENDING, "r2")
    assert await pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job.job_id) == 0

    await job.run("run-3", T0 + timedelta(hours=2)).decide("r2")  # reset again, past the opening
    assert (await job.job())[:4] == ("RUNNING", None, 3, "run-3")
    assert await pool.fetchval("SELECT revision FROM review_decisions WHERE job_id = $1", job.job_id) == "r2"
    task = await job.task()
    assert (task["status"], task["run_id"]) == (ReviewStatus.DONE, "run-3") and task["closed_at"] is not None
    await job.run("run-3", T0 + timedelta(hours=2, minutes=1)).end(JobStatus.SUCCEEDED)
    assert (await job.task())["status"] == ReviewStatus.DONE  # not CANCELED: the review was decided


async def test_a_run_reset_past_the_opening_of_its_review_takes_over_the_task_when_it_escalates_and_expires(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """The reset run never opens the review again: its escalation and expiry update the old run's task,
    which then is the new run's, and a late step of the old run leaves it alone."""
    pool = resources.pool
    job = await job_whose_first_run_opened_its_review(http, pool)

    await job.run("run-2", T0 + timedelta(hours=1)).status(ReviewStatus.ESCALATED, "r-escalated")
    task = await job.task()
    assert (task["status"], task["revision"], task["run_id"]) == (ReviewStatus.ESCALATED, "r-escalated", "run-2")
    assert (await job.job())[:4] == ("NEEDS_REVIEW", None, 2, "run-2")
    await job.run("run-1", T0 + timedelta(minutes=30)).status(ReviewStatus.EXPIRED, "r-late")  # the old run, late
    assert (await job.task())["status"] == ReviewStatus.ESCALATED

    await job.run("run-2", T0 + timedelta(hours=2)).status(ReviewStatus.EXPIRED, "r-escalated")
    task = await job.task()
    assert (task["status"], task["run_id"]) == (ReviewStatus.EXPIRED, "run-2") and task["closed_at"] is not None


async def test_a_run_reset_past_the_opening_of_a_review_its_old_run_ended_brings_it_back_when_it_escalates(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """The old run failed while it waited (its task closed with its end) and was reset to a point past the
    opening: the new run waits for a decision the queue does not offer. Its escalation opens the task and
    the job again, so a reviewer can decide it, and the decision closes it."""
    pool = resources.pool
    job = await job_whose_first_run_opened_its_review(http, pool)
    await job.run("run-1", T0 + timedelta(hours=1)).end(
        JobStatus.FAILED, "terminated outside MiniMeter", reasons=["total_mismatch"]
    )
    assert (await job.task())["status"] == ReviewStatus.CANCELED

    await job.run("run-2", T0 + timedelta(hours=2)).status(ReviewStatus.ESCALATED, "r-escalated")
    task = await job.task()
    assert (task["status"], task["closed_at"], task["run_id"]) == (ReviewStatus.ESCALATED, None, "run-2")
    assert (await job.job())[:5] == ("NEEDS_REVIEW", None, 2, "run-2", None)
    assert ((await job.job())["result"], (await job.job())["reasons"]) == (None, ["total_mismatch"])

    await job.run("run-2", T0 + timedelta(hours=3)).decide("r-escalated")
    task = await job.task()
    assert task["status"] == ReviewStatus.DONE and task["closed_at"] is not None
    assert (await job.job())["status"] == "RUNNING"


async def test_a_file_whose_bill_a_reissue_replaced_is_still_a_duplicate_before_extraction(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """The original statement uploaded again after its re-issue was stored: the job ends DUPLICATE at
    find_duplicate, naming the job that ingested that file, instead of being extracted and reviewed again."""
    number = f"PG-{uuid.uuid4().hex[:8]}"
    account = await create_account(http, provider="pge", account_number=number)
    original = await persist_request(
        resources, account, february_statement(number, date(2026, 3, 5), "60.00"), "9" * 64
    )
    stored = await ActivityEnvironment().run(BillActivities(resources.pool).persist_bill, original)
    await persist_as_a_new_job(resources, account, february_statement(number, date(2026, 3, 12), "50.00"), "a" * 64)

    again = await insert_job(resources.pool, account, status="RUNNING")
    found = await ActivityEnvironment().run(
        BillActivities(resources.pool).find_duplicate,
        DuplicateQuery(job_id=again, utility_account_id=account["id"], sha256="9" * 64),
    )

    assert (found.bill_id, found.job_id) == (stored.bill_id, original.job_id)


async def test_a_reissue_whose_period_moved_a_day_replaces_the_bill_and_the_next_month_stays_apart(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """A re-issue read a day later (February to 03-01, not 02-28) was stored beside the first: the month counted
    twice in the warehouse, its rollup and the dashboard alike (an analyst's probe). March, and a final bill that ends
    weeks early, are bills of their own."""
    number = f"PG-{uuid.uuid4().hex[:8]}"
    account = await create_account(http, provider="pge", account_number=number)
    first = await persist_as_a_new_job(
        resources, account, february_statement(number, date(2026, 3, 5), "60.00"), "1" * 64
    )
    first_job = str(await resources.pool.fetchval("SELECT job_id FROM bills WHERE id = $1", first.bill_id))
    moved = february_statement(number, date(2026, 3, 12), "50.00").model_copy(
        update={"bill_period_end": date(2026, 3, 1)}
    )
    reissued = await persist_as_a_new_job(resources, account, moved, "2" * 64)
    assert (reissued.bill_id, reissued.revised_job, reissued.duplicate_of_job) == (first.bill_id, first_job, None)

    def period(start: date, end: date, total: str) -> NormalizedBill:
        changes = {"bill_period_start": start, "bill_period_end": end, "total_amount": Decimal(total)}
        return moved.model_copy(update=changes)

    march_bill = period(date(2026, 3, 1), date(2026, 3, 31), "55.00")
    final_bill = period(date(2026, 2, 1), date(2026, 2, 10), "9.00")
    march = await persist_as_a_new_job(resources, account, march_bill, "3" * 64)
    final = await persist_as_a_new_job(resources, account, final_bill, "4" * 64)
    assert (march.duplicate_of_job, march.revised_job, final.duplicate_of_job, final.revised_job) == (None,) * 4
    stored = await resources.pool.fetch(
        "SELECT bill_period_end, total_amount FROM bills WHERE utility_account_id = $1 ORDER BY bill_period_end",
        account["id"],
    )
    assert [(r["bill_period_end"], r["total_amount"]) for r in stored] == [
        (date(2026, 2, 10), Decimal("9.00")),
        (date(2026, 3, 1), Decimal("50.00")),
        (date(2026, 3, 31), Decimal("55.00")),
    ]


async def test_the_sla_alert_is_logged_once_and_only_for_a_task_still_open(
    http: httpx.AsyncClient, resources: Resources, caplog: pytest.LogCaptureFixture
) -> None:
    """Operators alert on "review SLA missed: escalated": a retry after the escalation committed logged it again,
    and so did an escalation landing after the job had ended (its task closed, nothing escalated)."""
    pool = resources.pool
    env = ActivityEnvironment()
    review = ReviewActivities(pool)
    escalate = ReviewTaskUpdate(status=ReviewStatus.ESCALATED, revision="r2", job_id="")
    still_open = await open_task_of_a_running_job(http, pool, env, review)
    ended = await open_task_of_a_running_job(http, pool, env, review)
    await env.run(
        JobActivities(pool).mark_job_finished,
        JobStatusUpdate(job_id=ended.job_id, status=JobStatus.FAILED, error="a step failed"),
    )

    with caplog.at_level(logging.INFO, logger="activities.review"):
        for job_id in (still_open.job_id, still_open.job_id, ended.job_id):  # the second a retry
            await env.run(review.escalate_review, escalate.model_copy(update={"job_id": job_id}))

    alerts = [r.__dict__["job_id"] for r in caplog.records if r.getMessage() == "review SLA missed: escalated"]
    assert alerts == [still_open.job_id]
    assert await pool.fetchval("SELECT status FROM review_tasks WHERE job_id = $1", still_open.job_id) == "ESCALATED"
    ended_task = await pool.fetchrow("SELECT status, escalated_at FROM review_tasks WHERE job_id = $1", ended.job_id)
    assert (ended_task["status"], ended_task["escalated_at"]) == ("CANCELED", None)


async def test_a_reset_runs_escalation_of_a_task_escalated_before_alerts_again(
    http: httpx.AsyncClient, resources: Resources, caplog: pytest.LogCaptureFixture
) -> None:
    """A run reset to before its review opens the task again, keeping when it was first escalated: its own
    escalation, at its own SLA, is news to the reviewers' leads as the first was."""
    pool = resources.pool
    started = datetime.now(UTC) - timedelta(days=2)
    old = ActivityEnvironment()
    old.info = dataclasses.replace(old.info, workflow_run_id="run-old", scheduled_time=started)
    review = ReviewActivities(pool)
    opening = await open_task_of_a_running_job(http, pool, old, review)
    await pool.execute(
        "UPDATE ingestion_jobs SET last_run_id = 'run-old', run_scheduled_at = $2, status = 'NEEDS_REVIEW'"
        " WHERE id = $1",
        uuid.UUID(opening.job_id),
        started,
    )
    escalate = ReviewTaskUpdate(job_id=opening.job_id, status=ReviewStatus.ESCALATED, revision="r2")
    with caplog.at_level(logging.INFO, logger="activities.review"):
        await old.run(review.escalate_review, escalate)
        new = ActivityEnvironment()  # the reset run: terminated, the old one closed nothing
        new.info = dataclasses.replace(new.info, workflow_run_id="run-new", scheduled_time=datetime.now(UTC))
        await new.run(review.open_review_task, opening.model_copy(update={"revision": "r3"}))
        await new.run(review.escalate_review, escalate.model_copy(update={"revision": "r4"}))

    alerts = [r for r in caplog.records if r.getMessage() == "review SLA missed: escalated"]
    assert len(alerts) == 2
    task = await pool.fetchrow("SELECT status, run_id, closed_at FROM review_tasks WHERE job_id = $1", opening.job_id)
    assert (task["status"], task["run_id"], task["closed_at"]) == ("ESCALATED", "run-new", None)
