"""Jobs on a task queue no worker polls: their workflows stay open, to be counted or ended by hand."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from temporalio.client import Client

from api.auth import Principal, Role
from api.services.dispatch import JobDispatcher
from api.services.jobs import start_job
from shared.models import JobType
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


async def start_jobs(
    pool: asyncpg.Pool, client: Client, settings: Settings, n: int, *, dispatcher: JobDispatcher | None = None
) -> list[dict[str, Any]]:
    """``n`` new jobs of one account, as the API accepts them (started at once without a dispatcher)."""
    account = await account_in(pool)
    jobs = []
    for _ in range(n):
        job, created = await start_one(pool, client, settings, account, dispatcher=dispatcher)
        assert created
        jobs.append(job)
    return jobs


async def start_one(
    pool: asyncpg.Pool,
    client: Client,
    settings: Settings,
    account: dict[str, Any],
    *,
    key: str | None = None,
    dispatcher: JobDispatcher | None = None,
) -> tuple[dict[str, Any], bool]:
    """A connector job's start for ``account`` (under Idempotency-Key ``key``), as the API makes it."""
    return await start_job(
        pool=pool,
        client=client,
        settings=settings,
        principal=PRINCIPAL,
        account=account,
        job_type=JobType.CONNECTOR,
        idempotency_key=key,
        dispatcher=dispatcher,
    )
