"""Whether a reviewer's correction lands on an account and period another job already stored a bill for.

Persisting such a bill either replaces the stored one (a later statement date: a re-issue) or ends the job as its
duplicate, throwing the correction away. From an extractor that is a re-issue's or a repeat's right outcome; from a
reviewer it is as often a typo in the period, which replaced a colleague's reviewed bill with no word before it
(a reviewer's probe). The decision says so before it is sent, and goes ahead once confirmed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import asyncpg

from activities.bills import CLOSEST_STATEMENT_FIRST, SAME_STATEMENT, overlapped_bill, reissues
from api.schemas import OverlappedBill
from shared.bill import NormalizedBill

STORED_FOR_PERIOD = f"""
SELECT id, job_id, statement_date, total_amount, currency, source FROM bills
 WHERE utility_account_id = $1 AND job_id <> $2 AND id IS DISTINCT FROM $6::uuid AND {SAME_STATEMENT}
 ORDER BY {CLOSEST_STATEMENT_FIRST}
 LIMIT 1
"""
"""The natural-key half of ``activities.bills._SAME_BILL``: the bill persisting this one would meet."""


@dataclass(frozen=True)
class StoredPeriod:
    job_id: str
    bill_id: str
    statement_date: date | None
    total_amount: Decimal | None
    currency: str
    replaced: bool
    """Whether the correction would replace it (a later statement date), else be refused as its duplicate."""
    corrected: bool = False
    """Whether it is a reviewer's correction (``bills.source``): figures a person set, not the extractor's reading."""

    def __str__(self) -> str:
        stated = f"statement date {self.statement_date}" if self.statement_date else "no statement date"
        amount = f", amount due {self.total_amount} {self.currency}" if self.total_amount is not None else ""
        outcome = (
            "replace it, as a re-issued statement of that period"
            if self.replaced
            else "be refused as its duplicate, and nothing of it stored"
        )
        corrected = ", as a reviewer corrected it" if self.corrected else ""
        held = f"job {self.job_id} stored this account's bill for that period ({stated}{amount}{corrected})"
        return f"{held}: this bill would {outcome}"


async def stored_for_period(
    pool: asyncpg.Pool,
    *,
    job_id: uuid.UUID,
    utility_account_id: int,
    bill: NormalizedBill,
    except_bill: str | None = None,
) -> StoredPeriod | None:
    """The bill of another job that ``bill``, stored for ``utility_account_id``, would meet (not ``except_bill``, a
    reopened bill's own); None if none."""
    if bill.bill_period_start is None or bill.bill_period_end is None:
        return None
    row = await pool.fetchrow(
        STORED_FOR_PERIOD,
        utility_account_id,
        job_id,
        bill.account_number,
        bill.bill_period_start,
        bill.bill_period_end,
        except_bill,
    )
    if row is None:
        return None
    return StoredPeriod(
        job_id=str(row["job_id"]),
        bill_id=str(row["id"]),
        statement_date=row["statement_date"],
        total_amount=row["total_amount"],
        currency=row["currency"],
        replaced=reissues(bill.statement_date, row["statement_date"]),
        corrected=row["source"] == "review",
    )


async def overlapped_by(
    pool: asyncpg.Pool,
    *,
    job_id: uuid.UUID,
    utility_account_id: int,
    bill: NormalizedBill,
    except_bill: str | None = None,
) -> OverlappedBill | None:
    """The stored bill of another job (not ``except_bill``) whose period ``bill``'s overlaps, as persist finds it
    (``activities.bills.overlapped_bill``); None if none. Not the bill of its statement (``stored_for_period``),
    which persist meets first: approved, ``bill`` replaces it or ends its duplicate, where the task would have told
    the reviewer to reject a re-issue lest both stand."""
    start, end = bill.bill_period_start, bill.bill_period_end
    if start is None or end is None:
        return None
    statement = await stored_for_period(
        pool, job_id=job_id, utility_account_id=utility_account_id, bill=bill, except_bill=except_bill
    )
    excluded = [uuid.UUID(b) for b in (except_bill, statement.bill_id if statement else None) if b]
    row = await overlapped_bill(
        pool, utility_account_id=utility_account_id, bill=bill, job_id=job_id, excluded=excluded
    )
    if row is None:
        return None
    return OverlappedBill(
        job_id=str(row["job_id"]),
        bill_id=str(row["id"]),
        statement_date=row["statement_date"],
        total_amount=row["total_amount"],
        currency=row["currency"],
        bill_period_start=row["bill_period_start"],
        bill_period_end=row["bill_period_end"],
        days_shared=(min(end, row["bill_period_end"]) - max(start, row["bill_period_start"])).days + 1,
    )
