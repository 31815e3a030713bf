"""Record the end of jobs whose workflow was ended from outside MiniMeter.

A workflow records its own end (``mark_job_finished``, after a cancel request too), so
a job row still PENDING, RUNNING or NEEDS_REVIEW while Temporal says its workflow is
closed means someone ended it from outside: Terminate in the Web UI or the CLI, or a
run timeout. Such a row would show a live job for ever and keep its review task in the
reviewers' queue. The reconciler asks Temporal about open rows not changed, dispatched
or checked for ``JOB_RECONCILE_AFTER`` (a job that waited long for dispatch is not
checked the moment it starts), each at most once per that period, and records what
happened: FAILED with the reason and the step the run was at (CANCELED for a cancellation), the
steps it had taken, the review task closed and its reviewer's claim ended. Beside those rounds, every
``CLOSED_SCAN_SECONDS`` one visibility query lists MiniMeter's workflows that closed lately other than completed,
and their jobs are claimed and checked the same way (each by one API process at a time, though every one lists it; one
still open after its check may be described again by another once the claim lapses): a job terminated in the
Web UI reads ended within seconds, in the job list too, while the list itself reads Postgres alone.

A job whose workflow completed while its row is still open lost the end its run recorded: Postgres was restored
from a backup taken before it. Its end is recorded from the run's result, as the run's ``mark_job_finished`` wrote
it (``record_job_end``: status, result, steps, the review task closed), and logged as a warning. Only the rounds
and a request's ``record_if_ended`` find those: the scan lists no completed runs (every job's normal end is one).

It acts only on Temporal's positive answer: a running workflow is left alone however
long it takes, and one Temporal does not know (a wrong namespace, a deleted history) is
logged, never failed, so a misconfiguration cannot fail every open job. A job whose workflow
runs but which is still PENDING a period after it was started is logged too: no worker took it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistoryEventFilterType,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.jobs import record_job_end
from activities.review import end_claim
from api.services.background import BackgroundLoop, FailureStreak
from shared.db import JOB_ENDED
from shared.models import JobProgress, JobStatus, JobStatusUpdate
from shared.review import ReviewStatus
from shared.settings import Settings
from shared.temporal import went_unanswered
from workflows.bill_ingestion import BillIngestionWorkflow

logger = logging.getLogger(__name__)

POLL_SECONDS = 60.0
CLOSED_SCAN_SECONDS = 5.0
"""How often each API process lists the workflows that closed lately (one visibility query, whatever the
request load: self-hosted Temporal allows ~10 visibility calls/s per namespace by default, and its Web UI
shares them)."""
CLOSED_SCAN_OVERLAP = timedelta(minutes=1)
"""A scan looks this far behind the previous one's start: visibility lists a close a little late, and
dates it by Temporal's clock, not the API's."""
CLOSED_SCAN_LIMIT = 500
"""Closed runs one scan takes (one page); a burst beyond is left to the rounds."""
CLOSED_SCAN_TIMEOUT = timedelta(seconds=5)
CHECKS_AT_ONCE = 8
"""Jobs a round or scan checks at a time (a describe, a history read and a progress query each)."""
ROUND_DEADLINE = timedelta(seconds=30)
"""A round's or scan's checks in all: rows not reached by then are due again at the next round."""
SCAN_CLAIM = ROUND_DEADLINE + timedelta(seconds=5)
"""A job checked this recently (by a round, or any process's scan, perhaps still under way) is left to that
check by a scan: past the deadline of the check, and well inside ``CLOSED_SCAN_OVERLAP``, so a run whose job
was skipped is still listed when the claim lapses."""

_OPEN = "status IN ({})".format(", ".join(f"'{status}'" for status in JobStatus if not status.is_terminal))
"""Jobs not yet ended, as ``JobStatus.is_terminal`` defines them."""
_ENDED_OUTSIDE = {
    WorkflowExecutionStatus.TERMINATED: (JobStatus.FAILED, "terminated outside MiniMeter"),
    WorkflowExecutionStatus.TIMED_OUT: (JobStatus.FAILED, "timed out (workflow run timeout)"),
    WorkflowExecutionStatus.FAILED: (JobStatus.FAILED, "failed before recording its end"),
    WorkflowExecutionStatus.CANCELED: (JobStatus.CANCELED, "cancelled before recording its end"),
}
"""Closed statuses whose job row may still be open, and what the job becomes."""
_ENDED_OUTSIDE_LISTED = "'Terminated', 'TimedOut', 'Failed', 'Canceled'"
"""``_ENDED_OUTSIDE`` as a visibility query names them."""
DESCRIBE_ON_REQUEST_TIMEOUT = timedelta(seconds=2)
"""How long a request waits for Temporal to say whether a job's workflow is closed (``record_if_ended``)."""
LAST_PROGRESS_TIMEOUT = timedelta(seconds=2)
"""How long recording an end waits for a worker to replay the closed run for its steps (none running: never)."""


T = TypeVar("T")


def _within(awaitable: Awaitable[T], timeout: timedelta | None) -> Awaitable[T]:
    """``awaitable`` bounded by ``timeout`` in all: an rpc_timeout bounds each try, and the client tries an
    unreachable server again for ~10 s."""
    return awaitable if timeout is None else asyncio.wait_for(awaitable, timeout.total_seconds())


class _ProgressQueries:
    """The progress queries of one round or scan. Each waits for a worker to replay its closed run: once one
    goes unanswered (no worker polls the queue), the rest are not sent, so a batch of ends waits once, not
    ``LAST_PROGRESS_TIMEOUT`` per job."""

    unanswered = False


@dataclass(frozen=True)
class Reconciled:
    checked: int
    ended: int
    unknown: int


class JobReconciler(BackgroundLoop):
    name = "job-reconciler"

    def __init__(self, pool: asyncpg.Pool, client: Client, settings: Settings) -> None:
        self._pool = pool
        self._client = client
        self._settings = settings
        self._scanned_at = datetime.now(UTC)
        self._scan_seen: dict[tuple[str, str], datetime] = {}
        """Closed runs a scan has settled (their job checked, or none open), by close time: not again."""
        self._failures = FailureStreak("job reconciliation")

    async def _run(self) -> None:
        await asyncio.gather(self._reconcile_forever(), self._scan_forever())

    async def _scan_forever(self) -> None:
        while True:
            try:
                await self.record_recently_closed()
            except Exception as error:  # noqa: BLE001 - Temporal down, or visibility throttled: one line a scan
                logger.warning("recently closed workflows could not be listed", extra={"error": repr(error)[:300]})
            await asyncio.sleep(CLOSED_SCAN_SECONDS)

    async def _reconcile_forever(self) -> None:
        while True:
            try:
                checked = (await self.reconcile_once()).checked
            except Exception as error:  # noqa: BLE001 - logged by the streak, with its traceback the first time
                self._failures.failed(error)
                checked = 0
            else:
                self._failures.succeeded()
            if checked < self._settings.job_reconcile_batch:  # a full batch: more rows are due now
                await asyncio.sleep(POLL_SECONDS)

    async def reconcile_once(self) -> Reconciled:
        """Check up to ``JOB_RECONCILE_BATCH`` due rows, least recently checked first.

        The rows are claimed (``checked_at`` set) before Temporal is asked, skipping rows
        another reconciler holds: with several API processes or replicas each due row is
        described once per period, not once per process. A process that dies after claiming
        leaves its rows to the next period."""
        rows = await self._pool.fetch(
            f"""
            UPDATE ingestion_jobs SET checked_at = now()
             WHERE id IN (
                   SELECT id FROM ingestion_jobs
                    WHERE {_OPEN} AND dispatched_at IS NOT NULL
                      AND GREATEST(updated_at, dispatched_at, checked_at) < now() - $1::interval
                    ORDER BY GREATEST(updated_at, dispatched_at, checked_at) LIMIT $2
                      FOR UPDATE SKIP LOCKED)
            RETURNING id, workflow_id, status, checked_at AS claimed_at
            """,
            self._settings.job_reconcile_after,
            self._settings.job_reconcile_batch,
        )
        outcomes, failed = await self._check_all(rows, named_if_waiting=True)
        unreached = [row for row in rows if str(row["id"]) not in outcomes.keys() | failed]
        if unreached:  # cut off by the deadline: due again at the next round, not a period later
            await self._pool.execute(  # while the claim is still ours, as a scan gives its claim back
                "UPDATE ingestion_jobs AS job SET checked_at = NULL"
                " FROM unnest($1::uuid[], $2::timestamptz[]) AS was(id, claimed_at)"
                " WHERE job.id = was.id AND job.checked_at = was.claimed_at",
                [row["id"] for row in unreached],
                [row["claimed_at"] for row in unreached],
            )
        ended = sum(outcome is True for outcome in outcomes.values())
        unknown = sum(outcome is None for outcome in outcomes.values())
        return Reconciled(checked=len(rows), ended=ended, unknown=unknown)

    async def record_recently_closed(self) -> int:
        """List, in one visibility query, MiniMeter's workflows that closed other than completed since the
        previous scan, and record the end of their jobs still open; how many were recorded.

        Each is checked as a round checks it (``_check``), so the run a reset replaced (listed as terminated
        while its successor runs) is described by its latest run and left alone."""
        began = datetime.now(UTC)
        since = self._scanned_at - CLOSED_SCAN_OVERLAP
        query = (
            f"WorkflowType = '{BillIngestionWorkflow.__name__}' AND ExecutionStatus IN ({_ENDED_OUTSIDE_LISTED})"
            f" AND CloseTime > '{since.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'"
        )

        async def listing() -> list[WorkflowExecution]:
            found = self._client.list_workflows(
                query, limit=CLOSED_SCAN_LIMIT, page_size=CLOSED_SCAN_LIMIT, rpc_timeout=CLOSED_SCAN_TIMEOUT
            )
            return [execution async for execution in found]

        closed = await _within(listing(), CLOSED_SCAN_TIMEOUT)
        if len(closed) >= CLOSED_SCAN_LIMIT:
            logger.warning("more workflows closed than a scan takes: the rest are left to the reconcile rounds")
        self._scanned_at = began
        self._scan_seen = {run: at for run, at in self._scan_seen.items() if at >= since}
        new = {(e.id, e.run_id): e.close_time or began for e in closed if (e.id, e.run_id) not in self._scan_seen}
        if not new:
            return 0
        workflow_ids = {workflow_id for workflow_id, _ in new}
        # Claimed as a round claims its rows: every API process lists the same closed runs, and each described
        # every job of them (only one UPDATE won). A row checked within SCAN_CLAIM (by a round or another
        # process's scan) is skipped, and its run left unsettled here: listed again, it is taken once free.
        rows = await self._pool.fetch(
            f"""
            WITH due AS (
                 SELECT id, checked_at FROM ingestion_jobs
                  WHERE workflow_id = ANY($1::text[]) AND {_OPEN} AND dispatched_at IS NOT NULL
                    AND (checked_at IS NULL OR checked_at < now() - $2::interval)
                    FOR UPDATE SKIP LOCKED)
            UPDATE ingestion_jobs AS job SET checked_at = now() FROM due WHERE job.id = due.id
            RETURNING job.id, job.workflow_id, job.status,
                      due.checked_at AS was_checked_at, job.checked_at AS claimed_at
            """,
            list(workflow_ids),
            SCAN_CLAIM,
        )
        claimed_elsewhere = {
            workflow_id
            for (workflow_id,) in await self._pool.fetch(
                f"SELECT workflow_id FROM ingestion_jobs WHERE workflow_id = ANY($1::text[]) AND {_OPEN}"
                " AND dispatched_at IS NOT NULL AND NOT (id = ANY($2::uuid[]))",
                list(workflow_ids),
                [row["id"] for row in rows],
            )
        }
        outcomes, _ = await self._check_all(rows, named_if_waiting=False)
        unsettled = [row for row in rows if str(row["id"]) not in outcomes]
        if unsettled:  # failed or cut off: free again for the next scan (or round), as they were
            # Only while the claim is still ours: a process paused past SCAN_CLAIM gave another the row, whose
            # newer claim (its check perhaps under way) this would wipe, leaving the row to a third.
            await self._pool.execute(
                "UPDATE ingestion_jobs AS job SET checked_at = was.checked_at"
                " FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS was(id, checked_at, claimed_at)"
                " WHERE job.id = was.id AND job.checked_at = was.claimed_at",
                [row["id"] for row in unsettled],
                [row["was_checked_at"] for row in unsettled],
                [row["claimed_at"] for row in unsettled],
            )
        open_runs = claimed_elsewhere | {row["workflow_id"] for row in unsettled}
        self._scan_seen.update({run: at for run, at in new.items() if run[0] not in open_runs})
        return sum(outcome is True for outcome in outcomes.values())

    async def _check_all(
        self, rows: Sequence[Mapping[str, Any]], *, named_if_waiting: bool
    ) -> tuple[dict[str, bool | None], set[str]]:
        """Check ``rows`` (``id``, ``workflow_id``, ``status``), ``CHECKS_AT_ONCE`` at a time and within
        ``ROUND_DEADLINE`` in all: each row's outcome by job id (``_check``), and the ids whose check failed.
        A row in neither was not reached by the deadline."""
        gate = asyncio.Semaphore(CHECKS_AT_ONCE)
        queries = _ProgressQueries()
        outcomes: dict[str, bool | None] = {}
        failed: dict[str, Exception] = {}

        async def check(row: Mapping[str, Any]) -> None:
            job_id = str(row["id"])
            async with gate:
                try:
                    outcomes[job_id] = await self._check(
                        job_id,
                        row["workflow_id"],
                        JobStatus(row["status"]),
                        queries=queries,
                        named_if_waiting=named_if_waiting,
                    )
                except Exception as error:  # noqa: BLE001 - Temporal down: the others are tried, one line says so
                    failed[job_id] = error

        try:
            async with asyncio.timeout(ROUND_DEADLINE.total_seconds()):  # not wait_for: ``BackgroundLoop.stop``
                await asyncio.gather(*(check(row) for row in rows))
        except TimeoutError:
            logger.warning(
                "jobs' checks cut short at the deadline", extra={"checked": len(outcomes), "jobs": len(rows)}
            )
        if failed:
            logger.warning(
                "jobs' workflows could not be described",
                extra={"failed": len(failed), "job_id": next(iter(failed))},
                exc_info=next(iter(failed.values())),
            )
        return outcomes, set(failed)

    async def record_if_ended(self, job: Mapping[str, Any]) -> bool:
        """Record now the end of one open job whose workflow a request finds closed (a progress query
        refused, a decision answered "not found", a reviewer opening its task), not a period later;
        True when recorded.

        Until then the job read ``NEEDS_REVIEW``, the queue kept offering its task, and every decision on
        it was refused. As a round does, it acts only on Temporal's answer; a Temporal that does not
        answer within ``DESCRIBE_ON_REQUEST_TIMEOUT`` (all its retries in, when the server is down) leaves the
        row, and the request goes on as before."""
        if job["dispatched_at"] is None or JobStatus(job["status"]).is_terminal:
            return False  # no workflow yet, or an end already recorded
        try:
            return (
                await self._check(
                    str(job["id"]),
                    job["workflow_id"],
                    JobStatus(job["status"]),
                    rpc_timeout=DESCRIBE_ON_REQUEST_TIMEOUT,
                )
                is True
            )
        except (RPCError, TimeoutError):
            logger.warning("job's workflow could not be described", extra={"job_id": str(job["id"])}, exc_info=True)
            return False

    async def _check(
        self,
        job_id: str,
        workflow_id: str,
        row_status: JobStatus,
        *,
        rpc_timeout: timedelta | None = None,
        queries: _ProgressQueries | None = None,
        named_if_waiting: bool = True,
    ) -> bool | None:
        """True when the job was recorded as ended now, False when it is fine, None when Temporal has no such run."""
        handle = self._client.get_workflow_handle(workflow_id)
        try:
            described = await _within(handle.describe(rpc_timeout=rpc_timeout), rpc_timeout)
            status = described.status
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            logger.warning(
                "job's workflow is unknown to Temporal",
                extra={"job_id": job_id, "workflow_id": workflow_id, "step": "reconcile"},
            )
            return None
        if status is WorkflowExecutionStatus.COMPLETED:
            return await self._record_completed(job_id, described, rpc_timeout=rpc_timeout, queries=queries)
        if status not in _ENDED_OUTSIDE:
            if named_if_waiting and status is WorkflowExecutionStatus.RUNNING and row_status is JobStatus.PENDING:
                # Its first step marks a job RUNNING: a whole period later, no worker has taken it (none
                # running, or none polling this queue) and nothing else would say so while it waits.
                logger.warning(
                    "job's workflow waits for a worker: is one polling its task queue?",
                    extra={
                        "job_id": job_id,
                        "workflow_id": workflow_id,
                        "task_queue": described.task_queue,
                        "step": "reconcile",
                    },
                )
            return False
        job_status, what = _ENDED_OUTSIDE[status]
        reason = await _within(self._close_reason(handle), rpc_timeout)
        # Of the run described: a reset since would be a new run, whose steps are not this end's.
        progress = await self._last_progress(
            self._client.get_workflow_handle(workflow_id, run_id=described.run_id), queries or _ProgressQueries()
        )
        step = progress.current_step if progress else None
        error = f"workflow {what}" + (f": {reason}" if reason else "") + (f" (at step {step})" if step else "")
        async with self._pool.acquire() as conn, conn.transaction():
            updated = await conn.execute(
                f"""
                UPDATE ingestion_jobs
                   SET status = $2, error = $3, checked_at = now(), ended_run_id = $4,
                       last_run_id = COALESCE(last_run_id, $4), run_scheduled_at = COALESCE(run_scheduled_at, $5),
                       steps = COALESCE($6::jsonb, steps), {JOB_ENDED}
                 WHERE id = $1 AND {_OPEN}
                   -- not a row a later run took over meanwhile (an operator's reset): its end is not this run's
                   AND (last_run_id IS NULL OR last_run_id = $4 OR run_scheduled_at IS NULL OR run_scheduled_at < $5)
                """,
                job_id,
                job_status,
                error,
                # A late try of that run's first step must not open the job again; and a row no run took
                # now names a run, so an operator's reset of it is a later run that takes the job over.
                described.run_id,
                # ... but not a run a reset replaced before that one, whose first step hung: its steps were
                # scheduled before this run started.
                described.start_time,
                # The steps the run had taken: a workflow stores them only as it records its own end.
                [s.model_dump(mode="json") for s in progress.steps] if progress else None,
            )
            if not updated.endswith(" 1"):  # its last activity recorded an end after all
                return False
            await conn.execute(
                "UPDATE review_tasks SET status = $2, updated_at = now(), closed_at = COALESCE(closed_at, now())"
                " WHERE job_id = $1 AND status IN ($3, $4)",
                job_id,
                ReviewStatus.CANCELED,
                ReviewStatus.PENDING,
                ReviewStatus.ESCALATED,
            )
            await end_claim(conn, job_id)  # the task is nobody's to have open now
        logger.warning(
            "job ended outside MiniMeter recorded",
            extra={
                "job_id": job_id,
                "workflow_id": workflow_id,
                "step": "reconcile",
                "status": str(job_status),
                "error": error,
            },
        )
        return True

    async def _record_completed(
        self,
        job_id: str,
        described: WorkflowExecutionDescription,
        *,
        rpc_timeout: timedelta | None,
        queries: _ProgressQueries | None,
    ) -> bool:
        """Record the end of a job whose run completed though its row is open, from the run's result, as the
        run's ``mark_job_finished`` recorded it (``record_job_end``); True when recorded.

        A completed run recorded its end before it returned, so its row reads open only when Postgres lost that
        write: restored from a backup taken before it. Left so, the job read NEEDS_REVIEW with its task PENDING
        for good, and a decision sent again was answered with the run's old outcome. A row that took an end
        meanwhile, or that a later run took over, is left alone."""
        status = await self._pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", job_id)
        if status is None or JobStatus(status).is_terminal:
            # The common case by far: a request read the row just before its run recorded its end and completed.
            # Nothing to repair, and no result to fetch nor a closed run's steps for a worker to replay.
            return False
        run = self._client.get_workflow_handle_for(BillIngestionWorkflow.run, described.id, run_id=described.run_id)
        try:
            # The client's data converter opens the result (sealed with the payload keys, as every payload is).
            result = await _within(run.result(follow_runs=False, rpc_timeout=rpc_timeout), rpc_timeout)
        except (RPCError, TimeoutError):
            raise  # the caller's to handle, as for the describe
        except Exception:  # a key rotated in on the workers first, a result of another shape: left for a person
            logger.warning(
                "job's row is behind its completed run, whose result could not be read: left open",
                extra={"job_id": job_id, "workflow_id": described.id, "step": "reconcile"},
                exc_info=True,
            )
            return False
        progress = await self._last_progress(run, queries or _ProgressQueries())
        info = described.raw_description.workflow_execution_info
        update = JobStatusUpdate(
            job_id=job_id,
            status=result.status,
            error=result.error,
            result=result,
            first_run_id=info.first_run_id or None,
        )
        # The close stands for the time its mark_job_finished was scheduled: a run that took the job over
        # since was scheduled later, and keeps it.
        closed_at = described.close_time or datetime.now(UTC)
        steps = progress.steps if progress else None
        recorded = await record_job_end(
            self._pool,
            update,
            run_id=described.run_id,
            scheduled_at=closed_at,
            steps=steps,
            only_open=True,
            ended_at=described.close_time,
        )
        if not recorded:  # ended meanwhile (by this check elsewhere), or taken over by a later run
            return False
        logger.warning(
            "job's row was behind its completed run (database restored from a backup?): its end recorded from the"
            " run's result",
            extra={
                "job_id": job_id,
                "workflow_id": described.id,
                "run_id": described.run_id,
                "step": "reconcile",
                "status": str(result.status),
                "bill_id": result.bill_id,
            },
        )
        return True

    @staticmethod
    async def _last_progress(handle: WorkflowHandle[Any, Any], queries: _ProgressQueries) -> JobProgress | None:
        """The closed run's steps and the step it was at (a worker replays it to answer), or None: no worker
        answered in ``LAST_PROGRESS_TIMEOUT`` (this one, or another of ``queries``), or the run cannot be
        replayed (its code changed since)."""
        if queries.unanswered:
            return None
        asking = handle.query(BillIngestionWorkflow.progress, rpc_timeout=LAST_PROGRESS_TIMEOUT)
        try:
            return await _within(asking, LAST_PROGRESS_TIMEOUT)
        except Exception as error:  # the end is recorded without them, as it was before
            if went_unanswered(error):
                queries.unanswered = True  # no worker polls: the other queries of this batch would wait as long
            logger.info("closed run's steps could not be read", extra={"workflow_id": handle.id}, exc_info=True)
            return None

    @staticmethod
    async def _close_reason(handle: WorkflowHandle[Any, Any]) -> str | None:
        """The reason an operator gave for a termination (the Web UI and CLI ask for one)."""
        async for event in handle.fetch_history_events(event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT):
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
                reason = event.workflow_execution_terminated_event_attributes.reason
                identity = event.workflow_execution_terminated_event_attributes.identity
                return " ".join(part for part in (reason, f"(by {identity})" if identity else "") if part) or None
        return None
