"""``POST /jobs``: a connector start whose insert reads the account itself, one round trip where it took two.

A start was three statements: the key, the account, the insert. Folding the account's read into the insert
(``INSERT … SELECT``) answers the same starts with two. At the API's floor (``bench.floor_app``, session 49)
that was 11-18% more starts a second, and ~0.1 ms less of the API's CPU a start. Under a rate limit (the default)
the same insert also takes the key's token (``START_CONNECTOR_JOB_FOR_A_TOKEN``): two statements where it took five
with an Idempotency-Key and four without (session 51: 30% more starts a second in ``bench.api_alone --rate-limit``).

The insert's ``WHERE`` is the account's checks, said again in SQL: the caller may see its customer, it names a
provider, and a connector fetches that provider here. When it inserts nothing, the same checks run in Python
(``get_account``, then the Idempotency-Key's job, then ``refuse_unfetchable``) for their 404, replay or 422. So the SQL
decides only which starts take the short way; every refusal and every replay is answered as it always was. Under a
rate limit, a start the statement does not record spends nothing, and the route answers it the long way (the checks,
then a token taken on its own for the 429, then ``START_CONNECTOR_JOB``): one statement more than before for a
refusal, a replay or a 429.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from temporalio.client import Client

from activities.connectors.deployed import fetches
from api.auth import Principal
from api.problems import Problem, ProblemCode
from api.ratelimit import take_token
from api.services.accounts import get_account
from api.services.dispatch import JobDispatcher
from api.services.jobs import (
    check_replay,
    find_idempotent_job,
    idempotency_scope,
    ingestion_request,
    log_created,
    start_job,
)
from shared.bill import Provider
from shared.models import JobStatus, JobType
from shared.settings import Settings
from shared.temporal import workflow_id_for

STARTABLE_ACCOUNT = """
    SELECT account.id, account.customer_id, account.provider
      FROM utility_accounts account
     WHERE account.id = $2
       AND ($9::bigint IS NULL OR account.customer_id = $9)
       AND account.provider = ANY($10::text[])
"""
"""The account ``$2`` if a connector start may use it: the caller (``$9``, its customer; none for a key bound to no
customer) may see its customer, and it names a provider that a connector fetches here (``$10``)."""

_INSERT_FROM_ACCOUNT = """
    INSERT INTO ingestion_jobs (id, customer_id, utility_account_id, workflow_id, job_type, status,
                                idempotency_scope, idempotency_key, start_request)
    SELECT $1, account.customer_id, account.id, $3, $4, $5, $6, $7,
           $8::jsonb || jsonb_build_object('customer_id', account.customer_id, 'provider', account.provider)
      FROM {source}
    ON CONFLICT DO NOTHING
    RETURNING *
"""

START_CONNECTOR_JOB = f"WITH account AS ({STARTABLE_ACCOUNT}){_INSERT_FROM_ACCOUNT.format(source='account')}"
"""A connector start's insert without a rate limit, and under one the long way's: ``$8`` the workflow input but for
``ACCOUNT_ROW_FIELDS`` (``api.warm_pool`` runs it on each pooled connection, rolled back)."""

START_CONNECTOR_JOB_FOR_A_TOKEN = f"""
WITH account AS ({STARTABLE_ACCOUNT}
       AND NOT EXISTS (SELECT FROM ingestion_jobs WHERE idempotency_scope = $6 AND idempotency_key = $7)),
     token AS ({take_token("$11", "$12", "$13", if_any_row_of="account")}),
     job AS ({_INSERT_FROM_ACCOUNT.format(source="account, token")})
SELECT EXISTS (SELECT FROM token) AS token_spent, job.* FROM (VALUES (1)) AS answer LEFT JOIN job ON true
"""
"""``START_CONNECTOR_JOB`` under a rate limit: the key's bucket (``$11``, action ``$12``, ``$13`` a minute) pays for the
insert in the same statement, and only for an account a start may use whose Idempotency-Key (``$7``) has no job yet,
so a refusal or a replay spends nothing. Always one row: whether a token was spent, and the job if one was recorded
(a token spent with no job is a race with the key's first try, which recorded it meanwhile)."""

START_JOB_ACTION = "start_job"
"""The rate limit's action for connector starts (``POST /jobs`` and the agent's run): a key's bucket for them."""

ACCOUNT_ROW_FIELDS = {"customer_id", "provider"}
"""The workflow input's fields ``START_CONNECTOR_JOB`` writes from the account's row (its ``jsonb_build_object``)."""

UNREAD_ACCOUNT = {"customer_id": 0, "provider": None}
"""Stand-ins for ``ACCOUNT_ROW_FIELDS`` while the input is built: left out of what is sent."""


def fetched_providers(settings: Settings) -> list[str]:
    """The providers whose accounts ``POST /jobs`` takes: those a connector fetches in this deployment."""
    return [provider.value for provider in Provider if fetches(settings, provider)]


def refuse_unfetchable(settings: Settings, account: dict[str, Any]) -> None:
    """The 422 for an account no connector could fetch a bill of: the caller is told to upload it instead."""
    if account["provider"] is None:
        raise Problem(
            422,
            f"utility account {account['id']} has no provider, so no connector can fetch its bills:"
            " upload the bill with POST /bills",
            code=ProblemCode.NO_CONNECTOR,
        )
    if not fetches(settings, Provider(account["provider"])):
        raise Problem(
            422,
            f"no connector fetches {account['provider']} bills in this deployment (the mock connector is off"
            " in production; MOCK_CONNECTOR=true turns it on for demo data): upload the bill with POST /bills",
            code=ProblemCode.NO_CONNECTOR,
        )


async def checked_account(
    pool: asyncpg.Pool, settings: Settings, *, principal: Principal, account_id: int, key: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The account a connector start may use, and the Idempotency-Key's job if it has one (a replay): the checks in
    Python, with their 404 or 422, and the 422 of a key first used for another request.

    A replay answers before the connector check: a start sent again after its provider's connector was turned off
    (``MOCK_CONNECTOR=false``, a release without it) got the 422 telling the client to upload the bill, and a client
    doing so ingested it twice."""
    account = await get_account(pool, principal=principal, account_id=account_id)
    replayed = await find_idempotent_job(pool, principal=principal, key=key)
    if replayed is not None:
        check_replay(replayed, account=account, job_type=JobType.CONNECTOR)
        return account, replayed
    refuse_unfetchable(settings, account)
    return account, None


async def start_connector_job(
    *,
    pool: asyncpg.Pool,
    client: Client,
    settings: Settings,
    principal: Principal,
    account_id: int,
    idempotency_key: str | None,
    dispatcher: JobDispatcher,
) -> tuple[dict[str, Any], bool]:
    """Record a connector job for the dispatcher to start; returns (job row, created now), as ``start_job`` does.

    Raises the account's 404 or 422, or the 422 of an Idempotency-Key first used for another request."""
    row = await pool.fetchrow(START_CONNECTOR_JOB, *_insert_arguments(settings, principal, account_id, idempotency_key))
    if row is not None:
        log_created(dict(row), principal)
        dispatcher.wake()
        return dict(row), True
    account, replayed = await checked_account(
        pool, settings, principal=principal, account_id=account_id, key=idempotency_key
    )
    if replayed is not None:
        return replayed, False
    # The checks passed in Python where SQL found otherwise: start it the long way rather than refuse it.
    return await start_job(
        pool=pool,
        client=client,
        settings=settings,
        principal=principal,
        account=account,
        job_type=JobType.CONNECTOR,
        idempotency_key=idempotency_key,
        dispatcher=dispatcher,
    )


async def start_connector_job_for_a_token(
    *,
    pool: asyncpg.Pool,
    settings: Settings,
    principal: Principal,
    account_id: int,
    idempotency_key: str | None,
    dispatcher: JobDispatcher,
    action: str,
) -> tuple[dict[str, Any] | None, bool]:
    """Record a connector job and pay for it from the caller's ``action`` budget in one statement: the job it
    recorded (None if none) and whether a token was spent.

    It records nothing for an account a start may not use, an Idempotency-Key's replay or reuse, or an empty bucket;
    those spend nothing, and the route answers them the long way, as it always did. A token spent with no job is
    the caller's to give back: another request under the same key recorded its job meanwhile."""
    row = await pool.fetchrow(
        START_CONNECTOR_JOB_FOR_A_TOKEN,
        *_insert_arguments(settings, principal, account_id, idempotency_key),
        principal.key_id,
        action,
        float(settings.rate_limit_per_minute),
    )
    assert row is not None, "the statement answers with one row"
    job = dict(row)
    spent = bool(job.pop("token_spent"))
    if job["id"] is None:
        return None, spent
    log_created(job, principal)
    dispatcher.wake()
    return job, spent


def _insert_arguments(
    settings: Settings, principal: Principal, account_id: int, idempotency_key: str | None
) -> tuple[Any, ...]:
    """``START_CONNECTOR_JOB``'s ``$1``-``$10``: a new job's for ``account_id``, under the caller's key."""
    job_id = str(uuid.uuid4())
    request = ingestion_request(
        settings, job_id=job_id, account={"id": account_id, **UNREAD_ACCOUNT}, job_type=JobType.CONNECTOR
    )
    return (
        job_id,
        account_id,
        workflow_id_for(job_id),
        JobType.CONNECTOR,
        JobStatus.PENDING,
        idempotency_scope(principal) if idempotency_key else None,
        idempotency_key,
        request.model_dump(mode="json", exclude=ACCOUNT_ROW_FIELDS),
        principal.customer_id,
        fetched_providers(settings),
    )
