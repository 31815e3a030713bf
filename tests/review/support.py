"""What the review tests share: bills that need review, decisions, and reading Temporal and the warehouse."""

from __future__ import annotations

import asyncio
import functools
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
import httpx
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError

from activities.storage import extension_for, record_artifact
from api.auth import Principal, Role
from api.services.jobs import start_job
from shared.artifacts import ArtifactStore
from shared.models import IngestionResult, JobStatus, JobType
from shared.review import CorrectionVerdict, ReviewDecision
from shared.settings import Settings
from tests.helpers import account_digits, bill_needing_review, bill_text, create_account, wait_until
from worker.main import MAX_CACHED_WORKFLOWS, build_worker, pipeline_activities
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow

T = TypeVar("T")

SYSTEM = Principal(key_id=0, name="review-tests", role=Role.ADMIN, customer_id=None)

# The bill of tests.helpers.bill_text reads: total 75.00, charges 40.00 + 20.00 = 60.00.
EXTRACTED_TOTAL = "75.00"
CORRECT_TOTAL = "60.00"


@dataclass
class Review:
    """A job waiting for a human, with the task as ``GET /reviews/{job_id}`` shows it."""

    job_id: str
    workflow_id: str
    customer_id: int
    task: dict[str, Any]

    @property
    def revision(self) -> str:
        return str(self.task["revision"])

    @property
    def bill(self) -> dict[str, Any]:
        bill: dict[str, Any] = self.task["bill"]
        return bill

    def corrected(self, **changes: Any) -> dict[str, Any]:
        """The extracted bill with a reviewer's changes (JSON form, amounts as strings)."""
        return {**self.bill, **changes}


async def open_review(http: httpx.AsyncClient, unique: str) -> Review:
    """Upload a bill whose total disagrees with its charges (session queue) and read its review task."""
    job = await bill_needing_review(http, unique)
    return Review(
        job_id=job["id"],
        workflow_id=job["workflow_id"],
        customer_id=job["customer_id"],
        task=await read_task(http, job["id"]),
    )


async def read_task(http: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    response = await http.get(f"/reviews/{job_id}")
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


async def start_upload_on_queue(
    *,
    http: httpx.AsyncClient,
    pool: asyncpg.Pool,
    store: ArtifactStore,
    client: Client,
    settings: Settings,
    unique: str,
) -> WorkflowHandle[Any, Any]:
    """What ``POST /bills`` does, but through ``start_job`` with ``settings`` (its queue and review timers)."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    job_id = str(uuid.uuid4())
    data = bill_text(number).encode()
    ref = await asyncio.to_thread(
        store.put_once,
        job_id=job_id,
        data=data,
        content_type="text/plain",
        ext=extension_for("text/plain"),
        metadata={"job_id": job_id, "provider": "pge", "source": "upload"},
    )
    job, created = await start_job(
        pool=pool,
        client=client,
        settings=settings,
        principal=SYSTEM,
        account=account,
        job_type=JobType.UPLOAD,
        idempotency_key=None,
        job_id=job_id,
        upload=ref,
    )
    assert created
    await record_artifact(pool, job_id, ref)
    return client.get_workflow_handle(job["workflow_id"])


@dataclass
class OwnQueue:
    """A test's own task queue: its worker runs with the test's timers and activities, unseen by the session's."""

    http: httpx.AsyncClient
    client: Client
    resources: Resources
    app_settings: Settings
    name: str
    unique: str

    def settings(self, *, sla: float = 3600, timeout: float = 7200) -> Settings:
        """A copy of the session settings on this queue with the test's review timers."""
        return self.app_settings.model_copy(
            update={
                "temporal_task_queue": self.name,
                "review_sla": timedelta(seconds=sla),
                "review_timeout": timedelta(seconds=timeout),
            }
        )

    @asynccontextmanager
    async def upload(
        self,
        settings: Settings,
        *,
        max_cached_workflows: int = MAX_CACHED_WORKFLOWS,
        activities: list[Callable[..., Any]] | None = None,
    ) -> AsyncIterator[WorkflowHandle[Any, Any]]:
        """Run a worker on this queue and start one upload there, so the job runs only on what the test set."""
        async with build_worker(
            self.client, self.resources, settings, max_cached_workflows=max_cached_workflows, activities=activities
        ):
            yield await start_upload_on_queue(
                http=self.http,
                pool=self.resources.pool,
                store=self.resources.store,
                client=self.client,
                settings=settings,
                unique=self.unique,
            )


async def result_of(client: Client, workflow_id: str, *, within: float = 30) -> IngestionResult:
    """The workflow's result, failing fast instead of hanging when it never finishes."""
    handle = client.get_workflow_handle(workflow_id, result_type=IngestionResult)
    return await asyncio.wait_for(handle.result(), timeout=within)


async def awaiting_review(handle: WorkflowHandle[Any, Any]) -> str:
    """Wait until the workflow itself (not just Postgres) awaits a decision; returns its revision."""

    async def revision() -> str | None:
        progress = await handle.query(BillIngestionWorkflow.progress)
        # current_step turns to awaiting_review once the task is recorded (status flips slightly earlier).
        waiting = progress.status is JobStatus.NEEDS_REVIEW and progress.current_step == "awaiting_review"
        return progress.review_revision if waiting else None

    return await wait_until(revision, within=30, what=f"{handle.id} awaiting review")


def replacing(
    resources: Resources, settings: Settings, by_name: dict[str, Callable[..., Any]]
) -> list[Callable[..., Any]]:
    """The worker's activities, some replaced by name (the replacement is ``activity.defn(name=...)``)."""
    kept = [fn for fn in pipeline_activities(resources, settings) if fn.__name__ not in by_name]
    return [*kept, *by_name.values()]


def real_activity(resources: Resources, settings: Settings, name: str) -> Callable[..., Any]:
    return next(fn for fn in pipeline_activities(resources, settings) if fn.__name__ == name)


@dataclass
class Held:
    """An activity a test holds open: ``reached`` is set once it is called, and it goes on once ``release`` is."""

    activity: Callable[..., Awaitable[Any]]
    reached: asyncio.Event
    release: asyncio.Event


def held(real: Callable[..., Awaitable[Any]], *, after_real: bool = False) -> Held:
    """``real`` held until released: before it runs, or (``after_real``) after it ran but before the workflow
    learns it completed. ``functools.wraps`` keeps its activity definition, so it replaces ``real`` by name."""
    _async_only(real)
    reached, release = asyncio.Event(), asyncio.Event()

    @functools.wraps(real)
    async def held_activity(*args: Any) -> Any:
        result = await real(*args) if after_real else None
        reached.set()
        await release.wait()
        return result if after_real else await real(*args)

    return Held(held_activity, reached, release)


@dataclass(frozen=True)
class HeldAtPublish:
    handle: WorkflowHandle[Any, Any]
    job_id: str
    revision: str
    publishing: Held


@asynccontextmanager
async def awaiting_review_with_publish_held(own_queue: OwnQueue, resources: Resources) -> AsyncIterator[HeldAtPublish]:
    """A job on the test's own queue that awaits a decision, and once decided stays RUNNING at its publish until
    ``publishing.release`` is set, as a warehouse outage would hold it."""
    settings = own_queue.settings()
    publishing = held(real_activity(resources, settings, "publish_analytics"))
    activities = replacing(resources, settings, {"publish_analytics": publishing.activity})
    async with own_queue.upload(settings, activities=activities) as handle:
        yield HeldAtPublish(handle, job_id_of(handle), await awaiting_review(handle), publishing)


def refusing(real: Callable[..., Awaitable[Any]], *, times: int | None = None) -> Callable[..., Awaitable[Any]]:
    """``real`` failing for good (non-retryable), as a step out of retries would: at every call, or at its first
    ``times`` calls in this worker and ``real`` itself after them. It replaces ``real`` by name."""
    _async_only(real)
    calls = 0

    @functools.wraps(real)
    async def refused(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if times is None or calls <= times:
            raise ApplicationError(f"{real.__name__} refused (injected)", non_retryable=True)
        return await real(*args)

    return refused


def _async_only(real: Callable[..., Any]) -> None:
    """The wrapper is async and keeps ``real``'s definition: a sync activity's would say sync, and the worker
    would run the wrapper in a thread, returning an un-awaited coroutine."""
    if not inspect.iscoroutinefunction(real):
        raise TypeError(f"{real.__name__} is a sync activity: hold or refuse an async one")


def job_id_of(handle: WorkflowHandle[Any, Any]) -> str:
    return handle.id.removeprefix("bill-ingestion-")


async def wait_for_job(pool: asyncpg.Pool, job_id: str, statuses: set[str], *, within: float = 30) -> dict[str, Any]:
    """The job row once its status is one of ``statuses`` (read from Postgres: no worker needed)."""

    async def row() -> dict[str, Any] | None:
        found = await pool.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", job_id)
        return dict(found) if found is not None and found["status"] in statuses else None

    return await wait_until(row, within=within, what=f"job {job_id} in {sorted(statuses)}")


async def wait_for_review_status(client: Client, workflow_id: str, status: str, *, within: float = 10) -> None:
    """Visibility lags behind upserts: poll ``ReviewStatus`` for this one workflow."""
    query = f'WorkflowId = "{workflow_id}" AND ReviewStatus = "{status}"'

    async def listed() -> bool:
        return any([w async for w in client.list_workflows(query)])

    await wait_until(listed, within=within, what=f"visibility query {query}")


async def history(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    return list((await handle.fetch_history()).events)


async def verdicts(client: Client, events: list[HistoryEvent]) -> list[CorrectionVerdict]:
    """What each ``check_corrected_bill`` returned, as recorded in history."""
    checks = {
        e.event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "check_corrected_bill"
    }
    found: list[CorrectionVerdict] = []
    for e in events:
        completed = e.activity_task_completed_event_attributes
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED and completed.scheduled_event_id in checks:
            [verdict] = await client.data_converter.decode(completed.result.payloads, [CorrectionVerdict])
            found.append(verdict)
    return found


def timer_seconds(events: list[HistoryEvent]) -> list[float]:
    """The durations of the timers the run started, in order (review SLA, then expiry)."""
    return [
        e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
        for e in events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]


def activity_names(events: list[HistoryEvent]) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def decisions_in_history(client: Client, events: list[HistoryEvent]) -> list[tuple[str, ReviewDecision]]:
    """Every decision the workflow accepted into its history: ("update" | "signal", decoded decision)."""
    found: list[tuple[str, ReviewDecision]] = []
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = e.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name == "submit_review":
                [decision] = await client.data_converter.decode(request.input.args.payloads, [ReviewDecision])
                found.append(("update", decision))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signal = e.workflow_execution_signaled_event_attributes
            if signal.signal_name == "review_decision":
                [decision] = await client.data_converter.decode(signal.input.payloads, [ReviewDecision])
                found.append(("signal", decision))
    return found


async def analytics_rows(
    settings: Settings, job_id: str, columns: str = "bill_id, job_id, total_amount"
) -> list[dict[str, Any]]:
    """The job's rows in ``normalized_bills_latest`` (what dashboards and rollups read)."""
    return await _warehouse_rows(settings, columns, "normalized_bills_latest", job_id)


async def analytics_line_items(settings: Settings, job_id: str) -> list[dict[str, Any]]:
    """The job's rows in ``bill_line_items_latest``, in the bill's order."""
    return await _warehouse_rows(settings, "line_no, description", "bill_line_items_latest", job_id, "line_no")


async def _warehouse_rows(
    settings: Settings, columns: str, view: str, job_id: str, order: str = "bill_id"
) -> list[dict[str, Any]]:
    host = settings.bigquery_emulator_host
    assert host is not None, "the session settings point BigQuery at the emulator"
    bq = bigquery.Client(
        project=settings.gcp_project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=host if "://" in host else f"http://{host}"),
    )
    sql = (
        f"SELECT {columns} FROM `{settings.gcp_project}.{settings.bq_dataset}.{view}`"
        f" WHERE job_id = @job_id ORDER BY {order}"
    )
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("job_id", "STRING", job_id)])

    def run() -> list[dict[str, Any]]:
        return [dict(row.items()) for row in bq.query(sql, job_config=config).result(timeout=30)]

    return await asyncio.to_thread(run)
