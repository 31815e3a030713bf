"""Phase 2: N bills through the REST API (POST /jobs) by C clients, watched in Postgres → bills/s."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from tqdm import tqdm

from bench.api_clients import job_starter
from bench.load import InFlightLimit, Started, drive
from bench.stats import Span, distribution, per_second
from shared.models import SETTLED_STATUSES, JobStatus
from workflows.bill_ingestion import READS_OTHERWISE_REASON

PROVIDERS = ("pge", "coned", "duke", "sfpuc")
ACCOUNTS_PER_CUSTOMER = 10
MEMORY_GROUPS = ("worker", "api")
TABLES = ("ingestion_jobs", "artifacts", "bills", "bill_line_items", "bill_usage")
INGESTED_STATUSES = frozenset({JobStatus.SUCCEEDED.value, JobStatus.DUPLICATE.value})
"""The bills the pipeline got through: stored, or found to be one already stored (DUPLICATE)."""
HELD_COPY = "HELD_COPY"
"""How a job waiting for review as another copy of a stored statement that reads other figures is counted: two of the
generator's bills for one account's statement (its period and statement date) that it filled with figures of their
own each, which the pipeline rightly holds for a person (``reads_otherwise_than_stored``). Settled, no throughput,
and no shortfall: it is the generator's pair, not a regression."""
HELD_COPIES_EXPECTED = 0.02
"""The share of a run's bills past which held copies are a shortfall after all: the generator makes such pairs of
about 0.4% of 1,000 bills (4 in a simulation of ``--bills-per-account 10``); many more would be copies held that
agree, a regression the run must not pass (74D)."""
_SETTLED = frozenset({*SETTLED_STATUSES, HELD_COPY})
_REPORTED_STATUS = (
    f"CASE WHEN j.status = 'NEEDS_REVIEW' AND j.reasons ? '{READS_OTHERWISE_REASON}' THEN '{HELD_COPY}'"
    " ELSE j.status END"
)
"""A job's status as the run reports it: ``HELD_COPY`` apart from other reviews."""


@dataclass(frozen=True)
class Account:
    id: int
    customer_id: int
    provider: str
    account_number: str


@dataclass
class PipelineResult:
    bills: int
    statuses: dict[str, int]
    span: Span
    api_ms: dict[str, float]
    api_retries: int
    e2e_ms: dict[str, float]
    steps_ms: dict[str, dict[str, float]]
    rows_written: dict[str, int]
    completions_per_second: list[int]
    starts_per_second: list[int]
    e2e_sample_ms: list[float]
    api_sample_ms: list[float]
    jobs: list[tuple[str, str, str]]
    """(job id, provider, account number) of every job: extraction-alone replays these bills."""
    api_after_first_wave_ms: dict[str, float] = field(default_factory=dict)
    """``api_ms`` without each client's first start. The clients send those together, as their run begins, and
    each waits for all of them (``C`` starts' work at once, on connections just opened): at 1,000 bills and 32
    clients that wave is 3% of the starts, so ``api_ms``'s p99 falls in it."""
    api_with_jobs_ms: dict[str, float] = field(default_factory=dict)
    """``api_ms`` of the starts answered once the first dispatch round had begun (``answered_with_jobs``): the API
    answered those beside the rounds and the workflows they started. The first round waits for a burst of starts to
    pause (``JOB_DISPATCH_QUIET_MS``, at most ``JOB_DISPATCH_MAX_WAIT_MS``), so at 1,000 bills most of the burst
    is answered before any job runs, and ``api_ms`` alone would say little about the API under the pipeline."""
    first_dispatch_s: float | None = None
    """When the first dispatch round began, in seconds after the first start was sent (None: no job dispatched)."""
    failure_reasons: Counter[str] = field(default_factory=Counter)
    """How many FAILED jobs failed where and why (``failure_reason`` of their ``ingestion_jobs.error``)."""
    resources: dict[str, dict[str, float]] = field(default_factory=dict)
    resource_series: dict[str, list[tuple[float, float, float, float]]] = field(default_factory=dict)

    @property
    def cpu_while_starting(self) -> dict[str, float]:
        """Mean CPU % per process group over the seconds the clients were still starting jobs.

        The API's start latency is measured there, so this is who the API shared the cores with.
        """
        window = len(self.starts_per_second)
        means: dict[str, float] = {}
        for name, series in self.resource_series.items():
            samples = [cpu for t, cpu, *_ in series if t <= window]
            if samples:
                means[name] = round(sum(samples) / len(samples), 1)
        return means

    def memory_per_minute(self, groups: tuple[str, ...] = MEMORY_GROUPS) -> dict[str, list[list[float]]]:
        """Per minute of the run, ``[minute, peak RSS MB, peak root RSS MB]`` of the processes whose
        memory must stay bounded: a 10,000-bill run levels off or it leaks, which one peak cannot tell."""
        out: dict[str, list[list[float]]] = {}
        for name in groups:
            minutes: dict[int, list[float]] = {}
            for t, _, rss, root in self.resource_series.get(name, []):
                peak = minutes.setdefault(int(t // 60), [0.0, 0.0])
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], root)
            if minutes:
                out[name] = [[minute, *peaks] for minute, peaks in sorted(minutes.items())]
        return out

    @property
    def done(self) -> int:
        """Jobs settled, whatever their end: the run waits for these, throughput counts only ``ok``."""
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in INGESTED_STATUSES)

    @property
    def failed(self) -> int:
        return self.statuses.get(JobStatus.FAILED.value, 0)

    @property
    def bps(self) -> float:
        """Bills ingested per second: a failed bill or one sent to review is no throughput."""
        return self.span.rate(self.ok)

    @property
    def not_ingested(self) -> dict[str, int]:
        """Settled bills that neither FAILED nor got through: sent to review or rejected."""
        return {
            status: n
            for status, n in sorted(self.statuses.items())
            if status not in INGESTED_STATUSES and status not in (JobStatus.FAILED.value, HELD_COPY)
        }

    def shortfalls(self) -> list[str]:
        """Why this run does not count as a measurement (empty when it does). The mock connector's bills
        always get through: one sent to review or rejected is a regression, not a slower pipeline."""
        problems = []
        if self.done < self.bills:
            problems.append(f"only {self.done} of {self.bills} bills settled")
        if self.failed:
            problems.append(f"{self.failed} bills FAILED")
        if self.not_ingested:
            counts = ", ".join(f"{n} {status}" for status, n in self.not_ingested.items())
            problems.append(f"{sum(self.not_ingested.values())} bills not ingested ({counts})")
        held = self.statuses.get(HELD_COPY, 0)
        if held > max(5, self.bills * HELD_COPIES_EXPECTED):
            problems.append(f"{held} bills held as copies read otherwise, more than the generator's pairs make")
        return problems

    def as_json(self) -> dict[str, Any]:
        return {
            "bills": self.bills,
            "done": self.done,
            "ok": self.ok,
            "failed": self.failed,
            "statuses": self.statuses,
            "failure_reasons": dict(self.failure_reasons.most_common()),
            "seconds": round(self.span.seconds, 2),
            "bps": round(self.bps, 2),
            "api_ms": self.api_ms,
            "api_ms_after_first_wave": self.api_after_first_wave_ms,
            "api_ms_with_jobs": self.api_with_jobs_ms,
            "first_dispatch_s": self.first_dispatch_s,
            "api_retries": self.api_retries,
            "e2e_ms": self.e2e_ms,
            "steps_ms": self.steps_ms,
            "rows_written": self.rows_written,
            "resources": self.resources,
            "cpu_pct_while_starting": self.cpu_while_starting,
            "rss_mb_per_minute": self.memory_per_minute(),
            "completions_per_second": self.completions_per_second,
            "starts_per_second": self.starts_per_second,
        }


async def seed_accounts(database_url: str, *, run_id: str, bills: int, bills_per_account: int) -> list[Account]:
    """Utility accounts for this run (one per ``bills_per_account`` bills, providers round-robin), ten per customer.

    Bills of one account collide on the natural key (same billing period) now and then;
    such jobs end DUPLICATE and are reported, not failed.
    """
    count = max(1, math.ceil(bills / bills_per_account))
    conn = await asyncpg.connect(database_url)
    try:
        return await _insert_accounts(conn, run_id=run_id, count=count)
    finally:
        await conn.close()


async def _insert_accounts(conn: asyncpg.Connection, *, run_id: str, count: int) -> list[Account]:
    customers = await conn.fetch(
        "INSERT INTO customers (name) SELECT 'bench ' || $1 || ' #' || g FROM generate_series(1, $2) g RETURNING id",
        run_id,
        math.ceil(count / ACCOUNTS_PER_CUSTOMER),
    )
    customer_ids = sorted(r["id"] for r in customers)
    specs = [
        (customer_ids[i // ACCOUNTS_PER_CUSTOMER], PROVIDERS[i % len(PROVIDERS)], f"BN-{run_id[-6:]}-{i:06d}")
        for i in range(count)
    ]
    rows = await conn.fetch(
        """
        INSERT INTO utility_accounts (customer_id, provider, account_number, label)
        SELECT c, p, a, 'bench' FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(c, p, a)
        RETURNING id, customer_id, provider, account_number
        """,
        [s[0] for s in specs],
        [s[1] for s in specs],
        [s[2] for s in specs],
    )
    return sorted(
        (Account(r["id"], r["customer_id"], r["provider"], r["account_number"]) for r in rows), key=lambda a: a.id
    )


async def _table_counts(conn: asyncpg.Connection, *, pg_tuples: bool) -> dict[str, int]:
    counts = {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in TABLES}
    return counts | (await database_tuples(conn) if pg_tuples else {})


PGSTAT_IDLE_SECONDS = 10.0
"""Postgres 15 and later: a backend gone idle less than a second after its last report holds its counters, and
reports them at most this long later (``PGSTAT_IDLE_INTERVAL``)."""
PGSTAT_IDLE_TIMER_MAJOR = 15
"""Before 15, a backend sent the stats collector its counts at most twice a second and kept the rest until its next
statement or its disconnect, with no idle timer: the worker's and the API's last writes stayed missing for as long
as they stayed connected, so ``pg_tuples_*`` are left out there rather than reported short."""


async def database_tuples(conn: asyncpg.Connection) -> dict[str, int]:
    """The database's tuples inserted and updated so far, as far as its backends have reported them; none before
    Postgres 15 (``PGSTAT_IDLE_TIMER_MAJOR``)."""
    if conn.get_server_version().major < PGSTAT_IDLE_TIMER_MAJOR:
        return {}
    stats = await conn.fetchrow(
        "SELECT tup_inserted, tup_updated FROM pg_stat_database WHERE datname = current_database()"
    )
    return {"pg_tuples_inserted": int(stats["tup_inserted"]), "pg_tuples_updated": int(stats["tup_updated"])}


async def wait_for_idle_backends_to_report(conn: asyncpg.Connection, *, idle_since: float) -> None:
    """Until every backend idle since ``idle_since`` (``time.monotonic()``) has reported its writes: read after a
    second, ``pg_tuples_*`` missed the worker's and the API's last ones (``pg_stat_force_next_flush()`` flushes
    only the calling backend's). Before Postgres 15 no wait would do, and they are not read."""
    if conn.get_server_version().major < PGSTAT_IDLE_TIMER_MAJOR:
        return
    await asyncio.sleep(max(0.0, idle_since + PGSTAT_IDLE_SECONDS + 0.5 - time.monotonic()))


async def _statuses(conn: asyncpg.Connection, customer_ids: list[int]) -> dict[str, int]:
    rows = await conn.fetch(
        f"SELECT {_REPORTED_STATUS} AS status, count(*) AS n FROM ingestion_jobs AS j"
        " WHERE j.customer_id = ANY($1::bigint[]) GROUP BY 1",
        customer_ids,
    )
    return {r["status"]: int(r["n"]) for r in rows}


async def _step_durations(conn: asyncpg.Connection, customer_ids: list[int]) -> dict[str, dict[str, float]]:
    """Per step: p50/p95 of the activity's duration as the workflow recorded it (schedule to result)."""
    rows = await conn.fetch(
        """
        SELECT s->>'name' AS step, count(*) AS n,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY (s->>'duration_ms')::int) AS p50,
               percentile_disc(0.95) WITHIN GROUP (ORDER BY (s->>'duration_ms')::int) AS p95,
               avg((s->>'duration_ms')::int) AS mean
          FROM ingestion_jobs j, jsonb_array_elements(j.steps) s
         WHERE j.customer_id = ANY($1::bigint[]) AND s ? 'duration_ms' AND s->>'duration_ms' IS NOT NULL
         GROUP BY 1 ORDER BY min((s->>'started_at')::timestamptz - j.created_at)
        """,
        customer_ids,
    )
    return {
        r["step"]: {
            "n": int(r["n"]),
            "p50": float(r["p50"]),
            "p95": float(r["p95"]),
            "mean": round(float(r["mean"]), 1),
        }
        for r in rows
    }


async def run_pipeline(
    *,
    api_url: str,
    api_key: str,
    database_url: str,
    accounts: list[Account],
    bills: int,
    clients: int,
    rate: float,
    stall_seconds: float,
    progress: bool,
    max_in_flight: int = 0,
    on_settled: Callable[[], None] = lambda: None,
    pg_tuples: bool = True,
) -> PipelineResult:
    """Start ``bills`` jobs (accounts round-robin) and wait until every one is done or the run stalls.

    ``on_settled`` is called then, before the wait for Postgres's counters: a sampler stopped there measures the
    pipeline, not the seconds after it. Without ``pg_tuples`` those counters are neither waited for nor reported."""
    conn = await asyncpg.connect(database_url)
    try:
        clock_offset = await postgres_clock_offset(conn)
        customer_ids = sorted({a.customer_id for a in accounts})
        before = await _table_counts(conn, pg_tuples=pg_tuples)
        async with job_starter(api_url, api_key, clients=clients, account_ids=[a.id for a in accounts]) as starter:
            bar = tqdm(total=bills, desc="pipeline", unit="bill", disable=not progress, smoothing=0.1)
            in_flight = InFlightLimit(max_in_flight)
            starting = asyncio.create_task(drive(bills, clients, starter.start, rate=rate, in_flight=in_flight))
            done = 0
            last_change = time.monotonic()
            while True:
                await asyncio.sleep(0.5)
                if starting.done():
                    starting.result()  # a client that gave up fails the run here
                live = await _statuses(conn, customer_ids)
                # A job needing review waits for a person: the run stops waiting for it, but it is no throughput.
                now_done = sum(n for status, n in live.items() if status in _SETTLED)
                if now_done != done:
                    bar.update(now_done - done)
                    done = now_done
                    last_change = time.monotonic()
                    await in_flight.set_done(done)
                if starting.done() and done >= bills:
                    break
                if time.monotonic() - last_change > stall_seconds:
                    bar.write(f"pipeline: no progress for {stall_seconds:.0f}s, stopping at {done}/{bills}")
                    break
            bar.close()
            settled_at = time.monotonic()
            on_settled()
            started = await starting if starting.done() else []
            if not starting.done():
                starting.cancel()
        if pg_tuples:
            await wait_for_idle_backends_to_report(conn, idle_since=settled_at)
        after = await _table_counts(conn, pg_tuples=pg_tuples)
        rows = await conn.fetch(
            f"""
            SELECT j.id, {_REPORTED_STATUS} AS status, j.error, EXTRACT(EPOCH FROM j.created_at) AS created,
                   EXTRACT(EPOCH FROM j.finished_at) AS finished, EXTRACT(EPOCH FROM j.dispatched_at) AS dispatched,
                   a.provider, a.account_number
              FROM ingestion_jobs j JOIN utility_accounts a ON a.id = j.utility_account_id
             WHERE j.customer_id = ANY($1::bigint[])
            """,
            customer_ids,
        )
        steps = await _step_durations(conn, customer_ids)
    finally:
        await conn.close()

    finished = [(float(r["created"]), float(r["finished"])) for r in rows if r["finished"] is not None]
    first = min((float(r["created"]) for r in rows), default=0.0)
    last = max((f for _, f in finished), default=first)
    e2e = [(f - c) * 1000 for c, f in finished]
    first_dispatch = first_dispatch_on_our_clock([r["dispatched"] for r in rows], clock_offset)
    first_sent = min((s.sent_at for s in started), default=None)
    statuses: dict[str, int] = {}
    for r in rows:
        if r["status"] in _SETTLED:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return PipelineResult(
        bills=bills,
        statuses=statuses,
        span=Span(first_start=first, last_finish=last),
        api_ms=distribution([s.latency_ms for s in started]),
        api_after_first_wave_ms=distribution([s.latency_ms for s in started if not s.first]),
        api_with_jobs_ms=distribution(answered_with_jobs(started, first_dispatch)),
        first_dispatch_s=(
            round(first_dispatch - first_sent, 3) if first_dispatch is not None and first_sent is not None else None
        ),
        api_retries=starter.retries,
        e2e_ms=distribution(e2e, digits=0),
        steps_ms=steps,
        rows_written={k: after[k] - before[k] for k in after},
        completions_per_second=per_second([f - first for _, f in finished]),
        starts_per_second=per_second([float(r["created"]) - first for r in rows]),
        e2e_sample_ms=e2e,
        api_sample_ms=[s.latency_ms for s in started],
        jobs=[(str(r["id"]), str(r["provider"]), str(r["account_number"])) for r in rows],
        failure_reasons=Counter(failure_reason(r["error"]) for r in rows if r["status"] == JobStatus.FAILED.value),
    )


async def postgres_clock_offset(conn: asyncpg.Connection) -> float:
    """Postgres's clock less the bench's, in seconds: ``dispatched_at`` is Postgres's time and a start's answer the
    bench's. Nil on one host; an external database's may differ by more than a start takes."""
    before = time.time()
    theirs = float(await conn.fetchval("SELECT extract(epoch FROM clock_timestamp())"))
    return theirs - (before + time.time()) / 2


def first_dispatch_on_our_clock(dispatched_at: Sequence[Any], clock_offset: float) -> float | None:
    """When the first dispatch round began, in the bench's epoch seconds: the earliest ``dispatched_at`` (Postgres
    epoch seconds, None for a job never dispatched), which a round writes as its transaction's ``now()``. If the first
    round's starts all failed, its jobs were dispatched by a later round, and so the round found is that one."""
    stamps = [float(at) for at in dispatched_at if at is not None]
    return min(stamps) - clock_offset if stamps else None


def answered_with_jobs(started: Sequence[Started], first_dispatch: float | None) -> list[float]:
    """The latencies (ms) of the starts answered at or after ``first_dispatch`` (the bench's epoch seconds). A start
    in flight as the round began counts: the round's work and the workflows it started were beside it."""
    if first_dispatch is None:
        return []
    return [s.latency_ms for s in started if s.answered_at >= first_dispatch]


def failure_reason(error: str | None) -> str:
    """The failed step and error type, without the per-job detail, so FAILED jobs group by cause."""
    if not error:
        return "(no reason)"
    return ": ".join(error.split(": ")[:2])[:100]
