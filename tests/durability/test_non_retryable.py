"""Failures retrying cannot fix end the job at once: one attempt, FAILED, with the reason."""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from pypdf import PdfWriter
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from activities.connectors.base import AccountInfo
from activities.connectors.mock import MockConnector
from activities.storage import extension_for
from shared.artifacts import object_name
from shared.bill import Provider
from shared.models import JobStatus
from shared.settings import Settings
from tests.durability.conftest import attempts_by_activity, create_account, history_events, job_row, start_on_queue
from tests.helpers import create_account as create_account_over_http
from tests.helpers import wait_for_status
from worker.main import build_worker
from worker.resources import Resources

BILLS = Path(__file__).parents[2] / "eval" / "bills"


@pytest.fixture()
async def own_worker(client: Client, resources: Resources, app_settings: Settings, queue: str) -> AsyncIterator[None]:
    async with build_worker(client, resources, app_settings, task_queue=queue):
        yield


async def test_artifact_conflict_fails_the_job_after_one_attempt(
    client: Client, resources: Resources, app_settings: Settings, own_worker: None, queue: str, unique: str
) -> None:
    account = await create_account(resources.pool, provider=Provider.PGE, account_number=f"CONFLICT-{unique}")
    job_id = str(uuid.uuid4())
    # Someone else's bytes already sit under the name this job's bill will be stored at.
    connector = MockConnector()
    info = AccountInfo(id=account["id"], provider=Provider.PGE, account_number=account["account_number"])
    document = connector.read(connector.locate(info, job_id=job_id))
    name = object_name(job_id, hashlib.sha256(document.data).hexdigest(), extension_for(document.content_type))
    bucket = storage.Client(
        project=app_settings.gcp_project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=app_settings.storage_emulator_host),
    ).bucket(app_settings.gcs_bucket)
    await asyncio.to_thread(bucket.blob(name).upload_from_string, b"%PDF-1.4 not this job's bill", "application/pdf")

    job = await start_on_queue(
        pool=resources.pool, client=client, settings=app_settings, queue=queue, account=account, job_id=job_id
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(job.handle.result(), timeout=20)  # a retried conflict would take minutes

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "IngestionFailed"
    # The worker's fetch archives what it reads (store then only records it): fetch meets the conflict.
    attempts = attempts_by_activity(await history_events(job.handle))
    assert attempts["fetch_bill"] == 1 and "store_raw_bill" not in attempts, attempts
    row = await job_row(resources.pool, job.id)
    assert row["status"] == JobStatus.FAILED
    assert row["error"].startswith("fetch_bill failed: ArtifactConflict"), row["error"]
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job.id) == 0


async def test_corrupt_upload_is_rejected_without_retries(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str
) -> None:
    account = await create_account_over_http(http, provider="pge", account_number=f"CORRUPT-{unique}")
    corrupt = b"%PDF-1.7\n" + b"this sniffs as a PDF but has no cross-reference table or pages\n" * 20
    response = await http.post(
        "/bills",
        files={"file": ("bill.pdf", corrupt, "application/pdf")},
        data={"utility_account_id": str(account["id"])},
    )
    assert response.status_code == 201, response.text
    job = await wait_for_status(http, response.json()["id"], within=30)

    assert job["status"] == "FAILED", job
    said = "rejected: corrupt_file (the PDF is damaged or cut short, and cannot be read: save or scan it again ("
    assert job["error"].startswith(said), job  # in words, then what pypdf found wrong
    attempts = attempts_by_activity(await history_events(client.get_workflow_handle(job["workflow_id"])))
    assert set(attempts.values()) == {1}, attempts
    assert "persist_bill" not in attempts
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job["id"]) == 0


async def test_a_password_protected_pdf_fails_saying_what_to_do(http: httpx.AsyncClient, unique: str) -> None:
    """It failed as "rejected: unsupported_type" though the API had just accepted it as a PDF."""
    writer = PdfWriter(clone_from=BILLS / "pge_classic_0.pdf")
    writer.encrypt(user_password="s3cret", algorithm="AES-256")
    locked = io.BytesIO()
    writer.write(locked)
    account = await create_account_over_http(http, provider="pge", account_number=f"LOCKED-{unique}")
    response = await http.post(
        "/bills",
        files={"file": ("bill.pdf", locked.getvalue(), "application/pdf")},
        data={"utility_account_id": str(account["id"])},
    )
    assert response.status_code == 201, response.text
    job = await wait_for_status(http, response.json()["id"], within=30)
    assert (job["status"], job["error"]) == (
        "FAILED",
        "rejected: unsupported_type (a password-protected PDF: remove its password and upload it again)",
    ), job
