"""Durability tests: real components broken on purpose, one task queue (and worker) per test.

Jobs are started through the API's own service function (``api.services.jobs.start_job``)
with a settings copy naming the test's queue, so only that test's worker picks them up
and the session worker never sees them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from temporalio import activity
from temporalio import client as temporal_client
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from api.auth import Principal, Role
from api.services.jobs import start_job
from shared.artifacts import ArtifactStore
from shared.bill import Provider
from shared.models import ArtifactRef, IngestionResult, JobType
from shared.recent_artifacts import RecentArtifacts
from shared.settings import Settings
from tests.helpers import account_digits, bill_text
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow

SYSTEM = Principal(key_id=0, name="durability-tests", role=Role.ADMIN, customer_id=None)


@dataclass
class Job:
    id: str
    handle: WorkflowHandle[Any, IngestionResult]


async def create_account(pool: asyncpg.Pool, *, provider: Provider | None, account_number: str) -> dict[str, Any]:
    """A customer and one utility account, written straight to ``pool``'s database."""
    customer_id = await pool.fetchval(
        "INSERT INTO customers (name) VALUES ($1) RETURNING id", f"Durable {account_number}"
    )
    row = await pool.fetchrow(
        "INSERT INTO utility_accounts (customer_id, provider, account_number) VALUES ($1, $2, $3) RETURNING *",
        customer_id,
        provider,
        account_number,
    )
    return dict(row)


async def stored_text_bill(
    store: ArtifactStore, account_number: str, *, total: str = "75.00"
) -> tuple[str, ArtifactRef]:
    """A new job id and its text bill already in the store, as ``POST /bills`` leaves them (at the default
    total the bill goes to review; at its charges' "60.00" it succeeds). Written as the API writes it, to the
    store itself: one written through the worker's ``RecentArtifacts`` is vouched for there, and ``store_raw_bill``
    would not ask the store."""
    job_id = str(uuid.uuid4())
    api_store = store.wrapped if isinstance(store, RecentArtifacts) else store
    upload = await asyncio.to_thread(
        api_store.put_once,
        job_id=job_id,
        data=bill_text(account_number, total=total).encode(),
        content_type="text/plain",
        ext="txt",
        metadata={"job_id": job_id, "source": "upload"},
    )
    return job_id, upload


async def start_on_queue(
    *,
    pool: asyncpg.Pool,
    client: Client,
    settings: Settings,
    queue: str,
    account: dict[str, Any],
    upload: ArtifactRef | None = None,
    job_id: str | None = None,
) -> Job:
    """Record a job as the API does, and start its workflow on ``queue`` at once (no dispatcher)."""
    job, _ = await start_job(
        pool=pool,
        client=client,
        settings=settings.model_copy(update={"temporal_task_queue": queue}),
        principal=SYSTEM,
        account=account,
        job_type=JobType.UPLOAD if upload else JobType.CONNECTOR,
        idempotency_key=None,
        job_id=job_id,
        upload=upload,
    )
    return Job(id=str(job["id"]), handle=client.get_workflow_handle_for(BillIngestionWorkflow.run, job["workflow_id"]))


@dataclass
class StoredUpload:
    """A PG&E account and its text bill already in the store, as ``POST /bills`` leaves them: the job not started."""

    pool: asyncpg.Pool
    account: dict[str, Any]
    job_id: str
    upload: ArtifactRef

    async def start(self, *, client: Client, settings: Settings, queue: str) -> Job:
        """``start_on_queue`` for this upload."""
        return await start_on_queue(
            pool=self.pool,
            client=client,
            settings=settings,
            queue=queue,
            account=self.account,
            job_id=self.job_id,
            upload=self.upload,
        )


async def stored_upload(resources: Resources, unique: str, *, total: str = "75.00") -> StoredUpload:
    """A new account numbered for ``unique`` with its ``stored_text_bill`` (at the default total it goes to review)."""
    number = account_digits(unique)
    account = await create_account(resources.pool, provider=Provider.PGE, account_number=number)
    job_id, upload = await stored_text_bill(resources.store, number, total=total)
    return StoredUpload(resources.pool, account, job_id, upload)


async def history_events(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    return list((await handle.fetch_history()).events)


def attempts_by_activity(events: Sequence[HistoryEvent]) -> dict[str, int]:
    """The highest attempt each activity type reached (attempts are on the started events)."""
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    attempts: dict[str, int] = {}
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = e.activity_task_started_event_attributes
            name = scheduled[attrs.scheduled_event_id]
            attempts[name] = max(attempts.get(name, 0), attrs.attempt)
    return attempts


def patches(events: Sequence[HistoryEvent]) -> list[str]:
    """The patch ids the run recorded, in order (the marker's details are plain JSON, never encrypted)."""
    return [
        json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]


def last_failure(events: Sequence[HistoryEvent], activity_type: str) -> str:
    """The last failure message recorded on the started event of ``activity_type`` (retries keep it)."""
    scheduled = {
        e.event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == activity_type
    }
    for e in events:
        attrs = e.activity_task_started_event_attributes
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED and attrs.scheduled_event_id in scheduled:
            return attrs.last_failure.message
    return ""


async def job_row(pool: asyncpg.Pool, job_id: str) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", job_id)
    assert row is not None, job_id
    return dict(row)


@dataclass
class ActivityRun:
    activity_type: str
    attempt: int
    started: float
    ended: float | None = None
    error: str | None = None


class ActivityRecorder(temporal_client.Interceptor, Interceptor):
    """Observes every activity a worker runs (when, how it ended); changes nothing.

    Given to a ``Client``, it is used by every worker built on that client.
    """

    def __init__(self) -> None:
        self.runs: list[ActivityRun] = []

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Recording(next, self.runs)

    def of(self, activity_type: str) -> list[ActivityRun]:
        return [r for r in self.runs if r.activity_type == activity_type]


class _Recording(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, runs: list[ActivityRun]) -> None:
        super().__init__(next)
        self._runs = runs

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        run = ActivityRun(activity_type=info.activity_type, attempt=info.attempt, started=time.monotonic())
        self._runs.append(run)
        try:
            return await super().execute_activity(input)
        except BaseException as error:
            # The failure's type as Temporal names it: an ApplicationError's own, else the exception's class.
            run.error = error.type if isinstance(error, ApplicationError) and error.type else type(error).__name__
            raise
        finally:
            run.ended = time.monotonic()


@pytest.fixture()
def queue() -> str:
    return f"durable-{uuid.uuid4().hex[:10]}"
