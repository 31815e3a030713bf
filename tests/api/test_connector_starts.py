"""``POST /jobs`` reads the account inside the job's insert (``api.services.connector_jobs``), which under a rate limit
also takes the token. With a budget or without, a caller gets the same answers and the workflow the same input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from api.auth import Role, create_key
from api.main import create_app
from api.services import connector_jobs
from api.services.accounts import get_account
from api.services.jobs import REUSED_KEY
from shared.bill import Provider
from shared.models import IngestionRequest, JobType
from shared.settings import Settings
from tests.helpers import bill_text, create_account, serve, wait_for_status
from worker.resources import Resources

RATE_LIMITS = {"no budget": 0, "a budget": 100_000}

API = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(params=list(RATE_LIMITS.values()), ids=list(RATE_LIMITS))
def rate_limit(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture()
def api(rate_limit: int, app_settings: Settings, admin_key: str) -> API:
    """An API process at this rate limit, as a caller with ``key`` (the admin's unless given) sees it."""

    @asynccontextmanager
    async def serving(*, key: str = admin_key, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
        update = {"rate_limit_per_minute": rate_limit, "db_pool_max": 3, **settings}
        async with (
            serve(create_app(app_settings.model_copy(update=update))) as url,
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
        ):
            yield client

    return serving


@pytest.fixture()
def account_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The accounts the Python checks read (``checked_account``): only where the insert took nothing (a refusal or a
    replay), with a budget or without."""
    reads: list[int] = []

    async def counted(*args: Any, account_id: int, **kwargs: Any) -> dict[str, Any]:
        reads.append(account_id)
        return await get_account(*args, account_id=account_id, **kwargs)

    monkeypatch.setattr(connector_jobs, "get_account", counted)
    return reads


async def jobs_of(resources: Resources, account: dict[str, Any]) -> int:
    return int(
        await resources.pool.fetchval(
            "SELECT count(*) FROM ingestion_jobs WHERE utility_account_id = $1", account["id"]
        )
    )


async def test_a_start_gives_the_workflow_the_accounts_customer_and_provider_and_runs(
    api: API,
    rate_limit: int,
    http: httpx.AsyncClient,
    app_settings: Settings,
    resources: Resources,
    unique: str,
    account_reads: list[int],
) -> None:
    account = await create_account(http, provider="duke", account_number=f"FOLD-{unique}")
    async with api() as client:
        started = await client.post("/jobs", json={"utility_account_id": account["id"]})
        assert started.status_code == 201, started.text
        job = started.json()
        assert (job["customer_id"], job["utility_account_id"], job["job_type"]) == (
            account["customer_id"],
            account["id"],
            "connector",
        )
        stored = await resources.pool.fetchval(
            "SELECT start_request FROM ingestion_jobs WHERE id = $1::uuid", job["id"]
        )
        assert stored == IngestionRequest(  # as stored whole, not as read back: no field missing or extra
            job_id=job["id"],
            customer_id=account["customer_id"],
            utility_account_id=account["id"],
            provider=Provider.DUKE,
            job_type=JobType.CONNECTOR,
            review_sla_seconds=int(app_settings.review_sla.total_seconds()),
            review_timeout_seconds=int(app_settings.review_timeout.total_seconds()),
        ).model_dump(mode="json")
        assert (await wait_for_status(client, job["id"]))["status"] == "SUCCEEDED"
    assert account_reads == [], "a start the insert took needs no look at its account on its own"


async def test_accounts_no_start_may_use_are_refused_alike_and_nothing_is_recorded(
    api: API, http: httpx.AsyncClient, resources: Resources, unique: str, account_reads: list[int]
) -> None:
    providerless = await create_account(http, provider=None, account_number=f"NONE-{unique}")
    unserved = await create_account(http, provider="coned", account_number=f"OFF-{unique}")
    async with api() as client:
        missing = await client.post("/jobs", json={"utility_account_id": 2**62})
        no_provider = await client.post("/jobs", json={"utility_account_id": providerless["id"]})
    async with api(mock_connector=False) as client:
        no_connector = await client.post("/jobs", json={"utility_account_id": unserved["id"]})
    assert (missing.status_code, missing.json()["detail"]) == (404, f"utility account {2**62} not found")
    assert no_provider.status_code == 422 and "has no provider" in no_provider.json()["detail"]
    assert no_connector.status_code == 422 and "no connector fetches coned bills" in no_connector.json()["detail"]
    assert [await jobs_of(resources, account) for account in (providerless, unserved)] == [0, 0]
    assert account_reads == [2**62, providerless["id"], unserved["id"]]


async def test_a_customers_key_starts_its_own_accounts_and_never_finds_anothers(
    api: API, rate_limit: int, http: httpx.AsyncClient, resources: Resources, unique: str, account_reads: list[int]
) -> None:
    own = await create_account(http, provider="pge", account_number=f"OWN-{unique}")
    other = await create_account(http, provider="pge", account_number=f"OTHER-{unique}")
    key = await create_key(resources.pool, name=f"customer-{unique}", role=Role.INGEST, customer_id=own["customer_id"])
    async with api(key=key.key) as client:
        started = await client.post("/jobs", json={"utility_account_id": own["id"]})
        hidden = await client.post("/jobs", json={"utility_account_id": other["id"]})
    assert started.status_code == 201, started.text
    assert (hidden.status_code, hidden.json()["detail"]) == (404, f"utility account {other['id']} not found")
    assert [await jobs_of(resources, account) for account in (own, other)] == [1, 0]
    assert account_reads == [other["id"]], "its own account started the short way"


async def test_an_idempotency_key_answers_with_its_job_and_refuses_another_account(
    api: API, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    first = await create_account(http, provider="sfpuc", account_number=f"KEY1-{unique}")
    second = await create_account(http, provider="sfpuc", account_number=f"KEY2-{unique}")
    key = {"Idempotency-Key": f"start-{unique}"}
    async with api() as client:
        started = await client.post("/jobs", json={"utility_account_id": first["id"]}, headers=key)
        again = await client.post("/jobs", json={"utility_account_id": first["id"]}, headers=key)
        reused = await client.post("/jobs", json={"utility_account_id": second["id"]}, headers=key)
    assert (started.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == started.json()["id"]
    assert (reused.status_code, reused.json()["detail"]) == (422, REUSED_KEY)
    assert reused.json()["code"] == "idempotency_key_reused"
    assert [await jobs_of(resources, account) for account in (first, second)] == [1, 0]


async def test_a_start_sent_again_after_its_connector_was_turned_off_answers_with_its_job(
    api: API, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The 422 telling a client to upload the bill instead answered its retry, and a client doing so ingested the
    bill twice: a key's job answers before the connector check, as before every other."""
    account = await create_account(http, provider="pge", account_number=f"OFF-{unique}")
    key = {"Idempotency-Key": f"off-{unique}"}
    async with api() as client:
        started = await client.post("/jobs", json={"utility_account_id": account["id"]}, headers=key)
    async with api(mock_connector=False) as client:
        again = await client.post("/jobs", json={"utility_account_id": account["id"]}, headers=key)
        fresh = await client.post(
            "/jobs", json={"utility_account_id": account["id"]}, headers={"Idempotency-Key": f"off2-{unique}"}
        )
    assert (started.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == started.json()["id"]
    assert fresh.status_code == 422 and "POST /bills" in fresh.json()["detail"]
    assert await jobs_of(resources, account) == 1


async def test_two_starts_sent_at_once_under_one_key_make_one_job(
    api: API, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A client retrying a start whose answer is late: the second insert waits for the first's row (under a budget,
    for the bucket's first), then replays it."""
    account = await create_account(http, provider="pge", account_number=f"RACE-{unique}")
    key = {"Idempotency-Key": f"race-{unique}"}
    async with api() as client:
        answers = await asyncio.gather(
            *(client.post("/jobs", json={"utility_account_id": account["id"]}, headers=key) for _ in range(2))
        )
    assert sorted(answer.status_code for answer in answers) == [200, 201], [answer.text for answer in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert await jobs_of(resources, account) == 1


async def test_a_key_first_used_for_an_upload_does_not_start_a_fetch(
    api: API, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    account = await create_account(http, provider="pge", account_number=f"UPKEY-{unique}")
    key = {"Idempotency-Key": f"upload-{unique}"}
    async with api() as client:
        uploaded = await client.post(
            "/bills",
            files={"file": ("bill.txt", bill_text(f"UPKEY-{unique}").encode(), "text/plain")},
            data={"utility_account_id": str(account["id"])},
            headers=key,
        )
        started = await client.post("/jobs", json={"utility_account_id": account["id"]}, headers=key)
    assert uploaded.status_code == 201, uploaded.text
    assert (started.status_code, started.json()["detail"]) == (422, REUSED_KEY)
    assert await jobs_of(resources, account) == 1
