"""The API serves its first burst of starts on connections that have each start's lookups prepared."""

from __future__ import annotations

import httpx

from api.main import create_app
from api.warm_pool import START_LOOKUPS
from shared.settings import Settings
from tests.helpers import serve


async def test_every_pooled_connection_has_the_start_lookups_prepared_before_the_first_request(
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
                assert set(START_LOOKUPS) <= prepared
        finally:
            for connection in held:
                await pool.release(connection)
        # And it serves: an unknown key's 401 comes from KEY_BY_HASH, run on a warmed connection.
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer mm_not-a-key"}) as http:
            assert (await http.get("/jobs")).status_code == 401
