"""Start ingestion jobs idempotently, and read them back."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import ValidationError
from temporalio.client import Client, WorkflowQueryRejectedError
from temporalio.common import QueryRejectCondition
from temporalio.service import RPCError

from api.auth import Principal
from api.problems import Problem, ProblemCode
from api.review_reasons import reason_details
from api.schemas import JobPublic
from api.services.dispatch import JobDispatcher, start_ingestion
from api.services.error_text import ErrorShown, error_shown_to, hide_server_paths
from api.services.id_cursor import cursor_of_another_scope, not_a_cursor
from api.services.reconcile import JobReconciler
from api.services.retries import pending_on_server, pending_steps, with_retries
from api.services.reviewer_names import ReviewerShown, reviewer_shown, reviewers_shown_to
from shared.bill import NormalizedBill, Provider
from shared.models import ArtifactRef, IngestionRequest, JobProgress, JobStatus, JobType, StepRecord
from shared.settings import Settings
from shared.temporal import web_ui_link, workflow_id_for
from workflows.bill_ingestion import BillIngestionWorkflow

logger = logging.getLogger(__name__)


def cursor_scope(listing: str, **filters: object) -> str:
    """A digest of the list and the filters a cursor pages, which it carries: another list's cursor, or one of the
    same list under other filters, read as a place in this one and gave a page of something else."""
    text = "|".join([listing, *(f"{name}={filters[name]}" for name in sorted(filters))])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class JobCursor:
    """Where a page ended, by the (created_at, job id) it is ordered by: the next page starts after it.

    ``GET /jobs`` (newest first) and ``GET /reviews`` (oldest task first) page with it, each cursor bound to its
    list and filters (``scope``, from ``cursor_scope``)."""

    created_at: datetime
    job_id: uuid.UUID
    scope: str

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.created_at.isoformat()}|{self.job_id}|{self.scope}".encode()).decode()

    @classmethod
    def decode(cls, cursor: str, scope: str) -> JobCursor:
        """The place ``cursor`` names in the list and filters of ``scope``; a cursor of a release before scopes
        (two parts) is taken as it was, so a client paging through a deployment is not cut short."""
        try:
            stamp, job_id, *given = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
            created_at = datetime.fromisoformat(stamp)
            if created_at.tzinfo is None:
                raise ValueError("a cursor's time is in UTC")
            # in UTC here, where a forged one out of range is refused, not in the driver (a 500)
            found = cls(created_at=created_at.astimezone(UTC), job_id=uuid.UUID(job_id), scope=scope)
        except (ValueError, OverflowError, UnicodeError, binascii.Error):
            raise not_a_cursor() from None
        if given and given != [scope]:
            raise cursor_of_another_scope()
        return found


REUSED_KEY = "this Idempotency-Key was already used for a different request"


def idempotency_scope(principal: Principal) -> str:
    """Idempotency keys are scoped per API key: two callers never collide."""
    return f"key:{principal.key_id}"


UPLOAD_JOB_IDS = uuid.UUID("5d0f6c1e-3b1a-4f59-9a53-2f0c8e7b4a10")
"""The namespace of ``upload_job_id``'s name-based ids."""


def upload_job_id(principal: Principal, idempotency_key: str | None) -> str:
    """The job id of an upload: under an Idempotency-Key, the same for every request that sends it.

    The bill is stored under its job's id before the job row exists. With a fresh id per request,
    two sent side by side (a client retrying a timeout) stored it twice, and the loser's object was
    left behind, referenced by nothing; with this one they write the same create-once object. The
    key's hash is in it so a new database's key number 1 never meets the ids of an old one's; with
    no key hash (``AUTH_DISABLED``) the id would repeat after a database reset, and its job would
    find the old, closed workflow instead of a run of its own: a fresh id then."""
    if idempotency_key is None or not principal.key_hash:
        return str(uuid.uuid4())
    return str(uuid.uuid5(UPLOAD_JOB_IDS, f"{principal.key_id}:{principal.key_hash}:{idempotency_key}"))


JOB_BY_IDEMPOTENCY_KEY = "SELECT * FROM ingestion_jobs WHERE idempotency_scope = $1 AND idempotency_key = $2"
"""The Idempotency-Key's job: looked up by every keyed upload, by a keyed start its insert did not record (a refusal,
a replay, a race, or past the budget), and by any start whose insert conflicts (``api.warm_pool`` prepares it on each
pooled connection)."""


async def find_idempotent_job(pool: asyncpg.Pool, *, principal: Principal, key: str | None) -> dict[str, Any] | None:
    if key is None:
        return None
    row = await pool.fetchrow(JOB_BY_IDEMPOTENCY_KEY, idempotency_scope(principal), key)
    return dict(row) if row else None


def check_replay(
    existing: dict[str, Any], *, account: dict[str, Any], job_type: JobType, upload_sha256: str | None = None
) -> None:
    """An Idempotency-Key answers again only for the request it was first used with (an upload: the same file)."""
    if existing["utility_account_id"] != account["id"] or existing["job_type"] != job_type:
        raise Problem(422, REUSED_KEY, code=ProblemCode.IDEMPOTENCY_KEY_REUSED)
    first_upload = (existing.get("start_request") or {}).get("upload") or {}
    if upload_sha256 is not None and first_upload.get("sha256") not in (None, upload_sha256):
        raise Problem(
            422,
            "this Idempotency-Key was already used to upload a different file",
            code=ProblemCode.IDEMPOTENCY_KEY_REUSED,
        )


def ingestion_request(
    settings: Settings,
    *,
    job_id: str,
    account: Mapping[str, Any],
    job_type: JobType,
    upload: ArtifactRef | None = None,
) -> IngestionRequest:
    """A job's workflow input, as its row stores it (``start_request``) for the dispatcher to start it with."""
    return IngestionRequest(
        job_id=job_id,
        customer_id=account["customer_id"],
        utility_account_id=account["id"],
        provider=Provider(account["provider"]) if account["provider"] else None,
        job_type=job_type,
        upload=upload,
        review_sla_seconds=int(settings.review_sla.total_seconds()),
        review_timeout_seconds=int(settings.review_timeout.total_seconds()),
    )


INSERT_JOB = """
    INSERT INTO ingestion_jobs (id, customer_id, utility_account_id, workflow_id, job_type, status,
                                idempotency_scope, idempotency_key, start_request, dispatched_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $10 THEN now() END)
    ON CONFLICT DO NOTHING  -- any: an upload's id derives from its key, so its twin conflicts on both
    RETURNING *
"""
"""An upload's insert, and a connector start's where ``START_CONNECTOR_JOB`` took nothing (``api.warm_pool`` runs it
on each pooled connection, rolled back)."""


async def insert_job(
    db: asyncpg.Pool | asyncpg.Connection,
    request: IngestionRequest,
    *,
    scope: str | None = None,
    idempotency_key: str | None = None,
    dispatched: bool = False,
) -> asyncpg.Record | None:
    """The PENDING row of the job ``request`` starts (``INSERT_JOB``), or None where its id or key is taken;
    ``dispatched`` when its workflow is started here, not by the dispatcher."""
    return await db.fetchrow(
        INSERT_JOB,
        request.job_id,
        request.customer_id,
        request.utility_account_id,
        workflow_id_for(request.job_id),
        request.job_type,
        JobStatus.PENDING,
        scope,
        idempotency_key,
        request.model_dump(mode="json"),
        dispatched,
    )


def log_created(job: dict[str, Any], principal: Principal, *, sha256: str | None = None) -> None:
    """A job's first log line, saying who created it and for what: its story began with the dispatcher's batch
    (``job_ids``), its creator said nowhere (a support engineer's probe, 75A). DEBUG: on the start's path, at INFO it
    cost a start 2-4 ms at p50 with 32 clients (the bench, A/B, session 75), where the p99 is a target."""
    logger.debug(
        "job created",
        extra={
            "job_id": str(job["id"]),
            "workflow_id": job["workflow_id"],
            "step": "create_job",
            "job_type": job["job_type"],
            "utility_account_id": job["utility_account_id"],
            "key_id": principal.key_id,
            "sha256": sha256,
        },
    )


def _task_bill(stored: dict[str, Any] | None) -> NormalizedBill | None:
    """A review task's bill, for a reason's sums; None where an earlier release stored one this one does not read (the
    reasons' words stand without their sums)."""
    try:
        return NormalizedBill.model_validate(stored) if stored is not None else None
    except ValidationError:
        return None


async def start_job(
    *,
    pool: asyncpg.Pool,
    client: Client,
    settings: Settings,
    principal: Principal,
    account: dict[str, Any],
    job_type: JobType,
    idempotency_key: str | None,
    job_id: str | None = None,
    upload: ArtifactRef | None = None,
    dispatcher: JobDispatcher | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record the job and have its workflow started; returns (job row, created now).

    With a ``dispatcher`` (the API) the row is the whole answer: the dispatcher starts
    the workflow when there is room. Without one the workflow is started here, before
    returning, on ``settings``' task queue (tests and tools that run their own worker).

    The same Idempotency-Key returns the same job and never a second workflow:
    the row is unique per (key scope, key), and the workflow id derives from the
    job id with REJECT_DUPLICATE, so a retried start after a crash is also safe.
    """
    job_id = job_id or str(uuid.uuid4())
    scope = idempotency_scope(principal) if idempotency_key else None
    request = ingestion_request(settings, job_id=job_id, account=account, job_type=job_type, upload=upload)
    row = await insert_job(pool, request, scope=scope, idempotency_key=idempotency_key, dispatched=dispatcher is None)
    created = row is not None
    if row is None:
        existing = await find_idempotent_job(pool, principal=principal, key=idempotency_key)
        if existing is None:  # every id derives from a fresh uuid or from the key: only the key can clash
            raise RuntimeError(f"job {job_id} conflicted with a row that is not its Idempotency-Key's")
        check_replay(existing, account=account, job_type=job_type, upload_sha256=upload.sha256 if upload else None)
        job = existing
    else:
        job = dict(row)
        log_created(job, principal, sha256=upload.sha256 if upload else None)
    if dispatcher is not None:
        # The first try woke its process's dispatcher (any other finds the job within IDLE_POLL_SECONDS):
        # a flood of retries must not start a dispatch round each.
        if created:
            dispatcher.wake()
    elif created or job["status"] == JobStatus.PENDING:
        # Rows from before migration 0004 carry no stored input: rebuild it for that job, not this one.
        stored = job["start_request"]
        start = (
            IngestionRequest.model_validate(stored) if stored else request.model_copy(update={"job_id": str(job["id"])})
        )
        await start_ingestion(client, settings, workflow_id=job["workflow_id"], request=start)
    return job, created


JOB_COLUMNS = (
    "*, (SELECT r.replaced_by_job FROM bill_revisions r WHERE r.job_id = ingestion_jobs.id"
    " ORDER BY r.replaced_at DESC LIMIT 1) AS revised_by"
)
"""A job row as the API reads it: with the job whose re-issued statement replaced the bill it stored, if any."""


async def get_job_row(pool: asyncpg.Pool, *, principal: Principal, job_id: str) -> dict[str, Any]:
    """The job row, or 404 when unknown, malformed or another customer's."""
    try:
        key = uuid.UUID(job_id)  # any spelling uuid accepts ({…}, urn:uuid:…), passed on parsed
    except ValueError:
        raise Problem(404, f"job {job_id} not found", code=ProblemCode.NOT_FOUND) from None
    row = await pool.fetchrow(f"SELECT {JOB_COLUMNS} FROM ingestion_jobs WHERE id = $1", key)
    if row is None or not principal.can_see_customer(row["customer_id"]):
        raise Problem(404, f"job {job_id} not found", code=ProblemCode.NOT_FOUND)
    return dict(row)


PROGRESS_QUERY_TIMEOUT = timedelta(seconds=2)
"""A query waits for a worker to answer it: with none running (a restart, an outage) it would hold
``GET /jobs/{id}`` for the server's 30 s, where the stored steps answer at once."""


async def live_progress(client: Client, workflow_id: str) -> JobProgress | None:
    """The running workflow's own view of its steps (a query, not a long poll); None: use the stored ones.

    Raises ``WorkflowQueryRejectedError`` when the workflow is closed: a job row still open then was
    ended from outside (a closed workflow would otherwise answer, replayed, as if it still waited)."""
    querying = client.get_workflow_handle(workflow_id).query(
        BillIngestionWorkflow.progress,
        reject_condition=QueryRejectCondition.NOT_OPEN,
        rpc_timeout=PROGRESS_QUERY_TIMEOUT,
    )
    try:
        # rpc_timeout bounds each try; the client tries an unreachable server again for ~10 s in all.
        return await asyncio.wait_for(querying, PROGRESS_QUERY_TIMEOUT.total_seconds())
    except WorkflowQueryRejectedError:
        raise
    except (RPCError, TimeoutError):
        return None
    except Exception:  # noqa: BLE001 - a query that fails must not fail the read
        logger.warning("progress query failed", extra={"workflow_id": workflow_id})
        return None


def job_public(
    row: dict[str, Any],
    settings: Settings,
    progress: JobProgress | None = None,
    *,
    principal: Principal,
    reviewers: ReviewerShown | None = None,
) -> JobPublic:
    """The job as ``principal`` may read it: its errors and note as ``error_shown_to`` that key, its reviewer as
    ``reviewers`` (``job_shown``'s; none: a customer's key is told ``STAFF_REVIEWER``); to a customer's key its raw
    bill by the API's link and no Web UI link (README: reachable from the host or behind SSO alone)."""
    shown = error_shown_to(principal.customer_id)
    steps = [_step_shown(step, shown) for step in (progress.steps if progress else row["steps"])]
    customer_bound = principal.customer_id is not None
    return JobPublic(
        id=str(row["id"]),
        status=row["status"],
        customer_id=row["customer_id"],
        utility_account_id=row["utility_account_id"],
        job_type=row["job_type"],
        workflow_id=row["workflow_id"],
        web_ui_url=None if customer_bound else web_ui_link(settings, row["workflow_id"]),
        attempts=row["attempts"],
        error=shown(row["error"]),
        reasons=row["reasons"] or [],
        current_step=progress.current_step if progress else None,
        steps=steps,
        result=_result_shown(
            row["result"],
            shown,
            reviewers or reviewer_shown(principal),
            artifact_linked_to=row["id"] if customer_bound else None,
            raw_bill_readable=principal.reads_raw_bills,
        ),
        revised_by=str(row["revised_by"]) if row.get("revised_by") else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        duration_ms=row["duration_ms"],
    )


async def job_shown(
    pool: asyncpg.Pool,
    row: dict[str, Any],
    settings: Settings,
    progress: JobProgress | None = None,
    *,
    principal: Principal,
) -> JobPublic:
    """``job_public``, its reviewer looked up (``reviewers_shown_to``): a customer's own reviewer is named."""
    reviewers = await reviewers_shown_to(pool, principal, [reviewer_of(row)])
    return job_public(row, settings, progress, principal=principal, reviewers=reviewers)


def reviewer_of(row: dict[str, Any]) -> str | None:
    """Who decided the job's review, as its result records them (None: nobody did, or it has not ended)."""
    reviewer = (row["result"] or {}).get("reviewer")
    return reviewer if isinstance(reviewer, str) else None


def _step_shown(step: StepRecord | dict[str, Any], shown: ErrorShown) -> StepRecord | dict[str, Any]:
    """A step (the workflow's, or stored) with its error ``shown``, as the job's own error is."""
    if isinstance(step, StepRecord):
        error = step.attempt_error
        return step.model_copy(update={"attempt_error": shown(error)}) if error else step
    return {**step, "attempt_error": shown(step["attempt_error"])} if step.get("attempt_error") else step


def artifact_link(job_id: uuid.UUID | str, sha256: str | None = None) -> str:
    """The link to a job's raw bill named by its hash, or without one to its newest."""
    url = f"/jobs/{job_id}/artifact"
    return f"{url}?sha256={sha256}" if sha256 else url


def _result_shown(
    result: dict[str, Any] | None,
    shown: ErrorShown,
    reviewers: ReviewerShown,
    *,
    artifact_linked_to: uuid.UUID | str | None,
    raw_bill_readable: bool,
) -> dict[str, Any] | None:
    """The result as callers see it: a raw bill stored on the server's disk (``ARTIFACT_STORE=local``) by its object
    name ("local:raw/bills/<job>/<sha256>.pdf"), never the server's directory, which any key could read there; with
    ``artifact_linked_to`` (a customer's key), by the API's link to that job's, never the bucket's name and layout,
    and by none where the key's role may not open it (a viewer's: the link answered 403); its error and note
    ``shown``, its reviewer as ``reviewers`` name them."""
    if result is None:
        return None
    shown_result = dict(result)
    for name, show in (("error", shown), ("note", shown), ("reviewer", reviewers)):
        if isinstance(result.get(name), str):
            shown_result[name] = show(result[name])
    artifact = shown_result.get("artifact")
    if isinstance(artifact, dict) and isinstance(artifact.get("uri"), str):
        uri: str | None = hide_server_paths(artifact["uri"])
        if artifact_linked_to is not None:
            uri = artifact_link(artifact_linked_to, artifact.get("sha256")) if raw_bill_readable else None
        shown_result["artifact"] = artifact | {"uri": uri}
    return shown_result


async def read_job(
    pool: asyncpg.Pool,
    client: Client,
    settings: Settings,
    *,
    principal: Principal,
    job_id: str,
    reconciler: JobReconciler,
) -> JobPublic:
    row = await get_job_row(pool, principal=principal, job_id=job_id)
    progress = None
    if not JobStatus(row["status"]).is_terminal:
        on_server = asyncio.create_task(pending_on_server(client, row["workflow_id"]))  # beside the query, not after it
        try:
            progress = await live_progress(client, row["workflow_id"])
        except WorkflowQueryRejectedError:
            on_server.cancel()
            # Closed: ended from outside (recorded now), or it finished after the row was read. Either way the
            # row read again is the job's truth.
            await reconciler.record_if_ended(row)
            row = await get_job_row(pool, principal=principal, job_id=job_id)
        else:
            held = await on_server
            if progress is not None and held.activities:
                progress = progress.model_copy(update={"steps": with_retries(progress.steps, held.activities)})
            elif progress is None and (pending := pending_steps(held)):  # no answer: the server's pending steps
                progress = JobProgress(
                    job_id=str(row["id"]),
                    status=row["status"],
                    current_step=pending[-1].name,
                    steps=[*(StepRecord.model_validate(step) for step in row["steps"] or []), *pending],
                )
    job = await job_shown(pool, row, settings, progress, principal=principal)
    if job.reasons:  # with the task's bill, for the sums a reason is about
        task_bill = await pool.fetchval("SELECT bill FROM review_tasks WHERE job_id = $1", row["id"])
        job.reason_details = reason_details(job.reasons, _task_bill(task_bill))
    return job
