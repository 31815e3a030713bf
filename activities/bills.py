"""Persist: write the normalized bill to Postgres exactly once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import date, datetime

import asyncpg
from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.storage import record_artifact
from extraction.checks import figures_read_otherwise, with_implied_charges
from shared.bill import NormalizedBill
from shared.models import (
    ArtifactRef,
    DuplicateFound,
    DuplicateQuery,
    PersistOutcome,
    PersistRequest,
    StoredBill,
    StoredBillQuery,
    StoredVersion,
)

logger = logging.getLogger(__name__)

_BILL_NAMESPACE = uuid.UUID("6f1d8f1e-4c0a-4bb5-9d0e-4d2f3c7a9b10")

ACCOUNT_LOCK_KEY = "hashtextextended('minimeter.bills:' || $1::bigint::text, 0)"
"""The advisory lock key (``$1``: the account id) under which one account's persists take turns. Named, not the bare id:
a database has one advisory key space, where the migration lock (72616001) and the dispatcher's live too."""


STORED_AT = "COALESCE(revised_at, created_at) AS stored_at"
"""When a bill's current version was stored: the warehouse orders a bill's versions by it."""


_STORED_BY_JOB = f"""
SELECT id AS bill_id, {STORED_AT}, payload FROM bills WHERE job_id = $1
UNION ALL
SELECT bill_id, COALESCE(stored_at, replaced_at - interval '1 microsecond'), payload FROM bill_revisions
 WHERE job_id = $1
"""
"""Where this job's version of its bill is: current, or replaced by a re-issue since (kept in
``bill_revisions``; rows from before 0014 have no ``stored_at``, and were stored before the
replacement). A job stores one version, so at most one row."""


PERIOD_SLACK_DAYS = 3
"""How far apart each end of two periods of one account may be for the bills to be one statement's. A re-issue whose
meter was read a day later (04-29 to 05-31, for 04-29 to 05-30) was stored beside the first, and its month counted
twice everywhere, the warehouse, its rollup and the dashboard agreeing on the wrong sum (an analyst's probe). The next
month's bill starts about a month later, and a final bill (on moving out) ends weeks sooner."""


SAME_STATEMENT = f"""(account_key IS NOT DISTINCT FROM account_key($3) OR account_key IS NULL OR $3::text IS NULL)
            AND abs(bill_period_start - $4::date) <= {PERIOD_SLACK_DAYS}
            AND abs(bill_period_end - $5::date) <= {PERIOD_SLACK_DAYS}"""
"""SQL: a stored bill is the statement of account number ``$3`` for the period ``$4`` to ``$5``: its number the same
(or either unread), each end of its period within ``PERIOD_SLACK_DAYS``."""
CLOSEST_STATEMENT_FIRST = (
    "account_key IS NOT DISTINCT FROM account_key($3) DESC,"
    " abs(bill_period_start - $4::date) + abs(bill_period_end - $5::date), id"
)
"""SQL, to order ``SAME_STATEMENT``'s bills: the same number first, then the nearest period, then one way every time
(the API's check and persist pick the same of two as near)."""


_SAME_BILL = f"""
SELECT id, job_id, created_at, statement_date, content_sha256 = $2 AS same_file, payload, source, {STORED_AT} FROM bills
 WHERE utility_account_id = $1 AND (content_sha256 = $2 OR ({SAME_STATEMENT}))
 ORDER BY content_sha256 = $2 DESC, {CLOSEST_STATEMENT_FIRST}
 LIMIT 1
"""
"""The stored bill this one repeats or re-issues: the same file, or the same period of the account.

Every bill of a utility account is for that account (a bill reading another number never gets
past review), so one whose number was not read (a photo approved as it was) is the same statement
as the one whose number was: both would be stored, and the month counted twice. An exact match is
preferred, so a period stored twice that way before is still answered by the row it collides with."""


OVERLAPPING_PERIOD = f"""
SELECT id, job_id, bill_period_start, bill_period_end, statement_date, total_amount, currency, source FROM bills
 WHERE utility_account_id = $1 AND job_id <> $4::uuid AND id <> ALL($5::uuid[])
   AND bill_period_start IS NOT NULL AND bill_period_end IS NOT NULL  -- LEAST and GREATEST skip a NULL
   AND LEAST(bill_period_end, $3::date) - GREATEST(bill_period_start, $2::date) >= {PERIOD_SLACK_DAYS}
   AND (cardinality($6::text[]) = 0
        OR NOT EXISTS (SELECT 1 FROM bill_usage AS u WHERE u.bill_id = bills.id)
        OR EXISTS (SELECT 1 FROM bill_usage AS u WHERE u.bill_id = bills.id AND u.commodity = ANY($6::text[])))
 ORDER BY LEAST(bill_period_end, $3::date) - GREATEST(bill_period_start, $2::date) DESC, id
 LIMIT 1
"""
"""The stored bill of account ``$1`` (not job ``$4``'s, nor any of bills ``$5``) whose period shares the most days
with ``$2`` to ``$3``, over ``PERIOD_SLACK_DAYS`` of them, and that reads a utility of ``$6`` (or either reads none):
consecutive bills share a read day at most, a period within the slack of a stored one's is its statement
(``SAME_STATEMENT``), and an account's gas statement read on another cycle than its electricity's counts no day
twice."""


_SAME_FILE = """
SELECT id, job_id, total_amount, currency FROM bills
 WHERE utility_account_id = $1 AND content_sha256 = $2 AND job_id <> $3
UNION ALL
SELECT r.bill_id, r.job_id, b.total_amount, b.currency FROM bills AS b JOIN bill_revisions AS r ON r.bill_id = b.id
 WHERE b.utility_account_id = $1 AND r.content_sha256 = $2 AND r.job_id <> $3
LIMIT 1
"""
"""The bill another job stored from this file: current, or since replaced by a re-issue (the file
is still ingested: read again, it would go through extraction and review only to end a duplicate); with the bill's
current amount due and currency, which the job's result shows as a rescan's duplicate does."""


_STORED_BILL = """
SELECT b.job_id, b.payload, b.content_sha256, COALESCE(b.revised_at, b.created_at) AS stored_at, a.account_number,
       f.uri, f.size, f.content_type
  FROM bills AS b
  JOIN utility_accounts AS a ON a.id = b.utility_account_id
  LEFT JOIN LATERAL (SELECT uri, size, content_type FROM artifacts WHERE sha256 = b.content_sha256
                      ORDER BY job_id = b.job_id DESC, created_at DESC LIMIT 1) AS f ON true
 WHERE b.id = $1 AND b.utility_account_id = $2
"""
"""A stored bill's current version, the account's number on file, and the raw file it was read from (any job's
record of those bytes: a corrected version's job fetched none)."""


STORED_BILL_CHANGED = (
    "the bill changed since it was reopened (a re-issued statement or another correction replaced it): reopen it again"
    " to review what it holds now"
)
"""Why a reopened bill's decision is not taken: it was made on a version no longer stored."""


def bill_id_for(job_id: str) -> str:
    """A bill's id is derived from its job, so every retry writes the same row."""
    return str(uuid.uuid5(_BILL_NAMESPACE, job_id))


class BillActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def find_duplicate(self, query: DuplicateQuery) -> DuplicateFound:
        """Read-only, so safe to rerun: has another job already stored this exact file for the account?"""
        row = await self._pool.fetchrow(_SAME_FILE, query.utility_account_id, query.sha256, query.job_id)
        if row is None:
            return DuplicateFound()
        return DuplicateFound(
            bill_id=str(row["id"]),
            job_id=str(row["job_id"]),
            total_amount=row["total_amount"],
            currency=row["currency"],
        )

    @activity.defn
    async def load_stored_bill(self, query: StoredBillQuery) -> StoredBill:
        """Read-only but for the raw file's record under this job (an upsert), so safe to rerun: the bill a reviewer
        reopened, as stored now."""
        row = await self._pool.fetchrow(_STORED_BILL, query.bill_id, query.utility_account_id)
        if row is None:  # the API checked it: bills are replaced under their id, never deleted
            raise ApplicationError(
                f"bill {query.bill_id} is not stored for this account", type="StoredBillMissing", non_retryable=True
            )
        if row["uri"] is None:
            raise ApplicationError(
                f"bill {query.bill_id}'s raw file is not recorded", type="StoredBillMissing", non_retryable=True
            )
        artifact = ArtifactRef(
            uri=row["uri"], sha256=row["content_sha256"], size=row["size"], content_type=row["content_type"]
        )
        await record_artifact(self._pool, query.job_id, artifact)  # GET /jobs/{id}/artifact serves it
        return StoredBill(
            bill=NormalizedBill.model_validate(row["payload"]),
            artifact=artifact,
            version=StoredVersion(bill_id=query.bill_id, stored_at=row["stored_at"]),
            job_id=str(row["job_id"]),
            account_number=row["account_number"],
        )

    @activity.defn
    async def persist_bill(self, request: PersistRequest) -> PersistOutcome:
        """Safe to rerun: keyed by job id; a bill already stored by another job is a duplicate.

        Duplicates are found by content hash (same file again) or by natural key
        (account number where read + billing period, when the bill has one), inside one transaction.
        A bill for a stored period whose statement is dated later is the utility's re-issue:
        it replaces the stored one under the same bill id, which ``bill_revisions`` keeps; asked to
        (``held_over_corrections``), not one a reviewer corrected: nothing is written, and the outcome says so; nor,
        asked so, another file of a stored statement that reads other figures (``PersistOutcome.reads_otherwise``);
        nor a correction onto a period stored since the API checked it (``PersistOutcome.stored_since_decision``).
        A bill stated without current charges is stored with those its line items imply, a reviewer's
        as an extractor's, and the workflow answered with it (``stored_bill``) so the warehouse agrees.
        """
        given = request.bill
        request = request.model_copy(update={"bill": with_implied_charges(given)})
        bill = request.bill
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SELECT pg_advisory_xact_lock({ACCOUNT_LOCK_KEY})", request.utility_account_id)
            mine = await conn.fetchrow(_STORED_BY_JOB, request.job_id)
            if mine is not None:  # an earlier try stored it (and a re-issue may have replaced it since)
                revised = await conn.fetchval(
                    "SELECT job_id FROM bill_revisions WHERE bill_id = $1 AND replaced_by_job = $2",
                    mine["bill_id"],
                    request.job_id,
                )
                stored_bill = _if_other(mine["payload"], given, job_id=request.job_id)
                if stored_bill is not None and request.source == "review":
                    # A reviewer's decision taken again (an operator's reset) that reads the bill otherwise: its
                    # figures are audited and shown on the task, but the stored bill stands (README, "Human review").
                    logger.warning(
                        "decision taken again not stored: the bill this job stored stands",
                        extra={"job_id": request.job_id, "step": "persist_bill", "bill_id": str(mine["bill_id"])},
                    )
                return PersistOutcome(
                    bill_id=str(mine["bill_id"]),
                    revised_job=str(revised) if revised else None,
                    stored_at=mine["stored_at"],
                    stored_bill=stored_bill,
                )
            if request.replaces is not None:
                return await _replace(conn, request, given, request.replaces)
            existing = await conn.fetchrow(
                _SAME_BILL,
                request.utility_account_id,
                request.artifact.sha256,
                bill.account_number,
                bill.bill_period_start,
                bill.bill_period_end,
            )
            if existing is not None and await _stored_since_decision(conn, request, existing):
                logger.info(
                    "correction's period stored since the decision was sent, held for review",
                    extra={"job_id": request.job_id, "step": "persist_bill", "held_over": str(existing["job_id"])},
                )
                return PersistOutcome(
                    bill_id=str(existing["id"]), held_over=str(existing["job_id"]), stored_since_decision=True
                )
            if existing is not None and _reissued(existing, bill.statement_date):
                if request.held_over_corrections and existing["source"] == "review":
                    logger.info(
                        "re-issue of a corrected bill held for review",
                        extra={"job_id": request.job_id, "step": "persist_bill", "held_over": str(existing["job_id"])},
                    )
                    return PersistOutcome(bill_id=str(existing["id"]), held_over=str(existing["job_id"]))
                await conn.execute(
                    "INSERT INTO bill_revisions"
                    " (bill_id, job_id, replaced_by_job, content_sha256, source, payload, stored_at)"
                    f" SELECT id, job_id, $2, content_sha256, source, payload, {STORED_AT} FROM bills WHERE id = $1",
                    existing["id"],
                    request.job_id,
                )
                await conn.execute("DELETE FROM bills WHERE id = $1", existing["id"])  # its children go with it
                stored_at = await _write_bill(
                    conn, request, bill_id=str(existing["id"]), revises=(existing["created_at"], existing["stored_at"])
                )
                logger.info(
                    "bill revised by a re-issued statement",
                    extra={"job_id": request.job_id, "step": "persist_bill", "revised_job": str(existing["job_id"])},
                )
                return PersistOutcome(
                    bill_id=str(existing["id"]),
                    revised_job=str(existing["job_id"]),
                    stored_at=stored_at,
                    stored_bill=None if bill == given else bill,
                )
            if existing is not None and (otherwise := _read_otherwise(request, existing)):
                logger.info(
                    "copy of a stored statement read otherwise, held for review",
                    extra={
                        "job_id": request.job_id,
                        "step": "persist_bill",
                        "held_over": str(existing["job_id"]),
                        "reads_otherwise": otherwise,
                    },
                )
                return PersistOutcome(
                    bill_id=str(existing["id"]), held_over=str(existing["job_id"]), reads_otherwise=otherwise
                )
            if existing is not None:
                logger.info("duplicate bill", extra={"job_id": request.job_id, "step": "persist_bill"})
                # The stored bill, where it differs: the job's result names its bill id, so its figures must be that
                # bill's, not this one's, stored nowhere (a reviewer's correction onto a stored period).
                return PersistOutcome(
                    bill_id=str(existing["id"]),
                    duplicate_of_job=str(existing["job_id"]),
                    stored_bill=_if_other(existing["payload"], given, job_id=request.job_id),
                )
            if (
                request.held_over_overlaps
                and (
                    overlapped := await overlapped_bill(
                        conn, utility_account_id=request.utility_account_id, bill=request.bill, job_id=request.job_id
                    )
                )
                is not None
            ):
                logger.info(
                    "bill overlapping a stored bill's period held for review",
                    extra={"job_id": request.job_id, "step": "persist_bill", "held_over": str(overlapped["job_id"])},
                )
                return PersistOutcome(bill_id=str(overlapped["id"]), held_over=str(overlapped["job_id"]), overlaps=True)
            bill_id = bill_id_for(request.job_id)
            stored_at = await _write_bill(conn, request, bill_id=bill_id, revises=None)
        logger.info("bill persisted", extra={"job_id": request.job_id, "step": "persist_bill", "bill_id": bill_id})
        return PersistOutcome(bill_id=bill_id, stored_at=stored_at, stored_bill=None if bill == given else bill)


async def overlapped_bill(
    db: asyncpg.Pool | asyncpg.Connection,
    *,
    utility_account_id: int,
    bill: NormalizedBill,
    job_id: str | uuid.UUID,
    excluded: Sequence[uuid.UUID] = (),
) -> asyncpg.Record | None:
    """The stored bill of another job (none of ``excluded``) whose period ``bill``'s overlaps (``OVERLAPPING_PERIOD``,
    its parameters in one place for persist and the review task); None, or for a bill of no period."""
    start, end = bill.bill_period_start, bill.bill_period_end
    if start is None or end is None:
        return None
    utilities = sorted({reading.commodity.value for reading in bill.usage})  # as bill_usage stores them
    return await db.fetchrow(OVERLAPPING_PERIOD, utility_account_id, start, end, job_id, list(excluded), utilities)


_OTHER_BILL_OF_THE_PERIOD = f"""
SELECT job_id FROM bills WHERE utility_account_id = $1 AND id <> $2::uuid AND {SAME_STATEMENT} LIMIT 1
"""
"""Another bill than ``$2`` stored for the statement that account number ``$3`` and the period ``$4`` to ``$5`` name
(``SAME_STATEMENT``)."""


async def _replace(
    conn: asyncpg.Connection, request: PersistRequest, given: NormalizedBill, replaces: StoredVersion
) -> PersistOutcome:
    """A reviewer's correction of a reopened bill: a new version of it, under its id, the one replaced kept in
    ``bill_revisions`` as a re-issue's is. Refused (non-retryable, nothing written) where the bill changed since the
    reviewer saw it, or the corrected period is another stored bill's: two bills of one statement would count its
    month twice."""
    bill = request.bill
    current = await conn.fetchrow(
        f"SELECT job_id, created_at, {STORED_AT} FROM bills WHERE id = $1 AND utility_account_id = $2",
        replaces.bill_id,
        request.utility_account_id,
    )
    if current is None or current["stored_at"] != replaces.stored_at:
        raise ApplicationError(STORED_BILL_CHANGED, type="StoredBillChanged", non_retryable=True)
    if bill.bill_period_start is not None and bill.bill_period_end is not None:
        other = await conn.fetchval(
            _OTHER_BILL_OF_THE_PERIOD,
            request.utility_account_id,
            replaces.bill_id,
            bill.account_number,
            bill.bill_period_start,
            bill.bill_period_end,
        )
        if other is not None:
            raise ApplicationError(
                f"the corrected period is that of the bill job {other} stored: one statement stored twice would"
                " count its month twice",
                type="PeriodStored",
                non_retryable=True,
            )
    await conn.execute(
        "INSERT INTO bill_revisions (bill_id, job_id, replaced_by_job, content_sha256, source, payload, stored_at)"
        f" SELECT id, job_id, $2, content_sha256, source, payload, {STORED_AT} FROM bills WHERE id = $1",
        replaces.bill_id,
        request.job_id,
    )
    await conn.execute("DELETE FROM bills WHERE id = $1", replaces.bill_id)  # its children go with it
    stored_at = await _write_bill(
        conn, request, bill_id=replaces.bill_id, revises=(current["created_at"], current["stored_at"])
    )
    logger.info(
        "reopened bill corrected",
        extra={"job_id": request.job_id, "step": "persist_bill", "revised_job": str(current["job_id"])},
    )
    return PersistOutcome(
        bill_id=replaces.bill_id,
        revised_job=str(current["job_id"]),
        stored_at=stored_at,
        stored_bill=None if bill == given else bill,
    )


def _if_other(payload: dict[str, object], bill: NormalizedBill, *, job_id: str) -> NormalizedBill | None:
    """The bill this job stored earlier, when it is not ``bill``: a run an operator reset, which a reviewer
    decided or Gemini read otherwise, or a retry of one whose current charges were filled in as stored.
    The job's result and the warehouse must show what Postgres keeps."""
    try:
        stored = NormalizedBill.model_validate(payload)
    except ValidationError:  # stored by an earlier release in a shape this one does not read: as before
        logger.warning("stored bill does not read as a bill", extra={"job_id": job_id, "step": "persist_bill"})
        return None
    return None if stored == bill else stored


def reissues(statement_date: date | None, stored_statement_date: date | None) -> bool:
    """Whether a bill dated ``statement_date`` is a re-issue of a stored one of its period dated the other: later."""
    return statement_date is not None and stored_statement_date is not None and statement_date > stored_statement_date


def _read_otherwise(request: PersistRequest, stored: asyncpg.Record) -> list[str]:
    """The figures in which ``request``'s bill, read without doubt (``held_over_copies``), reads otherwise than
    ``stored``, the extractor's reading of another file of its statement; none for the same file, a bill a reviewer
    corrected (what they set stands), or an older issue of a statement since re-issued (it was bound to differ)."""
    if not request.held_over_copies or stored["same_file"] or stored["source"] != "extraction":
        return []
    if reissues(stored["statement_date"], request.bill.statement_date):
        return []
    try:
        stored_bill = NormalizedBill.model_validate(stored["payload"])
    except ValidationError:  # stored by an earlier release in a shape this one does not read: a duplicate, as before
        return []
    return figures_read_otherwise(stored_bill, request.bill)


async def _stored_since_decision(conn: asyncpg.Connection, request: PersistRequest, stored: asyncpg.Record) -> bool:
    """Whether ``stored``, of the decided bill's statement, is a bill the API did not show the reviewer
    (``period_seen``) where it asks: stored by another job since, the one it showed (if any) no longer of that
    statement. For a correction, any; for an approval, a reviewer's correction its re-issue would replace (the only
    bill it asks an approval of). Not for the same file: the API asks of periods only."""
    seen = request.period_seen
    if seen is None or stored["same_file"] or str(stored["job_id"]) == seen.stored_by_job:
        return False
    if request.source == "extraction" and not (
        stored["source"] == "review" and _reissued(stored, request.bill.statement_date)
    ):
        return False
    if seen.stored_by_job is None:
        return True
    # Two bills within the slack of one period: the API's pick and this one's may differ, the one it showed still here.
    bill = request.bill
    still = await conn.fetchval(
        _SEEN_STILL,
        request.utility_account_id,
        seen.stored_by_job,
        bill.account_number,
        bill.bill_period_start,
        bill.bill_period_end,
    )
    return not still


_SEEN_STILL = f"""
SELECT EXISTS (SELECT FROM bills WHERE utility_account_id = $1 AND job_id = $2::uuid AND {SAME_STATEMENT})
"""
"""Whether job ``$2``'s bill is still one of the statement that account number ``$3`` and the period ``$4`` to ``$5``
name (``SAME_STATEMENT``)."""


def _reissued(stored: asyncpg.Record, statement_date: date | None) -> bool:
    """Whether a bill for ``stored``'s period is the utility's re-issue of it: another file, dated later.

    The same statement read again (another scan, a reviewer's correction of it) carries the same date,
    and stays a duplicate: it never overwrites what a person approved."""
    return not stored["same_file"] and reissues(statement_date, stored["statement_date"])


async def _write_bill(
    conn: asyncpg.Connection,
    request: PersistRequest,
    *,
    bill_id: str,
    revises: tuple[datetime, datetime] | None,
) -> datetime:
    """The bill's row and children. A revision keeps the first ``created_at`` of the bill it
    ``revises`` and is dated after that bill's stored time.

    Returns when this version was stored, its place in line in the warehouse. That is the clock
    once the account's lock is held, not ``now()`` (the transaction's start): a transaction that
    began first but waited for the lock would date its version before the one it replaces."""
    bill = request.bill
    stored_at: datetime = await conn.fetchval(
        """
        INSERT INTO bills (id, job_id, customer_id, utility_account_id, provider, account_number,
                           statement_date, bill_period_start, bill_period_end, due_date, currency,
                           total_amount, previous_balance, payments_received, current_charges,
                           content_sha256, source, payload, created_at, revised_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                COALESCE($19, clock_timestamp()),
                CASE WHEN $19::timestamptz IS NOT NULL
                     THEN GREATEST(clock_timestamp(), $20::timestamptz + interval '1 microsecond') END)
        RETURNING COALESCE(revised_at, created_at)
        """,
        bill_id,
        request.job_id,
        request.customer_id,
        request.utility_account_id,
        bill.provider,
        bill.account_number,
        bill.statement_date,
        bill.bill_period_start,
        bill.bill_period_end,
        bill.due_date,
        bill.currency,
        bill.total_amount,
        bill.previous_balance,
        bill.payments_received,
        bill.current_charges,
        request.artifact.sha256,
        request.source,
        bill.model_dump(mode="json"),
        *(revises or (None, None)),
    )
    await conn.executemany(
        "INSERT INTO bill_line_items (bill_id, position, description, category, amount, commodity)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(bill_id, i, li.description, li.category, li.amount, li.commodity) for i, li in enumerate(bill.line_items)],
    )
    await conn.executemany(
        "INSERT INTO bill_usage (bill_id, position, commodity, quantity, unit, meter_number)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(bill_id, i, u.commodity, u.quantity, u.unit, u.meter_number) for i, u in enumerate(bill.usage)],
    )
    return stored_at
