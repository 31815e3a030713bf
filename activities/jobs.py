"""Job bookkeeping in Postgres (``ingestion_jobs``)."""

from __future__ import annotations

import logging

import asyncpg
from temporalio import activity

from shared.db import job_claimed, newer_run
from shared.models import JobRef, JobStatus, JobStatusUpdate
from shared.review import ReviewStatus

logger = logging.getLogger(__name__)


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
        a run that ended the job, or that a reset replaced, changes nothing.
        """
        info = activity.info()
        await self._pool.execute(
            f"""
            UPDATE ingestion_jobs
               SET status = $2, {job_claimed("$3", "$4")}
             WHERE id = $1
               AND ((status IN ('PENDING', 'RUNNING') AND (last_run_id IS NULL OR last_run_id = $3))
                    OR {newer_run("$3", "$4")})
            """,
            job.job_id,
            JobStatus.RUNNING,
            info.workflow_run_id,
            info.scheduled_time,  # the first try's: every retry of this step is the same run's start
        )
        logger.info("job running", extra={"job_id": job.job_id, "step": "mark_job_running", "attempt": info.attempt})

    @activity.defn
    async def mark_job_finished(self, update: JobStatusUpdate) -> None:
        """Safe to rerun: writes the same final state again (last writer is the workflow).

        A review task still open is closed (CANCELED) in the same statement: however the job
        ended (a step out of retries while it waited, say), reviewers no longer see it queued.
        """
        info = activity.info()
        result = update.result.model_dump(mode="json") if update.result else None
        newer = newer_run("$8", "$9")  # a reset's run whose first steps did not run again: its end is its own
        ended_at = f"CASE WHEN {newer} THEN now() ELSE COALESCE(finished_at, now()) END"
        await self._pool.execute(
            f"""
            WITH job AS (
                UPDATE ingestion_jobs
                   SET status = $2, error = $3, result = $4, steps = $5, reasons = $6, ended_run_id = $8,
                       last_run_id = $8, updated_at = now(),
                       run_scheduled_at = CASE WHEN {newer} THEN $9 ELSE COALESCE(run_scheduled_at, $9) END,
                       finished_at = {ended_at},
                       duration_ms = (EXTRACT(EPOCH FROM ({ended_at}) - created_at) * 1000)::BIGINT
                 WHERE id = $1
                   -- not a late try of a run an operator's reset has since replaced
                   AND NOT COALESCE(last_run_id IS DISTINCT FROM $8 AND run_scheduled_at > $9, false)
                RETURNING id
            )
            UPDATE review_tasks
               SET status = $7, updated_at = now(), closed_at = now()
             WHERE job_id = (SELECT id FROM job) AND closed_at IS NULL
            """,
            update.job_id,
            update.status,
            update.error,
            result,
            [s.model_dump(mode="json") for s in update.steps],
            update.result.reasons if update.result else [],
            ReviewStatus.CANCELED,
            info.workflow_run_id,
            info.scheduled_time,
        )
        logger.info(
            "job finished",
            extra={"job_id": update.job_id, "step": "mark_job_finished", "status": str(update.status)},
        )
