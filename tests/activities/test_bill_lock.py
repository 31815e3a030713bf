"""persist_bill's account lock is its own: no other advisory lock of the database makes a persist wait."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
from temporalio.testing import ActivityEnvironment

from activities.bills import BillActivities, bill_id_for
from shared.db import _MIGRATION_LOCK_ID
from shared.models import PersistOutcome
from tests.activities.test_idempotent_writes import february_statement, persist_request
from tests.helpers import create_account, wait_until
from worker.resources import Resources

WAITING_FOR_KEY = """
SELECT EXISTS (SELECT 1 FROM pg_locks
                WHERE locktype = 'advisory' AND NOT granted
                  AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1)
"""
"""Whether a session waits for the advisory lock of this bigint key (Postgres splits it into classid and objid)."""


async def account_with_id(pool: asyncpg.Pool, account: dict[str, Any], account_id: int) -> dict[str, Any]:
    """``account`` renumbered: ids are a sequence, and the one that meets another lock's key comes in its turn."""
    row = await pool.fetchrow(
        "UPDATE utility_accounts SET id = $2 WHERE id = $1 RETURNING *", account["id"], account_id
    )
    assert row is not None
    return dict(row)


async def waits_for_key(pool: asyncpg.Pool, persisting: asyncio.Task[PersistOutcome], key: int) -> bool:
    """True once some session waits for ``key``'s lock, False if ``persisting`` ends first."""

    async def waiting_or_done() -> str | None:
        if await pool.fetchval(WAITING_FOR_KEY, key):
            return "waiting"
        return "done" if persisting.done() else None

    return await wait_until(waiting_or_done, within=30, what=f"a wait for lock {key} or the persist's end") == "waiting"


async def test_a_bill_of_the_account_numbered_as_the_migration_lock_is_stored_while_a_process_migrates(
    http: httpx.AsyncClient, resources: Resources, pg_url: str
) -> None:
    """The bare account id was the lock's key: account 72616001's bills waited for every migration (an hour's
    timeout), and a process starting to migrate waited for that account's persist."""
    number = f"PG-{uuid.uuid4().hex[:8]}"
    created = await create_account(http, provider="pge", account_number=number)
    account = await account_with_id(resources.pool, created, _MIGRATION_LOCK_ID)
    request = await persist_request(
        resources, account, february_statement(number, date(2026, 3, 5), "60.00"), uuid.uuid4().hex * 2
    )
    migrating = await asyncpg.connect(pg_url)  # another process, holding the migration lock while it migrates
    try:
        await migrating.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_ID)
        persisting = asyncio.create_task(
            ActivityEnvironment().run(BillActivities(resources.pool).persist_bill, request)
        )
        waited = await waits_for_key(resources.pool, persisting, _MIGRATION_LOCK_ID)
    finally:
        await migrating.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_ID)
        await migrating.close()
    outcome = await asyncio.wait_for(persisting, 30)
    assert not waited, "persist_bill waited for the migration's advisory lock"
    assert outcome.bill_id == bill_id_for(request.job_id)
