"""Job bookkeeping in Postgres (``ingestion_jobs``)."""

from __future__ import annotations

import logging

import asyncpg
from temporalio import activity

from shared.db import JOB_ENDED
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
        A new run (an operator's reset of a failed or terminated job) opens the job again if it
        ended before the run began: it would otherwise read FAILED with the old error while it
        runs, and its end would keep the old run's ``finished_at`` and duration. A late try of
        this run's own step, after the run was cancelled and recorded CANCELED, opens nothing.
        """
        info = activity.info()
        attempt = info.attempt
        await self._pool.execute(
            """
            UPDATE ingestion_jobs
               SET status = $2, attempts = attempts + (last_run_id IS DISTINCT FROM $3)::int, last_run_id = $3,
                   updated_at = now(), started_at = COALESCE(started_at, now()),
                   error = CASE WHEN status IN ('PENDING', 'RUNNING') THEN error END,
                   finished_at = CASE WHEN status IN ('PENDING', 'RUNNING') THEN finished_at END,
                   duration_ms = CASE WHEN status IN ('PENDING', 'RUNNING') THEN duration_ms END
             WHERE id = $1
               AND (status IN ('PENDING', 'RUNNING') OR (last_run_id IS DISTINCT FROM $3 AND finished_at < $4))
            """,
            job.job_id,
            JobStatus.RUNNING,
            info.workflow_run_id,
            info.scheduled_time,  # an end from before this run began is another run's, never this one's
        )
        logger.info("job running", extra={"job_id": job.job_id, "step": "mark_job_running", "attempt": attempt})

    @activity.defn
    async def mark_job_finished(self, update: JobStatusUpdate) -> None:
        """Safe to rerun: writes the same final state again (last writer is the workflow).

        A review task still open is closed (CANCELED) in the same statement: however the job
        ended (a step out of retries while it waited, say), reviewers no longer see it queued.
        """
        result = update.result.model_dump(mode="json") if update.result else None
        await self._pool.execute(
            f"""
            WITH job AS (
                UPDATE ingestion_jobs
                   SET status = $2, error = $3, result = $4, steps = $5, reasons = $6, {JOB_ENDED}
                 WHERE id = $1
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
        )
        logger.info(
            "job finished",
            extra={"job_id": update.job_id, "step": "mark_job_finished", "status": str(update.status)},
        )
