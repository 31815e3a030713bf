"""``make chaos``: ingest N bills through the REST API while breaking the stack, then prove nothing
was lost or written twice.

    python -m bench.chaos [--bills 500] [--seed N] [--data-dir DIR]

A fresh ``LocalStack`` (Temporal on SQLite, so a restart keeps its state; embedded
Postgres; GCS and BigQuery emulators; one worker; the API) runs on free ports in a
temp dir. Customers and accounts for the four mock-connector providers are created
(one account per five bills, so natural-key duplicates stay rare), then the bills
are started with at most ``--concurrency`` jobs in flight. Meanwhile, at random
points of the batch (reproducible with ``--seed``), one at a time:

* the worker is SIGKILLed and restarted (``--kills`` times);
* Postgres is stopped for ``--postgres-outage`` seconds;
* the Temporal dev server is restarted;
* the GCS emulator, then the BigQuery emulator, are down for a few seconds.

Then every job must settle and these invariants hold (the run exits 1 otherwise):

* none stuck: each job is SUCCEEDED, DUPLICATE, NEEDS_REVIEW, REJECTED or REVIEW_EXPIRED;
  none PENDING or RUNNING;
* none failed: every fault here is one the retry policies outlast, so a FAILED job is a
  bill the outage cost (counted, each with its reason);
* none lost: every start the API was asked for got a job; every SUCCEEDED job has
  exactly one ``bills`` row and one analytics row through ``normalized_bills_latest``;
* none duplicated: no ``bills`` row twice for a job or natural key, no bill twice in the
  deduplicating view (raw duplicate rows in ``normalized_bills`` are reported: the
  emulator ignores insertIds, and the view is what readers use);
* one raw artifact per job: one object under ``raw/bills/{job_id}/`` and one
  ``artifacts`` row (none, or at most one, for a job that failed before storing);
* Postgres agrees with Temporal: a completed workflow's result status equals the job
  row's; a failed workflow's job is FAILED; a running one is waiting for review.

Ends with one line: ``chaos: bills=500 faults=7 lost=0 duplicated=0 stuck=0 failed=0 seconds=212``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError

from bench.pipeline import failure_reason
from shared import search_attributes as sa
from shared.models import SETTLED_STATUSES, IngestionResult, JobStatus
from shared.settings import Settings
from shared.temporal import connect_client, exit_past_the_sdk, workflow_id_for
from stack.local import LocalStack, StackOptions, stop_on_sigterm, stop_process

PROVIDERS = ("pge", "coned", "duke", "sfpuc")
STORED = {JobStatus.SUCCEEDED.value, JobStatus.DUPLICATE.value, JobStatus.NEEDS_REVIEW.value}
"""Statuses only reachable after the raw bill was stored."""
CHAOS_ENV = {
    "EXTRACTOR": "rules",  # the offline extractor: the mock connector's bills need no Gemini
    "RATE_LIMIT_PER_MINUTE": "0",
    "LOG_FORMAT": "json",
    "WORKER_GRACEFUL_SHUTDOWN_SECONDS": "10",
}


@dataclass(frozen=True)
class ChaosPlan:
    bills: int = 500
    seed: int = 0
    concurrency: int = 16
    """Jobs in flight (started, not yet settled) at most."""
    bills_per_account: int = 5
    worker_kills: int = 3
    postgres_outage: float = 10.0
    temporal_restart: bool = True
    storage_outage: float = 8.0
    analytics_outage: float = 8.0
    fault_window: tuple[float, float] = (0.05, 0.8)
    """Faults fire between these fractions of the batch having settled."""
    deadline: float | None = None
    """Seconds from start to giving up on stragglers (reported as stuck); default 120 + 3 per bill."""
    stall: float | None = None
    """Seconds with no job advancing (a start, a step, a retry, a settle) before giving up sooner than
    ``deadline``; None waits for the deadline."""

    @property
    def seconds_allowed(self) -> float:
        return self.deadline if self.deadline is not None else 120.0 + 3.0 * self.bills


class Deadline:
    """When the run gives up on its stragglers: at its cap, or sooner once no job has advanced for ``stall``
    seconds. A fixed time alone failed a run that was still advancing on a busy machine (other tests beside
    it, load ~7: three bills of forty left at 150 s), or had to be so long that a stuck run took ages to fail."""

    def __init__(self, *, cap: float, stall: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last_advance = clock()
        self.cap = self.last_advance + cap
        self.stall = stall

    def advanced(self) -> None:
        self.last_advance = self._clock()

    @property
    def at(self) -> float:
        return self.cap if self.stall is None else min(self.cap, self.last_advance + self.stall)

    def remaining(self) -> float:
        return max(self.at - self._clock(), 0.0)

    def passed(self) -> bool:
        return self._clock() >= self.at

    async def wait_for(self, room: asyncio.Condition, predicate: Callable[[], bool]) -> bool:
        """``room.wait_for(predicate)``, ``room`` held, until the deadline (which moves as jobs advance);
        False when the deadline came first."""
        while not predicate():
            if self.passed():
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(room.wait_for(predicate), min(self.remaining(), 1.0))
        return True


@dataclass
class Fault:
    name: str
    at_settled: int
    started: float = 0.0
    seconds: float = 0.0
    note: str = ""


@dataclass
class ChaosReport:
    bills: int
    faults: list[Fault]
    statuses: Counter[str]
    lost: int
    duplicated: int
    stuck: int
    failed: int
    seconds: float
    problems: list[str] = field(default_factory=list)
    details: dict[str, int] = field(default_factory=dict)
    failure_reasons: Counter[str] = field(default_factory=Counter)
    unplanned: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        return (
            f"chaos: bills={self.bills} faults={len(self.faults)} lost={self.lost} "
            f"duplicated={self.duplicated} stuck={self.stuck} failed={self.failed} seconds={round(self.seconds)}"
        )


def say(message: str) -> None:
    print(f"chaos | {message}", flush=True)


# --- the stack -------------------------------------------------------------------------


def build_stack(data_dir: Path, run_id: str) -> LocalStack:
    """A LocalStack that owns every service (so it can break them) on ports nobody else uses."""
    return LocalStack(
        StackOptions(
            data_dir=data_dir,
            temporal_db=data_dir / "temporal.db",
            temporal_port=None,
            ui_port=None,
            api_port=None,
            gcs_port=None,
            bq_port=None,
            env={**CHAOS_ENV, "TEMPORAL_TASK_QUEUE": f"chaos-{run_id}"},
            reuse_services=False,
        )
    )


class Supervisor:
    """Keeps one worker and the API alive; notes any exit chaos did not cause itself."""

    def __init__(self, stack: LocalStack, t0: float) -> None:
        self.stack = stack
        self.unplanned: list[str] = []
        self._t0 = t0
        self._lock = asyncio.Lock()

    async def kill_worker(self, down: float) -> None:
        """SIGKILL the worker (and its PDF-parsing children: it leads its process group), restart it later."""
        async with self._lock:
            worker = self.stack.workers[-1]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            await asyncio.to_thread(worker.wait)
            await asyncio.sleep(down)
            self.stack.start_worker()

    async def check(self) -> None:
        async with self._lock:
            elapsed = time.monotonic() - self._t0
            worker = self.stack.workers[-1]
            if worker.poll() is not None:
                self.unplanned.append(f"t={elapsed:.0f}s worker exited by itself (code {worker.returncode})")
                self.stack.start_worker()
            api = self.stack.api
            if api is not None and api.poll() is not None:
                self.unplanned.append(f"t={elapsed:.0f}s API exited by itself (code {api.returncode})")
                await on_stack_thread(self.stack.start_api)


T = TypeVar("T")

STACK_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chaos-stack")
"""The thread starting and stopping the stack's processes: the kernel stops each when the thread that started it
ends (``stack.services.start_in_own_session``), and this one lives as long as the process, where a loop's default
executor's threads end with the loop (and could end sooner, were it another kind of executor)."""


async def on_stack_thread(call: Callable[[], T]) -> T:
    """``call()`` on ``STACK_THREAD``, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(STACK_THREAD, call)


# --- load ------------------------------------------------------------------------------


async def create_accounts(http: httpx.AsyncClient, count: int, rng: random.Random) -> list[int]:
    """``count`` utility accounts across the four providers, a few per customer."""
    ids: list[int] = []
    customer_id = 0
    for i in range(count):
        if i % 4 == 0:
            customer = await _post(http, "/customers", {"name": f"Chaos Customer {i // 4}"})
            customer_id = customer["id"]
        number = f"{rng.randrange(10**9, 10**10)}"
        account = await _post(
            http,
            "/utility-accounts",
            {"customer_id": customer_id, "provider": PROVIDERS[i % len(PROVIDERS)], "account_number": number},
        )
        ids.append(account["id"])
    return ids


async def _post(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(path, json=body)
    response.raise_for_status()
    return dict(response.json())


class Load:
    """Starts every bill through ``POST /jobs``, retrying each start (same Idempotency-Key) until accepted."""

    def __init__(self, http: httpx.AsyncClient, accounts: list[int], plan: ChaosPlan, run_id: str) -> None:
        self.http = http
        self.accounts = accounts
        self.plan = plan
        self.run_id = run_id
        self.jobs: dict[int, str] = {}
        self.settled: dict[str, str] = {}
        self.api_retries = 0
        self.refused: list[str] = []
        self._starting = 0
        self._room = asyncio.Condition()

    @property
    def in_flight(self) -> int:
        return self._starting + sum(1 for j in self.jobs.values() if j not in self.settled)

    async def run(self, deadline: Deadline) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(self.plan.bills):
            queue.put_nowait(i)
        await asyncio.gather(*(self._client(queue, deadline) for _ in range(self.plan.concurrency)))

    async def _client(self, queue: asyncio.Queue[int], deadline: Deadline) -> None:
        while not deadline.passed():
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            async with self._room:
                if not await deadline.wait_for(self._room, lambda: self.in_flight < self.plan.concurrency):
                    return  # jobs in flight never settled: reported as stuck, and the rest as never started
                self._starting += 1
            job_id = await self._start(i, deadline)
            async with self._room:
                self._starting -= 1
                if job_id is not None:
                    self.jobs[i] = job_id
                    deadline.advanced()
                self._room.notify_all()

    async def _start(self, i: int, deadline: Deadline) -> str | None:
        account = self.accounts[i % len(self.accounts)]
        headers = {"Idempotency-Key": f"chaos-{self.run_id}-{i}"}
        pause = 0.25
        while not deadline.passed():
            try:
                response = await self.http.post("/jobs", json={"utility_account_id": account}, headers=headers)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code in (200, 201):
                return str(response.json()["id"])
            if response is not None and response.status_code < 500 and response.status_code != 429:
                self.refused.append(f"bill {i}: HTTP {response.status_code} {response.text[:200]}")
                return None
            self.api_retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)
        return None

    async def reach(self, settled: int, *, deadline: Deadline) -> bool:
        """Wait until ``settled`` jobs have settled; False when the deadline came first."""
        async with self._room:
            return await deadline.wait_for(self._room, lambda: len(self.settled) >= settled)

    async def note_settled(self, statuses: dict[str, str]) -> bool:
        """Whether any of them had not settled before."""
        async with self._room:
            new = statuses.keys() - self.settled.keys()
            self.settled.update(statuses)
            self._room.notify_all()
        return bool(new)


async def watch(load: Load, database_url: str, deadline: Deadline, stop: asyncio.Event) -> None:
    """Poll Postgres for the jobs in flight (a fresh connection each time: Postgres may be down)."""
    while not stop.is_set():
        pending = [j for j in load.jobs.values() if j not in load.settled]
        if pending:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncio.TimeoutError):
                conn = await asyncpg.connect(database_url, timeout=2)
                try:
                    rows = await conn.fetch(
                        "SELECT id::text, status FROM ingestion_jobs WHERE id = ANY($1::uuid[]) AND status = ANY($2)",
                        pending,
                        list(SETTLED_STATUSES),
                    )
                finally:
                    await conn.close()
                if await load.note_settled({r["id"]: r["status"] for r in rows}):
                    deadline.advanced()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)


async def track_steps(load: Load, client: Client, deadline: Deadline, stop: asyncio.Event) -> None:
    """Note a job in flight advancing short of settling: its history grew, or an activity was retried (a
    retry is recorded only once it ends). A SIGKILLed activity shows neither until its heartbeat or
    start-to-close timeout (up to a minute): ``--stall`` must be longer."""
    seen: dict[str, tuple[int, tuple[int, ...]]] = {}
    while not stop.is_set():
        pending = [j for j in load.jobs.values() if j not in load.settled]
        described = await asyncio.gather(*(_describe(client, job) for job in pending))
        for job, description in zip(pending, described, strict=True):
            if description is None:
                continue
            pending_attempts = tuple(a.attempt for a in description.raw_description.pending_activities)
            now = (description.history_length, pending_attempts)
            if seen.get(job, now) != now:
                deadline.advanced()
            seen[job] = now
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2.0)


async def _describe(client: Client, job: str) -> WorkflowExecutionDescription | None:
    """None while Temporal cannot say (restarting, the workflow not started yet)."""
    try:
        return await client.get_workflow_handle(workflow_id_for(job)).describe()
    except RPCError:
        return None


def current_step(description: WorkflowExecutionDescription) -> str:
    """Where a running workflow is: its activities pending (attempt, state, last failure), else its history's length."""
    steps = []
    for pending in description.raw_description.pending_activities:
        failure = f", last failure: {pending.last_failure.message[:160]}" if pending.last_failure.message else ""
        state = PendingActivityState.Name(pending.state).removeprefix("PENDING_ACTIVITY_STATE_").lower()
        steps.append(f"in {pending.activity_type.name} (attempt {pending.attempt}, {state}{failure})")
    return "; ".join(steps) or f"no activity pending after {description.history_length} history events"


# --- faults ----------------------------------------------------------------------------


def plan_faults(plan: ChaosPlan, rng: random.Random) -> list[Fault]:
    """The faults in a random order, each at a random point of its own slice of the batch."""
    names = ["kill worker"] * plan.worker_kills
    if plan.postgres_outage > 0:
        names.append("stop postgres")
    if plan.temporal_restart:
        names.append("restart temporal")
    if plan.storage_outage > 0:
        names.append("stop gcs emulator")
    if plan.analytics_outage > 0:
        names.append("stop bigquery emulator")
    rng.shuffle(names)
    first, last = plan.fault_window
    span = (last - first) / max(len(names), 1)
    return [
        Fault(name, at_settled=int(plan.bills * (first + span * (i + rng.random() * 0.8))))
        for i, name in enumerate(names)
    ]


async def inject(
    faults: list[Fault],
    stack: LocalStack,
    supervisor: Supervisor,
    load: Load,
    plan: ChaosPlan,
    rng: random.Random,
    t0: float,
    deadline: Deadline,
) -> None:
    """Fire each fault once the batch reaches its point; one fault at a time."""
    actions: dict[str, Callable[[], Awaitable[str]]] = {
        "kill worker": lambda: _kill_worker(supervisor, rng),
        "stop postgres": lambda: _outage(stack.stop_postgres, stack.start_postgres, plan.postgres_outage),
        "restart temporal": lambda: _outage(stack.stop_temporal, stack.start_temporal, 0),
        "stop gcs emulator": lambda: _outage(_stopper(stack.gcs), _starter(stack.gcs), plan.storage_outage),
        "stop bigquery emulator": lambda: _outage(
            _stopper(stack.bigquery), _starter(stack.bigquery), plan.analytics_outage
        ),
    }
    for fault in faults:
        if not await load.reach(fault.at_settled, deadline=deadline):
            return
        fault.started = time.monotonic() - t0
        began = time.monotonic()
        fault.note = await actions[fault.name]()
        fault.seconds = time.monotonic() - began
        say(f"t={fault.started:5.1f}s {fault.name} ({fault.note}) at {len(load.settled)} settled")


async def _kill_worker(supervisor: Supervisor, rng: random.Random) -> str:
    down = rng.uniform(0.5, 3.0)
    await supervisor.kill_worker(down)
    return f"SIGKILL, restarted after {down:.1f}s"


async def _outage(stop: Callable[[], None], start: Callable[[], object], seconds: float) -> str:
    """Stop a service, keep it down ``seconds``, start it again; the note is the whole downtime."""
    began = time.monotonic()
    await on_stack_thread(stop)
    await asyncio.sleep(seconds)
    await on_stack_thread(start)
    return f"down {time.monotonic() - began:.1f}s"


def _stopper(emulator: Any) -> Callable[[], None]:
    assert emulator is not None, "chaos needs the emulators"
    return emulator.stop  # type: ignore[no-any-return]


def _starter(emulator: Any) -> Callable[[], object]:
    assert emulator is not None, "chaos needs the emulators"
    return emulator.start  # type: ignore[no-any-return]


# --- invariants ------------------------------------------------------------------------


@dataclass
class Tally:
    problems: list[str] = field(default_factory=list)
    details: Counter[str] = field(default_factory=Counter)

    def bad(self, kind: str, message: str) -> None:
        self.details[kind] += 1
        shown = EVERY_ONE_SHOWN.get(kind, 5)  # a few examples per kind are enough to debug
        if self.details[kind] <= shown:
            self.problems.append(f"{kind}: {message}")
        elif self.details[kind] == shown + 1:
            self.problems.append(f"{kind}: ... more")


EVERY_ONE_SHOWN = {"stuck": 100}
"""Kinds whose every example is shown (up to this many): which jobs are stuck, and where, is the diagnosis."""


async def check_postgres(
    conn: asyncpg.Connection, jobs: list[str], tally: Tally, steps: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The job rows, tallying what is wrong; ``steps`` says where each running workflow is."""
    rows = {
        r["id"]: dict(r)
        for r in await conn.fetch("SELECT id::text, status, error FROM ingestion_jobs WHERE id = ANY($1::uuid[])", jobs)
    }
    bills = Counter(
        r["job_id"] for r in await conn.fetch("SELECT job_id::text FROM bills WHERE job_id = ANY($1::uuid[])", jobs)
    )
    bill_ids = {
        r["job_id"]: r["id"]
        for r in await conn.fetch("SELECT job_id::text, id::text FROM bills WHERE job_id = ANY($1::uuid[])", jobs)
    }
    # A later job's re-issued statement for the same period replaces the bill (persist_bill): the job that
    # stored it first succeeded and its version is kept in bill_revisions, not lost.
    revised = {
        r["job_id"]
        for r in await conn.fetch(
            # Only while the bill that replaced it is there: a replaced bill that was then lost is lost.
            "SELECT r.job_id::text FROM bill_revisions r JOIN bills b ON b.id = r.bill_id"
            " WHERE r.job_id = ANY($1::uuid[])",
            jobs,
        )
    }
    natural = await conn.fetchval(
        """SELECT count(*) FROM (SELECT 1 FROM bills WHERE job_id = ANY($1::uuid[])
            GROUP BY utility_account_id, account_number, bill_period_start, bill_period_end HAVING count(*) > 1) d""",
        jobs,
    )
    artifacts = Counter(
        r["job_id"] for r in await conn.fetch("SELECT job_id::text FROM artifacts WHERE job_id = ANY($1::uuid[])", jobs)
    )
    for _ in range(natural):
        tally.bad("duplicated_postgres", "two bills rows share a natural key")
    for job in jobs:
        row = rows.get(job)
        if row is None:
            tally.bad("lost_job_row", job)
            continue
        status = row["status"]
        if status not in SETTLED_STATUSES:
            tally.bad("stuck", f"{job} {status}, workflow {steps.get(job, 'not running')}")
        if status == JobStatus.FAILED:
            tally.bad("failed", f"{job}: {row['error'] or '(no reason recorded)'}")
        count = bills[job]
        if status == JobStatus.SUCCEEDED and count == 0 and job not in revised:
            tally.bad("lost_bill_row", job)
        if count > 1:
            tally.bad("duplicated_postgres", f"{job} has {count} bills rows")
        if status in SETTLED_STATUSES and status != JobStatus.SUCCEEDED and count:
            tally.bad("bill_row_for_unsuccessful_job", f"{job} {status}")
        if artifacts[job] > 1 or (status in STORED and artifacts[job] != 1):
            tally.bad("artifact_rows", f"{job} {status} has {artifacts[job]} artifacts rows")
        row["bill_id"] = bill_ids.get(job)
        row["artifact_rows"] = artifacts[job]
    return rows


def check_objects(settings: Settings, rows: dict[str, dict[str, Any]], tally: Tally) -> None:
    """One object under raw/bills/{job_id}/ per job that stored its bill (and as many as artifacts rows)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project=settings.gcp_project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=settings.storage_emulator_host),
    )
    objects = Counter(b.name.split("/")[2] for b in client.list_blobs(settings.gcs_bucket, prefix="raw/bills/"))
    for job, row in rows.items():
        count = objects[job]
        if count > 1 or (row["status"] in STORED and count != 1):
            tally.bad("raw_objects", f"{job} {row['status']} has {count} objects")
        if row["status"] in STORED and count != row["artifact_rows"]:
            tally.bad("raw_objects_vs_rows", f"{job}: {count} objects, {row['artifact_rows']} rows")


def check_analytics(settings: Settings, rows: dict[str, dict[str, Any]], tally: Tally) -> None:
    """Each SUCCEEDED bill once through the dedup view (raw duplicates only counted)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    client = bigquery.Client(
        project=settings.gcp_project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=settings.bigquery_emulator_host),
    )

    def counts(table: str) -> Counter[str]:
        name = f"`{settings.gcp_project}.{settings.bq_dataset}.{table}`"
        sql = f"SELECT bill_id, COUNT(*) AS n FROM {name} GROUP BY bill_id"
        return Counter({r["bill_id"]: int(r["n"]) for r in client.query(sql).result()})

    raw, view = counts("normalized_bills"), counts("normalized_bills_latest")
    expected = {row["bill_id"] for row in rows.values() if row["status"] == JobStatus.SUCCEEDED and row["bill_id"]}
    for bill_id in expected:
        if view[bill_id] == 0:
            tally.bad("lost_analytics_row", bill_id)
        if view[bill_id] > 1:
            tally.bad("duplicated_view", f"{bill_id} {view[bill_id]} rows")
        if raw[bill_id] > 1:
            tally.details["raw_duplicate_rows"] += raw[bill_id] - 1
    ours = {row["bill_id"] for row in rows.values() if row["bill_id"]}
    for bill_id in set(view) & ours - expected:
        tally.bad("analytics_row_for_unsuccessful_job", bill_id)


async def workflow_outcomes(client: Client, jobs: list[str], within: float, steps: dict[str, str]) -> dict[str, str]:
    """Each job's workflow outcome: a completed run's result status, else the execution status.

    Waits up to ``within`` for runs still finishing their last task; a run waiting for a
    review (its JobStatus search attribute says so) is left running. Where each run still
    running otherwise is goes to ``steps``.
    """
    limit = asyncio.Semaphore(16)

    async def one(job: str) -> tuple[str, str]:
        handle = client.get_workflow_handle(workflow_id_for(job), result_type=IngestionResult)
        deadline = time.monotonic() + within
        async with limit:
            while True:
                described = await handle.describe()
                waiting = described.typed_search_attributes.get(sa.JOB_STATUS) == JobStatus.NEEDS_REVIEW
                if described.status != WorkflowExecutionStatus.RUNNING or waiting or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            if described.status == WorkflowExecutionStatus.COMPLETED:
                return job, (await handle.result()).status
            if described.status == WorkflowExecutionStatus.RUNNING and waiting:
                return job, JobStatus.NEEDS_REVIEW
            if described.status == WorkflowExecutionStatus.RUNNING:
                steps[job] = current_step(described)
            return job, f"workflow {described.status.name if described.status else 'unknown'}"

    return dict(await asyncio.gather(*(one(job) for job in jobs)))


def check_workflows(outcomes: dict[str, str], rows: dict[str, dict[str, Any]], tally: Tally) -> None:
    """Postgres agrees with Temporal: same final status, FAILED for a failed run, review for a waiting one."""
    for job, row in rows.items():
        outcome = outcomes.get(job, "workflow missing")
        agrees = outcome == row["status"] or (outcome == "workflow FAILED" and row["status"] == JobStatus.FAILED)
        if not agrees:
            tally.bad("temporal_vs_postgres", f"{job}: {outcome}, row {row['status']}")


# --- the run -----------------------------------------------------------------------------


async def wait_settled(load: Load, deadline: Deadline) -> None:
    while not deadline.passed():
        started = len(load.jobs)
        settled = sum(1 for j in load.jobs.values() if j in load.settled)
        if started + len(load.refused) >= load.plan.bills and settled == started:
            return
        await asyncio.sleep(0.5)


async def show_progress(load: Load, t0: float, deadline: Deadline, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=15.0)
        now = time.monotonic()
        say(
            f"t={now - t0:5.1f}s started={len(load.jobs)} settled={len(load.settled)}"
            f" in_flight={load.in_flight} api_retries={load.api_retries} idle={now - deadline.last_advance:.0f}s"
        )


async def run_chaos(plan: ChaosPlan, data_dir: Path) -> ChaosReport:
    """Start the stack, drive the batch while injecting faults, check the invariants, stop everything."""
    t0 = time.monotonic()
    deadline = Deadline(cap=plan.seconds_allowed, stall=plan.stall)
    rng = random.Random(plan.seed)
    run_id = uuid.uuid4().hex[:8]
    stack = build_stack(data_dir, run_id)
    faults = plan_faults(plan, rng)
    try:
        await on_stack_thread(stack.start_services)
        key = await on_stack_thread(stack.admin_key)
        stack.start_worker()
        await on_stack_thread(stack.start_api)
        settings = stack.settings()
        say(f"stack up in {time.monotonic() - t0:.1f}s (data in {data_dir}); faults planned: {len(faults)}")
        deadline.advanced()  # no job could advance while the stack started: a slow start is no stall
        supervisor = Supervisor(stack, t0)
        async with httpx.AsyncClient(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http:
            accounts = await create_accounts(http, max(4, -(-plan.bills // plan.bills_per_account)), rng)
            load = Load(http, accounts, plan, run_id)
            stop = asyncio.Event()
            watcher = asyncio.create_task(watch(load, stack.env["DATABASE_URL"], deadline, stop))
            tracker = asyncio.create_task(track_steps(load, await connect_client(settings), deadline, stop))
            guard = asyncio.create_task(_supervise(supervisor, stop))
            progress = asyncio.create_task(show_progress(load, t0, deadline, stop))
            injector = asyncio.create_task(inject(faults, stack, supervisor, load, plan, rng, t0, deadline))
            await load.run(deadline)
            await wait_settled(load, deadline)
            if deadline.passed():
                say(f"t={time.monotonic() - t0:5.1f}s giving up: {_why(deadline)}")
            await _finish_injection(injector, deadline)
            stop.set()
            await asyncio.gather(watcher, tracker, guard, progress)
        tally = Tally()
        async with asyncio.timeout(300):
            report = await _check(stack, settings, load, tally)
        injected = [f for f in faults if f.started]
        report.faults, report.unplanned = injected, supervisor.unplanned
        report.seconds = time.monotonic() - t0
        if len(injected) < len(faults):
            report.problems.append(f"only {len(injected)} of {len(faults)} faults were injected before the deadline")
        return report
    finally:
        await on_stack_thread(lambda: _close(stack))


async def _supervise(supervisor: Supervisor, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await supervisor.check()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


def _why(deadline: Deadline) -> str:
    if deadline.stall is not None and deadline.at < deadline.cap:
        return f"no job advanced for {deadline.stall:.0f}s"
    return "the deadline passed"


async def _finish_injection(injector: asyncio.Task[None], deadline: Deadline) -> None:
    """Faults still pending when the batch settled early fire now (the run must inject them all)."""
    await asyncio.wait({injector}, timeout=max(1.0, deadline.remaining()))
    if injector.done():
        injector.result()  # a fault that could not be injected fails the run
    else:
        injector.cancel()


async def _check(stack: LocalStack, settings: Settings, load: Load, tally: Tally) -> ChaosReport:
    jobs = list(load.jobs.values())
    for refused in load.refused:
        tally.bad("lost_start", refused)
    for _ in range(load.plan.bills - len(load.jobs) - len(load.refused)):
        tally.bad("lost_start", "never accepted before the deadline")
    # Temporal first: a run may still be finishing its last task; the rows are read after it did.
    steps: dict[str, str] = {}
    outcomes = await workflow_outcomes(await connect_client(settings), jobs, within=30, steps=steps)
    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        rows = await check_postgres(conn, jobs, tally, steps)
    finally:
        await conn.close()
    check_workflows(outcomes, rows, tally)
    await asyncio.to_thread(check_objects, settings, rows, tally)
    await asyncio.to_thread(check_analytics, settings, rows, tally)
    d = tally.details
    lost = d["lost_start"] + d["lost_job_row"] + d["lost_bill_row"] + d["lost_analytics_row"]
    duplicated = d["duplicated_postgres"] + d["duplicated_view"]
    return ChaosReport(
        bills=load.plan.bills,
        faults=[],
        statuses=Counter(row["status"] for row in rows.values()),
        lost=lost,
        duplicated=duplicated,
        stuck=d["stuck"],
        failed=d["failed"],
        seconds=0.0,
        problems=tally.problems,
        details=dict(d),
        failure_reasons=Counter(
            failure_reason(row["error"]) for row in rows.values() if row["status"] == JobStatus.FAILED
        ),
    )


def _close(stack: LocalStack) -> None:
    for proc in stack.workers:
        if proc.poll() is None:
            stop_process(proc, timeout=15)
    stack.workers = []
    stack.close()


# --- output ------------------------------------------------------------------------------


def table(rows: list[tuple[str, str]]) -> list[str]:
    width = max(len(k) for k, _ in rows)
    value_width = max(len(v) for _, v in rows)
    line = f"+{'-' * (width + 2)}+{'-' * (value_width + 2)}+"
    return [line, *(f"| {k:<{width}} | {v:<{value_width}} |" for k, v in rows), line]


def render(report: ChaosReport) -> list[str]:
    rows: list[tuple[str, str]] = [("bills", str(report.bills))]
    for i, fault in enumerate(report.faults, 1):
        rows.append((f"fault {i}", f"t={fault.started:.0f}s {fault.name} ({fault.note})"))
    rows.append(("faults injected", str(len(report.faults))))
    for status, count in sorted(report.statuses.items()):
        rows.append((f"  {status}", str(count)))
    for reason, count in report.failure_reasons.most_common():
        rows.append((f"    FAILED {count}x", reason))
    rows += [
        ("lost (must be 0)", str(report.lost)),
        ("duplicated (must be 0)", str(report.duplicated)),
        ("  postgres duplicates", str(report.details.get("duplicated_postgres", 0))),
        ("  view duplicates", str(report.details.get("duplicated_view", 0))),
        ("  raw BigQuery duplicate rows", str(report.details.get("raw_duplicate_rows", 0))),
        ("stuck (must be 0)", str(report.stuck)),
        ("failed (must be 0)", str(report.failed)),
        ("unplanned process exits", str(len(report.unplanned))),
        ("wall time", f"{report.seconds:.0f}s"),
    ]
    return table(rows) + [f"unplanned: {u}" for u in report.unplanned] + [f"problem: {p}" for p in report.problems]


def _window(text: str) -> tuple[float, float]:
    first, last = (float(part) for part in text.split(","))
    if not 0 <= first < last <= 1:
        raise argparse.ArgumentTypeError("--fault-window wants two fractions, first < last, e.g. 0.05,0.8")
    return first, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bills", type=int, default=500)
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed, to replay a run)")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a fresh temp dir, removed after")
    parser.add_argument("--concurrency", type=int, default=ChaosPlan.concurrency)
    parser.add_argument("--kills", type=int, default=ChaosPlan.worker_kills)
    parser.add_argument("--postgres-outage", type=float, default=ChaosPlan.postgres_outage)
    parser.add_argument("--storage-outage", type=float, default=ChaosPlan.storage_outage)
    parser.add_argument("--analytics-outage", type=float, default=ChaosPlan.analytics_outage)
    parser.add_argument("--no-temporal-restart", action="store_true")
    parser.add_argument(
        "--fault-window", default="0.05,0.8", help="faults fire between these fractions of the batch settled"
    )
    parser.add_argument("--deadline", type=float, default=ChaosPlan.deadline)
    parser.add_argument(
        "--stall", type=float, default=ChaosPlan.stall, help="give up sooner once no job advanced for this long"
    )
    args = parser.parse_args(argv)
    stop_on_sigterm()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    plan = ChaosPlan(
        bills=args.bills,
        seed=seed,
        concurrency=args.concurrency,
        worker_kills=args.kills,
        postgres_outage=args.postgres_outage,
        storage_outage=args.storage_outage,
        analytics_outage=args.analytics_outage,
        temporal_restart=not args.no_temporal_restart,
        fault_window=_window(args.fault_window),
        deadline=args.deadline,
        stall=args.stall,
    )
    stall = f", sooner after {plan.stall:.0f}s with no job advancing" if plan.stall is not None else ""
    say(f"{plan.bills} bills, seed {seed}, deadline {plan.seconds_allowed:.0f}s{stall}")
    with contextlib.ExitStack() as cleanup:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="minimeter-chaos-")))
        report = asyncio.run(run_chaos(plan, data_dir.resolve()))
    for line in render(report):
        print(line)
    print(report.summary, flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    exit_past_the_sdk(main())  # its clients made: past the SDK's teardown crash
