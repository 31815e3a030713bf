"""Reopening a stored bill: a job that reviews it as stored, so a reviewer can correct what extraction got wrong."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from activities.bills import STORED_AT
from api.auth import Principal
from api.problems import Problem, ProblemCode
from api.services.accounts import get_account
from api.services.jobs import (
    JOB_BY_IDEMPOTENCY_KEY,
    REUSED_KEY,
    idempotency_scope,
    ingestion_request,
    insert_job,
    log_created,
)
from api.services.stored_bills import read_bill
from api.state import AppState
from shared.models import ENDED_STATUSES, JobType, ReopenedBill

_OPEN_REOPENING = """
SELECT id FROM ingestion_jobs
 WHERE job_type = 'reopen' AND start_request->'reopens'->>'bill_id' = $1 AND NOT (status = ANY($2::text[]))
 LIMIT 1
"""
"""A job reviewing the bill already, still open: a second would review it beside the first, and the later correction
would be refused (the bill changed since its task was opened)."""


async def open_reopening(db: asyncpg.Pool | asyncpg.Connection, bill_id: str) -> str | None:
    """The job reviewing stored bill ``bill_id`` now, if one is (a reopening not yet decided)."""
    job_id = await db.fetchval(_OPEN_REOPENING, bill_id, sorted(ENDED_STATUSES))
    return None if job_id is None else str(job_id)


_REPLACED_SINCE_TASK_OPENED = f"""
SELECT b.job_id FROM review_tasks t LEFT JOIN (SELECT job_id, {STORED_AT} FROM bills WHERE id = $2::uuid) b ON true
 WHERE t.job_id = $1 AND t.closed_at IS NULL AND b.job_id IS DISTINCT FROM t.job_id
   AND (b.job_id IS NULL OR b.stored_at > t.updated_at)
"""
"""A row (the job whose version the bill holds, or NULL once none) where the reopened bill ``$2`` was stored anew,
by another job, after job ``$1``'s open task was last opened, which its workflow loaded the bill before. Not once the
task is closed: a decision sent again then is answered as the first was, and the version its own correction stored
is newer than the task (73D). A version stored in between, or before a change to the task since (an escalation), is
not found here: the workflow refuses the decision (``StoredBillChanged``)."""


async def replaced_since_reopened(pool: asyncpg.Pool, job_id: uuid.UUID, bill_id: str) -> tuple[bool, str | None]:
    """Whether reopened bill ``bill_id`` was replaced since job ``job_id`` opened its task, and by which job."""
    row = await pool.fetchrow(_REPLACED_SINCE_TASK_OPENED, job_id, bill_id)
    if row is None:
        return False, None
    return True, None if row["job_id"] is None else str(row["job_id"])


async def reopen_bill(
    state: AppState, principal: Principal, *, bill_id: str, note: str, reviewer: str, idempotency_key: str | None = None
) -> tuple[dict[str, Any], bool]:
    """The job reviewing bill ``bill_id`` as stored, and whether it was created now (404 when the key may not see the
    bill, 409 while another job reviews it). Under an ``Idempotency-Key`` its first job is answered again, however
    its review ended: a reopening retried after a lost answer opened a second review once the first was decided."""
    bill = await read_bill(state.pool, principal=principal, bill_id=bill_id)
    account = await get_account(state.pool, principal=principal, account_id=bill.utility_account_id)
    job_id = str(uuid.uuid4())
    request = ingestion_request(state.settings, job_id=job_id, account=account, job_type=JobType.REOPEN).model_copy(
        update={"reopens": ReopenedBill(bill_id=bill.id, reopened_by=reviewer, note=note)}
    )
    scope = idempotency_scope(principal) if idempotency_key else None
    async with state.pool.acquire() as conn, conn.transaction():
        # One reopening at a time per bill, across API processes: the check and the insert under one lock.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('minimeter.reopen:' || $1, 0))", bill.id)
        if (replayed := await _replayed(conn, scope, idempotency_key, bill.id, note)) is not None:
            return replayed, False  # its first request's job (under the lock: a retry sent beside it waits for it)
        open_job = await open_reopening(conn, bill.id)
        if open_job is not None:
            raise Problem(
                409,
                f"job {open_job} is reviewing this bill already: decide its review task",
                code=ProblemCode.BILL_REOPENED,
                job_id=str(open_job),
            )
        row = await insert_job(conn, request, scope=scope, idempotency_key=idempotency_key)
    if row is None:  # its id is a fresh uuid: only its key can be taken, by a request for another bill beside it
        async with state.pool.acquire() as conn:
            await _replayed(conn, scope, idempotency_key, bill.id, note)  # 422: it reopened another bill
        raise RuntimeError(f"job {job_id} conflicted with a row that is not its Idempotency-Key's")
    log_created(dict(row), principal)
    state.dispatcher.wake()
    return dict(row), True


async def _replayed(
    conn: asyncpg.Connection, scope: str | None, key: str | None, bill_id: str, note: str
) -> dict[str, Any] | None:
    """The job ``key`` started, when it reopened this bill with this note; a 422 when it started anything else."""
    if key is None:
        return None
    row = await conn.fetchrow(JOB_BY_IDEMPOTENCY_KEY, scope, key)
    if row is None:
        return None
    reopens = (row["start_request"] or {}).get("reopens") or {}
    if row["job_type"] != JobType.REOPEN or reopens.get("bill_id") != bill_id or reopens.get("note") != note:
        raise Problem(422, REUSED_KEY, code=ProblemCode.IDEMPOTENCY_KEY_REUSED)
    return dict(row)
