"""Gauges of what waits in Postgres, beside the worker's other metrics: jobs not yet ended and open review tasks,
how many and how old the oldest is; and when the worker's loop last read them (``LOOP_TICK``: it is alive).

Temporal knows its own queue (``temporal_activity_schedule_to_start_latency``), not the jobs the API's dispatcher
holds back (``UNDISPATCHED_JOBS``, among the PENDING ones) nor the review queue a human works through. Read every
``WORKER_METRICS_BACKLOG_SECONDS`` while the worker runs with ``WORKER_METRICS_ADDRESS`` set. Every worker process
reports the same figures: aggregate them with ``max``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import asyncpg
from temporalio.common import MetricMeter

from shared.models import JobStatus
from shared.review import ReviewStatus
from worker.alive import LOOP_TICK

logger = logging.getLogger(__name__)

QUERY_TIMEOUT = 5.0

UNENDED_JOBS = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.NEEDS_REVIEW)
OPEN_REVIEWS = (ReviewStatus.PENDING, ReviewStatus.ESCALATED)

JOBS = "minimeter_jobs"
OLDEST_JOB_AGE = "minimeter_oldest_job_age_seconds"
UNDISPATCHED_JOBS = "minimeter_jobs_undispatched"
OLDEST_UNDISPATCHED_JOB_AGE = "minimeter_oldest_undispatched_job_age_seconds"
REVIEW_TASKS = "minimeter_review_tasks"
OLDEST_REVIEW_TASK_AGE = "minimeter_oldest_review_task_age_seconds"

# Of ingestion_jobs or review_tasks, both read by their (status, created_at) index: the unended rows only.
_WAITING_SQL = (
    "SELECT status, count(*) AS n, extract(epoch FROM now() - min(created_at))::float8 AS oldest"
    " FROM {table} WHERE status = ANY($1::text[]) GROUP BY status"
)
# By the partial index of jobs the dispatcher has not handed to Temporal (0004).
_UNDISPATCHED_SQL = (
    "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest"
    " FROM ingestion_jobs WHERE dispatched_at IS NULL AND status = 'PENDING'"
)


@dataclass(frozen=True)
class Waiting:
    count: int
    oldest_seconds: float


@dataclass(frozen=True)
class Backlog:
    jobs: dict[str, Waiting]
    review_tasks: dict[str, Waiting]
    undispatched: Waiting = Waiting(0, 0.0)
    """The ``PENDING`` jobs the API's dispatcher holds; the others wait in Temporal for a worker to take them."""


async def read_backlog(pool: asyncpg.Pool | asyncpg.Connection) -> Backlog:
    """Each watched status's count and oldest age; a status with none reads 0 and 0 (a gauge keeps its last value
    otherwise)."""

    async def waiting(table: str, statuses: tuple[str, ...]) -> dict[str, Waiting]:
        sql = _WAITING_SQL.format(table=table)
        rows = {row["status"]: row for row in await pool.fetch(sql, list(statuses), timeout=QUERY_TIMEOUT)}
        return {
            status: Waiting(rows[status]["n"], max(rows[status]["oldest"], 0.0)) if status in rows else Waiting(0, 0.0)
            for status in statuses
        }

    jobs = await waiting("ingestion_jobs", UNENDED_JOBS)
    held = await pool.fetchrow(_UNDISPATCHED_SQL, timeout=QUERY_TIMEOUT)
    assert held is not None  # an aggregate's row
    undispatched = Waiting(held["n"], max(held["oldest"], 0.0))
    return Backlog(jobs=jobs, review_tasks=await waiting("review_tasks", OPEN_REVIEWS), undispatched=undispatched)


class BacklogGauges:
    def __init__(self, meter: MetricMeter) -> None:
        self._tick = meter.create_gauge_float(LOOP_TICK, "Unix time of the worker loop's last backlog reading", "s")
        self._jobs = meter.create_gauge(
            JOBS, "Jobs not ended yet, by status (PENDING: no worker has run it yet, in the dispatcher or in Temporal)"
        )
        self._undispatched = meter.create_gauge(
            UNDISPATCHED_JOBS, "PENDING jobs the API's dispatcher holds, not yet handed to Temporal"
        )
        self._oldest_undispatched = meter.create_gauge_float(
            OLDEST_UNDISPATCHED_JOB_AGE, "Age of the oldest job the API's dispatcher holds (0: none)", "s"
        )
        self._oldest_job = meter.create_gauge_float(
            OLDEST_JOB_AGE, "Age of the oldest job in each unended status (0: none)", "s"
        )
        self._reviews = meter.create_gauge(REVIEW_TASKS, "Open review tasks, by status")
        self._oldest_review = meter.create_gauge_float(
            OLDEST_REVIEW_TASK_AGE, "Age of the oldest open review task in each status (0: none)", "s"
        )

    def tick(self) -> None:
        self._tick.set(time.time())

    def record(self, backlog: Backlog) -> None:
        for status, waiting in backlog.jobs.items():
            self._jobs.set(waiting.count, {"status": status})
            self._oldest_job.set(waiting.oldest_seconds, {"status": status})
        self._undispatched.set(backlog.undispatched.count)
        self._oldest_undispatched.set(backlog.undispatched.oldest_seconds)
        for status, waiting in backlog.review_tasks.items():
            self._reviews.set(waiting.count, {"status": status})
            self._oldest_review.set(waiting.oldest_seconds, {"status": status})


async def report_backlog(pool: asyncpg.Pool, meter: MetricMeter, *, every: float) -> None:
    """Read and record the backlog until cancelled. A reading that fails (Postgres down) leaves the gauges as they
    were, logged once until one succeeds again."""
    gauges = BacklogGauges(meter)
    failing = False
    while True:
        gauges.tick()
        try:
            gauges.record(await read_backlog(pool))
        except Exception as error:  # noqa: BLE001 - a reporter that died would leave the gauges stale unnoticed
            if not failing:
                logger.warning("reading the backlog for metrics failed: retrying", extra={"error": repr(error)[:300]})
            failing = True
        else:
            if failing:
                logger.info("reading the backlog for metrics works again")
            failing = False
        await asyncio.sleep(every)
