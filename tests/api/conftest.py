"""A database of one's own, for tests that count every job in it (dispatcher, reconciler) or run their own API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from shared.db import create_pool, migrate
from shared.settings import Settings


@pytest.fixture()
async def own_db(pg_url: str, app_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    name = f"jobs_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_url)
    await admin.execute(f"CREATE DATABASE {name}")
    dsn = urlsplit(pg_url)._replace(path=f"/{name}").geturl()
    pool = await create_pool(app_settings, dsn=dsn)
    await migrate(pool)
    yield pool
    await pool.close()
    await admin.execute(f"DROP DATABASE {name}")
    await admin.close()


@pytest.fixture()
async def own_db_other_process(
    own_db: asyncpg.Pool, pg_url: str, app_settings: Settings
) -> AsyncIterator[asyncpg.Pool]:
    """A second pool on the same database of one's own, as a second API process would have."""
    database = await own_db.fetchval("SELECT current_database()")
    pool = await create_pool(app_settings, dsn=urlsplit(pg_url)._replace(path=f"/{database}").geturl())
    yield pool
    await pool.close()
