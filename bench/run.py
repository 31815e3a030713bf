"""``python -m bench.run``: ceiling, pipeline and extraction alone, measured in one run.

    python -m bench.run                          # 1,000 bills, 32 clients, one worker process
    python -m bench.run --bills 10000 --workers 2
    python -m bench.run --env WORKER_MAX_CONCURRENT_ACTIVITIES=128 --env LOG_LEVEL=WARNING
    python -m bench.run --local-steps --ceiling-local mark_job_running,find_duplicate,mark_job_finished

1. Ceiling: ``bench.noop.NoopIngestionWorkflow`` (the pipeline's steps, policies and
   sync/async split, activities that do nothing) on worker processes configured like
   the real one, N workflows started by C clients, at most ``JOB_DISPATCH_MAX_RUNNING``
   open at once as the API's dispatcher allows jobs → workflows/s.
2. Pipeline: N bills started with ``POST /jobs`` by C clients (mock connector, mixed
   providers and layouts, offline extractor), completion read from ``ingestion_jobs``
   in Postgres (no per-job GETs) → bills/s, POST→done latency, API latency, CPU/RSS.
   The ceiling runs again once the pipeline has stopped (``--ceiling-once`` skips it),
   and the ratio compares the pipeline with the mean of both: one was taken on a younger
   server than the pipeline ran on, one on an older (the dev server slows as runs pile up).
3. Extraction alone: ``extraction.pipeline.analyze`` over the same bills in-process.

Prints a table and ratios, writes ``bench/results/<run>.json`` and ``.png``, and ends
with one ``bench: ...`` line; exits 1 when a bill did not settle or did not get through (FAILED,
sent to review, rejected) or a ceiling round stalled or had a failed workflow, then printing the
FAILED jobs' errors grouped by cause and keeping the data dir with the stack's logs. The stack
runs in a temp dir on free ports, with the Temporal dev server in memory (``--temporal-sqlite``
for ``make run``'s SQLite file, which makes the server I/O-bound) and the BigQuery emulator
in memory too (``--warehouse-on-disk`` for its DuckDB file, where each insert costs ~40% more
of its CPU); set ``TEMPORAL_ADDRESS`` / ``DATABASE_URL`` to use existing services instead.
``--local-steps`` and ``--max-cached-workflows`` run ``bench.proto_worker``: proposed
changes, measured before anyone edits ``worker/``, ``workflows/`` or ``shared/``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench import report
from bench.ceiling import CeilingResult, run_ceiling
from bench.extraction_alone import ExtractionResult, run_extraction
from bench.harness import BenchStack, where_it_runs
from bench.noop_steps import STEP_POLICIES, default_steps
from bench.pipeline import PipelineResult, run_pipeline, seed_accounts
from bench.sampler import SamplerProcess
from shared.settings import Settings
from shared.temporal import connect_client, exit_past_the_sdk
from stack.local import CO_LOCATED_BATCH_NICE, finish_stopping_undisturbed, stop_on_sigterm

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Outcome:
    ceiling: CeilingResult | None = None
    pipeline: PipelineResult | None = None
    extraction: ExtractionResult | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bills", type=int, default=1000, help="bills through the pipeline (default 1000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent API clients / starters (default 32)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on the same server (default 1)")
    parser.add_argument(
        "--api-processes", type=int, default=1, help="API processes on the API's one port (API_PROCESSES, default 1)"
    )
    parser.add_argument("--ceiling-workflows", type=int, help="no-op workflows (default: --bills)")
    parser.add_argument(
        "--ceiling-local", default="", help="comma-separated steps the no-op runs as local activities (a prototype)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="pace all clients together to this many POSTs/s (default: as fast as answered)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=0,
        help="clients wait while this many are started and not done (default: none for the pipeline, "
        "JOB_DISPATCH_MAX_RUNNING for the ceiling)",
    )
    parser.add_argument(
        "--local-steps",
        action="store_true",
        help="prototype: database bookkeeping steps as local activities (bench.proto_workflow)",
    )
    parser.add_argument("--max-cached-workflows", type=int, help="prototype: build_worker's max_cached_workflows")
    parser.add_argument("--bills-per-account", type=int, default=10, help="bills per utility account (default 10)")
    parser.add_argument("--extraction-bills", type=int, help="cap for extraction alone (default: every bill)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra env for worker and API (repeatable)"
    )
    parser.add_argument(
        "--temporal-sqlite",
        action="store_true",
        help="dev server on a SQLite file like make run (default: in memory; the file makes it I/O-bound)",
    )
    parser.add_argument(
        "--warehouse-on-disk",
        action="store_true",
        help="BigQuery emulator on a DuckDB file like make run (default: in memory, ~40%% less of its CPU)",
    )
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument(
        "--ceiling-once",
        action="store_true",
        help="measure the ceiling only before the pipeline, not again after it (the ratio then favours the ceiling)",
    )
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--skip-extraction", action="store_true")
    parser.add_argument(
        "--no-pg-tuples",
        action="store_true",
        help="leave Postgres's pg_tuples_* out of rows_written, and the ~10 s wait for its backends to report them",
    )
    parser.add_argument("--stall-seconds", type=float, default=120, help="give up after this long without progress")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--label", default="", help="appended to the result file names")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--keep-data", action="store_true", help="keep the temp data dir (logs, databases)")
    args = parser.parse_args(argv)
    unknown = [s for s in _csv(args.ceiling_local) if s not in STEP_POLICIES]
    if unknown:
        parser.error(f"--ceiling-local: unknown steps {unknown}; known: {list(STEP_POLICIES)}")
    if args.api_processes < 1:
        parser.error("--api-processes takes 1 or more")
    if any("=" not in kv for kv in args.env):
        parser.error("--env takes KEY=VALUE")
    return args


def _csv(value: str) -> list[str]:
    return [s.strip() for s in value.split(",") if s.strip()]


async def wait_for_pollers(client: Client, task_queue: str, count: int, *, within: float = 60) -> None:
    """Start timing only once every worker process polls, so start-up is not measured as throughput."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            )
        )
        if len({p.identity for p in response.pollers}) >= count:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{count} worker(s) did not poll {task_queue} within {within:.0f}s")


async def measure(stack: BenchStack, args: argparse.Namespace, settings: Settings) -> Outcome:
    outcome = Outcome()
    progress = not args.no_progress
    client = await connect_client(settings)
    if not args.skip_ceiling:
        outcome.ceiling = await _ceiling(stack, client, args, settings)
    if not args.skip_pipeline:
        accounts = await seed_accounts(
            stack.database_url, run_id=stack.run_id, bills=args.bills, bills_per_account=args.bills_per_account
        )
        stack.start_pipeline(args.workers, prototype=prototype_env(args))
        await wait_for_pollers(client, stack.task_queue, args.workers)
        with SamplerProcess(stack.process_groups()) as sampler:
            outcome.pipeline = await run_pipeline(
                api_url=stack.api_url,
                api_key=stack.admin_key,
                database_url=stack.database_url,
                accounts=accounts,
                bills=args.bills,
                clients=args.clients,
                rate=args.rate,
                stall_seconds=args.stall_seconds,
                progress=progress,
                max_in_flight=args.max_in_flight,
                on_settled=sampler.stop,
                pg_tuples=not args.no_pg_tuples,
            )
        outcome.pipeline.resources = sampler.summary()
        outcome.pipeline.resource_series = {name: u.series for name, u in sampler.usage.items()}
        if outcome.ceiling is not None and not args.ceiling_once:
            stack.stop_pipeline()
            outcome.ceiling.after = await _ceiling(stack, client, args, settings, round_name="after")
    return outcome


async def _ceiling(
    stack: BenchStack, client: Client, args: argparse.Namespace, settings: Settings, *, round_name: str = ""
) -> CeilingResult:
    """One ceiling round on its own task queue and workflow ids (a second round must not count the first)."""
    task_queue = stack.start_noop_workers(args.workers, round_name=round_name)
    await wait_for_pollers(client, task_queue, args.workers)
    with SamplerProcess(stack.process_groups()) as sampler:
        result = await run_ceiling(
            client,
            run_id=f"{stack.run_id}-{round_name}" if round_name else stack.run_id,
            task_queue=task_queue,
            workflows=args.ceiling_workflows or args.bills,
            clients=args.clients,
            steps=default_steps(),
            local_steps=_csv(args.ceiling_local),
            stall_seconds=args.stall_seconds,
            progress=not args.no_progress,
            # The same admission as the pipeline: its dispatcher keeps this many jobs open.
            max_in_flight=args.max_in_flight or settings.job_dispatch_max_running,
        )
    result.resources = sampler.summary()
    stack.stop_noop_workers()
    return result


def prototype_env(args: argparse.Namespace) -> dict[str, str]:
    """Settings for ``bench.proto_worker``; empty means the pipeline runs the real ``python -m worker``."""
    env: dict[str, str] = {}
    if args.local_steps:
        env["BENCH_LOCAL_STEPS"] = "1"
    if args.max_cached_workflows is not None:
        env["BENCH_MAX_CACHED_WORKFLOWS"] = str(args.max_cached_workflows)
    return env


def _git() -> dict[str, str]:
    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": str(bool(git("status", "--porcelain")))}


def installed_versions() -> dict[str, str]:
    """Every package installed beside the bench, the project's requirements' own too (pydantic-core, grpcio,
    protobuf...), so a run says what it ran on: ``make`` installs constraints.txt's versions, but a bench run from
    another venv (an image's, a developer's) or from before a change to that file would not say otherwise."""
    installed = ((d.metadata["Name"], d.version) for d in importlib.metadata.distributions())
    return dict(sorted((name, version) for name, version in installed if name))


def config_of(
    args: argparse.Namespace, run_id: str, settings: Settings | None, *, worker_env: Mapping[str, str]
) -> dict[str, Any]:
    """``worker_env``: what the stack gave its workers (``LocalStack.worker_env``): the JSON says what they ran at."""
    env_overrides = dict(kv.split("=", 1) for kv in args.env)
    worker_nice = worker_env.get("WORKER_NICE")
    return {
        "run_id": run_id,
        "bills": args.bills,
        "clients": args.clients,
        "workers": args.workers,
        "api_processes": args.api_processes,
        "ceiling_local": _csv(args.ceiling_local),
        "rate": args.rate or None,
        "max_in_flight": args.max_in_flight or None,
        "prototype": prototype_env(args),
        "bills_per_account": args.bills_per_account,
        "temporal": "external"
        if os.environ.get("TEMPORAL_ADDRESS")
        else ("sqlite" if args.temporal_sqlite else "memory"),
        "postgres": "external" if os.environ.get("DATABASE_URL") else "embedded",
        "warehouse": "external"
        if os.environ.get("BIGQUERY_EMULATOR_HOST")
        else ("disk" if args.warehouse_on_disk else "memory"),
        "env_overrides": env_overrides,
        "worker_settings": (
            {
                "max_concurrent_activities": settings.worker_max_concurrent_activities,
                "max_concurrent_workflow_tasks": settings.worker_max_concurrent_workflow_tasks,
                "activity_threads": settings.worker_activity_threads,
                "db_pool_max": settings.db_pool_max,
                "log_level": settings.log_level,
                "job_dispatch_max_running": settings.job_dispatch_max_running,
                "job_dispatch_quiet_ms": settings.job_dispatch_quiet_ms,
                "job_dispatch_max_wait_ms": settings.job_dispatch_max_wait_ms,
                "analytics_batch_max_bills": settings.analytics_batch_max_bills,
                "analytics_batch_max_wait_ms": settings.analytics_batch_max_wait_ms,
                "analytics_batch_quiet_ms": settings.analytics_batch_quiet_ms,
                "worker_nice": None if worker_nice is None else int(worker_nice),
                "dev_server_nice": None if os.environ.get("TEMPORAL_ADDRESS") else CO_LOCATED_BATCH_NICE,
            }
            if settings
            else {}
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
        },
        "git": _git(),
        "packages": installed_versions(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    data_dir = Path(tempfile.mkdtemp(prefix="minimeter-bench-"))
    env = {"API_PROCESSES": str(args.api_processes), **dict(kv.split("=", 1) for kv in args.env)}
    stack = BenchStack(
        data_dir,
        run_id=run_id,
        env=env,
        temporal_in_memory=not args.temporal_sqlite,
        warehouse_in_memory=not args.warehouse_on_disk,
    )
    outcome = Outcome()
    settings: Settings | None = None
    shortfalls: list[str] = []
    failed = True
    try:
        print(f"bench {run_id}: starting the stack in {data_dir} ({where_it_runs()})", flush=True)
        stack.start_services()
        settings = stack.local.settings()
        outcome = asyncio.run(measure(stack, args, settings))
        shortfalls = shortfalls_of(outcome)  # before the finally: a run short of its bills keeps its logs
        failed = False
    finally:
        finish_stopping_undisturbed()  # a second Ctrl-C cut the stop short and left the servers running
        print("bench: stopping the stack", file=sys.stderr, flush=True)
        stack.close()
        if failed or shortfalls or args.keep_data:
            print(f"bench: data and logs kept in {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    if not args.skip_extraction:
        if outcome.pipeline is not None:
            jobs = outcome.pipeline.jobs
        else:  # no pipeline: the same mix of bills the mock connector would have produced
            jobs = [
                (f"bench-{i}", ("pge", "coned", "duke", "sfpuc")[i % 4], f"BN-{i // 10:06d}") for i in range(args.bills)
            ]
        jobs = jobs[: args.extraction_bills] if args.extraction_bills else jobs
        outcome.extraction = run_extraction(jobs, total=len(jobs), progress=not args.no_progress)

    config = config_of(args, run_id, settings, worker_env=stack.local.worker_env)
    name = run_id + (f"-{args.label}" if args.label else "")
    summary = report.summary_line(args.bills, outcome.ceiling, outcome.pipeline, outcome.extraction)
    document = {
        "config": config,
        "ceiling": outcome.ceiling.as_json() if outcome.ceiling else None,
        "pipeline": outcome.pipeline.as_json() if outcome.pipeline else None,
        "extraction": outcome.extraction.as_json() if outcome.extraction else None,
        "ratios": report.ratios(outcome.ceiling, outcome.pipeline, outcome.extraction),
        "cpu_ms_per_item": cpu.as_json() if (cpu := report.cpu_per_item(outcome.ceiling, outcome.pipeline)) else None,
        "targets": report.TARGETS,
        "shortfalls": shortfalls,
        "summary": summary,
    }
    json_path = args.results_dir / f"{name}.json"
    report.write_json(json_path, document)
    if not args.no_plot:
        report.plot(args.results_dir / f"{name}.png", outcome.ceiling, outcome.pipeline, title=summary)
    for line in report.table(config, outcome.ceiling, outcome.pipeline, outcome.extraction):
        print(line)
    print(f"results: {json_path}" + ("" if args.no_plot else f" and {json_path.with_suffix('.png')}"))
    if outcome.pipeline is not None:
        for reason, count in outcome.pipeline.failure_reasons.most_common():
            print(f"bench: FAILED {count}x: {reason}", file=sys.stderr)
    for shortfall in shortfalls:
        print(f"bench: {shortfall}: the run is no measurement", file=sys.stderr)
    if shortfalls:
        print(f"bench: the stack's logs are in {data_dir / 'logs'}", file=sys.stderr, flush=True)
    print(summary, flush=True)
    return 1 if shortfalls else 0


def shortfalls_of(outcome: Outcome) -> list[str]:
    """Why this run is no measurement: a phase that stalled, or bills or no-op workflows that did not get through."""
    ceiling = outcome.ceiling.shortfalls() if outcome.ceiling else []
    return ceiling + (outcome.pipeline.shortfalls() if outcome.pipeline else [])


if __name__ == "__main__":
    exit_past_the_sdk(main())  # its clients made: past the SDK's teardown crash
