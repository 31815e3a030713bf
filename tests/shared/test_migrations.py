"""Processes that start together on an empty database (compose: API processes and worker replicas) all migrate."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit

import asyncpg
import pytest
from asyncpg.types import ServerVersion

from shared.db import _MIGRATION_LOCK_ID, PostgresTooOld, create_pool, migrate, migration_files
from shared.settings import Settings


async def test_processes_migrating_an_empty_database_at_once_all_start(pg_url: str, app_settings: Settings) -> None:
    """Two ``CREATE TABLE IF NOT EXISTS`` at one moment collide in Postgres's catalog: only one may run."""
    admin = await asyncpg.connect(pg_url)
    try:
        for _ in range(3):
            name = f"migrate_{uuid.uuid4().hex[:10]}"
            await admin.execute(f"CREATE DATABASE {name}")
            dsn = urlsplit(pg_url)._replace(path=f"/{name}").geturl()
            pools = [await create_pool(app_settings, dsn=dsn) for _ in range(4)]
            try:
                applied = await asyncio.gather(*(migrate(pool) for pool in pools))
                versions = await pools[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
            finally:
                await asyncio.gather(*(pool.close() for pool in pools))
                await admin.execute(f"DROP DATABASE {name}")
            every = [path.stem for path in migration_files()]
            assert sorted(v for process in applied for v in process) == every, "each migration applied once"
            assert [row["version"] for row in versions] == every
    finally:
        await admin.close()


async def test_a_postgres_older_than_the_schema_is_refused_in_one_line_before_any_migration(
    pg_url: str, app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Postgres 14 (Cloud SQL still offers it) failed the first migration with a syntax error at "NULLS", a
    traceback at every start of the worker, the API and api.keys."""
    admin = await asyncpg.connect(pg_url)
    name = f"migrate_{uuid.uuid4().hex[:10]}"
    await admin.execute(f"CREATE DATABASE {name}")
    pool = await create_pool(app_settings, dsn=urlsplit(pg_url)._replace(path=f"/{name}").geturl())
    try:
        monkeypatch.setattr(asyncpg.Connection, "get_server_version", lambda _: ServerVersion(14, 13, 0, "final", 0))
        with pytest.raises(PostgresTooOld, match=r"is Postgres 14\.13: MiniMeter needs Postgres 15 or newer"):
            await migrate(pool)
        assert await pool.fetchval("SELECT to_regclass('schema_migrations')") is None
    finally:
        await pool.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()


async def test_a_process_waiting_for_a_long_migration_is_not_cut_off_by_the_statement_timeout(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The pool's per-statement timeout (30 s, 1 s here) must not cancel the wait for the lock
    or a migration that rewrites a large table. The wait is said, not kept silent (up to an hour)."""
    admin = await asyncpg.connect(pg_url)
    name = f"migrate_{uuid.uuid4().hex[:10]}"
    await admin.execute(f"CREATE DATABASE {name}")
    dsn = urlsplit(pg_url)._replace(path=f"/{name}").geturl()
    holder = await asyncpg.connect(dsn)  # advisory locks are per database
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1, command_timeout=1)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_ID)
        waiting = asyncio.create_task(migrate(pool))
        await asyncio.sleep(2.5)  # another process migrating for longer than the statement timeout
        assert not waiting.done(), waiting
        assert "waiting for another process's migration of the database" in caplog.messages
        await holder.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_ID)
        assert await asyncio.wait_for(waiting, 60) == [path.stem for path in migration_files()]
    finally:
        await pool.close()
        await holder.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()


async def test_decisions_recorded_before_0021_keep_their_rows_and_a_repeat_of_one_still_adds_none(pg_url: str) -> None:
    """0021 keys the audit by decision, not revision: rows already there get their key, and stay one per decision."""
    admin = await asyncpg.connect(pg_url)
    name = f"migrate_{uuid.uuid4().hex[:10]}"
    await admin.execute(f"CREATE DATABASE {name}")
    conn = await asyncpg.connect(urlsplit(pg_url)._replace(path=f"/{name}").geturl())
    try:
        files = migration_files()
        upgrade = next(path for path in files if path.stem.startswith("0021_"))
        for path in files[: files.index(upgrade)]:
            await conn.execute(path.read_text())
        customer = await conn.fetchval("INSERT INTO customers (name) VALUES ('c') RETURNING id")
        account = await conn.fetchval(
            "INSERT INTO utility_accounts (customer_id, provider, account_number)"
            " VALUES ($1, 'pge', 'A-1') RETURNING id",
            customer,
        )
        job = await conn.fetchval(
            "INSERT INTO ingestion_jobs (id, customer_id, utility_account_id, workflow_id, job_type, status)"
            " VALUES ($1, $2, $3, 'wf', 'fetch', 'NEEDS_REVIEW') RETURNING id",
            uuid.uuid4(),
            customer,
            account,
        )
        decide = (
            "INSERT INTO review_decisions (job_id, revision, action, reviewer, note, diff)"
            " VALUES ($1, 'r1', $2, 'ana', 'why', '{}') ON CONFLICT DO NOTHING"
        )
        await conn.execute(decide, job, "reject")

        await conn.execute(upgrade.read_text())
        await conn.execute(decide, job, "reject")  # the same decision recorded again
        await conn.execute(decide, job, "approve")  # taken again after a reset
        rows = await conn.fetch("SELECT action, decision_key FROM review_decisions ORDER BY decided_at, action")
        assert [r["action"] for r in rows] == ["reject", "approve"]
        assert all(r["decision_key"] for r in rows)
    finally:
        await conn.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()
