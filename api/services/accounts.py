"""Customers and utility accounts, always read through the caller's customer scope."""

from __future__ import annotations

from typing import Any

import asyncpg

from api.auth import Principal
from api.problems import Problem
from shared.logs import mask_account


async def get_customer(pool: asyncpg.Pool, *, principal: Principal, customer_id: int) -> dict[str, Any]:
    """The customer row, or 404 when it does not exist or is not the caller's."""
    row = await pool.fetchrow("SELECT * FROM customers WHERE id = $1", customer_id)
    if row is None or not principal.can_see_customer(row["id"]):
        raise Problem(404, f"customer {customer_id} not found")
    return dict(row)


async def get_account(pool: asyncpg.Pool, *, principal: Principal, account_id: int) -> dict[str, Any]:
    """The utility account row, or 404 when it does not exist or is not the caller's."""
    row = await pool.fetchrow("SELECT * FROM utility_accounts WHERE id = $1", account_id)
    if row is None or not principal.can_see_customer(row["customer_id"]):
        raise Problem(404, f"utility account {account_id} not found")
    return dict(row)


def account_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "provider": row["provider"],
        "account_number_masked": mask_account(row["account_number"]),
        "label": row["label"],
        "created_at": row["created_at"],
    }
