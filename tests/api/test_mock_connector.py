"""The mock connector (generated bills) never feeds a production deployment unless asked for."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.connectors import deployed
from activities.connectors.base import AccountInfo, BillNotAvailable
from activities.connectors.deployed import connectors_for
from activities.connectors.mock import MockConnector
from activities.fetching import FetchActivities
from api.main import create_app
from extraction.document import read_document
from shared.bill import Provider
from shared.models import FetchRequest
from shared.settings import Environment, Settings
from tests.helpers import create_account, serve
from worker.resources import Resources

PRODUCTION = {
    "env": Environment.PRODUCTION,
    "database_url": SecretStr("postgresql://minimeter@db/minimeter"),
    "payload_keys": SecretStr("k1:" + base64.b64encode(b"\x01" * 32).decode()),
    "gcs_bucket": "acme-raw-bills",  # production refuses the placeholder bucket and project
    "gcp_project": "acme",
}


@pytest.mark.parametrize(
    ("settings", "on"),
    [
        ({}, True),
        (PRODUCTION, False),
        ({**PRODUCTION, "mock_connector": True}, True),
        ({"mock_connector": False}, False),
    ],
)
def test_the_mock_connector_is_off_in_production_unless_asked_for(settings: dict[str, object], on: bool) -> None:
    assert Settings(**settings).mock_connector_on is on  # type: ignore[arg-type]


def test_without_the_mock_no_connector_fetches_a_providers_bills() -> None:
    registry = connectors_for(Settings(mock_connector=False))
    with pytest.raises(BillNotAvailable, match="no connector fetches pge bills"):
        registry.for_account(AccountInfo(id=1, provider=Provider.PGE, account_number="1"))
    assert connectors_for(Settings()).for_account(AccountInfo(id=1, provider=Provider.PGE, account_number="1"))


@asynccontextmanager
async def api_without_the_mock(app_settings: Settings, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """An API process of a deployment whose mock connector is off, as in production."""
    settings = app_settings.model_copy(update={"mock_connector": False})
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as api,
    ):
        yield api


async def test_post_jobs_without_a_connector_says_to_upload(
    http: httpx.AsyncClient, app_settings: Settings, admin_key: str, resources: Resources, unique: str
) -> None:
    account = await create_account(http, provider="pge", account_number=f"NOCONN-{unique}")
    async with api_without_the_mock(app_settings, admin_key) as api:
        refused = await api.post("/jobs", json={"utility_account_id": account["id"]})
    assert refused.status_code == 422, refused.text
    assert "POST /bills" in refused.json()["detail"] and "MOCK_CONNECTOR" in refused.json()["detail"]
    jobs = "SELECT count(*) FROM ingestion_jobs WHERE utility_account_id = $1"
    assert await resources.pool.fetchval(jobs, account["id"]) == 0


async def test_post_jobs_takes_an_account_a_provider_connector_serves_with_the_mock_off(
    http: httpx.AsyncClient, app_settings: Settings, admin_key: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API asked only whether the mock was on: with a provider's own connector added where the README says,
    its accounts were still refused (422), and MOCK_CONNECTOR=true, the way round it, fed the other providers'
    accounts generated bills."""
    monkeypatch.setattr(deployed, "provider_connectors", lambda settings: {Provider.PGE: MockConnector()})
    served = await create_account(http, provider="pge", account_number=f"SERVED-{unique}")
    unserved = await create_account(http, provider="coned", account_number=f"UNSERVED-{unique}")
    async with api_without_the_mock(app_settings, admin_key) as api:
        started = await api.post("/jobs", json={"utility_account_id": served["id"]})
        refused = await api.post("/jobs", json={"utility_account_id": unserved["id"]})
    assert started.status_code == 201, started.text
    assert refused.status_code == 422 and "no connector fetches coned bills" in refused.json()["detail"]
    registry = connectors_for(Settings(mock_connector=False))
    assert registry.for_account(AccountInfo(id=1, provider=Provider.PGE, account_number="1"))
    with pytest.raises(BillNotAvailable, match="no connector fetches coned bills"):
        registry.for_account(AccountInfo(id=1, provider=Provider.CONED, account_number="1"))


async def test_a_job_no_connector_serves_fails_at_once_not_after_retries(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A job queued before the mock was turned off: no retry will bring a connector."""
    account = await create_account(http, provider="pge", account_number=f"UNSERVED-{unique}")
    fetch = FetchActivities(resources.pool, connectors_for(Settings(mock_connector=False)))
    request = FetchRequest(job_id=str(uuid.uuid4()), utility_account_id=account["id"], provider="pge")
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(fetch.fetch_bill, request)
    assert refused.value.type == "BillNotAvailable" and refused.value.non_retryable


@pytest.mark.parametrize("number", ["7788#12", "7788?x=1", "77/88 %41"])
def test_an_account_number_with_url_characters_reads_whole(number: str) -> None:
    """Unquoted, "#" or "?" cut the number short in the locator: the bill was generated for "7788"."""
    connector = MockConnector()
    account = AccountInfo(id=1, provider=Provider.SFPUC, account_number=number)
    document = read_document(connector.read(connector.locate(account, job_id=str(uuid.uuid4()))).data)
    assert number in document.text
