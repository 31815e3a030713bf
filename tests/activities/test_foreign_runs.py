"""A job's row speaks only for its own chain of runs: the first run and an operator's resets of it.

A run started anew under the job's workflow id has another first execution run id: ``mark_job_running``
refuses it (``ForeignRun``) and its ``mark_job_finished`` (its failure path, or a cancel before it was
refused) changes nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.jobs import JobActivities
from shared.models import JobRef, JobStatus, JobStatusUpdate
from tests.helpers import create_account, insert_job
from worker.resources import Resources

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Chain:
    """Steps of one job as a run of a chain sends them: ``run(id, at)`` sets the run and when Temporal
    scheduled the step; ``first_run_id`` is the chain's (None: a step scheduled before it was passed)."""

    def __init__(self, pool: asyncpg.Pool, job_id: str, first_run_id: str | None) -> None:
        self.pool, self.job_id, self.first_run_id, self.env = pool, job_id, first_run_id, ActivityEnvironment()

    def run(self, run_id: str, at: datetime) -> Chain:
        self.env.info = dataclasses.replace(self.env.info, workflow_run_id=run_id, scheduled_time=at)
        return self

    async def start(self) -> None:
        claim = JobRef(job_id=self.job_id, first_run_id=self.first_run_id)
        await self.env.run(JobActivities(self.pool).mark_job_running, claim)

    async def end(self, status: JobStatus, error: str | None = None) -> None:
        update = JobStatusUpdate(job_id=self.job_id, status=status, error=error, first_run_id=self.first_run_id)
        await self.env.run(JobActivities(self.pool).mark_job_finished, update)


async def row(pool: asyncpg.Pool, job_id: str) -> dict[str, Any]:
    found = await pool.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", job_id)
    assert found is not None
    return dict(found)


async def refused(chain: Chain) -> None:
    with pytest.raises(ApplicationError) as refusal:
        await chain.start()
    assert (refusal.value.type, refusal.value.non_retryable) == ("ForeignRun", True)


async def new_job(http: httpx.AsyncClient, pool: asyncpg.Pool) -> str:
    account = await create_account(http, provider="pge", account_number=f"PG-{uuid.uuid4().hex[:8]}")
    return await insert_job(pool, account, status="PENDING")


async def test_a_run_of_another_chain_takes_no_job_and_its_end_changes_nothing(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    pool = resources.pool
    job_id = await new_job(http, pool)
    own, foreign = Chain(pool, job_id, "run-1"), Chain(pool, job_id, "run-9")
    await own.run("run-1", T0).start()
    await own.run("run-1", T0 + timedelta(minutes=1)).end(JobStatus.SUCCEEDED)
    ended = await row(pool, job_id)
    assert (ended["status"], ended["first_run_id"], ended["attempts"]) == ("SUCCEEDED", "run-1", 1)

    await refused(foreign.run("run-9", T0 + timedelta(hours=1)))
    await foreign.run("run-9", T0 + timedelta(hours=1, minutes=1)).end(JobStatus.FAILED, "mark_job_running failed")
    await foreign.run("run-9", T0 + timedelta(hours=1, minutes=2)).end(JobStatus.CANCELED, "cancelled by request")
    assert await row(pool, job_id) == ended

    await own.run("run-2", T0 + timedelta(hours=2)).start()  # the operator resets the job: its chain again
    reset = await row(pool, job_id)
    assert (reset["status"], reset["attempts"], reset["last_run_id"]) == ("RUNNING", 2, "run-2")
    await refused(Chain(pool, job_id, "run-10").run("run-10", T0 + timedelta(hours=3)))  # a live job too
    await Chain(pool, job_id, "run-10").run("run-10", T0 + timedelta(hours=3)).end(JobStatus.FAILED, "not its job")
    assert await row(pool, job_id) == reset

    await own.run("run-3", T0 + timedelta(hours=4)).end(JobStatus.FAILED, "run 3 failed")  # reset past the claim
    assert (await row(pool, job_id))["last_run_id"] == "run-3"


async def test_a_job_taken_before_runs_named_their_chain_is_taken_over_as_before(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """Rows from before ``first_run_id`` existed, and steps scheduled before it was passed, keep the old rule:
    a later run takes the job over; the first run that names its chain records it."""
    pool = resources.pool
    job_id = await new_job(http, pool)
    unnamed = Chain(pool, job_id, None)
    await unnamed.run("run-1", T0).start()
    await unnamed.run("run-1", T0 + timedelta(minutes=1)).end(JobStatus.FAILED, "out of retries")

    await Chain(pool, job_id, "run-1").run("run-2", T0 + timedelta(hours=1)).start()
    taken = await row(pool, job_id)
    assert (taken["status"], taken["attempts"], taken["first_run_id"]) == ("RUNNING", 2, "run-1")
    await unnamed.run("run-2", T0 + timedelta(hours=1, minutes=1)).end(JobStatus.SUCCEEDED)
    assert (await row(pool, job_id))["status"] == "SUCCEEDED"
