"""Reopening a stored bill: a job that reviews it as stored, so a reviewer can correct what extraction got wrong."""

from __future__ import annotations

import uuid
from typing import Any

from api.auth import Principal
from api.problems import Problem, ProblemCode
from api.services.accounts import get_account
from api.services.jobs import ingestion_request, insert_job
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


async def reopen_bill(
    state: AppState, principal: Principal, *, bill_id: str, note: str, reviewer: str
) -> dict[str, Any]:
    """The new job's row: it reviews bill ``bill_id`` as stored (404 when the key may not see it, 409 while another
    job reviews it)."""
    bill = await read_bill(state.pool, principal=principal, bill_id=bill_id)
    account = await get_account(state.pool, principal=principal, account_id=bill.utility_account_id)
    job_id = str(uuid.uuid4())
    request = ingestion_request(state.settings, job_id=job_id, account=account, job_type=JobType.REOPEN).model_copy(
        update={"reopens": ReopenedBill(bill_id=bill.id, reopened_by=reviewer, note=note)}
    )
    async with state.pool.acquire() as conn, conn.transaction():
        # One reopening at a time per bill, across API processes: the check and the insert under one lock.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('minimeter.reopen:' || $1, 0))", bill.id)
        open_job = await conn.fetchval(_OPEN_REOPENING, bill.id, sorted(ENDED_STATUSES))
        if open_job is not None:
            raise Problem(
                409,
                f"job {open_job} is reviewing this bill already: decide its review task",
                code=ProblemCode.BILL_REOPENED,
                job_id=str(open_job),
            )
        row = await insert_job(conn, request)
    if row is None:  # its id is a fresh uuid and it has no key: nothing can be taken
        raise RuntimeError(f"job {job_id} conflicted with a row of its own id")
    state.dispatcher.wake()
    return dict(row)
