"""Transient outages of real components are retried with backoff and the job still succeeds.

Each test breaks its own copy of the component (a dedicated Postgres, a dedicated GCS
emulator) behind a dedicated worker, so the session's shared services stay healthy. The
component comes back only once an attempt has failed against it: after a fixed sleep, a
loaded machine could reach the first attempt after the restart, and nothing was retried.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.client import Client

from shared.bill import Provider
from shared.models import IngestionResult, JobStatus
from shared.settings import Settings
from stack.emulators import GcsEmulator
from stack.services import embedded_postgres_url, start_embedded_postgres, stop_embedded_postgres
from tests.durability.conftest import (
    ActivityRecorder,
    Job,
    attempts_by_activity,
    create_account,
    history_events,
    job_row,
    start_on_queue,
    stored_upload,
)
from tests.helpers import wait_until
from worker.main import build_worker
from worker.resources import Resources, open_resources

OUTAGE_WITHIN = 90
"""Seconds to wait for the first failed attempt: only keeps a broken test from hanging (an attempt that
hangs rather than fails is timed out at its start-to-close, 60 s at most)."""


@pytest.fixture()
def recorder() -> ActivityRecorder:
    return ActivityRecorder()


def observed(client: Client, recorder: ActivityRecorder) -> Client:
    """``client``, with every activity its workers run seen by ``recorder``."""
    return Client(
        client.service_client, namespace=client.namespace, data_converter=client.data_converter, interceptors=[recorder]
    )


def an_attempt_failed(recorder: ActivityRecorder, activity_type: str) -> Callable[[], Awaitable[bool]]:
    async def failed() -> bool:
        return any(run.error is not None for run in recorder.of(activity_type))

    return failed


async def result_after_outage(
    job: Job, recorder: ActivityRecorder, failing: str, what: str, restore: Callable[[], object]
) -> IngestionResult:
    """On the job's worker: wait for an attempt of ``failing`` to fail in the outage (``what`` names that attempt),
    end the outage with ``restore``, and wait for the job's result."""
    await wait_until(an_attempt_failed(recorder, failing), within=OUTAGE_WITHIN, what=what)
    restore()
    return await asyncio.wait_for(job.handle.result(), timeout=60)


@pytest.fixture(scope="module")
def own_pgdata(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pgdata = tmp_path_factory.mktemp("durable-pg") / "pg"
    embedded_postgres_url(pgdata)
    yield pgdata
    stop_embedded_postgres(pgdata)


@pytest.fixture()
async def own_pg_resources(app_settings: Settings, own_pgdata: Path) -> AsyncIterator[Resources]:
    settings = app_settings.model_copy(update={"database_url": SecretStr(embedded_postgres_url(own_pgdata))})
    resources = await open_resources(settings)
    yield resources
    await resources.close()


async def test_postgres_outage_is_retried_and_the_job_succeeds(
    client: Client,
    app_settings: Settings,
    own_pg_resources: Resources,
    own_pgdata: Path,
    queue: str,
    unique: str,
    recorder: ActivityRecorder,
) -> None:
    pool = own_pg_resources.pool
    account = await create_account(pool, provider=Provider.CONED, account_number=f"PG-{unique}")
    job = await start_on_queue(pool=pool, client=client, settings=app_settings, queue=queue, account=account)

    stop_embedded_postgres(own_pgdata)  # connections refused from here on
    async with build_worker(observed(client, recorder), own_pg_resources, app_settings, task_queue=queue):
        result = await result_after_outage(
            job,
            recorder,
            "mark_job_running",
            "an attempt without Postgres",
            lambda: start_embedded_postgres(own_pgdata),
        )

    assert result.status == JobStatus.SUCCEEDED, result
    attempts = attempts_by_activity(await history_events(job.handle))
    assert attempts["mark_job_running"] > 1, attempts
    row = await job_row(pool, job.id)
    assert row["status"] == JobStatus.SUCCEEDED and row["attempts"] == 1, row
    assert await pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job.id) == 1


@pytest.fixture()
def own_gcs(tmp_path: Path) -> Iterator[GcsEmulator]:
    with GcsEmulator(data_dir=tmp_path / "gcs") as emulator:
        yield emulator


@pytest.fixture()
async def own_gcs_resources(app_settings: Settings, own_gcs: GcsEmulator) -> AsyncIterator[tuple[Settings, Resources]]:
    settings = app_settings.model_copy(
        update={"storage_emulator_host": own_gcs.url, "gcs_bucket": f"durable-{uuid.uuid4().hex[:8]}"}
    )
    resources = await open_resources(settings)
    yield settings, resources
    await resources.close()


async def test_storage_outage_during_fetch_is_retried_and_the_job_succeeds(
    client: Client,
    own_gcs: GcsEmulator,
    own_gcs_resources: tuple[Settings, Resources],
    queue: str,
    unique: str,
    recorder: ActivityRecorder,
) -> None:
    """A connector's bill is archived by fetch (the worker gives it the store): fetch meets the outage."""
    settings, resources = own_gcs_resources
    account = await create_account(resources.pool, provider=Provider.SFPUC, account_number=f"GCS-{unique}")

    own_gcs.stop()  # same port and data when it comes back
    job = await start_on_queue(pool=resources.pool, client=client, settings=settings, queue=queue, account=account)
    async with build_worker(observed(client, recorder), resources, settings, task_queue=queue):
        result = await result_after_outage(job, recorder, "fetch_bill", "a fetch without storage", own_gcs.start)

    attempts = attempts_by_activity(await history_events(job.handle))
    assert attempts["fetch_bill"] > 1, attempts
    await assert_succeeded_with_one_artifact(job, result, settings, resources)


async def test_storage_outage_during_store_is_retried_and_the_job_succeeds(
    client: Client,
    own_gcs: GcsEmulator,
    own_gcs_resources: tuple[Settings, Resources],
    queue: str,
    unique: str,
    recorder: ActivityRecorder,
) -> None:
    """An upload is stored before its job starts: store's lookup of it is the first call to meet the outage."""
    settings, resources = own_gcs_resources
    stored = await stored_upload(resources, unique, total="60.00")

    own_gcs.stop()  # same port and data when it comes back
    job = await stored.start(client=client, settings=settings, queue=queue)
    async with build_worker(observed(client, recorder), resources, settings, task_queue=queue):
        result = await result_after_outage(job, recorder, "store_raw_bill", "a store without storage", own_gcs.start)

    attempts = attempts_by_activity(await history_events(job.handle))
    assert attempts["store_raw_bill"] > 1, attempts
    assert attempts["fetch_bill"] == 1, attempts
    await assert_succeeded_with_one_artifact(job, result, settings, resources)
    assert result.artifact is not None and result.artifact.uri == stored.upload.uri


async def assert_succeeded_with_one_artifact(
    job: Job, result: IngestionResult, settings: Settings, resources: Resources
) -> None:
    assert result.status == JobStatus.SUCCEEDED, result
    assert result.artifact is not None and result.artifact.uri.startswith(f"gs://{settings.gcs_bucket}/raw/bills/")
    assert await asyncio.to_thread(resources.store.exists, result.artifact.uri)
    assert await resources.pool.fetchval("SELECT count(*) FROM artifacts WHERE job_id = $1", job.id) == 1
    assert (await job_row(resources.pool, job.id))["status"] == JobStatus.SUCCEEDED
