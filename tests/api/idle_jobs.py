"""Jobs on a task queue no worker polls: their workflows stay open, to be counted or ended by hand."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from api.auth import Principal, Role
from shared.settings import Settings

PRINCIPAL = Principal(key_id=1, name="jobs-test", role=Role.INGEST, customer_id=None)


async def account_in(pool: asyncpg.Pool) -> dict[str, Any]:
    customer = await pool.fetchval("INSERT INTO customers (name) VALUES ('Dispatch Co') RETURNING id")
    row = await pool.fetchrow(
        "INSERT INTO utility_accounts (customer_id, provider, account_number) VALUES ($1, 'pge', 'PG-1') RETURNING *",
        customer,
    )
    return dict(row)


def idle_queue(app_settings: Settings, limit: int = 64) -> Settings:
    return app_settings.model_copy(
        update={"temporal_task_queue": f"idle-{uuid.uuid4().hex[:8]}", "job_dispatch_max_running": limit}
    )
