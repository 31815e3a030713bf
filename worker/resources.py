"""The per-process clients every activity shares: one pool, one store, one sink."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import asyncpg

from activities.connectors.base import ConnectorRegistry
from activities.connectors.deployed import connectors_for
from shared.analytics import AnalyticsSink, build_analytics_sink
from shared.artifacts import ArtifactStore, build_artifact_store
from shared.db import create_pool, migrate
from shared.ensured import ensure_or_continue
from shared.recent_artifacts import RecentArtifacts
from shared.settings import Settings
from shared.startup import when_reachable


@dataclass
class Resources:
    pool: asyncpg.Pool
    store: ArtifactStore
    sink: AnalyticsSink | None
    connectors: ConnectorRegistry
    io_threads: ThreadPoolExecutor | None = None
    """The loop's default executor (``open_resources``): the async activities' blocking calls run there."""
    ensuring: list[asyncio.Task[None]] = field(default_factory=list)
    """The bucket or warehouse schema still being made sure of, in the background (``shared.ensured``)."""

    async def close(self) -> None:
        for task in self.ensuring:
            task.cancel()
        await self.pool.close()


async def open_resources(settings: Settings, *, run_migrations: bool = True) -> Resources:
    """Create each client once per process (never per activity) and make sure schemas exist: the database's before
    anything runs, the bucket and the warehouse's within ``STARTUP_WAIT_SECONDS`` or in the background after."""
    # The async activities call the blocking clients (storage, connectors, the warehouse) with
    # asyncio.to_thread, on the loop's default pool: min(32, cores + 4) threads, 6 on two cores, so
    # 64 activities queued for 6 threads and the wait counted against their timeouts.
    io_threads = ThreadPoolExecutor(max_workers=settings.worker_activity_threads, thread_name_prefix="activity-io")
    asyncio.get_running_loop().set_default_executor(io_threads)
    pool = await when_reachable("Postgres", lambda: create_pool(settings), within=settings.startup_wait_seconds)
    if run_migrations:
        await migrate(pool)
    store = build_artifact_store(settings)
    if settings.worker_recent_artifacts_bytes > 0:
        store = RecentArtifacts(store, max_bytes=settings.worker_recent_artifacts_bytes)
    sink = build_analytics_sink(settings)
    made_sure = [("object storage", store.ensure_bucket, "bills wait to be stored (their step retries)")]
    if sink is not None:
        made_sure.append(
            (
                "the analytics warehouse",
                sink.ensure_schema,
                "bills go through to Postgres and wait to be published (their step retries for a day)",
            )
        )
    ensuring: list[asyncio.Task[None]] = []
    try:
        for what, ensure, meanwhile in made_sure:
            task = await ensure_or_continue(what, ensure, within=settings.startup_wait_seconds, meanwhile=meanwhile)
            ensuring += [task] if task is not None else []
    except BaseException:  # a stop signal (cancelled) or a failure: nothing will use the pool
        for task in ensuring:
            task.cancel()
        pool.terminate()
        raise
    return Resources(
        pool=pool,
        store=store,
        sink=sink,
        connectors=connectors_for(settings),
        io_threads=io_threads,
        ensuring=ensuring,
    )
