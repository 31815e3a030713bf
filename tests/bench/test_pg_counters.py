"""``rows_written``'s ``pg_tuples_*``: read once every backend that wrote has reported, and only where Postgres
reports a backend's last writes without its next statement (15 and later)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import asyncpg
import pytest
from asyncpg.types import ServerVersion

from bench import pipeline

NOW = 1000.0


def server(major: int) -> ServerVersion:
    return ServerVersion(major, 0, 0, "final", 0)


@pytest.fixture
async def conn(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pg_url)
    yield connection
    await connection.close()


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds the wait asked to sleep, at a clock standing at ``NOW``."""
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)

    # The module's own names only: asyncio.sleep itself patched spun every other loop of the process (the session
    # API's uvicorn ticked without yielding, and the test waited on it until pytest-timeout's 300 s).
    monkeypatch.setattr(pipeline, "asyncio", SimpleNamespace(sleep=sleep))
    monkeypatch.setattr(pipeline, "time", SimpleNamespace(monotonic=lambda: NOW))
    return asked


@pytest.mark.parametrize(("idle_for", "wait"), [(0.0, 10.5), (3.0, 7.5), (10.5, 0.0), (60.0, 0.0)])
async def test_the_counters_are_read_once_a_backend_gone_idle_has_reported(
    conn: asyncpg.Connection, slept: list[float], idle_for: float, wait: float
) -> None:
    """Postgres 15+ holds an idle backend's counters up to 10 s (``PGSTAT_IDLE_INTERVAL``) when it reported less
    than a second before: read sooner, the run's last writes were missing."""
    assert conn.get_server_version().major >= pipeline.PGSTAT_IDLE_TIMER_MAJOR  # the embedded one

    await pipeline.wait_for_idle_backends_to_report(conn, idle_since=NOW - idle_for)

    assert slept == [wait]
    assert set(await pipeline.database_tuples(conn)) == {"pg_tuples_inserted", "pg_tuples_updated"}


class Postgres14Connection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no type hints here
    """A connection that says its server is Postgres 14 (this connection's class alone: the process's others too,
    the session API's pools, read the version patched on ``asyncpg.Connection``)."""

    def get_server_version(self) -> ServerVersion:
        return server(14)


async def test_before_postgres_15_the_counters_are_left_out_not_waited_for(pg_url: str, slept: list[float]) -> None:
    """A backend there kept its last counts until its next statement or its disconnect: no wait makes them whole,
    and counted short they read as fewer rows written than the tables hold."""
    conn = await asyncpg.connect(pg_url, connection_class=Postgres14Connection)
    try:
        await pipeline.wait_for_idle_backends_to_report(conn, idle_since=NOW)

        assert slept == []
        assert await pipeline.database_tuples(conn) == {}
    finally:
        await conn.close()
