"""Phase 1: N no-op workflows of the pipeline's shape, started by C clients → workflows/s."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from tqdm import tqdm

from bench.load import InFlightLimit, drive, timed
from bench.noop import NoopIngestionWorkflow
from bench.noop_steps import NoopRequest
from bench.stats import Span, distribution, per_second
from shared import search_attributes as sa
from shared.models import JobStatus

PROVIDERS = ("pge", "coned", "duke", "sfpuc")


@dataclass
class CeilingResult:
    workflows: int
    completed: int
    failed: int
    span: Span
    start_ms: dict[str, float]
    latency_ms: dict[str, float]
    completions_per_second: list[int]
    steps: list[str]
    local_steps: list[str]
    latency_sample_ms: list[float] = field(default_factory=list)
    resources: dict[str, dict[str, float]] = field(default_factory=dict)
    after: CeilingResult | None = None
    """The same ceiling again after the pipeline, on the server the pipeline's executions have aged."""

    @property
    def wps(self) -> float:
        return self.span.rate(self.completed)

    @property
    def reference_wps(self) -> float:
        """What the pipeline is compared with: the mean of the runs before and after it, when both ran.

        The dev server slows as executions accumulate (in-memory SQLite, visibility), so
        a ceiling measured only before the pipeline is taken on a younger server than
        the pipeline ran on; the mean of before and after cancels that linear drift.
        """
        return self.wps if self.after is None else (self.wps + self.after.wps) / 2

    def shortfalls(self, name: str = "ceiling") -> list[str]:
        """Why this round (or the one after the pipeline) is no reference: a stalled round's rate counts only the
        workflows that closed, and a no-op that failed measured something other than the pipeline's shape."""
        problems = []
        closed = self.completed + self.failed
        if closed < self.workflows:
            problems.append(f"{name}: only {closed} of {self.workflows} workflows closed")
        if self.failed:
            problems.append(f"{name}: {self.failed} workflows failed")
        if self.after is not None:
            problems += self.after.shortfalls("ceiling after the pipeline")
        return problems

    def as_json(self) -> dict[str, Any]:
        return {
            "workflows": self.workflows,
            "completed": self.completed,
            "failed": self.failed,
            "seconds": round(self.span.seconds, 2),
            "wps": round(self.wps, 2),
            "activities": len(self.steps),
            "steps": self.steps,
            "local_steps": self.local_steps,
            "start_ms": self.start_ms,
            "latency_ms": self.latency_ms,
            "resources": self.resources,
            "completions_per_second": self.completions_per_second,
            "after": self.after.as_json() if self.after else None,
            "reference_wps": round(self.reference_wps, 2),
        }


async def _count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def run_ceiling(
    client: Client,
    *,
    run_id: str,
    task_queue: str,
    workflows: int,
    clients: int,
    steps: list[str],
    local_steps: list[str],
    stall_seconds: float,
    progress: bool,
    max_in_flight: int = 0,
) -> CeilingResult:
    """Start the no-op workflows the way the API starts real ones, then wait for all of them."""

    async def start(i: int, _client: int) -> tuple[str, int, float, float]:
        provider = PROVIDERS[i % len(PROVIDERS)]
        workflow_id = f"bench-noop-{run_id}-{i}"

        async def call() -> str:
            await client.start_workflow(
                NoopIngestionWorkflow.run,
                NoopRequest(job_id=workflow_id, customer_id=1, provider=provider, steps=steps, local_steps=local_steps),
                id=workflow_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.CUSTOMER_ID, 1),
                        SearchAttributePair(sa.JOB_STATUS, JobStatus.PENDING.value),
                        SearchAttributePair(sa.PROVIDER, provider),
                    ]
                ),
                static_summary=f"bench no-op {i}",
            )
            return workflow_id

        key, sent_at, latency = await timed(call)
        return key, 0, sent_at, latency

    base = f"TaskQueue = '{task_queue}'"
    bar = tqdm(total=workflows, desc="ceiling", unit="wf", disable=not progress, smoothing=0.1)
    in_flight = InFlightLimit(max_in_flight)
    starting = asyncio.create_task(drive(workflows, clients, start, in_flight=in_flight))
    done = 0
    last_change = time.monotonic()
    while True:
        # One visibility count a second: it runs on the server being measured, and costs more as N grows.
        await asyncio.sleep(1.0)
        closed = await _count(client, f"{base} AND ExecutionStatus != 'Running'")
        if closed != done:
            bar.update(closed - done)
            done = closed
            last_change = time.monotonic()
            await in_flight.set_done(done)
        if starting.done() and done >= workflows:
            break
        if time.monotonic() - last_change > stall_seconds:
            bar.write(f"ceiling: no progress for {stall_seconds:.0f}s, stopping at {done}/{workflows}")
            break
    bar.close()
    failed = await _count(client, f"{base} AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed'")
    started = await starting if starting.done() else []
    if not starting.done():
        starting.cancel()

    # Visibility has every execution's server-side start and close times: no per-workflow polling needed.
    starts: list[float] = []
    closes: list[float] = []
    latencies: list[float] = []
    async for execution in client.list_workflows(base, page_size=1000):
        if execution.close_time is None:
            continue
        starts.append(execution.start_time.timestamp())
        closes.append(execution.close_time.timestamp())
        latencies.append((execution.close_time - execution.start_time).total_seconds() * 1000)
    span = Span(first_start=min(starts, default=0.0), last_finish=max(closes, default=0.0))
    return CeilingResult(
        workflows=workflows,
        completed=done - failed,
        failed=failed,
        span=span,
        start_ms=distribution([s.latency_ms for s in started]),
        latency_ms=distribution(latencies, digits=0),
        completions_per_second=per_second([c - span.first_start for c in closes]),
        steps=steps,
        local_steps=local_steps,
        latency_sample_ms=latencies,
    )
