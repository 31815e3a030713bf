"""``python -m bench.proto_worker``: the real worker (``worker.main.build_worker``) with prototype changes.

Same workflows, activities, clients and ``WORKER_*`` settings as ``python -m worker``;
only what the ``BENCH_*`` variables ask for differs, so a change can be measured before
anyone edits ``worker/`` or ``shared/``:

* ``BENCH_MAX_CACHED_WORKFLOWS``: ``build_worker(max_cached_workflows=...)`` (default 1000).
* ``BENCH_LOCAL_STEPS=1``: ``bench.proto_workflow`` (database bookkeeping as local activities)
  registered as ``BillIngestionWorkflow``.
"""

from __future__ import annotations

import asyncio
import os
import signal

import uvloop

from shared.logs import configure_logging
from shared.priority import lower_priority
from shared.settings import get_settings
from shared.temporal import connect_client
from worker import main as worker_main
from worker.main import build_worker
from worker.resources import open_resources


async def run() -> None:
    settings = get_settings()
    client = await connect_client(settings)
    resources = await open_resources(settings)
    if os.environ.get("BENCH_LOCAL_STEPS") == "1":
        from bench.proto_workflow import LocalStepsBillIngestionWorkflow
        from workflows.rollup import AnalyticsRollupWorkflow

        # build_worker registers worker.main.WORKFLOWS: swap the ingestion workflow for the prototype.
        worker_main.WORKFLOWS = [LocalStepsBillIngestionWorkflow, AnalyticsRollupWorkflow]
    worker = build_worker(
        client, resources, settings, max_cached_workflows=int(os.environ.get("BENCH_MAX_CACHED_WORKFLOWS", "1000"))
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        await stop.wait()
    await resources.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    lower_priority(settings.worker_nice)  # as python -m worker does: os.nice alone left its session a full share
    worker_main.warm_workflow_bytecode()
    uvloop.run(run())  # as python -m worker does


if __name__ == "__main__":
    main()
