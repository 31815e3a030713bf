"""The API's start: a stop signal ends it at every wait, and object storage down does not stop it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from shared.db import _MIGRATION_LOCK_ID
from shared.settings import Settings
from stack.services import free_port
from tests.helpers import entry_point_env, entry_point_running, run_entry_point, serve, start_dev_server


def api_env(
    server: WorkflowEnvironment, database_url: str, payload_keys: str, tmp_path: Path, **settings: str
) -> dict[str, str]:
    """The API entry point's environment against this dev server and database, plus ``settings``."""
    return entry_point_env(
        ENV="test",
        TEMPORAL_ADDRESS=server.client.service_client.config.target_host,
        DATABASE_URL=database_url,
        PAYLOAD_KEYS=payload_keys,
        DATA_DIR=str(tmp_path / "data"),
        ARTIFACT_STORE="local",
        DB_POOL_MAX="2",
        LOG_FORMAT="json",
        **settings,
    )


async def _waiting_for_a_lock(observer: asyncpg.Connection, application_name: str) -> bool:
    waiting: int = await observer.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        application_name,
    )
    return waiting > 0


async def test_an_api_told_to_stop_while_another_process_migrates_stops(
    pg_url: str, payload_keys: str, tmp_path: Path
) -> None:
    """Only the waits for Temporal and Postgres were cancellable: told to stop while another process held the
    migration lock, the API waited on for it (up to an hour), past every grace period."""
    name = f"api-start-{uuid.uuid4().hex[:8]}"
    api_url = f"{pg_url}{'&' if '?' in pg_url else '?'}application_name={name}"
    holder = await asyncpg.connect(pg_url)  # another process, migrating
    observer = await asyncpg.connect(pg_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_ID)
        async with await start_dev_server(log_file=tmp_path / "temporal.log") as server:
            env = api_env(server, api_url, payload_keys, tmp_path, API_PORT=str(free_port()))
            async with entry_point_running("api", env, tmp_path / "api.log") as api:
                async with asyncio.timeout(120):  # only so a start that never reaches the lock fails, not hangs
                    while not await _waiting_for_a_lock(observer, name):
                        assert api.poll() is None, (tmp_path / "api.log").read_text()[-3000:]
                        await asyncio.sleep(0.2)
                api.send_signal(signal.SIGTERM)
                # Exited while the lock is still held, which the migration it waited for would not be soon.
                await asyncio.to_thread(api.wait, 60)
    finally:
        await holder.close()
        await observer.close()


class FailingStorage:
    """An object store answering every request 501: the API's storage calls fail at once, unretried."""

    @staticmethod
    async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        writer.close()

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        async with server:
            yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_an_api_starts_while_object_storage_is_down_and_warns(
    app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The bucket lookup failing ended the API's start, though its routes already answer 503 while storage is
    down: an outage of GCS took the whole API down with it at its next restart."""
    async with FailingStorage().listening() as storage_url:
        settings = app_settings.model_copy(update={"storage_emulator_host": storage_url})
        with caplog.at_level(logging.WARNING):
            async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
                assert (await http.get("/health")).status_code == 200
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert any("object storage" in record.getMessage() for record in warnings), [r.getMessage() for r in warnings]


def test_api_processes_that_cannot_start_exit_non_zero(payload_keys: str, tmp_path: Path) -> None:
    """With ``API_PROCESSES`` > 1 uvicorn's supervisor stopped when its processes failed to start, and exited 0:
    a supervisor restarting only failures took that for a clean stop, and ``make run`` for one too."""
    done = run_entry_point(
        "api",
        ENV="test",
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",  # nothing listens there
        PAYLOAD_KEYS=payload_keys,
        DATA_DIR=str(tmp_path / "data"),
        API_PORT=str(free_port()),
        API_PROCESSES="2",
        STARTUP_WAIT_SECONDS="0",
        LOG_FORMAT="json",
    )
    assert done.returncode != 0, done.stderr[-3000:]
    assert "Failed client connect" in done.stderr + done.stdout  # it failed where it should have, not elsewhere


async def test_api_processes_told_to_stop_exit_zero(pg_url: str, payload_keys: str, tmp_path: Path) -> None:
    """The other way the supervisor returns: a stop signal is a clean stop, not a failed start."""
    port = free_port()
    async with await start_dev_server(log_file=tmp_path / "temporal.log") as server:
        env = api_env(server, pg_url, payload_keys, tmp_path, API_PORT=str(port), API_PROCESSES="2")
        async with entry_point_running("api", env, tmp_path / "api.log") as api, httpx.AsyncClient() as http:
            async with asyncio.timeout(120):  # only so an API that never answers fails, not hangs
                while True:
                    assert api.poll() is None, (tmp_path / "api.log").read_text()[-3000:]
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                            break
                    await asyncio.sleep(0.2)
            api.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(api.wait, 60) == 0
