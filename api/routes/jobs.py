"""Ingestion jobs: start one (idempotently), read one, list them, fetch the raw bill."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated
from urllib.parse import urlsplit

import asyncpg
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import iterate_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from activities.storage import extension_for
from api.deps import (
    ArtifactReaderDep,
    IdempotencyKey,
    IdFilter,
    IdQuery,
    IngestDep,
    PageCursor,
    PageLimit,
    ReaderDep,
    StateDep,
    refund_rate_limit_token,
    spend_rate_limit_token,
)
from api.locations import CREATED_LOCATION, answer_created
from api.problems import STORAGE_RETRY_AFTER, Problem, ProblemCode, problem_responses
from api.role_first import AuthorizeBeforeBody
from api.schemas import JobCreate, JobPage, JobPublic, Moment
from api.services.connector_jobs import (
    START_JOB_ACTION,
    checked_account,
    start_connector_job,
    start_connector_job_for_a_token,
)
from api.services.jobs import (
    JOB_COLUMNS,
    JobCursor,
    cursor_scope,
    get_job_row,
    job_public,
    job_shown,
    read_job,
    reviewer_of,
)
from api.services.reviewer_names import reviewers_shown_to
from extraction.document import TEXT, charset_of
from shared.artifacts import ArtifactNotFound, ArtifactStoreUnavailable, InvalidArtifactName
from shared.models import JobStatus, JobType

logger = logging.getLogger(__name__)

router = APIRouter(tags=["jobs"], route_class=AuthorizeBeforeBody)

CHARSET_SAMPLE_BYTES = 1024 * 1024
"""How much of a text bill is read to name its charset before the first byte is sent: any real bill whole
(a dense page is a few kilobytes, and extraction refuses more than ``MAX_INK_CHARS`` non-blank characters),
of a larger file its beginning, so a view holds this much in memory, never the whole upload limit."""


async def _start(
    state: StateDep,
    principal: IngestDep,
    request: Request,
    response: Response,
    account_id: int,
    idempotency_key: str | None,
) -> JobPublic:
    if state.settings.rate_limit_per_minute > 0:
        # One statement reads the account, meets the key's job, takes the token and records the job
        # (api.services.connector_jobs). Whatever it did not start is answered below, as before it: the account's
        # checks first, so a refusal or a retry spends no token and a key reused for another request is a 422
        # before any. Without a budget (a gateway limits, or the benchmark) the insert reads the account itself.
        started, spent = await start_connector_job_for_a_token(
            pool=state.pool,
            settings=state.settings,
            principal=principal,
            account_id=account_id,
            idempotency_key=idempotency_key,
            dispatcher=state.dispatcher,
            action=START_JOB_ACTION,
        )
        if started is not None:
            return _created(request, response, job_public(started, state.settings, principal=principal))
        if spent:  # the key's first try recorded its job meanwhile: this request, a retry, pays nothing
            await refund_rate_limit_token(state, principal=principal, action=START_JOB_ACTION)
        _, replayed = await checked_account(
            state.pool, state.settings, principal=principal, account_id=account_id, key=idempotency_key
        )
        if replayed is not None:
            response.status_code = status.HTTP_200_OK  # answered here, as POST /bills does
            return await job_shown(state.pool, replayed, state.settings, principal=principal)
    spent = await spend_rate_limit_token(
        state, principal=principal, action=START_JOB_ACTION, idempotency_key=idempotency_key
    )
    try:
        job, created = await start_connector_job(
            pool=state.pool,
            client=state.client,
            settings=state.settings,
            principal=principal,
            account_id=account_id,
            idempotency_key=idempotency_key,
            dispatcher=state.dispatcher,
        )
    except Problem:  # the account refused (404, 422), or the key's first request was for another: nothing started
        if spent:
            await refund_rate_limit_token(state, principal=principal, action=START_JOB_ACTION)
        raise
    if spent and not created:  # a retry (with a rate limit, one sent before its first try answered): the first paid
        await refund_rate_limit_token(state, principal=principal, action=START_JOB_ACTION)
    if not created:
        response.status_code = status.HTTP_200_OK
        return await job_shown(state.pool, job, state.settings, principal=principal)
    return _created(request, response, job_public(job, state.settings, principal=principal))


def _created(request: Request, response: Response, job: JobPublic) -> JobPublic:
    answer_created(request, response, f"/jobs/{job.id}")
    return job


@router.post(
    "/jobs",
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    responses={
        200: {"model": JobPublic, "description": "the job already started with this Idempotency-Key"},
        **problem_responses(429),
        **CREATED_LOCATION,
    },
)
async def create_job(
    body: JobCreate,
    state: StateDep,
    principal: IngestDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobPublic:
    """Start ingesting the latest bill of a utility account; returns the job at once."""
    return await _start(state, principal, request, response, body.utility_account_id, idempotency_key)


@router.post(
    "/agent/run",
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    responses={200: {"model": JobPublic}, **problem_responses(429), **CREATED_LOCATION},
)
async def agent_run(
    utility_account_id: IdQuery,
    state: StateDep,
    principal: IngestDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobPublic:
    """Kept from the original service: same as ``POST /jobs``, the account in the query string. A body is refused:
    ``{"utility_account_id": 4}`` beside ``?utility_account_id=1`` started a job for account 1 (an integrator's
    probe, 69A)."""
    if await request.body():
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("body",),
                    "msg": "POST /agent/run reads the account from ?utility_account_id= and takes no body"
                    " (POST /jobs takes it in a JSON body)",
                    "input": None,
                }
            ]
        )
    return await _start(state, principal, request, response, utility_account_id, idempotency_key)


@router.post(
    "/ingest/run",
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    responses={200: {"model": JobPublic}, **problem_responses(429), **CREATED_LOCATION},
)
async def ingest_run(
    body: JobCreate,
    state: StateDep,
    principal: IngestDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobPublic:
    """Kept from the original service: same as ``POST /jobs``."""
    return await _start(state, principal, request, response, body.utility_account_id, idempotency_key)


@router.get("/jobs/{job_id}", response_model=JobPublic)
async def get_job(job_id: str, state: StateDep, principal: ReaderDep) -> JobPublic:
    """Status, steps (live while running), result, workflow id and Web UI link."""
    return await read_job(
        state.pool, state.client, state.settings, principal=principal, job_id=job_id, reconciler=state.reconciler
    )


@router.get("/agent/result/{job_id}", response_model=JobPublic)
async def agent_result(job_id: str, state: StateDep, principal: ReaderDep) -> JobPublic:
    """Kept from the original service: same as ``GET /jobs/{job_id}``."""
    return await read_job(
        state.pool, state.client, state.settings, principal=principal, job_id=job_id, reconciler=state.reconciler
    )


@router.get("/jobs", response_model=JobPage, responses=problem_responses(422))
async def list_jobs(
    state: StateDep,
    principal: ReaderDep,
    status_filter: Annotated[
        list[JobStatus] | None,
        Query(alias="status", description="repeat for several: ?status=FAILED&status=NEEDS_REVIEW"),
    ] = None,
    customer_id: IdFilter = None,
    utility_account_id: IdFilter = None,
    job_type: Annotated[
        list[JobType] | None,
        Query(description="repeat for several: ?job_type=reopen lists the stored bills reviewers reopened"),
    ] = None,
    created_before: Annotated[
        Moment | None,
        Query(
            description="only jobs created before this time (ISO 8601 with its zone): ?status=RUNNING&created_before="
            " an hour ago lists the jobs that may be stuck"
        ),
    ] = None,
    created_after: Annotated[Moment | None, Query(description="only jobs created at or after this time")] = None,
    limit: PageLimit = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    cursor: PageCursor = None,
) -> JobPage:
    """Jobs, newest first, filtered by status (any of several), customer, utility account, type (any of several) and
    when they were created (scoped keys see their own).

    Page with ``cursor`` (each page's ``next_cursor``) rather than ``offset`` while jobs are being
    created: an offset counts from the newest job, so every new one shifts the pages after it.
    """
    if cursor is not None and offset:
        raise Problem(422, "send either cursor or offset, not both", code=ProblemCode.CURSOR_AND_OFFSET)
    # Several statuses (?status=FAILED&status=NEEDS_REVIEW) are any of them: FastAPI took the last one alone.
    statuses = sorted({status.value for status in status_filter}) if status_filter else None
    types = sorted({kind.value for kind in job_type}) if job_type else None
    # The account only when given: a cursor of the unfiltered list, made before this filter, keeps its scope.
    if created_before is not None and created_after is not None and created_after >= created_before:
        raise Problem(
            422,
            "created_after must be earlier than created_before: no job is created in that window",
            code=ProblemCode.EMPTY_TIME_WINDOW,
        )
    narrowed = {
        name: value
        for name, value in (
            ("utility_account_id", utility_account_id),
            ("job_type", types and ",".join(types)),
            ("created_before", created_before and created_before.isoformat()),
            ("created_after", created_after and created_after.isoformat()),
        )
        if value is not None
    }
    scope = cursor_scope("jobs", status=statuses, customer_id=customer_id, **narrowed)
    after = JobCursor.decode(cursor, scope) if cursor is not None else None
    visible, customer_id = principal.list_filter(customer_id)
    if not visible:
        return JobPage(items=[], total=0, limit=limit, offset=offset)
    where = (
        "($1::text[] IS NULL OR status = ANY($1)) AND ($2::bigint IS NULL OR customer_id = $2)"
        " AND ($3::bigint IS NULL OR utility_account_id = $3)"
        " AND ($4::timestamptz IS NULL OR created_at < $4) AND ($5::timestamptz IS NULL OR created_at >= $5)"
        " AND ($6::text[] IS NULL OR job_type = ANY($6))"
    )
    filters = (statuses, customer_id, utility_account_id, created_before, created_after, types)
    total = await state.pool.fetchval(f"SELECT count(*) FROM ingestion_jobs WHERE {where}", *filters)
    rows = await state.pool.fetch(
        f"SELECT {JOB_COLUMNS} FROM ingestion_jobs WHERE {where}"
        " AND ($9::timestamptz IS NULL OR (created_at, id) < ($9, $10::uuid))"
        " ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8",
        *filters,
        limit + 1,  # one more says whether a next page has any: a full last page offers none
        offset,
        after.created_at if after else None,
        after.job_id if after else None,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    jobs = [dict(r) for r in rows]
    reviewers = await reviewers_shown_to(state.pool, principal, [reviewer_of(job) for job in jobs])
    return JobPage(
        items=[job_public(job, state.settings, principal=principal, reviewers=reviewers) for job in jobs],
        total=total,
        limit=limit,
        offset=offset,
        next_cursor=JobCursor(created_at=last["created_at"], job_id=last["id"], scope=scope).encode() if last else None,
    )


@router.get(
    "/jobs/{job_id}/artifact",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/pdf": {}, "image/png": {}, "image/jpeg": {}, "text/plain": {}}},
        **problem_responses(503),
    },
)
async def get_artifact(
    job_id: str,
    state: StateDep,
    principal: ArtifactReaderDep,
    sha256: Annotated[
        str | None,
        Query(
            pattern="^[0-9a-fA-F]{64}$",
            description="which of the job's stored bills (a reset run may have fetched another), in hex of either"
            " case; the newest if omitted",
        ),
    ] = None,
) -> StreamingResponse:
    """Stream a stored raw bill with its content type."""
    job = await get_job_row(state.pool, principal=principal, job_id=job_id)
    sha256 = sha256.lower() if sha256 else None  # a client's sha256sum in capitals was refused with a bare pattern
    row = await _stored_bill(state.pool, job["id"], sha256)
    if row is None:
        raise Problem(
            404,
            f"job {job_id} has no stored bill {sha256}" if sha256 else f"job {job_id} has no stored bill yet",
            code=ProblemCode.STORED_BILL_UNAVAILABLE,
        )
    text = row["content_type"] == TEXT
    chunks = state.store.iter_chunks(row["uri"])
    try:  # the first chunk before the 200: a missing object is a 404, not a cut-off download
        # Of a text bill, enough to name its charset in the header (all of it, unless it is huge).
        first = await asyncio.to_thread(_head, chunks, CHARSET_SAMPLE_BYTES if text else 1)
    except ArtifactNotFound:
        # An operator's matter (a lifecycle rule, a hand deletion, a bucket restored): it surfaced only to whoever
        # clicked the link, and a task, a reopening and a correction went on without the bill (77C).
        logger.warning("stored bill missing from object storage", extra={"job_id": str(job["id"]), "uri": row["uri"]})
        raise Problem(
            404, f"job {job_id}'s stored bill is no longer in object storage", code=ProblemCode.STORED_BILL_UNAVAILABLE
        ) from None
    except InvalidArtifactName:  # stored before GCS_BUCKET or ARTIFACT_STORE changed
        logger.warning("stored bill outside the configured store", extra={"job_id": str(job["id"]), "uri": row["uri"]})
        raise Problem(
            404,
            f"job {job_id}'s stored bill is in {_store_of(row['uri'])}, not in the object store this deployment"
            " is configured with (GCS_BUCKET or ARTIFACT_STORE changed since): an operator can copy it over",
            code=ProblemCode.STORED_BILL_UNAVAILABLE,
        ) from None
    except ArtifactStoreUnavailable:
        raise Problem(
            503,
            "object storage is unavailable: try again shortly",
            headers={"Retry-After": STORAGE_RETRY_AFTER},
            code=ProblemCode.STORAGE_UNAVAILABLE,
        ) from None
    # Named, the raw-bill pane shows the text the rules read, where Starlette's default, UTF-8, would
    # garble every accented letter of a Latin-1 bill.
    media_type = f"{TEXT}; charset={await asyncio.to_thread(charset_of, first)}" if text else row["content_type"]
    return StreamingResponse(
        _prepended(first, iterate_in_threadpool(chunks)),
        media_type=media_type,
        headers={
            "Content-Length": str(row["size"]),
            # With its extension: a reviewer who saves the bill gets a file their system opens.
            "Content-Disposition": f'inline; filename="bill-{job["id"]}.{extension_for(row["content_type"])}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


async def _stored_bill(pool: asyncpg.Pool, job_id: uuid.UUID, sha256: str | None) -> asyncpg.Record | None:
    """The named bill, or the newest: an operator's reset re-fetches, and the reset run reads what it fetched."""
    return await pool.fetchrow(
        "SELECT uri, content_type, size FROM artifacts WHERE job_id = $1 AND ($2::text IS NULL OR sha256 = $2)"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
        job_id,
        sha256,
    )


def _store_of(uri: str) -> str:
    """Where a stored bill lives, without its path: a bucket name, never a directory of the server's."""
    parsed = urlsplit(uri)
    if parsed.scheme == "gs":
        return f"gs://{parsed.netloc}"
    if parsed.scheme == "file":
        return "a local directory (ARTIFACT_STORE=local)"
    return "another store"


def _head(chunks: Iterator[bytes], size: int) -> bytes:
    """The first chunks, joined, up to at least ``size`` bytes (all of a smaller object); the rest stay unread."""
    head: list[bytes] = []
    read = 0
    for chunk in chunks:
        head.append(chunk)
        read += len(chunk)
        if read >= size:
            break
    return b"".join(head)


async def _prepended(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk
