"""Job bookkeeping in Postgres (``ingestion_jobs``)."""

from __future__ import annotations

import logging
from datetime import datetime

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.db import job_claimed, newer_run
from shared.models import JobRef, JobStatus, JobStatusUpdate, StepRecord
from shared.review import ReviewStatus

logger = logging.getLogger(__name__)

_OPEN = "status IN ({})".format(", ".join(f"'{status}'" for status in JobStatus if not status.is_terminal))
"""SQL: the job has not ended, as ``JobStatus.is_terminal`` defines it."""


def same_chain(first_run_id: str) -> str:
    """SQL: the run whose workflow's first execution run id is ``first_run_id`` (a placeholder) belongs to
    the job's chain: the job's own runs and its operator's resets, not a new start under its workflow id.
    A row whose chain is not known (``chain_learned``), or a step scheduled before it was passed, is anyone's."""
    return f"(first_run_id IS NULL OR {first_run_id}::text IS NULL OR first_run_id = {first_run_id})"


def chain_learned(first_run_id: str, only_taker: str) -> str:
    """SQL: the row's chain, recorded from a run of chain ``first_run_id`` (a placeholder) only if that run
    is the only one that ever took the job (``only_taker``, over the row's values before the update): a job's
    first run is of its own chain. A run that took over a row whose chain is unknown (taken before runs named
    it) may be a start of another chain: were it recorded, the operator's reset of the job's own run would be
    refused. Such a row keeps the old rule, any later run takes it over."""
    return f"COALESCE(first_run_id, CASE WHEN {only_taker} THEN {first_run_id}::text END)"


def takes_it_first() -> str:
    """SQL: mark_job_running takes a job no run has touched (the first try of its claim, or a retry whose
    first try did not commit: one that did has recorded the chain already). Not a job a run ended without
    taking (its first run cancelled or terminated before this step): its chain is not known."""
    return "(last_run_id IS NULL AND ended_run_id IS NULL AND status = 'PENDING')"


def took_it_alone(run_id: str) -> str:
    """SQL: mark_job_finished's run ``run_id`` is the one run that ever took the job (claimed on an earlier
    build, which named no chain). Not a run that took over a job another run had ended (``ended_run_id``
    set; ``attempts`` alone does not tell, as a run that ended the job without taking it does not count),
    nor a run ending a job no run took, either of which may be of another chain."""
    return f"(last_run_id = {run_id} AND attempts = 1 AND ended_run_id IS NULL)"


async def record_job_end(
    db: asyncpg.Pool | asyncpg.Connection,
    update: JobStatusUpdate,
    *,
    run_id: str | None,
    scheduled_at: datetime,
    steps: list[StepRecord] | None,
    only_open: bool = False,
    ended_at: datetime | None = None,
) -> bool:
    """Write the end of run ``run_id`` (its ``mark_job_finished`` scheduled at ``scheduled_at``) over the job's row,
    as ``mark_job_finished`` records it; whether the row took it.

    One statement, shared with the API's reconciler, so an end it records from a completed run's result (the row
    restored from a backup taken before the run recorded it) reads as the run's own: status, error, result, steps,
    reasons, the run ids, the review task closed and its claim ended. ``steps`` None keeps the row's (the run's
    could not be read); ``only_open`` leaves a row already ended alone; ``ended_at``, when the run ended, where it is
    not now (a run's end recorded after a restore: now would add the backup's age to the job's duration)."""
    result = update.result.model_dump(mode="json") if update.result else None
    newer = newer_run("$8", "$9")  # a reset's run whose first steps did not run again: its end is its own
    ended_at_sql = f"CASE WHEN {newer} THEN COALESCE($11, now()) ELSE COALESCE(finished_at, $11, now()) END"
    chain = chain_learned("$10", took_it_alone("$8"))
    still_open = f"AND {_OPEN}" if only_open else ""
    recorded = await db.fetchval(
        f"""
        WITH job AS (
            UPDATE ingestion_jobs
               SET status = $2, error = $3, result = $4, steps = COALESCE($5::jsonb, steps), reasons = $6,
                   ended_run_id = $8, last_run_id = $8, updated_at = now(), first_run_id = {chain},
                   run_scheduled_at = CASE WHEN {newer} THEN $9 ELSE COALESCE(run_scheduled_at, $9) END,
                   finished_at = {ended_at_sql},
                   duration_ms = (EXTRACT(EPOCH FROM ({ended_at_sql}) - created_at) * 1000)::BIGINT
             WHERE id = $1 {still_open}
               -- not a late try of a run an operator's reset has since replaced
               AND NOT COALESCE(last_run_id IS DISTINCT FROM $8 AND run_scheduled_at > $9, false)
               AND {same_chain("$10")}
            RETURNING id
        ), task AS (
            UPDATE review_tasks
               SET status = $7, updated_at = now(), closed_at = now()
             WHERE job_id = (SELECT id FROM job) AND closed_at IS NULL
            RETURNING job_id
        ), claim AS (
            -- end_claim's DELETE, for a task closed before or by this statement: the snapshot does not show
            -- the task's close by ``task``, so that close is read from its RETURNING
            DELETE FROM review_claims c
             WHERE c.job_id = $1
               AND (EXISTS (SELECT 1 FROM task)
                    OR EXISTS (SELECT 1 FROM review_tasks t WHERE t.job_id = c.job_id AND t.closed_at IS NOT NULL))
        )
        -- every data-modifying WITH runs to completion, read or not
        SELECT EXISTS (SELECT 1 FROM job)
        """,
        update.job_id,
        update.status,
        update.error,
        result,
        [s.model_dump(mode="json") for s in steps] if steps is not None else None,
        update.result.reasons if update.result else [],
        ReviewStatus.CANCELED,
        run_id,
        scheduled_at,
        update.first_run_id or None,
        ended_at,
    )
    return bool(recorded)


class JobActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def mark_job_running(self, job: JobRef) -> None:
        """Safe to rerun: sets the same status; never moves a job its own run finished back.

        ``attempts`` counts the workflow runs that started the job (one, unless an operator reset
        it), so a retry in the same run, whose first try may have committed, does not count again.
        A later run (an operator's reset, of a live or an ended job) takes the job over: an ended
        one is open again, or it would read FAILED with the old error while it runs. A late try of
        a run that ended the job, or that a reset replaced, changes nothing. A run of another chain
        (the job's sealed input started again under its workflow id) is refused: ``ForeignRun``; so is a
        run of a job with no row (``JobRowMissing``).
        """
        info = activity.info()
        claimed = await self._pool.fetchval(
            f"""
            UPDATE ingestion_jobs
               SET status = $2, first_run_id = {chain_learned("$5", takes_it_first())}, {job_claimed("$3", "$4")}
             WHERE id = $1
               AND ((status IN ('PENDING', 'RUNNING') AND (last_run_id IS NULL OR last_run_id = $3))
                    OR {newer_run("$3", "$4")})
               AND {same_chain("$5")}
            RETURNING true
            """,
            job.job_id,
            JobStatus.RUNNING,
            info.workflow_run_id,
            info.scheduled_time,  # the first try's: every retry of this step is the same run's start
            job.first_run_id or None,  # "" in a workflow task that had no first run id to give
        )
        if not claimed:
            await self._refuse_missing_or_foreign(job, info)
        logger.info("job running", extra={"job_id": job.job_id, "step": "mark_job_running", "attempt": info.attempt})

    async def _refuse_missing_or_foreign(self, job: JobRef, info: activity.Info) -> None:
        """A job with no row, or a run the job's chain did not start, must not do the job's work (a second bill,
        review task, end).

        The API inserts a job's row before it starts the job's workflow (the dispatcher starts only rows it reads),
        so a run whose row is missing outlived it: Postgres restored from a backup taken before the job was
        accepted. Left to go on, it logged "job running" and its next step failed on a foreign key for the
        ``DATABASE`` policy's hour. Non-retryable: no retry brings the row back."""
        row = await self._pool.fetchrow("SELECT first_run_id FROM ingestion_jobs WHERE id = $1", job.job_id)
        if row is None:
            # The log context adds the workflow id and the refused run's id, as for a foreign run below.
            logger.warning(
                "job's row is missing: run refused", extra={"job_id": job.job_id, "step": "mark_job_running"}
            )
            raise ApplicationError(
                f"the job's row is not in the database: restored from a backup taken before it started? Upload"
                f" its bill again (an upload's raw bill is kept under raw/bills/{job.job_id}/); this run ends here",
                type="JobRowMissing",
                non_retryable=True,
            )
        chain = row["first_run_id"]
        if chain is None or not job.first_run_id or chain == job.first_run_id:
            return
        # The log context adds the workflow id and the refused run's id.
        logger.warning("run of another chain refused", extra={"job_id": job.job_id, "step": "mark_job_running"})
        # Non-retryable: the workflow fails at once, and its end, of another chain, changes nothing.
        raise ApplicationError(
            f"job {job.job_id} belongs to its workflow's run {chain}, not to this run started anew under its id:"
            f" to run the job again, reset that run (temporal workflow reset -w {info.workflow_id} -r {chain})",
            type="ForeignRun",
            non_retryable=True,
        )

    @activity.defn
    async def mark_job_finished(self, update: JobStatusUpdate) -> None:
        """Safe to rerun: writes the same final state again (last writer is the workflow).

        A review task still open is closed (CANCELED) in the same statement: however the job
        ended (a step out of retries while it waited, say), reviewers no longer see it queued;
        its reviewer's claim ends in that statement too, as ``end_claim`` ends it for every other close.
        A run of another chain, refused at ``mark_job_running`` or cancelled before it, changes nothing.
        """
        info = activity.info()
        await record_job_end(
            self._pool, update, run_id=info.workflow_run_id, scheduled_at=info.scheduled_time, steps=update.steps
        )
        ended = update.result
        logger.info(  # how it ended, not only that: its error, and the job it duplicates or revises (75A)
            "job finished",
            extra={
                "job_id": update.job_id,
                "step": "mark_job_finished",
                "status": str(update.status),
                # A rejection's error is the reviewer's note, written for the customer: never logged (README, Logs).
                "error": update.error if update.status is not JobStatus.REJECTED else None,
                "reasons": ended.reasons if ended else [],
                "bill_id": ended.bill_id if ended else None,
                "duplicate_of": ended.duplicate_of if ended else None,
                "revises": ended.revises if ended else None,
            },
        )
