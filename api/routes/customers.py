"""Customers and their utility accounts."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AdminDep, IdPath, IngestDep, PoolDep, ReaderDep
from api.problems import Problem, problem_responses
from api.schemas import CustomerCreate, CustomerPublic, UtilityAccountCreate, UtilityAccountPublic
from api.services.accounts import account_public, get_account, get_customer

router = APIRouter(tags=["customers"])


@router.post("/customers", status_code=status.HTTP_201_CREATED, response_model=CustomerPublic)
async def create_customer(body: CustomerCreate, pool: PoolDep, _: AdminDep) -> CustomerPublic:
    """Create a customer (admin)."""
    row = await pool.fetchrow("INSERT INTO customers (name, email) VALUES ($1, $2) RETURNING *", body.name, body.email)
    return CustomerPublic.model_validate(dict(row))


@router.get("/customers/{customer_id}", response_model=CustomerPublic)
async def read_customer(customer_id: IdPath, pool: PoolDep, principal: ReaderDep) -> CustomerPublic:
    """One customer (scoped keys see only their own)."""
    return CustomerPublic.model_validate(await get_customer(pool, principal=principal, customer_id=customer_id))


@router.post(
    "/utility-accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=UtilityAccountPublic,
    responses=problem_responses(409),
)
async def create_utility_account(
    body: UtilityAccountCreate, pool: PoolDep, principal: IngestDep
) -> UtilityAccountPublic:
    """Attach a utility account (provider + account number) to a customer."""
    await get_customer(pool, principal=principal, customer_id=body.customer_id)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(ACCOUNTS_OF_A_CUSTOMER_LOCK, body.customer_id)
        existing = await conn.fetchrow(SAME_ACCOUNT, body.customer_id, body.provider, body.account_number)
        if existing is not None:  # name it, so a client whose 201 was lost can go on
            raise Problem(409, _clash(existing["provider"], body.provider), utility_account_id=existing["id"])
        row = await conn.fetchrow(
            "INSERT INTO utility_accounts (customer_id, provider, account_number, label)"
            " VALUES ($1, $2, $3, $4) RETURNING *",
            body.customer_id,
            body.provider,
            body.account_number,
            body.label,
        )
    return UtilityAccountPublic.model_validate(account_public(dict(row)))


ACCOUNTS_OF_A_CUSTOMER_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended('minimeter.accounts:' || $1::bigint::text, 0))"
)
"""Registrations for one customer take turns: the check below and the insert are one step."""

SAME_ACCOUNT = """
SELECT id, provider FROM utility_accounts
 WHERE customer_id = $1 AND account_key = account_key($3)
   AND (provider IS NOT DISTINCT FROM $2 OR provider IS NULL OR $2::text IS NULL)
 ORDER BY id LIMIT 1
"""
"""The account a registration would repeat: the same number however written, at the same provider,
or where either side names none. An account without a provider and one with it would each take
the same statements, and the customer's totals would count them twice. (The same number at two
named providers is two accounts.)"""


def _clash(existing: str | None, asked: str | None) -> str:
    if existing == asked:
        return "this customer already has that account with that provider"
    if existing is None:
        return "this customer already has that account number without a provider: one account per number"
    return f"this customer already has that account number with provider {existing}: one account per number"


@router.get("/utility-accounts/{account_id}", response_model=UtilityAccountPublic)
async def read_utility_account(account_id: IdPath, pool: PoolDep, principal: ReaderDep) -> UtilityAccountPublic:
    """One utility account (the account number is masked)."""
    return UtilityAccountPublic.model_validate(
        account_public(await get_account(pool, principal=principal, account_id=account_id))
    )
