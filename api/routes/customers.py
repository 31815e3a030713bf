"""Customers and their utility accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from api.deps import AdminDep, IdempotencyKey, IdFilter, IdPath, IngestDep, PageCursor, PageLimit, PoolDep, ReaderDep
from api.locations import CREATED_LOCATION, answer_created
from api.problems import AccountConflict, problem_responses
from api.role_first import AuthorizeBeforeBody
from api.schemas import (
    CustomerCreate,
    CustomerPage,
    CustomerPublic,
    CustomerUpdate,
    UtilityAccountCreate,
    UtilityAccountPage,
    UtilityAccountPublic,
    UtilityAccountUpdate,
)
from api.services.accounts import (
    account_public,
    create_customer,
    get_account,
    get_customer,
    list_accounts,
    list_customers,
    register_account,
    update_account,
    update_customer,
)
from api.services.id_cursor import IdCursor
from api.services.jobs import cursor_scope
from shared.bill import Provider

router = APIRouter(tags=["customers"], route_class=AuthorizeBeforeBody)


@router.post(
    "/customers",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerPublic,
    responses={
        200: {"model": CustomerPublic, "description": "the customer already created with this Idempotency-Key"},
        **CREATED_LOCATION,
    },
)
async def post_customer(
    body: CustomerCreate,
    pool: PoolDep,
    principal: AdminDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CustomerPublic:
    """Create a customer (admin); send it again under the same Idempotency-Key to get the same one."""
    row, created = await create_customer(
        pool, principal=principal, name=body.name, email=body.email, idempotency_key=idempotency_key
    )
    if created:
        answer_created(request, response, f"/customers/{row['id']}")
    else:
        response.status_code = status.HTTP_200_OK
    return CustomerPublic.model_validate(row)


@router.get("/customers", response_model=CustomerPage, responses=problem_responses(422))
async def read_customers(
    pool: PoolDep, principal: ReaderDep, limit: PageLimit = 50, cursor: PageCursor = None
) -> CustomerPage:
    """Customers, oldest first (a key bound to a customer sees its own); page with each page's ``next_cursor``."""
    scope = cursor_scope("customers")
    after = IdCursor.decode(cursor, scope) if cursor is not None else None
    rows, total, more = await list_customers(pool, principal=principal, limit=limit, after=after)
    return CustomerPage(
        items=[CustomerPublic.model_validate(row) for row in rows],
        total=total,
        limit=limit,
        next_cursor=IdCursor(after_id=rows[-1]["id"], scope=scope).encode() if more else None,
    )


@router.get("/customers/{customer_id}", response_model=CustomerPublic)
async def read_customer(customer_id: IdPath, pool: PoolDep, principal: ReaderDep) -> CustomerPublic:
    """One customer (scoped keys see only their own)."""
    return CustomerPublic.model_validate(await get_customer(pool, principal=principal, customer_id=customer_id))


@router.patch("/customers/{customer_id}", response_model=CustomerPublic)
async def patch_customer(
    customer_id: IdPath, body: CustomerUpdate, pool: PoolDep, principal: AdminDep
) -> CustomerPublic:
    """Change a customer's name or e-mail (admin): the fields sent change, the others stay; ``email: null`` removes
    it. Its jobs, bills and keys are the customer's still."""
    row = await update_customer(pool, principal=principal, customer_id=customer_id, changes=body.changes())
    return CustomerPublic.model_validate(row)


@router.post(
    "/utility-accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=UtilityAccountPublic,
    responses={**problem_responses(409, members={409: AccountConflict}), **CREATED_LOCATION},
)
async def create_utility_account(
    body: UtilityAccountCreate, pool: PoolDep, principal: IngestDep, request: Request, response: Response
) -> UtilityAccountPublic:
    """Attach a utility account (provider + account number) to a customer."""
    await get_customer(pool, principal=principal, customer_id=body.customer_id)
    row = await register_account(
        pool, customer_id=body.customer_id, provider=body.provider, account_number=body.account_number, label=body.label
    )
    answer_created(request, response, f"/utility-accounts/{row['id']}")
    return UtilityAccountPublic.model_validate(account_public(row))


@router.get("/utility-accounts/{account_id}", response_model=UtilityAccountPublic)
async def read_utility_account(account_id: IdPath, pool: PoolDep, principal: ReaderDep) -> UtilityAccountPublic:
    """One utility account (the account number is masked)."""
    return UtilityAccountPublic.model_validate(
        account_public(await get_account(pool, principal=principal, account_id=account_id))
    )


@router.patch(
    "/utility-accounts/{account_id}",
    response_model=UtilityAccountPublic,
    responses=problem_responses(409),
)
async def patch_utility_account(
    account_id: IdPath, body: UtilityAccountUpdate, pool: PoolDep, principal: IngestDep
) -> UtilityAccountPublic:
    """Change an account's label (``null`` removes it), or give an account registered without a provider its
    provider; the fields sent change, the others stay. A provider once set stays (409 ``provider_set``), and the
    number never changes: another number, or the same at another provider, is another account."""
    row = await update_account(pool, principal=principal, account_id=account_id, changes=body.changes())
    return UtilityAccountPublic.model_validate(account_public(row))


@router.get("/utility-accounts", response_model=UtilityAccountPage, responses=problem_responses(422))
async def read_utility_accounts(
    pool: PoolDep,
    principal: ReaderDep,
    customer_id: IdFilter = None,
    provider: Annotated[
        Provider | None, Query(description="only accounts registered with this provider (not those with none)")
    ] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> UtilityAccountPage:
    """Utility accounts, oldest first, of a customer and a provider where given (a key bound to a customer sees its
    own; the account numbers are masked); page with each page's ``next_cursor``."""
    scope = cursor_scope("utility-accounts", customer_id=customer_id, provider=provider.value if provider else None)
    after = IdCursor.decode(cursor, scope) if cursor is not None else None
    rows, total, more = await list_accounts(
        pool,
        principal=principal,
        customer_id=customer_id,
        provider=provider.value if provider else None,
        limit=limit,
        after=after,
    )
    return UtilityAccountPage(
        items=[UtilityAccountPublic.model_validate(account_public(row)) for row in rows],
        total=total,
        limit=limit,
        next_cursor=IdCursor(after_id=rows[-1]["id"], scope=scope).encode() if more else None,
    )
