"""Build and run a MiniMeter worker against any Temporal address."""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvloop
from temporalio.client import Client
from temporalio.worker import Worker

import workflows
from activities.analytics import AnalyticsActivities
from activities.bills import BillActivities
from activities.extraction import ExtractionActivities
from activities.fetching import FetchActivities
from activities.jobs import JobActivities
from activities.review import ReviewActivities
from activities.rollup import RollupActivities
from activities.storage import StorageActivities
from shared.db import refuse_an_unusable_database_url
from shared.lean import freeze_startup_heap
from shared.logs import configure_logging
from shared.priority import lower_priority
from shared.refusals import StartRefused
from shared.schedules import ensure_rollup_schedule
from shared.settings import Settings, settings_or_exit, warn_misspelled_settings
from shared.startup import check_search_attributes, when_reachable
from shared.temporal import connect_client, core_runtime
from worker.backlog_metrics import report_backlog
from worker.resources import Resources, open_resources
from worker.sandbox_runner import workflow_runner_for
from workflows.bill_ingestion import BillIngestionWorkflow
from workflows.rollup import AnalyticsRollupWorkflow

logger = logging.getLogger(__name__)

WORKFLOWS = [BillIngestionWorkflow, AnalyticsRollupWorkflow]


def pipeline_activities(resources: Resources, settings: Settings) -> list[Callable[..., Any]]:
    """Every activity MiniMeter registers, bound to this process's shared clients."""
    jobs = JobActivities(resources.pool)
    source_limit = settings.upload_max_bytes  # a provider's bill is held to the limit an upload is
    fetch = FetchActivities(resources.pool, resources.connectors, store=resources.store, max_bytes=source_limit)
    storage = StorageActivities(resources.pool, resources.store, resources.connectors, max_bytes=source_limit)
    extraction = ExtractionActivities(resources.store, settings)
    bills = BillActivities(resources.pool)
    analytics = AnalyticsActivities(
        resources.sink,
        batch_max_bills=settings.analytics_batch_max_bills,
        batch_max_wait=settings.analytics_batch_max_wait_ms / 1000,
        batch_quiet=settings.analytics_batch_quiet_ms / 1000,
    )
    review = ReviewActivities(resources.pool)
    rollup = RollupActivities(resources.sink)
    return [
        jobs.mark_job_running,
        jobs.mark_job_finished,
        fetch.fetch_bill,
        storage.store_raw_bill,
        extraction.extract_bill,
        extraction.validate_bill,
        extraction.check_corrected_bill,
        bills.find_duplicate,
        bills.load_stored_bill,
        bills.persist_bill,
        analytics.publish_analytics,
        review.open_review_task,
        review.escalate_review,
        review.close_review_task,
        review.record_review_decision,
        rollup.rollup_analytics,
    ]


MAX_CACHED_WORKFLOWS = 1000
"""Workflow runs a worker keeps in memory between tasks (the SDK's default too)."""


def build_worker(
    client: Client,
    resources: Resources,
    settings: Settings,
    *,
    task_queue: str | None = None,
    max_cached_workflows: int = MAX_CACHED_WORKFLOWS,
    activities: list[Callable[..., Any]] | None = None,
    on_fatal_error: Callable[[BaseException], Awaitable[None]] | None = None,
) -> Worker:
    """A worker with every MiniMeter workflow and activity registered (``activities`` replaces them)."""
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner_for(client.data_converter),
        activities=activities if activities is not None else pipeline_activities(resources, settings),
        activity_executor=ThreadPoolExecutor(
            max_workers=settings.worker_activity_threads, thread_name_prefix="activity"
        ),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=max_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        # Cancellation reaches an activity with its next heartbeat: send them at least every 5 s.
        max_heartbeat_throttle_interval=timedelta(seconds=5),
        default_heartbeat_throttle_interval=timedelta(seconds=5),
        on_fatal_error=on_fatal_error,
    )


def warm_workflow_bytecode() -> None:
    """Write the ``workflows`` package's bytecode once (best effort, e.g. read-only installs skip it).

    The sandbox re-imports workflow modules for every workflow run it creates; without a
    ``.pyc`` (``PYTHONDONTWRITEBYTECODE=1``, a fresh checkout) each run compiled their source
    again, about 5% of a busy worker's CPU. Python only reads bytecode under that variable;
    ``compileall`` writes it explicitly."""
    compileall.compile_dir(Path(workflows.__file__).parent, quiet=2)


async def start_worker(
    settings: Settings, *, on_fatal_error: Callable[[BaseException], Awaitable[None]] | None = None
) -> tuple[Worker, Resources]:
    """Connect, open the shared clients (migrating the schema) and build the worker: each step may wait."""
    refuse_an_unusable_database_url(settings)
    client = await when_reachable(
        "Temporal", lambda: connect_client(settings, metrics=True), within=settings.startup_wait_seconds
    )
    await check_search_attributes(client, namespace=settings.temporal_namespace, address=settings.temporal_address)
    resources = await open_resources(settings)
    worker = build_worker(client, resources, settings, on_fatal_error=on_fatal_error)
    if resources.sink is not None:
        await ensure_rollup_schedule(client, task_queue=settings.temporal_task_queue)
    return worker, resources


def stop_on_signals() -> asyncio.Event:
    """An event SIGTERM and SIGINT set, from now on.

    Taken before anything waits: as a container's PID 1 the worker has no default action for SIGTERM,
    so while it waited for Temporal (a minute) or another process's migration (up to an hour) it
    ignored the signal until Docker or Kubernetes killed it at the end of the grace period."""
    stop = asyncio.Event()

    def stop_gracefully() -> None:
        if not stop.is_set():
            logger.info("worker shutting down gracefully")
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_gracefully)
    return stop


async def run_worker(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, then stop polling and let in-flight activities finish; a fatal worker error
    stops it the same bounded way, then is raised."""
    stop = stop_on_signals()
    fatal: list[BaseException] = []

    async def stop_on_fatal_error(error: BaseException) -> None:
        # The SDK then shuts the worker down itself, waiting for every activity without a limit: one blocked
        # in a call (a sync activity no cancellation reaches) kept a failed worker up, never restarted.
        # Stopping as a signal does bounds that wait; the error is raised once it is over, its traceback logged
        # then (the SDK has logged it too, as "Worker failed, shutting down").
        cause = error.__cause__ or error  # the SDK's "Workflow worker failed" wraps what failed
        logger.warning("fatal worker error: stopping within the shutdown bound", extra={"error": repr(cause)[:300]})
        fatal.append(error)
        stop.set()

    starting = asyncio.create_task(start_worker(settings, on_fatal_error=stop_on_fatal_error))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        logger.info("worker stopped before it started")
        return
    stopped.cancel()
    worker, resources = starting.result()
    logger.info(
        "worker started",
        extra={"task_queue": settings.temporal_task_queue, "metrics_address": settings.worker_metrics_address},
    )
    freeze_startup_heap()
    reporting = None
    if settings.worker_metrics_address is not None:
        meter = core_runtime(settings.worker_metrics_address).metric_meter
        reporting = asyncio.create_task(
            report_backlog(resources.pool, meter, every=settings.worker_metrics_backlog_seconds), name="backlog-metrics"
        )
    ended = False
    try:
        ended = await serve(worker, stop, within=settings.worker_graceful_shutdown_seconds + SHUTDOWN_MARGIN_SECONDS)
    finally:
        if reporting is not None:
            reporting.cancel()
        # Released when the worker failed too: the runner joins the loop's default executor next, and a
        # thread an activity gave up on kept a failed worker up for good, never restarted.
        release_worker_threads(worker, resources)
        if ended:
            await resources.close()
        else:
            resources.pool.terminate()  # an abandoned activity may hold a connection: close() would wait for it
    if fatal:  # the run had not ended to raise it: a stopped worker would exit 0, and its supervisor leave it
        raise fatal[0]
    logger.info("worker stopped")


SHUTDOWN_MARGIN_SECONDS = 5.0
"""Past ``WORKER_GRACEFUL_SHUTDOWN_SECONDS``, how long the activities then cancelled get to end before the
worker exits without them: inside the 10 s ``make run`` and compose's ``stop_grace_period`` allow, so the
worker says what it left rather than being killed without a word."""


async def serve(worker: Worker, stop: asyncio.Event, *, within: float) -> bool:
    """Run ``worker`` until ``stop`` is set, then shut it down: True once every activity has ended, False
    when some had not ``within`` seconds later (logged). Those are not left to their timeouts: as the runner
    (``main``'s ``uvloop.run``) cancels what is left, the SDK reports each attempt failed (``WorkerShutdown``,
    retryable), so Temporal may retry it elsewhere while its blocked thread runs on until the process ends (at most
    ``EXIT_WITHIN_SECONDS`` later): one reason every activity must be safe to run twice at once.

    The SDK's shutdown waits for every activity without a limit, and its cancellation cannot reach a thread
    blocked in a call (a read with no timeout): such an activity kept a stopped worker up until SIGKILL, or
    for good where nothing sends one. A fatal worker error is raised."""
    running = asyncio.create_task(worker.run())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not running.done():  # what set ``stop`` has said why
        shutdown = asyncio.create_task(worker.shutdown())
        await asyncio.wait({running}, timeout=within)
        if not running.done():
            logger.warning(
                "activities still running after the graceful shutdown: the worker stops without them",
                extra={"waited_s": within},
            )
            shutdown.cancel()
            return False
        await shutdown
    running.result()
    return True


EXIT_WITHIN_SECONDS = 3.0
"""How long the interpreter's exit may take once the worker has stopped (its pools shut down in order, idle
threads ending at once) before ``end_within`` ends the process past threads still blocked in calls."""


def release_worker_threads(worker: Worker, resources: Resources) -> None:
    """Shut down the activity pools without waiting, and give the loop a fresh default executor.

    ``uvloop.run``, as ``asyncio.run``, ends by joining its default executor's threads, without a limit on
    Python 3.11 (the image's): one blocked in a read its activity gave up on (a connector read past its 30 s,
    ``activities.connectors.documents``) kept a worker that had logged "worker stopped" from exiting."""
    for pool in (worker.config().get("activity_executor"), resources.io_threads):
        if isinstance(pool, ThreadPoolExecutor):
            pool.shutdown(wait=False, cancel_futures=True)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1, thread_name_prefix="stopped"))


def end_within(seconds: float, code: int) -> None:
    """Let the process exit as usual, but end it ``seconds`` from now should a thread blocked in a call hold it.

    The interpreter joins every pool thread at exit, without a limit: one blocked in a call its activity gave
    up on (see ``release_worker_threads``) kept the process up until SIGKILL. Its work is abandoned; Temporal
    retries it. A daemon thread, so it ends with a process that exits in time."""

    def end() -> None:
        time.sleep(seconds)
        blocked = [
            thread.name
            for thread in threading.enumerate()
            if not thread.daemon and thread is not threading.main_thread()
        ]
        logger.warning("threads still blocked in calls: exiting without them", extra={"threads": blocked})
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(code)

    threading.Thread(target=end, name="exit-deadline", daemon=True).start()


def main() -> None:
    settings = settings_or_exit()
    configure_logging(settings)
    warn_misspelled_settings()
    lower_priority(settings.worker_nice)
    warm_workflow_bytecode()
    try:
        # uvloop, as the API's uvicorn runs: the SDK hands each task and result to this loop from its own
        # threads. On the standard loop the worker spent ~5 ms more CPU a bill (bench/RESULTS.md, session 41).
        uvloop.run(run_worker(settings))
    except StartRefused as refused:  # one line saying why (a setting, a service): no traceback to read through
        logger.critical(f"worker refused to start: {refused}")
        end_within(EXIT_WITHIN_SECONDS, 1)
        sys.exit(1)
    except Exception:
        # Logged, not left to Python's hook: its traceback reached stderr unmasked, one log entry per
        # line in a pipeline that reads JSON lines, and without the pid that tells workers apart.
        logger.critical("worker failed", exc_info=True)
        end_within(EXIT_WITHIN_SECONDS, 1)
        sys.exit(1)
    finally:
        # uvloop, unlike the standard loop, leaves a no-op handler behind once it has closed: a second Ctrl-C
        # or SIGTERM while the process exits would be ignored, where it ends it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    end_within(EXIT_WITHIN_SECONDS, 0)
