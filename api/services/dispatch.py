"""Start accepted jobs on Temporal, never more than a set number running at once.

``POST /jobs`` (and ``/bills``) only inserts the job row, with the workflow input in
``start_request``, and wakes the dispatcher: the caller gets its job id after one
INSERT, whatever Temporal's load. The dispatcher then starts jobs oldest first while
fewer than ``JOB_DISPATCH_MAX_RUNNING`` are PENDING or RUNNING, so a burst of 10,000
uploads waits in Postgres rather than as 10,000 open workflows competing for the
workers' cache and slots (jobs waiting for a reviewer do not count, nor do jobs whose bill
was stored over a minute ago, nor jobs started longer than ``JOB_DISPATCH_STALE_AFTER`` ago: a workflow
terminated by hand never records its end, and must not hold a place for ever).

Crash safety (a transactional outbox): rows are claimed ``FOR UPDATE SKIP LOCKED``,
started, and marked ``dispatched_at`` in the same transaction. A dispatcher that dies
mid-way rolls back, and the next one starts those jobs again; the workflow id is the
job's, with ``REJECT_DUPLICATE``, so a second start finds the first and changes nothing. So does a start
the round stopped waiting for (``START_TIMEOUT``, each start's own) that Temporal carried out all the same.
Several API processes can dispatch side by side, one round at a time: a round counts,
claims and starts under a transaction-scoped advisory lock, so between them they never
run more than the limit (a process that finds the lock taken tries again shortly).

Starts are answered first: the first round after the dispatcher was idle waits while its process is
still accepting jobs, until they pause for ``JOB_DISPATCH_QUIET_MS`` (``JOB_DISPATCH_MAX_WAIT_MS`` at
most). That round claims and starts up to a batch at once, on the event loop the requests need, and
the workflows it starts set the worker and Temporal going on cores the API may share with them. On
the bench's two cores, 32 clients sending 1,000 starts were answered in 20–30 ms at the median with
this wait, 33–48 without (five alternated pairs of runs; README, "Why the API misses 50 ms"). The
rounds that follow while jobs wait (for room, or for the next batch) do not wait: they only keep the
running jobs at the limit, and holding them back would leave places empty for as long as starts come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.services.background import BackgroundLoop, FailureStreak
from shared import search_attributes as sa
from shared.db import JOB_ENDED
from shared.models import IngestionRequest, JobStatus
from shared.settings import Settings
from shared.temporal import went_unanswered
from workflows.bill_ingestion import BillIngestionWorkflow

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 2.0
"""Without a wake-up, look for jobs other API processes accepted this often."""
FULL_POLL_SECONDS = 0.2
"""While jobs wait for room, check this often whether running ones finished."""
ERROR_BACKOFF_SECONDS = 1.0
STARTS_AT_ONCE = 8
"""Workflow starts in flight together. Each start spends about a millisecond of this event
loop (input, codec, request) before its gRPC call yields, and ``POST /jobs`` shares the
loop: 64 started at once held every request up for ~100 ms."""

START_TIMEOUT = timedelta(seconds=5)
"""How long a start may wait for Temporal's answer, from when it is sent (its ``rpc_timeout`` too). The round holds
``DISPATCH_LOCK``, its rows' locks and a pooled connection meanwhile, so every API process's dispatcher waits with
it: unbounded, a frontend that takes the connection and never answers held them for the SDK's default 30 s per
start (``OTHER_CALL_TIMEOUT`` in its core), 8 at a time, minutes for a round of 64. A healthy frontend answers a
start in milliseconds (about 200 a second on the dev server here), a remote one in well under a second: 5 s is far
past a slow moment, and what a hung frontend costs each round (the starts queued behind one that timed out are not
sent: ``StartSkipped``). Counted per start, not per round: a frontend answering each start in 0.8 s takes a round
of 64 past 5 s, and every one of those starts was working; ``ROUND_CEILING`` bounds the round. A start cut short may
still have been carried out: the next round's start finds that workflow (``start_ingestion``)."""

ROUND_CEILING = START_TIMEOUT * 4
"""How long a round goes on letting starts through: one answering each start just under ``START_TIMEOUT``, or
failing each after a while (UNAVAILABLE after the SDK's own retries), would otherwise hold the round's locks for
``START_TIMEOUT`` a batch (40 s for 64 rows) with no start ever timing out. A start let through by then still gets
its whole ``START_TIMEOUT``; those still queued are left for the next round (``StartSkipped``)."""

DISPATCH_LOCK = "minimeter.job-dispatch"
"""The advisory lock's name (``hashtext`` of it is the key) that serializes dispatch rounds."""

_WAITING = "dispatched_at IS NULL AND start_request IS NOT NULL"
STORED_RELEASE = "60 seconds"
_RUNNING = (
    f"status IN ('{JobStatus.PENDING}', '{JobStatus.RUNNING}') AND dispatched_at > now() - $1::interval"
    " AND NOT EXISTS (SELECT 1 FROM bills WHERE bills.job_id = ingestion_jobs.id"
    f" AND COALESCE(bills.revised_at, bills.created_at) < now() - interval '{STORED_RELEASE}')"
)
"""Jobs that hold a place. One whose bill was stored over a minute ago is only publishing it, and
retrying: through a warehouse outage it waits for hours on a timer, using no worker, and must not
stop new bills coming in. A publish normally takes seconds; releasing the place as soon as the bill
was stored let more jobs run than the limit (each step's queueing doubled, 5.6 → 5.1 bills/s in one
1,000-bill run)."""


LOGGED_IDS = 20
"""A dispatch log line names this many of its jobs at most: enough to find a stuck one, never a page."""


def _named(rows: list[asyncpg.Record]) -> dict[str, list[str]]:
    """The job and workflow ids a log line names, so an operator can tell which jobs wait."""
    shown = rows[:LOGGED_IDS]
    return {"job_ids": [str(r["id"]) for r in shown], "workflow_ids": [r["workflow_id"] for r in shown]}


class StartSkipped(Exception):
    """A start the round did not send: one before it got no answer within ``START_TIMEOUT`` (a frontend that does
    not answer one start will not answer the next either), or the round reached ``ROUND_CEILING``. Left for the
    next round."""


@dataclass
class _Round:
    """What a round's starts share: the gate letting ``STARTS_AT_ONCE`` through, and when it stops letting any."""

    gate: asyncio.Semaphore
    ends_at: float
    """The event loop's time at ``ROUND_CEILING``."""
    gave_up: bool = False
    """Set once a start went unanswered."""

    def over(self) -> bool:
        return self.gave_up or asyncio.get_running_loop().time() >= self.ends_at


def _warn_not_started(failures: list[tuple[asyncpg.Record, BaseException]]) -> None:
    """One line a round for the jobs it leaves to the next, saying apart the starts Temporal did not answer, those
    the round then did not send (Temporal was never asked), and any other error: a bare ``TimeoutError()`` would
    not say whose answer was missing."""
    errors = [error for _, error in failures]
    timed_out = sum(1 for error in errors if went_unanswered(error))
    skipped = sum(1 for error in errors if isinstance(error, StartSkipped))
    others = [error for error in errors if not went_unanswered(error) and not isinstance(error, StartSkipped)]
    reasons = []
    if timed_out:
        reasons.append(
            f"Temporal did not answer {timed_out} start(s) within START_TIMEOUT ({START_TIMEOUT.total_seconds():g} s)"
        )
    if skipped:
        reasons.append(
            f"{skipped} start(s) not sent (after a start went unanswered, or past ROUND_CEILING"
            f" {ROUND_CEILING.total_seconds():g} s), left for the next round"
        )
    if others:
        reasons.append(repr(others[0]))
    logger.warning(
        "jobs not started yet",
        extra={
            "jobs": len(failures),
            **_named([row for row, _ in failures]),
            "timed_out": timed_out,
            "skipped": skipped,
            "error": "; ".join(reasons),
        },
    )


async def start_ingestion(client: Client, settings: Settings, *, workflow_id: str, request: IngestionRequest) -> None:
    """Start the job's one workflow; a start that finds it already there is a success: one an earlier try
    started whose answer never came (past ``START_TIMEOUT``, or before a crash) is running (``USE_EXISTING``
    returns it) or has ended (``REJECT_DUPLICATE`` refuses a second run: ``WorkflowAlreadyStartedError``)."""
    attributes: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.CUSTOMER_ID, request.customer_id),
        SearchAttributePair(sa.JOB_STATUS, JobStatus.PENDING.value),
    ]
    if request.provider:
        attributes.append(SearchAttributePair(sa.PROVIDER, request.provider.value))
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            BillIngestionWorkflow.run,
            request,
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(attributes),
            static_summary=f"{request.job_type} bill for account {request.utility_account_id}",
            rpc_timeout=START_TIMEOUT,
        )


class JobDispatcher(BackgroundLoop):
    name = "job-dispatcher"

    def __init__(self, pool: asyncpg.Pool, client: Client, settings: Settings) -> None:
        self._pool = pool
        self._client = client
        self._settings = settings
        self._wake = asyncio.Event()
        self._last_accepted = -math.inf
        """``time.monotonic()`` when this process last accepted a job."""
        self._failures = FailureStreak("job dispatch")

    def wake(self) -> None:
        """A job was accepted: look now rather than at the next poll (once its process's starts pause)."""
        self._last_accepted = time.monotonic()
        self._wake.set()

    async def _after_starts_pause(self) -> None:
        """Wait until this process has accepted no job for ``job_dispatch_quiet_ms``, or for
        ``job_dispatch_max_wait_ms`` if starts keep coming."""
        quiet = self._settings.job_dispatch_quiet_ms / 1000
        give_up_at = time.monotonic() + self._settings.job_dispatch_max_wait_ms / 1000
        while True:  # each accept moves the pause's end: sleep to it, then look again
            pause = min(self._last_accepted + quiet, give_up_at) - time.monotonic()
            if pause <= 0:
                return
            await asyncio.sleep(pause)

    async def _run(self) -> None:
        from_idle = True
        while True:
            if from_idle:  # the rounds that follow while jobs wait only keep the running ones at the limit
                await self._after_starts_pause()
            try:
                started, waiting = await self.dispatch_once()
            except Exception as error:  # noqa: BLE001 - logged by the streak, with its traceback the first time
                self._failures.failed(error)
                await asyncio.sleep(ERROR_BACKOFF_SECONDS)
                continue
            self._failures.succeeded()
            from_idle = False
            if started:
                continue
            if waiting:  # full: only finishing jobs make room, and those are polled, not signalled
                await asyncio.sleep(FULL_POLL_SECONDS)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_POLL_SECONDS):  # not wait_for: see ``BackgroundLoop.stop``
                    await self._wake.wait()
            self._wake.clear()
            from_idle = True

    async def _start(self, workflow_id: str, request: IngestionRequest) -> None:
        await start_ingestion(self._client, self._settings, workflow_id=workflow_id, request=request)

    async def _start_in_round(self, row: asyncpg.Record, round_: _Round) -> None:
        """One job's start; a row that fails stays undispatched and fails alone (one that cannot be parsed for longer
        than ``JOB_DISPATCH_STALE_AFTER`` is failed for good by the round, so it is parsed first, whatever the round).

        Sent when the gate lets it in, with ``START_TIMEOUT`` of its own from then: a start queued behind slow ones
        still gets its whole time. Once one start went unanswered, or past ``ROUND_CEILING``, the starts still
        queued are not sent (``StartSkipped``), or a silent frontend would hold the round for ``START_TIMEOUT`` a
        batch."""
        request = IngestionRequest.model_validate(row["start_request"])
        async with round_.gate:
            if round_.over():
                raise StartSkipped
            try:
                async with asyncio.timeout(START_TIMEOUT.total_seconds()):
                    await self._start(row["workflow_id"], request)
            except Exception as error:
                if went_unanswered(error):
                    round_.gave_up = True  # before the gate lets the next start in
                raise

    async def dispatch_once(self) -> tuple[int, bool]:
        """Start as many waiting jobs as there is room for; returns (started, some still wait)."""
        limit = self._settings.job_dispatch_max_running
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", DISPATCH_LOCK):
                return 0, True  # another process's round: its count includes what it starts
            running = await conn.fetchval(
                f"SELECT count(*) FROM ingestion_jobs WHERE {_RUNNING}", self._settings.job_dispatch_stale_after
            )
            room = min(limit - running, self._settings.job_dispatch_batch)
            if room <= 0:
                waiting = await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM ingestion_jobs WHERE {_WAITING})")
                return 0, bool(waiting)
            rows = await conn.fetch(
                f"""
                SELECT id, workflow_id, start_request FROM ingestion_jobs
                WHERE {_WAITING} ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED
                """,
                room + 1,  # one more tells whether others wait
            )
            claimed = rows[:room]
            round_ = _Round(
                asyncio.Semaphore(STARTS_AT_ONCE), asyncio.get_running_loop().time() + ROUND_CEILING.total_seconds()
            )
            outcomes = await asyncio.gather(
                *(self._start_in_round(row, round_) for row in claimed), return_exceptions=True
            )
            started = [row["id"] for row, outcome in zip(claimed, outcomes, strict=True) if outcome is None]
            await conn.execute("UPDATE ingestion_jobs SET dispatched_at = now() WHERE id = ANY($1::uuid[])", started)
            failed_for_good: set[Any] = set()
            unreadable = [
                (row["id"], f"its stored start request is unreadable ({outcome.error_count()} errors)")
                for row, outcome in zip(claimed, outcomes, strict=True)
                if isinstance(outcome, ValidationError)
            ]
            if unreadable:
                # Mid-rollout an older process may not read what a newer one wrote; a newer one takes
                # its round soon. Unreadable for longer than that, no retry will read it: fail the job,
                # or it heads every round (and with one place free, blocks every newer job).
                failed = await conn.fetch(
                    f"""
                    UPDATE ingestion_jobs AS j SET status = $4, error = u.error, dispatched_at = now(), {JOB_ENDED}
                      FROM unnest($1::uuid[], $2::text[]) AS u(id, error)
                     WHERE j.id = u.id AND j.created_at < now() - $3::interval
                    RETURNING j.id, j.error
                    """,
                    [job_id for job_id, _ in unreadable],
                    [error for _, error in unreadable],
                    self._settings.job_dispatch_stale_after,
                    JobStatus.FAILED,
                )
                for row in failed:
                    failed_for_good.add(row["id"])
                    logger.error(
                        "job failed before it started", extra={"job_id": str(row["id"]), "error": row["error"]}
                    )
        failures = [
            (row, outcome)
            for row, outcome in zip(claimed, outcomes, strict=True)
            if outcome is not None and row["id"] not in failed_for_good  # those ended: no round tries them again
        ]
        if failures:  # left undispatched: the next round tries them again
            _warn_not_started(failures)
            await asyncio.sleep(ERROR_BACKOFF_SECONDS)
        if started:
            logger.info(
                "jobs dispatched",
                extra={
                    "jobs": len(started),
                    **_named([r for r in claimed if r["id"] in started]),
                    "running_before": running,
                },
            )
        return len(started), len(rows) > len(started)
