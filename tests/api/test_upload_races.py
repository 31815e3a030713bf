"""``POST /bills`` sent twice at once under one Idempotency-Key: one job, and one stored bill."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from google.cloud.storage import Client as StorageClient
from pydantic import SecretStr

from api.auth import AUTH_DISABLED_PRINCIPAL, Principal, Role, create_key, hash_key
from api.main import create_app
from api.services.jobs import upload_job_id
from api.state import AppState
from shared.artifacts import ArtifactStore
from shared.bill import Provider
from shared.emulator import emulator_client_options
from shared.models import ArtifactRef
from shared.settings import Settings
from tests.durability.conftest import create_account
from tests.helpers import serve


class StoresSideBySide:
    """An artifact store whose writes wait for each other, so both requests are past their
    Idempotency-Key lookup before either records its job: the race a retried timeout makes."""

    def __init__(self, store: ArtifactStore, parties: int) -> None:
        self._store = store
        self._together = threading.Barrier(parties, timeout=30)  # a safety net, never what is asserted

    def put_once(self, **kwargs: Any) -> ArtifactRef:
        self._together.wait()
        return self._store.put_once(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@dataclass
class RacingApi:
    http: httpx.AsyncClient
    app: FastAPI


@pytest.fixture()
async def racing_api(own_db: asyncpg.Pool, pg_url: str, app_settings: Settings) -> AsyncIterator[RacingApi]:
    database = await own_db.fetchval("SELECT current_database()")
    settings = app_settings.model_copy(
        update={"database_url": SecretStr(urlsplit(pg_url)._replace(path=f"/{database}").geturl())}
    )
    key = await create_key(own_db, name="ingest", role=Role.INGEST)
    app = create_app(settings)
    async with serve(app) as url:
        state: AppState = app.state.minimeter
        await state.dispatcher.stop()  # nothing here is for a worker: the jobs stay rows
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key.key}"}) as http:
            yield RacingApi(http=http, app=app)


def stored_objects(settings: Settings, sha256: str) -> list[str]:
    """Every raw bill in the bucket with this content, whichever job it was stored for."""
    assert settings.storage_emulator_host is not None
    client = StorageClient(project=settings.gcp_project, **emulator_client_options(settings.storage_emulator_host))
    return [b.name for b in client.list_blobs(settings.gcs_bucket, prefix="raw/bills/") if sha256 in b.name]


async def test_a_retry_racing_its_first_request_stores_the_bill_once(
    racing_api: RacingApi, own_db: asyncpg.Pool, app_settings: Settings, unique: str
) -> None:
    """Before, each request stored the bill under a job id of its own, and the loser's copy was left
    in the bucket, referenced by no job: a customer's bill kept where no one would find or delete it."""
    state: AppState = racing_api.app.state.minimeter
    state.store = StoresSideBySide(state.store, parties=2)
    account = await create_account(own_db, provider=Provider.PGE, account_number=f"RACE-{unique}")
    data = f"Pacific Gas and Electric Company\nAccount {unique}\nTotal Amount Due $10.00\n".encode()

    answers = await asyncio.gather(
        *(
            racing_api.http.post(
                "/bills",
                files={"file": ("bill.txt", data, "text/plain")},
                data={"utility_account_id": str(account["id"])},
                headers={"Idempotency-Key": f"race-{unique}"},
            )
            for _ in range(2)
        )
    )

    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    job_id = answers[0].json()["id"]
    assert answers[1].json()["id"] == job_id
    sha256 = hashlib.sha256(data).hexdigest()
    assert await asyncio.to_thread(stored_objects, app_settings, sha256) == [f"raw/bills/{job_id}/{sha256}.txt"]
    artifacts = await own_db.fetch("SELECT job_id, sha256 FROM artifacts")
    assert [(str(r["job_id"]), r["sha256"]) for r in artifacts] == [(job_id, sha256)]


def test_an_upload_job_id_is_the_keys_own_across_databases() -> None:
    """A new database numbers its keys from 1 again while Temporal may keep the old one's workflows:
    the same Idempotency-Key under another key must not name the same job (and workflow) again."""
    first = Principal(key_id=1, name="ingest", role=Role.INGEST, customer_id=None, key_hash=hash_key("mm_first"))
    again = Principal(key_id=1, name="ingest", role=Role.INGEST, customer_id=None, key_hash=hash_key("mm_first"))
    after_reset = Principal(key_id=1, name="ingest", role=Role.INGEST, customer_id=None, key_hash=hash_key("mm_new"))

    assert upload_job_id(first, "bill-2026-11") == upload_job_id(again, "bill-2026-11")
    assert upload_job_id(first, "bill-2026-11") != upload_job_id(after_reset, "bill-2026-11")
    assert upload_job_id(first, "bill-2026-11") != upload_job_id(first, "bill-2026-12")


async def test_a_twin_for_another_account_is_refused_without_calling_the_winners_bill_unreferenced(
    racing_api: RacingApi, own_db: asyncpg.Pool, caplog: pytest.LogCaptureFixture, unique: str
) -> None:
    """Both store the same object (same key, same file); the loser's 422 logged it as left unreferenced,
    for an operator to delete: the winning job's live bill."""
    state: AppState = racing_api.app.state.minimeter
    state.store = StoresSideBySide(state.store, parties=2)
    accounts = [
        await create_account(own_db, provider=Provider.PGE, account_number=f"TWIN{side}-{unique}") for side in "AB"
    ]
    data = f"Pacific Gas and Electric Company\nAccount {unique}\nTotal Amount Due $10.00\n".encode()

    with caplog.at_level(logging.WARNING, logger="api.routes.bills"):
        answers = await asyncio.gather(
            *(
                racing_api.http.post(
                    "/bills",
                    files={"file": ("bill.txt", data, "text/plain")},
                    data={"utility_account_id": str(account["id"])},
                    headers={"Idempotency-Key": f"twin-{unique}"},
                )
                for account in accounts
            )
        )

    assert sorted(a.status_code for a in answers) == [201, 422], [a.text for a in answers]
    assert [r for r in caplog.records if "unreferenced" in r.getMessage()] == []
    assert await own_db.fetchval("SELECT count(*) FROM artifacts") == 1


def test_without_a_key_hash_an_upload_job_id_is_never_repeated() -> None:
    """``AUTH_DISABLED`` has no key hash: a derived id would repeat after a database reset, and the new
    job would find the old database's closed workflow instead of a run of its own."""
    anyone = AUTH_DISABLED_PRINCIPAL
    assert upload_job_id(anyone, "bill-2026-11") != upload_job_id(anyone, "bill-2026-11")
