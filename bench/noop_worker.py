"""``python -m bench.noop_worker``: the ceiling's worker, configured like ``worker.main.build_worker``.

Same client (pydantic converter + encryption codec), same sandbox runner, same thread pool and slot
settings (``WORKER_*``), same workflow cache size; only the workflow and its
activities are the no-op ones, on ``BENCH_NOOP_TASK_QUEUE``.
"""

from __future__ import annotations

import asyncio
import compileall
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import uvloop
from temporalio.worker import Worker

from bench import noop
from bench.noop import NoopIngestionWorkflow
from bench.noop_steps import NoopActivities
from shared.lean import freeze_startup_heap
from shared.logs import configure_logging
from shared.priority import lower_priority
from shared.settings import get_settings
from shared.temporal import connect_client
from worker.sandbox_runner import workflow_runner_for

MAX_CACHED_WORKFLOWS = 1000  # build_worker's default


async def run() -> None:
    settings = get_settings()
    client = await connect_client(settings)
    worker = Worker(
        client,
        task_queue=os.environ["BENCH_NOOP_TASK_QUEUE"],
        workflows=[NoopIngestionWorkflow],
        workflow_runner=workflow_runner_for(client.data_converter),
        activities=NoopActivities().all(),
        activity_executor=ThreadPoolExecutor(
            max_workers=settings.worker_activity_threads, thread_name_prefix="activity"
        ),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=MAX_CACHED_WORKFLOWS,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    freeze_startup_heap()  # as python -m worker does
    async with worker:
        await stop.wait()


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    lower_priority(settings.worker_nice)  # as python -m worker does
    compileall.compile_file(noop.__file__, quiet=2)  # as worker.main.warm_workflow_bytecode does
    uvloop.run(run())  # as python -m worker does


if __name__ == "__main__":
    main()
