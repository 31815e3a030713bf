"""``python -m worker``, but one call of its activities never returns: run by ``test_blocked_shutdown``.

``BLOCK=source``: the connector's read (fetch_bill, an async activity, reads on the loop's default executor
and gives up on it after 30 s; the thread stays taken). ``BLOCK=store``: the store's read, which extract_bill
makes on a thread of its own and abandons when cancelled. ``BLOCK=activity``: a synchronous activity itself
(mark_job_running's stand-in), on the worker's activity threads, which no cancellation reaches. Each logs
``BLOCKED`` once it is stuck. ``FAIL=1``: once it is, the worker fails (its run raises) rather than waiting
for a signal. ``FAIL=fatal``: once it is, one poll for workflow tasks fails, as a revoked key or a deleted
namespace fails it: the SDK's fatal error (``Worker._run``), which calls ``on_fatal_error`` and then waits for
every activity without a limit."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.worker import Worker

import worker.main
import worker.resources
from activities.connectors.base import ConnectorRegistry, SourceDocument
from activities.connectors.mock import MockConnector
from shared.models import JobRef
from shared.settings import Settings
from worker.resources import Resources

BLOCKED = "blocked in a call that never returns"

logger = logging.getLogger(__name__)


stuck = threading.Event()


def _never_returns() -> None:
    logger.info(BLOCKED)
    stuck.set()
    threading.Event().wait()


class NeverAnswers(MockConnector):
    def read(self, source_uri: str) -> SourceDocument:
        _never_returns()
        raise AssertionError("unreachable")


class StoreNeverReads:
    def __init__(self, store: Any) -> None:
        self._store = store

    def read(self, uri: str) -> bytes:
        _never_returns()
        raise AssertionError("unreachable")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def connectors_for(settings: Settings) -> ConnectorRegistry:
    return ConnectorRegistry(default=NeverAnswers())


@activity.defn(name="mark_job_running")
def mark_job_running(job: JobRef) -> None:
    _never_returns()


real_activities = worker.main.pipeline_activities


def pipeline_activities(resources: Resources, settings: Settings) -> list[Callable[..., Any]]:
    kept = [fn for fn in real_activities(resources, settings) if fn.__name__ != "mark_job_running"]
    return [mark_job_running, *kept]


real_serve = worker.main.serve


async def serve_then_fail(worker: Worker, stop: asyncio.Event, *, within: float) -> bool:
    """``serve``, failing once a call is stuck: the worker shuts down (as the SDK's does on a fatal error,
    cancelling what runs) and raises."""

    async def stop_once_stuck() -> None:
        await asyncio.to_thread(stuck.wait)
        stop.set()

    failing = asyncio.create_task(stop_once_stuck())
    await real_serve(worker, stop, within=within)
    await failing
    raise RuntimeError("the worker failed")


class PollFailed(RuntimeError):
    """Not the SDK's ``PollShutdownError``: any other poll failure is fatal to the worker."""


real_build_worker = worker.main.build_worker


def build_worker_whose_poll_fails(*args: Any, **kwargs: Any) -> Worker:
    """``build_worker``, its bridge worker's workflow poll failing once a call is stuck. The real poll is kept,
    not abandoned: the SDK's shutdown polls again (draining), and gets its answer."""
    built = real_build_worker(*args, **kwargs)
    bridge = built._bridge_worker
    real_poll = bridge.poll_workflow_activation
    pending: list[asyncio.Task[Any]] = []
    failing: list[asyncio.Task[bool]] = []

    async def poll() -> Any:
        if not pending:
            pending.append(asyncio.create_task(real_poll()))
        if not failing:  # one thread waits for the stuck call, for every poll
            failing.append(asyncio.create_task(asyncio.to_thread(stuck.wait)))
        if not failing[0].done():
            await asyncio.wait({pending[0], failing[0]}, return_when=asyncio.FIRST_COMPLETED)
            if failing[0].done():
                raise PollFailed("poll failed: the namespace was refused")
        return await pending.pop()

    bridge.poll_workflow_activation = poll  # type: ignore[method-assign]
    return built


if __name__ == "__main__":
    if os.environ.get("FAIL") == "1":
        worker.main.serve = serve_then_fail
    elif os.environ.get("FAIL") == "fatal":
        worker.main.build_worker = build_worker_whose_poll_fails
    if os.environ["BLOCK"] == "source":
        setattr(worker.resources, "connectors_for", connectors_for)  # noqa: B010 - imported there, not exported
    elif os.environ["BLOCK"] == "activity":
        worker.main.pipeline_activities = pipeline_activities
    else:
        real_store = getattr(worker.resources, "build_artifact_store")  # noqa: B009 - imported there, not exported
        setattr(worker.resources, "build_artifact_store", lambda settings: StoreNeverReads(real_store(settings)))  # noqa: B010
    worker.main.main()
