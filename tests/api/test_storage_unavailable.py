"""Object storage down: an upload or a raw-bill download is a 503 that says to try again, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from activities.storage import record_artifact
from api.auth import Role, create_key
from api.main import create_app
from shared.bill import Provider
from shared.models import ArtifactRef
from shared.settings import Settings
from stack.emulators import GcsEmulator
from tests.durability.conftest import create_account
from tests.helpers import insert_job, serve


@pytest.fixture()
async def storage_gone(
    own_db: asyncpg.Pool, pg_url: str, app_settings: Settings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """An API whose object storage (a fake-gcs-server of its own) stopped after the API started."""
    database = await own_db.fetchval("SELECT current_database()")
    with GcsEmulator(data_dir=tmp_path / "gcs") as emulator:
        settings = app_settings.model_copy(
            update={
                "database_url": SecretStr(urlsplit(pg_url)._replace(path=f"/{database}").geturl()),
                "storage_emulator_host": emulator.url,
            }
        )
        key = await create_key(own_db, name="ingest", role=Role.INGEST)
        async with serve(create_app(settings)) as url:
            emulator.stop()
            async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key.key}"}) as http:
                yield http


async def test_an_upload_while_storage_is_down_is_a_503_and_makes_no_job(
    storage_gone: httpx.AsyncClient, own_db: asyncpg.Pool
) -> None:
    """Nothing was stored and nothing started: the client must send the bill again, and is told so."""
    account = await create_account(own_db, provider=Provider.PGE, account_number="5550002")
    response = await storage_gone.post(
        "/bills",
        files={"file": ("bill.txt", b"Pacific Gas and Electric Company\nTotal Amount Due $10.00\n", "text/plain")},
        data={"utility_account_id": str(account["id"])},
        headers={"Idempotency-Key": "storage-down-1"},
    )

    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "again" in response.json()["detail"]
    assert int(response.headers["Retry-After"]) >= 1
    assert await own_db.fetchval("SELECT count(*) FROM ingestion_jobs") == 0


async def test_a_raw_bill_while_storage_is_down_is_a_503(
    storage_gone: httpx.AsyncClient, own_db: asyncpg.Pool, app_settings: Settings
) -> None:
    account = await create_account(own_db, provider=Provider.PGE, account_number="5550003")
    job_id = await insert_job(own_db, account, status="SUCCEEDED")
    sha = "0" * 64
    ref = ArtifactRef(
        uri=f"gs://{app_settings.gcs_bucket}/raw/bills/{job_id}/{sha}.pdf",
        sha256=sha,
        size=1234,
        content_type="application/pdf",
    )
    await record_artifact(own_db, job_id, ref)

    response = await storage_gone.get(f"/jobs/{job_id}/artifact")

    assert response.status_code == 503, response.text
    assert "again" in response.json()["detail"]
