"""Postgres down (a failover, a proxy restart): every call is a 503 that says to try again, never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from api.auth import Role, create_key
from api.main import create_app
from api.problems import is_database_down
from shared.db import create_pool
from shared.settings import Settings
from stack.services import embedded_postgres_url, free_port, start_embedded_postgres, stop_embedded_postgres
from tests.helpers import serve


@pytest.fixture()
async def database_gone(app_settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An API on a Postgres of its own, stopped once the API has started (and started again after)."""
    pgdata = tmp_path / "pg"
    settings = app_settings.model_copy(update={"database_url": SecretStr(embedded_postgres_url(pgdata))})
    try:
        async with serve(create_app(settings)) as url:
            pool = await create_pool(settings, one_shot=True)
            key = await create_key(pool, name="ingest", role=Role.INGEST)
            await pool.close()
            stop_embedded_postgres(pgdata)
            async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key.key}"}) as http:
                yield http
            start_embedded_postgres(pgdata)  # the API's loops and pool close against a live server
    finally:
        stop_embedded_postgres(pgdata)


async def test_calls_while_postgres_is_down_are_503s_with_retry_after(database_gone: httpx.AsyncClient) -> None:
    """A client (or its retry library) retries a 503, and a start under its Idempotency-Key is safe to repeat."""
    for response in (
        await database_gone.get("/jobs"),
        await database_gone.get("/jobs"),  # the pool's broken connections are gone by now: a new one is refused
        await database_gone.post("/jobs", json={"utility_account_id": 1}, headers={"Idempotency-Key": "pg-down"}),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "again" in response.json()["detail"]
        assert int(response.headers["Retry-After"]) >= 1


async def test_a_reviewers_page_while_postgres_is_down_is_a_503_page(database_gone: httpx.AsyncClient) -> None:
    """The session cookie is looked up before the app's error handlers: that lookup failing is a 503 too."""
    database_gone.cookies.set("mm_session", "a-session-from-before-the-outage")
    for path, kind in (("/ui/reviews", "text/html"), ("/jobs/00000000-0000-0000-0000-000000000000/artifact", "json")):
        response = await database_gone.get(path)
        assert response.status_code == 503, (path, response.text)
        assert kind in response.headers["content-type"] and "again" in response.text
        assert int(response.headers["Retry-After"]) >= 1


async def test_only_asyncpgs_connection_errors_count_as_the_database_down() -> None:
    """A file the code could not open is a bug (500, traceback logged), not an outage to retry."""
    port = free_port()  # nothing listens on it; outside the ephemeral range, so no self-connect either
    try:
        await asyncpg.connect(f"postgresql://nobody@127.0.0.1:{port}/none", timeout=5)
    except OSError as refused:
        assert is_database_down(refused)
    else:
        pytest.fail("a connection to a closed port succeeded")
    try:
        await asyncio.to_thread(Path("/nonexistent/template.html").read_bytes)  # the error is the point
    except OSError as missing_file:
        assert not is_database_down(missing_file)
