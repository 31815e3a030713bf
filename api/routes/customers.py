"""Customers and their utility accounts."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AdminDep, IdPath, IngestDep, PoolDep, ReaderDep
from api.problems import problem_responses
from api.schemas import CustomerCreate, CustomerPublic, UtilityAccountCreate, UtilityAccountPublic
from api.services.accounts import account_public, get_account, get_customer, register_account

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
    row = await register_account(
        pool, customer_id=body.customer_id, provider=body.provider, account_number=body.account_number, label=body.label
    )
    return UtilityAccountPublic.model_validate(account_public(row))


@router.get("/utility-accounts/{account_id}", response_model=UtilityAccountPublic)
async def read_utility_account(account_id: IdPath, pool: PoolDep, principal: ReaderDep) -> UtilityAccountPublic:
    """One utility account (the account number is masked)."""
    return UtilityAccountPublic.model_validate(
        account_public(await get_account(pool, principal=principal, account_id=account_id))
    )
