"""The chaos run's Postgres check counts what persist_bill does as it does it, on real rows."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
from temporalio.testing import ActivityEnvironment

from activities.bills import BillActivities
from bench.chaos import Tally, check_postgres
from shared.models import PersistRequest
from tests.activities.test_idempotent_writes import february_statement, persist_request
from tests.helpers import create_account, insert_job
from worker.resources import Resources


async def stored_then_reissued(http: httpx.AsyncClient, resources: Resources) -> tuple[PersistRequest, PersistRequest]:
    """Two SUCCEEDED jobs of one account: the second stored the utility's re-issued statement for the first
    one's period, which replaced its bill (the first one's version kept in bill_revisions)."""
    number = f"CH-{uuid.uuid4().hex[:8]}"
    account = await create_account(http, provider="pge", account_number=number)
    first = await persist_request(resources, account, february_statement(number, date(2026, 3, 5), "60.00"), "3" * 64)
    reissue = await persist_request(
        resources, account, february_statement(number, date(2026, 3, 12), "50.00"), "4" * 64
    )
    for request in (first, reissue):
        await ActivityEnvironment().run(BillActivities(resources.pool).persist_bill, request)
        artifact = request.artifact
        await resources.pool.execute(
            "INSERT INTO artifacts (job_id, uri, sha256, size, content_type) VALUES ($1, $2, $3, $4, $5)",
            uuid.UUID(request.job_id),
            artifact.uri,
            artifact.sha256,
            artifact.size,
            artifact.content_type,
        )
        await resources.pool.execute(
            "UPDATE ingestion_jobs SET status = 'SUCCEEDED' WHERE id = $1", uuid.UUID(request.job_id)
        )
    return first, reissue


async def problems(resources: Resources, jobs: list[str]) -> list[str]:
    tally = Tally()
    async with resources.pool.acquire() as conn:
        await check_postgres(conn, jobs, tally, {})
    return [str(problem) for problem in tally.problems]


async def test_a_bill_replaced_by_a_reissued_statement_is_not_lost(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """Its version is kept in bill_revisions; counted lost, a run where two statements shared a period failed."""
    first, reissue = await stored_then_reissued(http, resources)

    assert await problems(resources, [first.job_id, reissue.job_id]) == []


async def test_a_replaced_bill_whose_replacement_was_then_lost_is_lost(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """The exemption holds only while the bill that replaced it is there."""
    first, reissue = await stored_then_reissued(http, resources)
    await resources.pool.execute(
        "UPDATE ingestion_jobs SET status = 'FAILED', error = 'publish out of retries' WHERE id = $1",
        uuid.UUID(reissue.job_id),
    )
    await resources.pool.execute("DELETE FROM bills WHERE job_id = $1", uuid.UUID(reissue.job_id))  # items cascade

    found = await problems(resources, [first.job_id, reissue.job_id])

    assert any("lost_bill_row" in problem and first.job_id in problem for problem in found), found


async def test_a_failed_job_is_counted_even_with_its_reason(http: httpx.AsyncClient, resources: Resources) -> None:
    """Every fault chaos injects is one the retry policies outlast: a FAILED job is a bill the outage cost,
    not a settled one (only a FAILED job without a reason was reported)."""
    account = await create_account(http, provider="pge", account_number=f"CH-{uuid.uuid4().hex[:8]}")
    job_id = await insert_job(resources.pool, account, job_type="connector", status="FAILED")
    await resources.pool.execute(
        "UPDATE ingestion_jobs SET error = 'store_raw_bill: ConnectionError: out of retries' WHERE id = $1",
        uuid.UUID(job_id),
    )
    tally = Tally()
    async with resources.pool.acquire() as conn:
        await check_postgres(conn, [job_id], tally, {})

    assert tally.details["failed"] == 1
    assert tally.problems == [f"failed: {job_id}: store_raw_bill: ConnectionError: out of retries"]
