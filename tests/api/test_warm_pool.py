"""The API serves its first burst of starts on connections that have each run a start's statements: its lookups
prepared, its insert run and rolled back."""

from __future__ import annotations

import httpx

from api.main import create_app
from api.services.jobs import INSERT_JOB
from api.warm_pool import START_LOOKUPS
from shared.settings import Settings
from tests.helpers import serve

WARM_UP_ROWS = (
    "SELECT (SELECT count(*) FROM customers WHERE id < 0) + (SELECT count(*) FROM utility_accounts WHERE id < 0)"
    " + (SELECT count(*) FROM ingestion_jobs WHERE customer_id < 0)"
)


async def test_every_pooled_connection_has_run_a_start_before_the_first_request_and_kept_nothing(
    app_settings: Settings,
) -> None:
    app = create_app(app_settings.model_copy(update={"db_pool_max": 3}))
    async with serve(app) as url:
        pool = app.state.minimeter.pool
        held = [await pool.acquire() for _ in range(3)]  # every connection: none has served a request yet
        try:
            for connection in held:
                prepared = {
                    row["statement"] for row in await connection.fetch("SELECT statement FROM pg_prepared_statements")
                }
                assert {*START_LOOKUPS, INSERT_JOB} <= prepared
            assert await held[0].fetchval(WARM_UP_ROWS) == 0, "the warm-up's customer, account and job rolled back"
        finally:
            for connection in held:
                await pool.release(connection)
        # And it serves: an unknown key's 401 comes from KEY_BY_HASH, run on a warmed connection.
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer mm_not-a-key"}) as http:
            assert (await http.get("/jobs")).status_code == 401
