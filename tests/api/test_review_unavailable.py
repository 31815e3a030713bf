"""Temporal, or every worker, gone: a decision gets a 503 that says to send it again, a read the stored job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.auth import Role, create_key
from api.main import create_app
from api.routes import reviews
from shared.bill import Provider
from shared.settings import Settings
from shared.temporal import converter_for
from tests.durability.conftest import create_account
from tests.helpers import create_account as create_account_over_http
from tests.helpers import insert_job, serve, start_dev_server
from worker.resources import Resources


@asynccontextmanager
async def temporal_of_its_own(
    own_db: asyncpg.Pool, pg_url: str, app_settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[WorkflowEnvironment, Settings]]:
    """A dev server for this test alone (to shut down under the app), stopped however the test ends, and
    settings pointing the app at it and at the test's own database."""
    async with await start_dev_server(
        log_file=tmp_path / "temporal.log", data_converter=converter_for(app_settings)
    ) as server:
        database = await own_db.fetchval("SELECT current_database()")
        yield (
            server,
            app_settings.model_copy(
                update={
                    "database_url": SecretStr(urlsplit(pg_url)._replace(path=f"/{database}").geturl()),
                    "temporal_address": server.client.service_client.config.target_host,
                }
            ),
        )


async def test_review_decision_while_temporal_is_down_is_a_503(
    own_db: asyncpg.Pool, pg_url: str, app_settings: Settings, tmp_path: Path
) -> None:
    """The decision may or may not have reached the workflow, and repeating it is safe: 503, not 409 or 500."""
    async with temporal_of_its_own(own_db, pg_url, app_settings, tmp_path) as (server, settings):
        account = await create_account(own_db, provider=Provider.PGE, account_number="5550001")
        waiting = await insert_job(own_db, account, status="NEEDS_REVIEW")
        # Ended: a repeat of the decision that ended it asks Temporal for that decision's answer, so an
        # unreachable Temporal is a 503 here too, not a 409 telling the client its applied decision was refused.
        ended = await insert_job(own_db, account, status="SUCCEEDED")
        reviewer = await create_key(own_db, name="reviewer", role=Role.REVIEWER)

        async with serve(create_app(settings)) as url:
            await server.shutdown()
            async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {reviewer.key}"}) as http:
                decision = {"action": "approve", "revision": "0" * 32}
                # At once: each waits out the client's ~10 s of retries before its 503.
                responses = await asyncio.gather(
                    *(http.post(f"/reviews/{job_id}", json=decision, timeout=60) for job_id in (waiting, ended))
                )

    for response in responses:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "again" in response.json()["detail"]
        assert response.headers["Retry-After"] == "5"  # as the database's and storage's 503s say when


async def test_reading_a_task_or_job_while_temporal_is_down_answers_from_postgres(
    own_db: asyncpg.Pool, pg_url: str, app_settings: Settings, tmp_path: Path
) -> None:
    """Opening a task asks Temporal whether its run ended outside MiniMeter, and reading a job asks the run
    for its steps: with Temporal down, both answer from Postgres after a bounded wait, not after the
    client's ~10 s of retries (reviewers open tasks, clients poll jobs); listing jobs reads Postgres alone."""
    async with temporal_of_its_own(own_db, pg_url, app_settings, tmp_path) as (server, settings):
        account = await create_account(own_db, provider=Provider.PGE, account_number="5550002")
        waiting = await insert_job(own_db, account, status="NEEDS_REVIEW")
        await own_db.execute("UPDATE ingestion_jobs SET dispatched_at = now() WHERE id = $1", waiting)
        await own_db.execute(
            "INSERT INTO review_tasks (job_id, status, reasons, artifact_uri, revision)"
            " VALUES ($1, 'PENDING', '[]', 'gs://b/o', 'r1')",
            waiting,
        )
        reviewer = await create_key(own_db, name="reviewer", role=Role.REVIEWER)

        async with serve(create_app(settings)) as url:
            await server.shutdown()
            async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {reviewer.key}"}) as http:
                task = await http.get(f"/reviews/{waiting}", timeout=5)
                job = await http.get(f"/jobs/{waiting}", timeout=5)
                listed = await http.get("/jobs", timeout=5)

    assert task.status_code == 200, task.text
    assert task.json()["status"] == "PENDING"
    assert job.status_code == 200, job.text
    assert job.json()["status"] == "NEEDS_REVIEW"
    assert listed.status_code == 200, listed.text
    assert [j["status"] for j in listed.json()["items"]] == ["NEEDS_REVIEW"]


@asynccontextmanager
async def job_no_worker_takes(
    http: httpx.AsyncClient, client: Client, resources: Resources, *, status: str
) -> AsyncIterator[str]:
    """A job whose workflow runs on a queue no worker polls (all down), terminated afterwards."""
    account = await create_account_over_http(http, provider="pge", account_number=f"NW-{uuid.uuid4().hex[:8]}")
    job_id = await insert_job(resources.pool, account, status=status)
    workflow_id = await resources.pool.fetchval("SELECT workflow_id FROM ingestion_jobs WHERE id = $1", job_id)
    handle = await client.start_workflow(
        "BillIngestionWorkflow", id=workflow_id, task_queue=f"no-worker-{uuid.uuid4().hex[:8]}"
    )
    try:
        yield job_id
    finally:
        await handle.terminate("test over")


async def test_review_decision_no_worker_takes_is_a_503(
    http: httpx.AsyncClient, client: Client, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run exists but no worker polls its queue (all down): the update times out into a 503, not a hang."""
    monkeypatch.setattr(reviews, "REVIEW_UPDATE_TIMEOUT", timedelta(seconds=2))
    async with job_no_worker_takes(http, client, resources, status="NEEDS_REVIEW") as job_id:
        response = await http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": "0" * 32})

    assert response.status_code == 503, response.text
    assert "again" in response.json()["detail"]
    assert response.headers["Retry-After"] == "5"


async def test_reading_a_job_no_worker_takes_answers_from_postgres(
    http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    """The progress query waits for a worker: with none polling, GET /jobs/{id} answers with the stored
    steps after PROGRESS_QUERY_TIMEOUT, not after the server's 30 s (clients poll this every few seconds), and the
    workflow task the server holds for a worker as its step."""
    async with job_no_worker_takes(http, client, resources, status="RUNNING") as job_id:
        response = await http.get(f"/jobs/{job_id}", timeout=10)

    assert response.status_code == 200, response.text
    job = response.json()
    assert (job["status"], job["current_step"]) == ("RUNNING", "waiting_for_worker")
    assert [step["name"] for step in job["steps"]] == ["waiting_for_worker"]
