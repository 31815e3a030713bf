"""The API serves its first burst of starts on connections that have each run a start's statements: its lookups
prepared, its inserts run and rolled back."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from api.main import create_app
from api.services.connector_jobs import START_CONNECTOR_JOB, START_CONNECTOR_JOB_FOR_A_TOKEN
from api.services.jobs import INSERT_JOB
from api.warm_pool import START_LOOKUPS
from shared.db import create_pool
from shared.settings import Settings
from tests.helpers import serve

WARM_UP_ROWS = (
    "SELECT (SELECT count(*) FROM customers WHERE id < 0) + (SELECT count(*) FROM utility_accounts WHERE id < 0)"
    " + (SELECT count(*) FROM ingestion_jobs WHERE customer_id < 0)"
    " + (SELECT count(*) FROM rate_limit_buckets WHERE key_id < 0)"
)

INSERTS = {START_CONNECTOR_JOB, START_CONNECTOR_JOB_FOR_A_TOKEN, INSERT_JOB}


async def prepared_statements(connection: asyncpg.pool.PoolConnectionProxy) -> set[str]:
    return {row["statement"] for row in await connection.fetch("SELECT statement FROM pg_prepared_statements")}


async def test_every_pooled_connection_has_run_a_start_before_the_first_request_and_kept_nothing(
    app_settings: Settings,
) -> None:
    app = create_app(app_settings.model_copy(update={"db_pool_max": 3}))
    async with serve(app) as url:
        pool = app.state.minimeter.pool
        held = [await pool.acquire() for _ in range(3)]  # every connection: none has served a request yet
        try:
            for connection in held:
                assert {*START_LOOKUPS, *INSERTS} <= await prepared_statements(connection)
            assert await held[0].fetchval(WARM_UP_ROWS) == 0, (
                "the warm-up's customer, account, jobs and bucket rolled back"
            )
        finally:
            for connection in held:
                await pool.release(connection)
        # And it serves: an unknown key's 401 comes from KEY_BY_HASH, run on a warmed connection.
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer mm_not-a-key"}) as http:
            assert (await http.get("/jobs")).status_code == 401


async def test_connections_whose_warm_up_waits_on_a_lock_are_left_cold_and_the_api_starts(
    app_settings: Settings, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Another transaction holds the customers table against inserts while the API starts (as a long migration
    might): each warm-up gives up at its lock timeout and the API serves."""
    holder = await asyncpg.connect(pg_url)
    holding = holder.transaction()
    await holding.start()
    try:
        await holder.execute("LOCK TABLE customers IN SHARE MODE")
        app = create_app(app_settings.model_copy(update={"db_pool_max": 2}))
        async with serve(app) as url:
            pool = app.state.minimeter.pool
            held = [await pool.acquire() for _ in range(2)]
            try:
                assert [INSERTS & await prepared_statements(connection) for connection in held] == [set(), set()]
                assert [set(START_LOOKUPS) <= await prepared_statements(connection) for connection in held] == [
                    True
                ] * 2
            finally:
                for connection in held:
                    await pool.release(connection)
            assert caplog.text.count("were not warmed up") == 2
            async with httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer mm_not-a-key"}) as http:
                assert (await http.get("/jobs")).status_code == 401
    finally:
        await holding.rollback()
        await holder.close()


async def test_pooled_statements_stay_prepared_for_the_connections_life(app_settings: Settings) -> None:
    """asyncpg's default dropped every statement 300 s after it was prepared, however often it ran since."""
    pool = await create_pool(app_settings)
    try:
        async with pool.acquire() as connection:
            assert connection._con._stmt_cache.get_max_lifetime() == 0  # no public reader of the setting
    finally:
        await pool.close()
