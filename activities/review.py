"""Review bookkeeping: tasks reviewers see, escalations, and the audit trail of decisions."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from temporalio import activity

from extraction.checks import overridden_checks, with_implied_charges
from extraction.pipeline import today
from shared.bill import NormalizedBill
from shared.db import job_claimed, newer_run
from shared.models import JobStatus
from shared.review import (
    ReviewAction,
    ReviewAudit,
    ReviewDecision,
    ReviewStatus,
    ReviewTaskOpen,
    ReviewTaskUpdate,
)

logger = logging.getLogger(__name__)


def bill_diff(before: NormalizedBill | None, after: NormalizedBill | None) -> dict[str, dict[str, Any]]:
    """Field-by-field changes a reviewer made: ``{field: {"before": x, "after": y}}``."""
    old = before.model_dump(mode="json") if before else {}
    new = after.model_dump(mode="json") if after else {}
    return {
        key: {"before": old.get(key), "after": new.get(key)}
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    }


def _stored_despite(
    decision: ReviewDecision, corrected: NormalizedBill | None, after: NormalizedBill | None
) -> list[str]:
    """The plausibility checks the stored bill fails, which the decision stored it despite (the audit's
    ``overridden``): a correction's by override, and an approval's, which confirms the doubts it was sent for. An
    approval's were kept as none, so a lead listing bills stored despite failing checks missed every approval."""
    if corrected is not None and decision.override:
        return overridden_checks(corrected, today())
    if decision.action is ReviewAction.APPROVE and after is not None:
        return overridden_checks(after, today())
    return []


def _owned_by_run(run_id: str) -> str:
    """SQL: the task is the run's (``run_id``, a placeholder): opened by it, or before tasks recorded their
    run. A run an operator's reset replaced no longer owns it: its late steps leave the new run's task alone."""
    return f"(run_id IS NULL OR run_id = {run_id})"


async def _lock_job(conn: asyncpg.Connection, job_id: str) -> asyncpg.Record | None:
    """The job's row, locked (a job's end commits before this run's write or after it), with ``newer``:
    this step's run is a later one than the row speaks for (an operator's reset, taking the job over)."""
    info = activity.info()
    return await conn.fetchrow(
        f"SELECT status, last_run_id, {newer_run('$2', '$3')} AS newer FROM ingestion_jobs WHERE id = $1 FOR UPDATE",
        job_id,
        info.workflow_run_id,
        info.scheduled_time,
    )


async def end_claim(conn: asyncpg.Connection, job_id: str) -> None:
    """A closed task is nobody's to have open: its reviewer's claim ends with it, in the transaction that closed it,
    however it closed (a decision by update or signal, an expiry, a cancelled job, the reconciler's record of a
    workflow ended from outside; ``mark_job_finished`` does the same inside its closing statement). Only once closed:
    a refused decision never gets here."""
    await conn.execute(
        "DELETE FROM review_claims c USING review_tasks t"
        " WHERE c.job_id = $1 AND t.job_id = c.job_id AND t.closed_at IS NOT NULL",
        job_id,
    )


def _replaced(job: asyncpg.Record) -> bool:
    """An operator's reset replaced this step's run: the row speaks for another run, not an earlier one."""
    return job["last_run_id"] not in (None, activity.info().workflow_run_id) and not job["newer"]


def _ended_before(job: asyncpg.Record) -> bool:
    """The job has ended, and this step's run is no reset taking it over: its step writes nothing (a late attempt
    after a cancel, say)."""
    return JobStatus(job["status"]).is_terminal and not job["newer"]


async def _take_over(conn: asyncpg.Connection, job_id: str, status: JobStatus) -> None:
    """The job's row speaks for this step's run from now on, which an operator's reset started (``newer``),
    an ended job open again as ``status``: a run reset past the opening of its review never opens it again,
    so its first review step is where the job and the task become its own."""
    info = activity.info()
    await conn.execute(
        f"UPDATE ingestion_jobs SET status = $2, {job_claimed('$3', '$4', reasons_kept=True)} WHERE id = $1",
        job_id,
        status,
        info.workflow_run_id,
        info.scheduled_time,
    )


def _stored(bill: NormalizedBill | None) -> NormalizedBill | None:
    """The bill as ``persist_bill`` stores it (with the current charges its line items imply), for the audit, the
    task and the eval case exported from them to agree with Postgres and the warehouse. A bill that came with a
    reject was not stored: the caller passes none for it."""
    return with_implied_charges(bill) if bill is not None else None


class ReviewActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def open_review_task(self, task: ReviewTaskOpen) -> None:
        """Safe to rerun: one task per job (upsert), and the job moves to NEEDS_REVIEW.

        A late attempt (say, one still running when the job was cancelled) changes nothing
        once the task is closed or the job has ended: it cannot put either back in the queue.
        The job's row is locked first, so ``mark_job_finished`` commits before this or after it.
        An operator's reset is another run: a task that an earlier run opened and closed is opened
        again, as new, and a job that run ended is taken over by this one (a reset to a point past
        ``mark_job_running`` reaches here first), or the new run would wait unseen for a decision
        until its review expired. A late attempt of a run a reset replaced changes nothing. A run reset to a point
        where it waits for a decision calls this again (``take_back_review``, ``taking_back``), with the task's
        status as it saw it then: that opens only a task another run wrote, as a task this run wrote since (its
        escalation committed first, its decision) is newer than what the attempt carries. A task this run decided is
        opened again only when the attempt names that decision's revision (``reopens``: persist held the correction).
        """
        info = activity.info()
        async with self._pool.acquire() as conn, conn.transaction():
            job = await _lock_job(conn, task.job_id)
            if job is None or _replaced(job) or _ended_before(job):
                logger.info("job ended: no review task", extra={"job_id": task.job_id, "step": "open_review_task"})
                return
            if job["newer"]:
                await _take_over(conn, task.job_id, JobStatus.RUNNING)
            opened = await conn.execute(
                """
                INSERT INTO review_tasks (job_id, status, reasons, bill, artifact_uri, revision, run_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (job_id) DO UPDATE
                   SET status = EXCLUDED.status, reasons = EXCLUDED.reasons, bill = EXCLUDED.bill,
                       revision = EXCLUDED.revision, updated_at = now(),
                       artifact_uri = EXCLUDED.artifact_uri, run_id = EXCLUDED.run_id,
                       created_at = CASE WHEN review_tasks.closed_at IS NULL THEN review_tasks.created_at
                                         ELSE now() END,
                       -- taken back ESCALATED: the escalation it had (one the old run closed with its end) stands
                       escalated_at = CASE WHEN EXCLUDED.status = 'ESCALATED'
                                           THEN COALESCE(review_tasks.escalated_at, now())
                                           WHEN review_tasks.closed_at IS NULL THEN review_tasks.escalated_at END,
                       closed_at = NULL
                 WHERE (review_tasks.closed_at IS NULL AND NOT $8)
                    OR review_tasks.run_id IS DISTINCT FROM EXCLUDED.run_id
                    OR (review_tasks.status = 'DONE' AND review_tasks.revision = $9)
                """,
                task.job_id,
                task.status,
                task.reasons,
                task.bill.model_dump(mode="json") if task.bill else None,
                task.artifact_uri,
                task.revision,
                info.workflow_run_id,  # a task this run closed (decided) is never opened again by it
                # Taken back, only another run's task: one this run wrote since is newer than this attempt's values.
                task.taking_back,
                task.reopens,  # this run's task, decided as that revision: opened again for a held correction
            )
            if opened == "INSERT 0 0":  # the task is closed (decided): the job runs on, not back to review
                message = (
                    "review task this run's already: not taken back"
                    if task.taking_back
                    else "review task closed: not reopened"
                )
                logger.info(message, extra={"job_id": task.job_id, "step": "open_review_task"})
                return
            await conn.execute(
                "UPDATE ingestion_jobs SET status = $2, reasons = $3, updated_at = now()"
                " WHERE id = $1 AND status IN ('PENDING', 'RUNNING', 'NEEDS_REVIEW')",
                task.job_id,
                JobStatus.NEEDS_REVIEW,
                task.reasons,
            )
        logger.info(
            "review task opened", extra={"job_id": task.job_id, "step": "open_review_task", "reasons": task.reasons}
        )

    @activity.defn
    async def escalate_review(self, update: ReviewTaskUpdate) -> None:
        """Safe to rerun: marks the task escalated (idempotent) and notifies (a log line for now).

        This is the notification hook: wire e-mail or paging here.
        """
        context = {"job_id": update.job_id, "step": "escalate_review"}
        if await self._set_status(update, closed=False):
            logger.warning("review SLA missed: escalated", extra=context)
        else:  # the job ended first, or a retry after this escalation committed: no second page
            logger.info("escalation found the task escalated or closed already: nothing to notify", extra=context)

    @activity.defn
    async def close_review_task(self, update: ReviewTaskUpdate) -> None:
        """Safe to rerun: sets the task's final status and ends its claim (``end_claim``)."""
        await self._set_status(update, closed=True)

    async def _set_status(self, update: ReviewTaskUpdate, *, closed: bool) -> bool:
        """Closing is final: an escalation that lands late leaves a closed task closed. True when this call escalated
        the task (this escalation's revision, new to the row, left it open and ESCALATED): the SLA's alert is sent once
        an escalation, for a task still open.

        A run an operator reset past the opening of its review takes the task over (and the job, see
        ``_take_over``), and its escalation opens again a task the run it replaced closed with its end:
        the run still waits for a decision, which the queue would not offer otherwise."""
        async with self._pool.acquire() as conn, conn.transaction():
            job = await _lock_job(conn, update.job_id)
            newer = job is not None and bool(job["newer"])
            if newer:
                await _take_over(conn, update.job_id, JobStatus.RUNNING if closed else JobStatus.NEEDS_REVIEW)
            before = await conn.fetchval("SELECT revision FROM review_tasks WHERE job_id = $1", update.job_id)
            after = await conn.fetchrow(
                f"""
                UPDATE review_tasks
                   SET status = $2, revision = $3, updated_at = now(), run_id = CASE WHEN $6 THEN $5 ELSE run_id END,
                       escalated_at = CASE WHEN $2 = 'ESCALATED' THEN COALESCE(escalated_at, now())
                                           ELSE escalated_at END,
                       closed_at = CASE WHEN $4 THEN COALESCE(closed_at, now()) WHEN $6 THEN NULL ELSE closed_at END
                 WHERE job_id = $1 AND ($6 OR (($4 OR closed_at IS NULL) AND {_owned_by_run("$5")}))
                RETURNING status, closed_at
                """,
                update.job_id,
                update.status,
                update.revision,
                closed,
                activity.info().workflow_run_id,
                newer,
            )
            if closed:
                await end_claim(conn, update.job_id)
        # Each escalation carries a revision of its own (a retry the same one): a new one escalated the task, a reset
        # run's too, where the task had been escalated before.
        return (
            after is not None
            and after["status"] == ReviewStatus.ESCALATED
            and after["closed_at"] is None
            and before != update.revision
        )

    @activity.defn
    async def record_review_decision(self, audit: ReviewAudit) -> None:
        """Safe to rerun: one audit row per decision (job, revision and what was decided); the task is closed as DONE.
        The same decision taken again on a task a reset took back is dated anew, as its task's latest.

        A late attempt of a run an operator's reset replaced changes nothing: its decision never took
        effect, and the new run's job may be waiting for its own reviewer. Nor does one that commits after
        its job ended (an operator's cancel reached the run while this step ran): no bill was stored, and
        the task, closed CANCELED, showed the decision as taken. A run reset past the opening
        of its review takes the job and the task over (``_take_over``): the task closes DONE, not
        CANCELED with the run's end.
        """
        decision = audit.decision
        corrected = _stored(decision.bill) if decision.action is ReviewAction.CORRECT else None
        after = corrected or (_stored(audit.before) if decision.action is ReviewAction.APPROVE else None)
        async with self._pool.acquire() as conn, conn.transaction():
            job = await _lock_job(conn, audit.job_id)
            if job is not None and _replaced(job):
                logger.info(
                    "run replaced: decision not recorded",
                    extra={"job_id": audit.job_id, "step": "record_review_decision"},
                )
                return
            if job is not None and _ended_before(job):
                logger.info(
                    "job ended: decision not recorded",
                    extra={"job_id": audit.job_id, "step": "record_review_decision", "status": job["status"]},
                )
                return
            newer = job is not None and bool(job["newer"])
            if newer:
                await _take_over(conn, audit.job_id, JobStatus.RUNNING)
            await conn.execute(
                """
                INSERT INTO review_decisions
                       (job_id, revision, action, reviewer, note, before, after, diff, overridden, artifact_uri)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                        -- the bill decided on, the task's as it is now: export_corrections pairs the two by it
                        (SELECT artifact_uri FROM review_tasks WHERE job_id = $1))
                ON CONFLICT (job_id, revision, decision_key) DO UPDATE
                   SET decided_at = now(), before = EXCLUDED.before, diff = EXCLUDED.diff,
                       overridden = EXCLUDED.overridden, artifact_uri = EXCLUDED.artifact_uri
                 -- Taken again since the task was taken back after a reset (its opening is newer than the row):
                 -- dated anew, readers take it as the latest, not the decisions taken in between. A retry of
                 -- this run's own step (the row newer than the opening) keeps its row as it is.
                 WHERE review_decisions.decided_at < (SELECT created_at FROM review_tasks WHERE job_id = $1)
                """,
                audit.job_id,
                audit.revision,
                decision.action,
                decision.reviewer,
                decision.note,
                audit.before.model_dump(mode="json") if audit.before else None,
                after.model_dump(mode="json") if after else None,
                bill_diff(audit.before, after),
                _stored_despite(decision, corrected, after),
            )
            # A task already closed (the job cancelled meanwhile) keeps its status, unless a reset run takes it over.
            await conn.execute(
                "UPDATE review_tasks SET status = $2, bill = COALESCE($3, bill), updated_at = now(), closed_at = now(),"
                " run_id = CASE WHEN $5 THEN $4 ELSE run_id END"
                f" WHERE job_id = $1 AND ($5 OR (closed_at IS NULL AND {_owned_by_run('$4')}))",
                audit.job_id,
                ReviewStatus.DONE,
                # A corrected task shows the bill as corrected, not as it was extracted.
                corrected.model_dump(mode="json") if corrected is not None else None,
                activity.info().workflow_run_id,
                newer,
            )
            await end_claim(conn, audit.job_id)
            await conn.execute(  # decided: the job runs on (persist, publish) until it ends
                "UPDATE ingestion_jobs SET status = $2, updated_at = now() WHERE id = $1 AND status = $3",
                audit.job_id,
                JobStatus.RUNNING,
                JobStatus.NEEDS_REVIEW,
            )
        logger.info(
            "review decided",
            extra={
                "job_id": audit.job_id,
                "step": "record_review_decision",
                "action": str(decision.action),
                "reviewer": decision.reviewer,
            },
        )
