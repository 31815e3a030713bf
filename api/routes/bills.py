"""``POST /bills``: upload a bill file and ingest it with the same workflow; ``GET /bills/{id}``: a stored bill."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile, status

from activities.storage import extension_for, record_artifact
from api.deps import (
    IdempotencyKey,
    IdForm,
    IngestDep,
    ReaderDep,
    ReviewerDep,
    StateDep,
    refund_rate_limit_token,
    spend_rate_limit_token,
)
from api.locations import CREATED_LOCATION, answer_created
from api.problems import STORAGE_RETRY_AFTER, Problem, ProblemCode, ReopenConflict, problem_responses
from api.query_params import refuse_unknown
from api.role_first import AuthorizeBeforeBody
from api.schemas import BillDetail, BillReopen, JobPublic
from api.services.accounts import get_account
from api.services.jobs import check_replay, find_idempotent_job, job_public, job_shown, start_job, upload_job_id
from api.services.reopen import reopen_bill
from api.services.stored_bills import read_bill
from extraction.document import holds_nothing, looks_like_markup, sniff_content_type
from shared.artifacts import ArtifactStoreMisconfigured, ArtifactStoreUnavailable
from shared.models import JobType
from shared.review import REVIEWER_MAX_LENGTH

logger = logging.getLogger(__name__)

router = APIRouter(tags=["bills"], route_class=AuthorizeBeforeBody)

SUPPORTED = {"application/pdf", "image/png", "image/jpeg", "text/plain"}
UPLOAD_FIELDS = ("file", "utility_account_id")


@router.post(
    "/bills",
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    responses={200: {"model": JobPublic}, **problem_responses(413, 415, 429, 503), **CREATED_LOCATION},
)
async def upload_bill(
    request: Request,
    state: StateDep,
    principal: IngestDep,
    response: Response,
    file: Annotated[UploadFile, File(description="PDF, PNG, JPEG or plain text")],
    utility_account_id: IdForm,
    idempotency_key: IdempotencyKey = None,
) -> JobPublic:
    """Store the file (type sniffed from its bytes; the filename is never used) and start ingestion."""
    form = await request.form()  # the form FastAPI parsed for the parameters, not a second read
    # As a JSON body's or a query's: a field the upload ignored ("customer_id", "provider") read as one it used.
    refuse_unknown(form, UPLOAD_FIELDS, location="body", refusal="an upload takes no field")
    if len(form.getlist("file")) > 1 or len(form.getlist("utility_account_id")) > 1:
        # Only the last of each would be used: a client sending several bills at once would lose the others.
        raise Problem(
            422,
            "send one file and one utility_account_id per request: upload each bill on its own",
            code=ProblemCode.ONE_FILE_PER_REQUEST,
        )
    account = await get_account(state.pool, principal=principal, account_id=utility_account_id)
    if file.size == 0:  # known from the form, before the file is read
        raise Problem(422, "the uploaded file is empty", code=ProblemCode.EMPTY_FILE)
    # Every refusal and every replay comes before the token: the form is already spooled, so reading it
    # costs little, and a call that stores nothing must leave the budget to the calls that do.
    data = await file.read(state.settings.upload_max_bytes + 1)
    if len(data) > state.settings.upload_max_bytes:
        raise Problem(
            413, f"uploads are limited to {state.settings.upload_max_bytes} bytes", code=ProblemCode.CONTENT_TOO_LARGE
        )
    if holds_nothing(data):  # extraction would refuse it (empty_file): refused here, nothing stored and no job failed
        raise Problem(422, "the uploaded file holds nothing but blank space", code=ProblemCode.EMPTY_FILE)
    existing = await find_idempotent_job(state.pool, principal=principal, key=idempotency_key)
    if existing is not None:
        sha256 = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())  # 20 MB: off the loop
        check_replay(existing, account=account, job_type=JobType.UPLOAD, upload_sha256=sha256)
        response.status_code = status.HTTP_200_OK
        return await job_shown(state.pool, existing, state.settings, principal=principal)
    if looks_like_markup(data):  # before sniffing: a page naming "%PDF-" near its top sniffs as a PDF
        raise Problem(
            415,
            "a web page (HTML, SVG or XML) is not a bill: print it to PDF, or send the bill as PNG, JPEG or plain text",
            code=ProblemCode.UNSUPPORTED_FILE_TYPE,
        )
    content_type = sniff_content_type(data)
    if content_type not in SUPPORTED:
        raise Problem(
            415,
            "unsupported file type: send a PDF, PNG, JPEG or plain-text bill",
            code=ProblemCode.UNSUPPORTED_FILE_TYPE,
        )
    spent = await spend_rate_limit_token(state, principal=principal, action="upload", idempotency_key=idempotency_key)
    job_id = upload_job_id(principal, idempotency_key)
    try:
        ref = await asyncio.to_thread(
            state.store.put_once,
            job_id=job_id,
            data=data,
            content_type=content_type,
            ext=extension_for(content_type),
            metadata={"job_id": job_id, "provider": str(account["provider"] or "unknown"), "source": "upload"},
        )
    except ArtifactStoreUnavailable:
        # Before any job row: the bill is not kept anywhere, so the client must be told to send it again
        # (a 500 reads as "it broke", and retry libraries leave a 500 alone), and the token goes back to
        # the budget: the bill sent again must not find it spent on nothing.
        if spent:
            await refund_rate_limit_token(state, principal=principal, action="upload")
        raise Problem(
            503,
            "object storage is unavailable, so the bill was not stored and no job was created: send it again",
            headers={"Retry-After": STORAGE_RETRY_AFTER},
            code=ProblemCode.STORAGE_UNAVAILABLE,
        ) from None
    except ArtifactStoreMisconfigured:
        if spent:  # nothing stored, as above: the app's handler answers the 500 an operator must mend
            await refund_rate_limit_token(state, principal=principal, action="upload")
        raise
    try:
        job, created = await start_job(
            pool=state.pool,
            client=state.client,
            settings=state.settings,
            principal=principal,
            account=account,
            job_type=JobType.UPLOAD,
            idempotency_key=idempotency_key,
            dispatcher=state.dispatcher,
            job_id=job_id,
            upload=ref,
        )
    except Problem:
        # Another request under this key won the race with a different file: this one's object stays
        # unreferenced (the API may only create objects). Named, so an operator can remove it; not when
        # the winner stored the same object (the same file for another account), which is its live bill.
        winner = await find_idempotent_job(state.pool, principal=principal, key=idempotency_key)
        winner_upload = ((winner or {}).get("start_request") or {}).get("upload") or {}
        if winner_upload.get("uri") != ref.uri:
            # Its token stays spent: given back, racing files under one key would store objects for free.
            logger.warning(
                "upload refused after storing its bill: object left unreferenced",
                extra={"uri": ref.uri, "job_id": job_id},
            )
        elif spent:  # refused (422) having written nothing new: the winner's object is this very one
            await refund_rate_limit_token(state, principal=principal, action="upload")
        raise
    if created:
        await record_artifact(state.pool, job_id, ref)
    elif spent:  # a retry sent before its first try answered: that one made the job, and paid for it
        await refund_rate_limit_token(state, principal=principal, action="upload")
    if created:
        answer_created(request, response, f"/jobs/{job_id}")
    else:
        response.status_code = status.HTTP_200_OK
    return await job_shown(state.pool, job, state.settings, principal=principal)


@router.get("/bills/{bill_id}", response_model=BillDetail)
async def get_bill(bill_id: str, state: StateDep, principal: ReaderDep) -> BillDetail:
    """A stored bill (a job's ``result.bill_id``): its period, dates, amounts, line items and usage, as validated or
    as a reviewer corrected them. A job's result holds only the amount due; what the period cost is
    ``current_charges`` here."""
    return await read_bill(state.pool, principal=principal, bill_id=bill_id)


@router.post(
    "/bills/{bill_id}/reopen",
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    responses={
        200: {"model": JobPublic, "description": "the job this Idempotency-Key reopened the bill with"},
        **problem_responses(409, members={409: ReopenConflict}),
        **CREATED_LOCATION,
    },
)
async def reopen_stored_bill(
    bill_id: str,
    body: BillReopen,
    state: StateDep,
    principal: ReviewerDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobPublic:
    """Review a stored bill again, as stored: a job whose review task shows it with the note, for a reviewer to
    correct (a new version of the bill replaces this one, in Postgres and the warehouse) or approve as it stands."""
    job, created = await reopen_bill(
        state,
        principal,
        bill_id=bill_id,
        note=body.note,
        reviewer=principal.identity_within(REVIEWER_MAX_LENGTH),
        idempotency_key=idempotency_key,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
        return await job_shown(state.pool, job, state.settings, principal=principal)
    answer_created(request, response, f"/jobs/{job['id']}")
    return job_public(job, state.settings, principal=principal)
