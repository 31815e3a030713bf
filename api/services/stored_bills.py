"""Reading a stored bill back: the row, its line items and usage, for whoever may see its customer."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from api.auth import Principal
from api.problems import Problem, ProblemCode
from api.schemas import BillDetail
from shared.analytics.sql import plain_decimal
from shared.logs import mask_account


async def read_bill(pool: asyncpg.Pool, *, principal: Principal, bill_id: str) -> BillDetail:
    """The bill, or 404 when unknown, malformed or another customer's (which is not told apart from unknown)."""
    try:
        key = uuid.UUID(bill_id)
    except ValueError:
        raise Problem(404, f"bill {bill_id} not found", code=ProblemCode.NOT_FOUND) from None
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        # One snapshot: a re-issue replaces the row and its children in one transaction.
        row = await conn.fetchrow("SELECT * FROM bills WHERE id = $1", key)
        if row is None or not principal.can_see_customer(row["customer_id"]):
            raise Problem(404, f"bill {bill_id} not found", code=ProblemCode.NOT_FOUND)
        items = await conn.fetch(
            "SELECT description, category, amount, commodity FROM bill_line_items WHERE bill_id = $1 ORDER BY position",
            key,
        )
        usage = await conn.fetch(
            "SELECT commodity, quantity, unit, meter_number FROM bill_usage WHERE bill_id = $1 ORDER BY position", key
        )
    return BillDetail.model_validate(
        {
            **dict(row),
            "id": str(row["id"]),
            "job_id": str(row["job_id"]),
            "provider_name": row["payload"].get("provider_name"),
            "account_number_masked": mask_account(row["account_number"]) if row["account_number"] else None,
            "line_items": [dict(item) for item in items],
            "usage": [_reading(reading) for reading in usage],
        }
    )


def _reading(record: asyncpg.Record) -> dict[str, Any]:
    """As read from the bill: the column's four places hold "236.5" as 236.5000."""
    return {**dict(record), "quantity": plain_decimal(record["quantity"])}
