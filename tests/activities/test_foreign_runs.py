"""A job's row speaks only for its own chain of runs: the first run and an operator's resets of it.

A run started anew under the job's workflow id has another first execution run id: ``mark_job_running``
refuses it (``ForeignRun``) and its ``mark_job_finished`` (its failure path, or a cancel before it was
refused) changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.jobs import JobActivities
from shared.logs import ContextFilter
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
    a later run takes the job over, and records no chain (it may be of another: see below)."""
    pool = resources.pool
    job_id = await new_job(http, pool)
    unnamed = Chain(pool, job_id, None)
    await unnamed.run("run-1", T0).start()
    await unnamed.run("run-1", T0 + timedelta(minutes=1)).end(JobStatus.FAILED, "out of retries")

    await Chain(pool, job_id, "run-1").run("run-2", T0 + timedelta(hours=1)).start()
    taken = await row(pool, job_id)
    assert (taken["status"], taken["attempts"], taken["first_run_id"]) == ("RUNNING", 2, None)
    await unnamed.run("run-2", T0 + timedelta(hours=1, minutes=1)).end(JobStatus.SUCCEEDED)
    assert (await row(pool, job_id))["status"] == "SUCCEEDED"


async def test_a_job_its_run_took_on_an_earlier_build_learns_its_chain_when_that_run_ends(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """A run in flight across the deploy took the job unnamed and names its chain at its end: from then on a
    start of another chain is refused, and the operator's reset of the job's run still takes it."""
    pool = resources.pool
    job_id = await new_job(http, pool)
    await Chain(pool, job_id, None).run("run-1", T0).start()
    own = Chain(pool, job_id, "run-1")
    await own.run("run-1", T0 + timedelta(minutes=1)).end(JobStatus.SUCCEEDED)
    assert (await row(pool, job_id))["first_run_id"] == "run-1"

    await refused(Chain(pool, job_id, "run-9").run("run-9", T0 + timedelta(hours=1)))
    await own.run("run-2", T0 + timedelta(hours=2)).start()
    reset = await row(pool, job_id)
    assert (reset["status"], reset["last_run_id"], reset["first_run_id"]) == ("RUNNING", "run-2", "run-1")


async def test_a_run_taking_over_a_job_of_unknown_chain_does_not_lock_the_jobs_own_chain_out(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """A job that ended before runs named their chain may be taken over by anyone, as before (its chain is not
    known); but a run that does so, perhaps of another chain, records no chain, so a reset of the job's own
    run is not refused afterwards."""
    pool = resources.pool
    job_id = await new_job(http, pool)
    unnamed = Chain(pool, job_id, None)
    await unnamed.run("run-1", T0).start()
    await unnamed.run("run-1", T0 + timedelta(minutes=1)).end(JobStatus.SUCCEEDED)

    foreign = Chain(pool, job_id, "run-9")
    await foreign.run("run-9", T0 + timedelta(hours=1)).start()
    await foreign.run("run-9", T0 + timedelta(hours=1)).start()  # a retry of its claim
    await foreign.run("run-9", T0 + timedelta(hours=1, minutes=1)).end(JobStatus.SUCCEEDED)
    assert (await row(pool, job_id))["first_run_id"] is None

    await Chain(pool, job_id, "run-1").run("run-2", T0 + timedelta(hours=2)).start()
    reset = await row(pool, job_id)
    assert (reset["status"], reset["attempts"], reset["last_run_id"]) == ("RUNNING", 3, "run-2")


async def test_a_run_taking_over_a_job_its_own_run_ended_untaken_does_not_lock_that_chain_out(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """The job's first run ended it before taking it (cancelled before ``mark_job_running``): a run that then
    takes it over, perhaps of another chain, records no chain, neither at its claim (retried) nor at its end,
    so the operator's reset of the job's own run still takes it."""
    pool = resources.pool
    job_id = await new_job(http, pool)
    own = Chain(pool, job_id, "run-1")
    await own.run("run-1", T0).end(JobStatus.CANCELED)

    foreign = Chain(pool, job_id, "run-9")
    await foreign.run("run-9", T0 + timedelta(hours=1)).start()
    await foreign.run("run-9", T0 + timedelta(hours=1)).start()  # a retry of its claim
    await foreign.run("run-9", T0 + timedelta(hours=1, minutes=1)).end(JobStatus.SUCCEEDED)
    await foreign.run("run-9", T0 + timedelta(hours=1, minutes=1)).end(JobStatus.SUCCEEDED)  # and of its end
    assert (await row(pool, job_id))["first_run_id"] is None

    await own.run("run-2", T0 + timedelta(hours=2)).start()
    reset = await row(pool, job_id)
    assert (reset["status"], reset["last_run_id"]) == ("RUNNING", "run-2")


async def test_an_empty_first_run_id_names_no_chain(http: httpx.AsyncClient, resources: Resources) -> None:
    """A workflow task that had no first execution run id to give passes "": it is no chain, not one no
    other run can match."""
    pool = resources.pool
    job_id = await new_job(http, pool)
    nameless = Chain(pool, job_id, "")
    await nameless.run("run-1", T0).start()
    await nameless.run("run-1", T0 + timedelta(minutes=1)).end(JobStatus.FAILED, "out of retries")
    assert (await row(pool, job_id))["first_run_id"] is None

    await Chain(pool, job_id, "run-1").run("run-2", T0 + timedelta(hours=1)).start()
    assert (await row(pool, job_id))["last_run_id"] == "run-2"


async def test_a_refusal_names_the_run_to_reset_and_is_logged(
    http: httpx.AsyncClient, resources: Resources, caplog: pytest.LogCaptureFixture
) -> None:
    pool = resources.pool
    job_id = await new_job(http, pool)
    own = Chain(pool, job_id, "run-1")
    await own.run("run-1", T0).start()
    await own.run("run-1", T0 + timedelta(minutes=1)).end(JobStatus.SUCCEEDED)

    foreign = Chain(pool, job_id, "run-9").run("run-9", T0 + timedelta(hours=1))
    caplog.handler.addFilter(ContextFilter())  # as the worker's log handler has it
    with pytest.raises(ApplicationError) as refusal, caplog.at_level(logging.WARNING, logger="activities.jobs"):
        await foreign.start()
    workflow_id = foreign.env.info.workflow_id
    assert f"-w {workflow_id} -r run-1" in refusal.value.message
    [logged] = [r for r in caplog.records if r.name == "activities.jobs" and r.levelno == logging.WARNING]
    assert (logged.job_id, logged.workflow_id, logged.run_id, logged.step) == (  # type: ignore[attr-defined]
        job_id,
        workflow_id,
        "run-9",
        "mark_job_running",
    )


async def test_a_run_whose_job_has_no_row_is_refused_for_good(resources: Resources) -> None:
    """The API inserts a job's row before starting its run, so a run without one outlived its row: Postgres restored
    from a backup taken before the job was accepted. It logged "job running" and failed its next step on a foreign
    key for an hour of retries."""
    lost = Chain(resources.pool, str(uuid.uuid4()), "run-1").run("run-1", T0)

    with pytest.raises(ApplicationError) as refusal:
        await lost.start()

    assert (refusal.value.type, refusal.value.non_retryable) == ("JobRowMissing", True)
    assert "not in the database" in refusal.value.message
    assert f"raw/bills/{lost.job_id}/" in refusal.value.message
    # The run's failure path records an end: with no row, nothing is written, and nothing fails.
    await lost.run("run-1", T0 + timedelta(minutes=1)).end(JobStatus.FAILED, "mark_job_running failed")
    assert await resources.pool.fetchval("SELECT count(*) FROM ingestion_jobs WHERE id = $1", lost.job_id) == 0
