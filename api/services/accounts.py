"""Customers and utility accounts, always read through the caller's customer scope."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from api.auth import Principal
from api.problems import Problem, ProblemCode
from api.services.id_cursor import IdCursor
from api.services.jobs import REUSED_KEY, idempotency_scope
from shared.logs import mask_account

logger = logging.getLogger(__name__)


async def create_customer(
    pool: asyncpg.Pool, *, principal: Principal, name: str, email: str | None, idempotency_key: str | None
) -> tuple[dict[str, Any], bool]:
    """The customer row and whether it was created now: a create sent again under its Idempotency-Key
    (its 201 lost to a timeout) answers with the customer it made, never a second one, renamed since or not."""
    scope = idempotency_scope(principal) if idempotency_key else None
    sent = {"name": name, "email": email}
    row = await pool.fetchrow(
        "INSERT INTO customers (name, email, idempotency_scope, idempotency_key, created_with)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_scope, idempotency_key) DO NOTHING RETURNING *",
        name,
        email,
        scope,
        idempotency_key,
        sent if idempotency_key else None,
    )
    if row is not None:
        return dict(row), True
    existing = await pool.fetchrow(
        "SELECT * FROM customers WHERE idempotency_scope = $1 AND idempotency_key = $2", scope, idempotency_key
    )
    assert existing is not None  # keys are never removed, and the conflict was on this one
    # Migration 0025 recorded the creates made before 0024; a row written since without one is compared as it is.
    created_with = existing["created_with"] or dict(existing)
    if (created_with["name"], created_with["email"]) != (name, email):
        raise Problem(422, REUSED_KEY, code=ProblemCode.IDEMPOTENCY_KEY_REUSED)
    return dict(existing), False


async def update_customer(
    pool: asyncpg.Pool, *, principal: Principal, customer_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """The customer row with ``changes`` (column: value) made; a 404 as ``get_customer`` answers it. Nothing sent,
    nothing changes: the row as it is, ``updated_at`` untouched."""
    customer = await get_customer(pool, principal=principal, customer_id=customer_id)  # visible before written
    if not changes:
        return customer
    row = await pool.fetchrow(_update("customers", changes), customer_id, *changes.values())
    if row is None:  # erased meanwhile (python -m worker.erase_customer)
        raise Problem(404, f"customer {customer_id} not found", code=ProblemCode.NOT_FOUND)
    _changed("customer", customer_id, changes, principal)
    return dict(row)


def _changed(what: str, row_id: int, changes: dict[str, Any], principal: Principal) -> None:
    """Who changed which fields of what, for the audit trail: their names, not their values (names, e-mails)."""
    logger.info(f"{what} changed", extra={f"{what}_id": row_id, "fields": sorted(changes), "by": principal.identity})


def _update(table: str, changes: dict[str, Any]) -> str:
    """An UPDATE of row ``$1`` of ``table`` setting ``changes``' columns (our field names, never a caller's word)
    to ``$2``... in their order, and ``updated_at``; it returns the row."""
    columns = ", ".join(f"{column} = ${place}" for place, column in enumerate(changes, start=2))
    return f"UPDATE {table} SET {columns}, updated_at = now() WHERE id = $1 RETURNING *"


async def get_customer(pool: asyncpg.Pool, *, principal: Principal, customer_id: int) -> dict[str, Any]:
    """The customer row, or 404 when it does not exist or is not the caller's."""
    row = await pool.fetchrow("SELECT * FROM customers WHERE id = $1", customer_id)
    if row is None or not principal.can_see_customer(row["id"]):
        raise Problem(404, f"customer {customer_id} not found", code=ProblemCode.NOT_FOUND)
    return dict(row)


Page = tuple[list[dict[str, Any]], int, bool]
"""A page of rows, how many there are in all under its filters, and whether more follow."""


async def list_customers(pool: asyncpg.Pool, *, principal: Principal, limit: int, after: IdCursor | None) -> Page:
    """The customers the caller may see (a key bound to one, that one), oldest first."""
    return await _page(pool, "customers", "($1::bigint IS NULL OR id = $1)", [principal.customer_id], limit, after)


async def list_accounts(
    pool: asyncpg.Pool,
    *,
    principal: Principal,
    customer_id: int | None,
    provider: str | None,
    limit: int,
    after: IdCursor | None,
) -> Page:
    """The utility accounts the caller may see, of one customer and one provider where given, oldest first. A key
    bound to a customer asking for another's gets none, as ``GET /jobs`` answers it."""
    visible, customer_id = principal.list_filter(customer_id)
    if not visible:
        return [], 0, False
    where = "($1::bigint IS NULL OR customer_id = $1) AND ($2::text IS NULL OR provider = $2)"
    return await _page(pool, "utility_accounts", where, [customer_id, provider], limit, after)


async def _page(
    pool: asyncpg.Pool, table: str, where: str, filters: list[object], limit: int, after: IdCursor | None
) -> Page:
    """``limit`` rows of ``table`` (one of ours, never a caller's word) matching ``where`` (its placeholders
    ``filters``), by id after the cursor's."""
    n = len(filters)
    total = await pool.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", *filters)
    rows = await pool.fetch(
        f"SELECT * FROM {table} WHERE {where} AND id > ${n + 1} ORDER BY id LIMIT ${n + 2}",
        *filters,
        after.after_id if after else 0,
        limit + 1,  # one more says whether a next page has any: a full last page offers none
    )
    return [dict(row) for row in rows[:limit]], total, len(rows) > limit


ACCOUNT_BY_ID = "SELECT * FROM utility_accounts WHERE id = $1"
"""An upload's account lookup, and a connector start's where its insert took nothing (``api.warm_pool`` prepares it
on each pooled connection)."""


async def get_account(pool: asyncpg.Pool, *, principal: Principal, account_id: int) -> dict[str, Any]:
    """The utility account row, or 404 when it does not exist or is not the caller's."""
    row = await pool.fetchrow(ACCOUNT_BY_ID, account_id)
    if row is None or not principal.can_see_customer(row["customer_id"]):
        raise Problem(404, f"utility account {account_id} not found", code=ProblemCode.NOT_FOUND)
    return dict(row)


ACCOUNTS_OF_A_CUSTOMER_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended('minimeter.accounts:' || $1::bigint::text, 0))"
)
"""Registrations for one customer take turns: the check for the same account and the insert are one step."""

SAME_ACCOUNT = """
SELECT id, provider FROM utility_accounts
 WHERE customer_id = $1 AND account_key = account_key($3)
   AND (provider IS NOT DISTINCT FROM $2 OR provider IS NULL OR $2::text IS NULL)
   AND id IS DISTINCT FROM $4::bigint
 ORDER BY id LIMIT 1
"""
"""The account a registration (or account ``$4`` given a provider) would repeat: the same number however written,
at the same provider, or where either side names none. An account without a provider and one with it would each take
the same statements, and the customer's totals would count them twice. (The same number at two
named providers is two accounts.)"""


async def register_account(
    pool: asyncpg.Pool, *, customer_id: int, provider: str | None, account_number: str, label: str | None
) -> dict[str, Any]:
    """The new account's row; a 409 naming the account it would repeat."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(ACCOUNTS_OF_A_CUSTOMER_LOCK, customer_id)
        await _refuse_a_repeat(conn, customer_id, provider, account_number)
        row = await conn.fetchrow(
            "INSERT INTO utility_accounts (customer_id, provider, account_number, label)"
            " VALUES ($1, $2, $3, $4) RETURNING *",
            customer_id,
            provider,
            account_number,
            label,
        )
    return dict(row)


async def _refuse_a_repeat(
    conn: asyncpg.Connection, customer_id: int, provider: str | None, account_number: str, *, but: int | None = None
) -> None:
    """A 409 naming the account of the customer's (``but`` that one) that an account with ``provider`` and
    ``account_number`` would repeat, so a client whose 201 was lost can go on with it."""
    existing = await conn.fetchrow(SAME_ACCOUNT, customer_id, provider, account_number, but)
    if existing is not None:
        raise Problem(
            409,
            _repeated(existing["provider"], provider),
            utility_account_id=existing["id"],
            code=ProblemCode.ACCOUNT_EXISTS,
        )


def _repeated(existing: str | None, asked: str | None) -> str:
    """Why a registration repeats an account, in the words of its 409."""
    if existing == asked:
        with_it = "with that provider" if asked is not None else "without a provider"
        return f"this customer already has that account {with_it}"
    if existing is None:
        return "this customer already has that account number without a provider: one account per number"
    return f"this customer already has that account number with provider {existing}: one account per number"


async def update_account(
    pool: asyncpg.Pool, *, principal: Principal, account_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """The account row with ``changes`` (column: value) made; a 404 as ``get_account`` answers it. A provider is set
    only on an account registered without one (a 409 ``provider_set`` otherwise): the bills stored for it were read
    as its provider's, and the connector of another would fetch another provider's statements for them."""
    account = await get_account(pool, principal=principal, account_id=account_id)
    if "provider" in changes and changes["provider"] == account["provider"]:
        changes = {column: value for column, value in changes.items() if column != "provider"}
    if not changes:
        return account
    async with pool.acquire() as conn, conn.transaction():
        # As registrations take turns: one of the same number racing this would find no provider to repeat.
        await conn.execute(ACCOUNTS_OF_A_CUSTOMER_LOCK, account["customer_id"])
        current = await conn.fetchval("SELECT provider FROM utility_accounts WHERE id = $1 FOR UPDATE", account_id)
        if "provider" in changes and current is not None and changes["provider"] != current:
            raise Problem(
                409,
                f"this account's provider is {current}: a provider once set stays (its bills were read as"
                f" {current}'s); register the number with another provider as another account",
                code=ProblemCode.PROVIDER_SET,
            )
        if "provider" in changes:  # as a registration with it would (one made before that was refused, say)
            await _refuse_a_repeat(
                conn, account["customer_id"], changes["provider"], account["account_number"], but=account_id
            )
        row = await conn.fetchrow(_update("utility_accounts", changes), account_id, *changes.values())
    _changed("account", account_id, changes, principal)
    return dict(row)


def account_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "provider": row["provider"],
        "account_number_masked": mask_account(row["account_number"]),
        "label": row["label"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
