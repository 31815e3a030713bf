"""Human review over REST: the queue, one task, and a decision (sent as a workflow update)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal
from api.deps import IdFilter, PageCursor, PageLimit, ReviewerDep, StateDep
from api.problems import (
    TEMPORAL_RETRY_AFTER,
    DecisionInvalid,
    Problem,
    ProblemCode,
    ReviewConflict,
    in_clients_words,
    problem_responses,
)
from api.review_reasons import reason_details
from api.role_first import AuthorizeBeforeBody
from api.schemas import (
    FieldChange,
    OverlappedBill,
    ReplacedBill,
    ReviewDecisionCreate,
    ReviewDecisionResult,
    ReviewDecisionTaken,
    ReviewPage,
    ReviewRefusal,
    ReviewSummary,
    ReviewTakenFirst,
    ReviewTaskInternal,
    ReviewTaskPublic,
    StoredCopy,
)
from api.services import review_claims as claims
from api.services.error_text import error_shown_to
from api.services.jobs import JobCursor, artifact_link, cursor_scope, get_job_row
from api.services.reopen import open_reopening, replaced_since_reopened
from api.services.reviewer_names import reviewers_shown_to
from api.services.stored_periods import StoredPeriod, overlapped_by, stored_for_period
from api.state import AppState
from extraction.checks import figures_read_otherwise
from shared.bill import NormalizedBill, Provider
from shared.codec import PayloadDecryptionError
from shared.logs import mask_account
from shared.models import JobStatus, PeriodSeen
from shared.review import REVIEWER_MAX_LENGTH, ReviewAction, ReviewDecision, ReviewStatus
from shared.temporal import update_call_within, workflow_id_for
from workflows.bill_ingestion import (
    PERIOD_STORED_SINCE,
    READS_OTHERWISE_REASON,
    REPLACES_CORRECTION_REASON,
    BillIngestionWorkflow,
)

logger = logging.getLogger(__name__)
router = APIRouter(tags=["reviews"], route_class=AuthorizeBeforeBody)

OPEN = [ReviewStatus.PENDING, ReviewStatus.ESCALATED]
WAITING = [status for status in JobStatus if not status.is_terminal]
"""Job statuses whose review task may be in the queue."""
REVIEW_UPDATE_TIMEOUT = timedelta(seconds=15)
"""How long a decision waits for the workflow to take it (a worker must be up) before a 503."""
REVIEW_RESULT_WAIT = timedelta(seconds=15)
"""How long a taken decision waits for the job's end before answering 202 with the job still RUNNING."""
ENDED_OUTCOME_TIMEOUT = timedelta(seconds=15)
"""How long reading an ended job's decision back may take: Temporal has it already and answers at once,
so running out means Temporal did not answer (a 503), not that the job is still busy."""


def _select(state: AppState) -> str:
    """SQL: tasks with their job's account and who has each open (a claim that holds, by the settings' lapse)."""
    return f"""
    SELECT t.*, j.customer_id, j.utility_account_id, a.provider, a.account_number, a.label AS account_label,
           c.reviewer AS claimed_by, c.claimed_at
      FROM review_tasks t
      JOIN ingestion_jobs j ON j.id = t.job_id
      JOIN utility_accounts a ON a.id = j.utility_account_id
      LEFT JOIN review_claims c ON c.job_id = t.job_id AND t.closed_at IS NULL AND {claims.active_sql(state.settings)}
    """


def _summary(row: Any) -> dict[str, Any]:
    return {
        "job_id": str(row["job_id"]),
        "status": row["status"],
        "reasons": row["reasons"],
        "provider": row["provider"],
        "customer_id": row["customer_id"],
        "utility_account_id": row["utility_account_id"],
        "created_at": row["created_at"],
        "age_seconds": int(((row["closed_at"] or datetime.now(UTC)) - row["created_at"]).total_seconds()),
        "revision": row["revision"],
        "closed_at": row["closed_at"],
        "claimed_by": row["claimed_by"],
        "claimed_at": row["claimed_at"],
    }


@router.get("/reviews", response_model=ReviewPage, responses=problem_responses(422))
async def list_reviews(
    state: StateDep,
    principal: ReviewerDep,
    provider: Provider | None = None,
    customer_id: IdFilter = None,
    limit: PageLimit = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    cursor: PageCursor = None,
) -> ReviewPage:
    """Open reviews (pending and escalated), oldest first, with reasons and age.

    Page with ``cursor`` (each page's ``next_cursor``) rather than ``offset`` while reviewers work the
    queue: a decided task leaves it, so an offset skips as many tasks as were decided before it.
    """
    if cursor is not None and offset:
        raise Problem(422, "send either cursor or offset, not both", code=ProblemCode.CURSOR_AND_OFFSET)
    after = JobCursor.decode(cursor, reviews_cursor_scope(provider, customer_id)) if cursor is not None else None
    page = await review_queue(
        state, principal, provider=provider, customer_id=customer_id, limit=limit, offset=offset, after=after
    )
    return ReviewPage(**page)


def reviews_cursor_scope(provider: Provider | None, customer_id: int | None) -> str:
    """The scope of a queue's cursor (``cursor_scope``): its filters as asked for, a key's own customer aside."""
    return cursor_scope("reviews", provider=provider.value if provider else None, customer_id=customer_id)


async def review_queue(
    state: AppState,
    principal: Principal,
    *,
    provider: Provider | None,
    customer_id: int | None,
    limit: int,
    offset: int,
    after: JobCursor | None = None,
) -> dict[str, Any]:
    """A page of the open queue (``after``: the cursor where the page before ended), with its next cursor."""
    scope = reviews_cursor_scope(provider, customer_id)
    visible, customer_id = principal.list_filter(customer_id)
    if not visible:
        return {"items": [], "total": 0, "limit": limit, "offset": offset}
    # A task is a reviewer's only while its job waits: should a late write leave one open for a job
    # that has ended (cancelled while the task was being opened), the queue still does not show it.
    where = (
        "t.status = ANY($1::text[]) AND j.status = ANY($4::text[]) AND ($2::text IS NULL OR a.provider = $2)"
        " AND ($3::bigint IS NULL OR j.customer_id = $3)"
    )
    total = await state.pool.fetchval(
        f"SELECT count(*) FROM review_tasks t JOIN ingestion_jobs j ON j.id = t.job_id"
        f" JOIN utility_accounts a ON a.id = j.utility_account_id WHERE {where}",
        OPEN,
        provider,
        customer_id,
        WAITING,
    )
    rows = await state.pool.fetch(
        f"{_select(state)} WHERE {where}"
        " AND ($7::timestamptz IS NULL OR (t.created_at, t.job_id) > ($7, $8::uuid))"
        " ORDER BY t.created_at, t.job_id LIMIT $5 OFFSET $6",
        OPEN,
        provider,
        customer_id,
        WAITING,
        limit + 1,  # one more says whether a next page has any: a full last page offers none
        offset,
        after.created_at if after else None,
        after.job_id if after else None,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    summaries = [_summary(r) for r in rows]
    # A key bound to a customer is told who has a task open as it is told who decided one (``read_task``).
    reviewers = await reviewers_shown_to(state.pool, principal, [summary["claimed_by"] for summary in summaries])
    return {
        "items": [
            ReviewSummary(**(summary | {"claimed_by": reviewers(summary["claimed_by"])})) for summary in summaries
        ],
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_cursor": JobCursor(created_at=last["created_at"], job_id=last["job_id"], scope=scope).encode()
        if last
        else None,
    }


async def read_task(state: AppState, principal: Principal, job_id: str) -> ReviewTaskInternal:
    job = await get_job_row(state.pool, principal=principal, job_id=job_id)
    row = await state.pool.fetchrow(f"{_select(state)} WHERE t.job_id = $1", job["id"])
    if row is None:
        raise Problem(404, f"job {job_id} has no review task", code=ProblemCode.NOT_FOUND)
    if row["closed_at"] is None and await state.reconciler.record_if_ended(job):
        # Ended from outside: shown closed before a reviewer corrects a bill no decision can reach.
        row = await state.pool.fetchrow(f"{_select(state)} WHERE t.job_id = $1", job["id"])
    decision = None if row["closed_at"] is None else await _decision_taken(state, job["id"], row["revision"])
    held_over = await _held_over(state, job, row["bill"]) if row["closed_at"] is None else None
    read_otherwise = await _read_otherwise_than(state, job, row["bill"]) if row["closed_at"] is None else None
    summary = _summary(row)
    reopened = _reopening(job)
    overlaps = await _overlapped(state, job, row["bill"], reopened) if row["closed_at"] is None else None
    # A key bound to a customer is told its own reviewers by name, MiniMeter's by a label, and no note's account
    # number whole, as it reads the job (api.services.jobs.job_public).
    named = [summary["claimed_by"], decision.reviewer if decision else None, (reopened or {}).get("reopened_by")]
    reviewers = await reviewers_shown_to(state.pool, principal, named)
    shown = error_shown_to(principal.customer_id)
    summary["claimed_by"] = reviewers(summary["claimed_by"])
    if decision is not None:
        decision = decision.model_copy(update={"reviewer": reviewers(decision.reviewer), "note": shown(decision.note)})
    if reopened is not None:
        by, note = reviewers(reopened.get("reopened_by")), shown(reopened.get("note"))
        reopened = reopened | {"reopened_by": by, "note": note}
    bill = NormalizedBill.model_validate(row["bill"]) if row["bill"] is not None else None
    return ReviewTaskInternal(
        **summary,
        reason_details=reason_details(summary["reasons"], bill),
        account_number=row["account_number"],
        account_number_masked=mask_account(row["account_number"]),
        account_label=row["account_label"],
        bill=bill,
        artifact_url=await _artifact_url(state, job["id"], row["artifact_uri"]),
        decision=decision,
        reopened=reopened,
        replaces=ReplacedBill.model_validate(held_over, from_attributes=True) if held_over is not None else None,
        reads_otherwise_than=read_otherwise,
        overlaps=overlaps,
    )


async def _held_over(state: AppState, job: dict[str, Any], extracted: dict[str, Any] | None) -> StoredPeriod | None:
    """The corrected bill a re-issue held over it (``replaces_corrected_bill``) would replace."""
    if REPLACES_CORRECTION_REASON not in (job["reasons"] or []):
        return None
    return await _stored_for_the_extraction(state, job, extracted)


async def _read_otherwise_than(
    state: AppState, job: dict[str, Any], extracted: dict[str, Any] | None
) -> StoredCopy | None:
    """The stored bill of the statement another copy of which reads otherwise (``reads_otherwise_than_stored``), and
    the figures the two disagree on now: the task named none, and a reviewer looked for a line item's by hand."""
    if READS_OTHERWISE_REASON not in (job["reasons"] or []) or extracted is None:
        return None
    stored = await _stored_for_the_extraction(state, job, extracted)
    if stored is None:
        return None
    payload = await state.pool.fetchval("SELECT payload FROM bills WHERE id = $1", uuid.UUID(stored.bill_id))
    figures = (
        figures_read_otherwise(NormalizedBill.model_validate(payload), NormalizedBill.model_validate(extracted))
        if payload is not None
        else []
    )
    return StoredCopy.model_validate({**asdict(stored), "figures_read_otherwise": figures})


async def _stored_for_the_extraction(
    state: AppState, job: dict[str, Any], extracted: dict[str, Any] | None
) -> StoredPeriod | None:
    """Another job's bill stored for the period the extraction (the task's bill) read; None without one, or nothing
    read."""
    if extracted is None:
        return None
    return await stored_for_period(
        state.pool,
        job_id=job["id"],
        utility_account_id=job["utility_account_id"],
        bill=NormalizedBill.model_validate(extracted),
    )


async def _overlapped(
    state: AppState, job: dict[str, Any], bill: dict[str, Any] | None, reopened: dict[str, Any] | None
) -> OverlappedBill | None:
    """The stored bill whose period the task's bill overlaps (a reopened bill's task: not that bill itself)."""
    if bill is None:
        return None
    return await overlapped_by(
        state.pool,
        job_id=job["id"],
        utility_account_id=job["utility_account_id"],
        bill=NormalizedBill.model_validate(bill),
        except_bill=(reopened or {}).get("bill_id"),
    )


def _reopening(job: dict[str, Any]) -> dict[str, Any] | None:
    """A reopened bill's reopening, as the job's stored start request holds it (None for any other job)."""
    reopens = (job.get("start_request") or {}).get("reopens")
    return reopens if isinstance(reopens, dict) else None


async def _artifact_url(state: AppState, job_id: uuid.UUID, artifact_uri: str) -> str:
    """The bill the task was extracted from, always named by its hash: the plain link serves the job's newest,
    which a reset's re-fetch stored after the page was drawn would change under the task's fields."""
    sha256 = await state.pool.fetchval(
        "SELECT sha256 FROM artifacts WHERE job_id = $1 AND uri = $2", job_id, artifact_uri
    )
    return artifact_link(job_id, sha256)


_SINCE_OPENED = "d.decided_at >= (SELECT t.created_at FROM review_tasks t WHERE t.job_id = d.job_id)"
"""An audit row ``d`` of the task as it stands: a take-back after a reset opens the task anew (``created_at``) under
the same revision, and the decision that closed it before is the old run's."""


async def _decision_taken(state: AppState, job_id: uuid.UUID, revision: str) -> ReviewDecisionTaken | None:
    """How the task's decision was taken, and the job's status now: its revision's, taken since the task last opened
    (a decision a reset took the task back from stays in the audit, not here). None for a task that expired or was
    cancelled: no decision closed it."""
    row = await state.pool.fetchrow(
        "SELECT d.action, d.reviewer, d.note, d.decided_at, d.diff, d.overridden, j.status AS job_status"
        " FROM review_decisions d JOIN ingestion_jobs j ON j.id = d.job_id"
        f" WHERE d.job_id = $1 AND d.revision = $2 AND {_SINCE_OPENED} ORDER BY d.decided_at DESC LIMIT 1",
        job_id,
        revision,
    )
    if row is None:
        return None
    # A rejection's audit diff is the extracted bill against none stored: no field was changed.
    changes = (row["diff"] or {}) if row["action"] == ReviewAction.CORRECT else {}
    return ReviewDecisionTaken(
        action=row["action"],
        reviewer=row["reviewer"],
        note=row["note"],
        decided_at=row["decided_at"],
        changed_fields=sorted(changes),
        changes={name: FieldChange.model_validate(changes[name]) for name in sorted(changes)},
        overridden=list(row["overridden"]),
        job_status=row["job_status"],
    )


@router.get("/reviews/{job_id}", response_model=ReviewTaskPublic)
async def get_review(job_id: str, state: StateDep, principal: ReviewerDep) -> ReviewTaskPublic:
    """One review task: reasons, extracted fields, raw bill link and the revision to echo back."""
    return (await read_task(state, principal, job_id)).public()  # the account number masked, as everywhere


@router.post(
    "/reviews/{job_id}",
    response_model=ReviewDecisionResult,
    responses={
        **problem_responses(409, 422, 503, members={409: ReviewConflict, 422: DecisionInvalid}),
        202: {
            "model": ReviewDecisionResult,
            "description": "decision taken; the job has not ended yet (RUNNING): poll its Location",
            "headers": {
                "Location": {
                    "description": "the job, to read until it ends",
                    "schema": {"type": "string", "format": "uri-reference"},
                }
            },
        },
    },
)
async def decide_review(
    job_id: str,
    body: ReviewDecisionCreate,
    state: StateDep,
    principal: ReviewerDep,
    request: Request,
    response: Response,
) -> ReviewDecisionResult:
    """Approve, correct or reject; answers with the job's final status once the workflow applied it."""
    result = await submit_decision(state, principal, job_id, body)
    if not result.status.is_terminal:
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Location"] = request.scope.get("root_path", "") + f"/jobs/{result.job_id}"
    return result


async def _stored_for_the_decision(
    state: AppState, job: dict[str, Any], corrected: NormalizedBill | None, *, reopened_bill: str | None
) -> StoredPeriod | None:
    """Another job's bill stored for the period of the ``corrected`` bill (a reopened bill's correction: other than
    ``reopened_bill``, the bill it corrects), else of the extraction an approval stores; None if none."""
    if corrected is None:
        extracted = await state.pool.fetchval("SELECT bill FROM review_tasks WHERE job_id = $1", job["id"])
        return await _stored_for_the_extraction(state, job, extracted)  # none read: the workflow refuses an approval
    return await stored_for_period(
        state.pool,
        job_id=job["id"],
        utility_account_id=job["utility_account_id"],
        bill=corrected,
        except_bill=reopened_bill,
    )


async def _refuse_onto_a_stored_period(
    state: AppState, job: dict[str, Any], stored: StoredPeriod | None, *, reopened: bool
) -> None:
    """The 409 for a correction whose account and period another job stored a bill for (``stored``), unless
    confirmed. A ``reopened`` bill's correction cannot be confirmed: persisting would refuse it, since one statement
    stored twice counts its month twice."""
    if stored is None or await _told_already(state, job, stored):
        return
    if reopened:
        detail = (
            f"the corrected account and period are those of the bill job {stored.job_id} stored: a reopened bill"
            " cannot take another bill's period. Check the corrected period and account number"
        )
        extra = {"stored_job_id": stored.job_id, "outcome": "refused", "stored_corrected": stored.corrected}
        raise _refused(detail, ReviewRefusal.PERIOD_STORED, **extra)
    raise _onto_a_stored_period(
        stored,
        f"{stored}. Check the corrected period and account number; if they are right, send the decision again with"
        " onto_stored_period",
    )


def _onto_a_stored_period(stored: StoredPeriod, detail: str, **extra: Any) -> Problem:
    """The confirmable 409 ``period_stored`` for a correction meeting ``stored``: what storing it does (``outcome``)."""
    return _refused(
        detail,
        ReviewRefusal.PERIOD_STORED,
        stored_job_id=stored.job_id,
        outcome="replaces" if stored.replaced else "duplicate",
        stored_corrected=stored.corrected,
        **extra,
    )


async def _period_stored_since(state: AppState, job: dict[str, Any], corrected: NormalizedBill | None) -> Problem:
    """The 409 for a decision another job's bill met in persist (``PeriodStored``): stored for its period after the
    checks above let it through, two reviewers deciding two tasks onto one period at once (a QA probe, 74C): a
    correction meeting any, an approval a reviewer's correction it would replace. Nothing was stored, and the task is
    open again under a new revision, which the 409 gives."""
    revision = await state.pool.fetchval("SELECT revision FROM review_tasks WHERE job_id = $1", job["id"])
    # An approval's: the period the extraction read.
    stored = await _stored_for_the_decision(state, job, corrected, reopened_bill=None)
    again = f"send the decision again with revision {revision}"
    if stored is None:  # corrected onto another period since: nothing to confirm, the task changed all the same
        detail = f"{PERIOD_STORED_SINCE} (revision {revision}): read it with GET /reviews/{job['id']}, then {again}"
        return _refused(detail, ReviewRefusal.STALE_REVISION, revision=revision)
    check = (
        "Check the corrected period and account number"
        if corrected is not None
        else "Compare the two: correct this bill to keep what the reviewer set"
    )
    detail = f"{PERIOD_STORED_SINCE} (revision {revision}): {stored}. {check}; if right, {again} and onto_stored_period"
    return _onto_a_stored_period(stored, detail, revision=revision)


def _refuse_replacing_a_reviewed_bill(job: dict[str, Any], stored: StoredPeriod | None) -> None:
    """The 409 for an approval whose statement, a re-issue, would replace a bill a reviewer corrected (``stored``),
    unless confirmed: the figures they set (a due date the customer confirmed) gave way to this statement's as
    extracted, its task saying nothing of them, where a correction sending the same bill was asked first (a reviewer's
    probe)."""
    if REPLACES_CORRECTION_REASON in (job["reasons"] or []):  # its task said so, naming that bill: told already
        return
    if stored is None or not stored.replaced or not stored.corrected:
        return
    detail = (
        f"{stored}, with its values as extracted. Compare the two: correct this bill to keep what the reviewer set,"
        " or send the approval again with onto_stored_period"
    )
    raise _refused(
        detail, ReviewRefusal.PERIOD_STORED, stored_job_id=stored.job_id, outcome="replaces", stored_corrected=True
    )


async def _refuse_replacing_a_reopened_bill(state: AppState, stored: StoredPeriod | None) -> None:
    """The 409 for a decision whose bill would replace ``stored``, a bill a reviewer reopened and has not decided:
    persisting it replaced the bill under their task, and their correction, answered 200, ended the job FAILED,
    thrown away (a reviewer's probe). Not confirmable: sent again once that task is decided, it goes ahead."""
    if stored is None or not stored.replaced:
        return
    reopen_job = await open_reopening(state.pool, stored.bill_id)
    if reopen_job is None:
        return
    detail = (
        f"{stored}, and job {reopen_job} is reviewing that bill, reopened: storing this one now would throw its"
        " reviewer's correction away. Send the decision again once that task is decided"
    )
    raise _refused(detail, ReviewRefusal.BILL_REOPENED, stored_job_id=stored.job_id, reopen_job_id=reopen_job)


async def _refuse_correcting_a_replaced_bill(state: AppState, job: dict[str, Any], bill_id: str) -> None:
    """The 409 for a reopened bill's correction where the bill was replaced since it was reopened (a re-issue stored
    over it): sent, it was answered 200 and the job ended FAILED, the correction made on figures no longer stored."""
    replaced, by_job = await replaced_since_reopened(state.pool, job["id"], bill_id)
    if not replaced:
        return
    by = f"job {by_job} stored a new version of it" if by_job is not None else "it is no longer stored"
    detail = (
        f"the bill changed since it was reopened ({by}): this correction was made on figures no longer stored. Approve"
        " this task to close it (the job then ends FAILED, saying so; the bill stays as stored now), then reopen the"
        " bill to review what it holds now"
    )
    raise _refused(detail, ReviewRefusal.STORED_BILL_CHANGED, stored_job_id=by_job)


async def _told_already(state: AppState, job: dict[str, Any], stored: StoredPeriod) -> bool:
    """Whether the task said it: a re-issue held over a reviewer's correction (``replaces_corrected_bill``) is in
    review to replace that bill, approved or corrected, so asking again would only repeat its reason and name. Not
    another bill's: a correction moved onto another period is asked as any other."""
    if not (stored.corrected and stored.replaced):
        return False
    extracted = await state.pool.fetchval("SELECT bill FROM review_tasks WHERE job_id = $1", job["id"])
    held_over = await _held_over(state, job, extracted)
    return held_over is not None and held_over.job_id == stored.job_id


def _refused(detail: str, reason: ReviewRefusal, **extra: Any) -> Problem:
    """A decision's 409: its ``reason`` (for the review page to say in its own words) is its problem's code too."""
    return Problem(409, detail, code=ProblemCode(reason.value), reason=reason, **extra)


def _temporal_silent(detail: str) -> Problem:
    """The 503 for a decision Temporal (or the run's worker) did not answer, with the wait the other 503s name."""
    return Problem(503, detail, headers={"Retry-After": TEMPORAL_RETRY_AFTER}, code=ProblemCode.TEMPORAL_UNAVAILABLE)


async def submit_decision(
    state: AppState,
    principal: Principal,
    job_id: str,
    body: ReviewDecisionCreate,
    *,
    on_sending: Callable[[], None] = lambda: None,
) -> ReviewDecisionResult:
    """``on_sending`` is called just before the decision is handed to Temporal: up to there nothing was sent, so a
    caller can tell a failure before it (the decision surely not taken) from one after (it may have been).

    Each answer is logged: the worker's ``review decided`` line tells of a decision taken, and nothing told of one
    refused (a 409 ``period_stored``, ``stale_revision``, a 503), which a reviewer then reports (75A)."""
    named = job_id.lower()  # a job id in capitals is the same job, and its lines are found by the id as stored
    told = {
        "job_id": named,
        "workflow_id": workflow_id_for(named),
        "step": "submit_review",
        "action": str(body.action),
        "revision": body.revision,
        "key_id": principal.key_id,
    }
    try:
        result = await _submit_decision(state, principal, job_id, body, on_sending=on_sending)
    except Problem as problem:
        logger.info("review decision refused", extra={**told, "status": problem.status_code, "code": problem.code})
        raise
    logger.info("review decision answered", extra={**told, "job_status": str(result.status)})
    return result


async def _submit_decision(
    state: AppState,
    principal: Principal,
    job_id: str,
    body: ReviewDecisionCreate,
    *,
    on_sending: Callable[[], None],
) -> ReviewDecisionResult:
    job = await get_job_row(state.pool, principal=principal, job_id=job_id)
    corrected = await _with_the_account_number(state, job, body.bill)
    try:
        decision = ReviewDecision(
            action=body.action,
            revision=body.revision,
            bill=corrected,
            note=body.note,
            override=body.override,
            reviewer=principal.identity_within(REVIEWER_MAX_LENGTH),
        )
    except ValidationError as err:  # listed as every other 422 lists them: where (loc), what (msg) and type
        errors = [
            {"loc": ["body", *e["loc"]], "msg": in_clients_words(e["msg"]), "type": e["type"]} for e in err.errors()
        ]
        raise Problem(422, "the decision is invalid", errors=errors, code=ProblemCode.DECISION_INVALID) from None
    handle = state.client.get_workflow_handle(job["workflow_id"])
    update_id = decision_update_id(decision)
    if JobStatus(job["status"]).is_terminal:
        return await _repeated(state, handle, job, update_id, caller=principal)
    reopened = _reopening(job)
    if reopened is not None and body.action is ReviewAction.CORRECT:
        await _refuse_correcting_a_replaced_bill(state, job, reopened["bill_id"])
    if body.action is not ReviewAction.REJECT and (reopened is None or corrected is not None):
        # The stored bill the decision's would meet, read once for each refusal below that asks.
        reopened_bill = reopened["bill_id"] if reopened is not None else None
        stored = await _stored_for_the_decision(state, job, corrected, reopened_bill=reopened_bill)
        if reopened is None:
            await _refuse_replacing_a_reopened_bill(state, stored)
        if corrected is not None and (reopened is not None or not body.onto_stored_period):
            await _refuse_onto_a_stored_period(state, job, stored, reopened=reopened is not None)
        elif body.action is ReviewAction.APPROVE and reopened is None and not body.onto_stored_period:
            _refuse_replacing_a_reviewed_bill(job, stored)
        if reopened is None:  # persist holds it if a bill it would be asked of is stored by then
            seen = PeriodSeen(stored_by_job=stored.job_id if stored is not None else None)
            decision = decision.model_copy(update={"period_seen": seen})
    on_sending()
    try:
        starting = handle.start_update(
            BillIngestionWorkflow.submit_review,
            decision,
            id=update_id,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            rpc_timeout=REVIEW_UPDATE_TIMEOUT,
        )
        update = await update_call_within(starting, REVIEW_UPDATE_TIMEOUT)
    except WorkflowUpdateFailedError as err:
        raise await _refusal(state, handle, job, err, decision.bill, caller=principal) from None
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):  # the run has ended
            raise await _ended(state, principal, job) from None
        # It may or may not have been applied: a repeat is safe (the same update id; another decision gets a 409).
        raise _temporal_silent("Temporal did not answer; send the decision again") from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        # No worker took the update in time (workers down or busy): the same answer, the same safe repeat.
        raise _temporal_silent("the workflow did not answer in time; send the decision again") from None
    except PayloadDecryptionError:
        raise _unreadable_answer() from None
    # Not refused yet: a validator's refusal too comes back as a handle, its outcome read by result(). The task's
    # claim ends with the task, in record_review_decision's (or close_review_task's) transaction.
    try:
        ack = await update_call_within(update.result(rpc_timeout=REVIEW_RESULT_WAIT), REVIEW_RESULT_WAIT)
    except WorkflowUpdateFailedError as err:  # the validator's refusal arrives with the outcome
        raise await _refusal(state, handle, job, err, decision.bill, caller=principal) from None
    except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError):
        # Taken, durably (the update is in history), but the job has not ended yet (a warehouse
        # outage keeps it publishing): say so rather than hold the reviewer's request open.
        return ReviewDecisionResult(job_id=str(job["id"]), status=JobStatus.RUNNING)
    except PayloadDecryptionError:
        raise _unreadable_answer() from None
    return await _outcome(state, job, ack.status)


async def _with_the_account_number(
    state: AppState, job: dict[str, Any], corrected: NormalizedBill | None
) -> NormalizedBill | None:
    """A correction without an account number, with the job's account's: a photo that prints none could be approved
    (the job names the account) but not corrected, and the JSON API shows the number on file masked only."""
    if corrected is None or corrected.account_number is not None:
        return corrected
    number = await state.pool.fetchval(
        "SELECT account_number FROM utility_accounts WHERE id = $1", job["utility_account_id"]
    )
    return corrected.model_copy(update={"account_number": number})


async def _outcome(state: AppState, job: dict[str, Any], status: JobStatus) -> ReviewDecisionResult:
    """The decision's outcome, with the bill its bill replaced or the job already holding it: a reviewer was told
    "now SUCCEEDED" when the correction had replaced another job's stored bill. Read from the job's row, which the
    workflow records before it answers."""
    row = await state.pool.fetchrow(_ENDED_ROW, job["id"])
    if status.is_terminal and row is not None and not JobStatus(row["status"]).is_terminal:
        row = await _end_recorded(state, job)
    result = row["result"] if row is not None else None
    said = result if status.is_terminal and isinstance(result, dict) else {}
    return ReviewDecisionResult(
        job_id=str(job["id"]), status=status, revises=said.get("revises"), duplicate_of=said.get("duplicate_of")
    )


_ENDED_ROW = "SELECT status, result FROM ingestion_jobs WHERE id = $1"


async def _end_recorded(state: AppState, job: dict[str, Any]) -> asyncpg.Record:
    """The job's row, holding the end its run answered with. A run records its end before it answers, so a row still
    open lost it (Postgres restored from a backup taken before): the reconciler records it now from the run's
    result. The decision sent again was answered 200 with that end while the job read NEEDS_REVIEW, its task
    PENDING. Not recorded (Temporal did not answer, or a run of an earlier release answers before it records), a
    503: the end is not the database's yet, and the same decision sent again is answered once it is."""
    await state.reconciler.record_if_ended(job)
    row = await state.pool.fetchrow(_ENDED_ROW, job["id"])
    if row is None or not JobStatus(row["status"]).is_terminal:
        raise _temporal_silent("the job has ended but its end is not recorded yet; send the decision again")
    return row


def _unreadable_answer() -> Problem:
    """A worker sealed its answer (the outcome, or a validator's refusal) with a key this API does not hold: a
    key rotated in on the workers first. Whether the decision was taken is unknown, so a repeat (the same
    update id) is the safe answer, once the API holds the key."""
    logger.warning("review answer sealed with a payload key this API lacks (PAYLOAD_KEYS)")
    return Problem(
        503,
        "the workflow's answer is sealed with a payload key this API does not hold yet; send the decision again",
        code=ProblemCode.PAYLOAD_KEY_PENDING,
    )


async def _repeated(
    state: AppState, handle: WorkflowHandle[Any, Any], job: dict[str, Any], update_id: str, *, caller: Principal
) -> ReviewDecisionResult:
    """A job that has ended answers the decision that ended it as it did the first time; any other gets a 409.

    Only the outcome of an update already in history is read: nothing new is sent to an ended job."""
    not_this_decision = f"the job is not awaiting review (status {job['status']})"
    try:
        reading = handle.get_update_handle_for(BillIngestionWorkflow.submit_review, update_id).result(
            rpc_timeout=ENDED_OUTCOME_TIMEOUT
        )
        ack = await update_call_within(reading, ENDED_OUTCOME_TIMEOUT)
    except WorkflowUpdateFailedError:
        raise await _not_awaiting(state, handle, job, not_this_decision, caller=caller) from None
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:  # no such update in the ended run: not this decision
            raise await _not_awaiting(state, handle, job, not_this_decision, caller=caller) from None
        # Temporal did not answer: whether this decision is the one that ended the job is still unknown.
        raise _temporal_silent("Temporal did not answer; send the decision again") from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise _temporal_silent("Temporal did not answer; send the decision again") from None
    except PayloadDecryptionError:
        raise _unreadable_answer() from None
    return await _outcome(state, job, ack.status)


async def _ended(state: AppState, principal: Principal, job: dict[str, Any]) -> Problem:
    """The 409 for a decision on a job whose run has ended though its row is open (terminated from
    outside): its end is recorded now, so the queue stops offering the task a reviewer was refused."""
    if await state.reconciler.record_if_ended(job):
        job = await get_job_row(state.pool, principal=principal, job_id=str(job["id"]))
        return _refused(
            f"the job is not awaiting review (status {job['status']}: {job['error']})", ReviewRefusal.NOT_PENDING
        )
    return _refused("the job is not awaiting review", ReviewRefusal.NOT_PENDING)


def decision_update_id(decision: ReviewDecision) -> str:
    """The same decision sent again (a double click, a repeat after a 503) is the same update.

    Temporal answers a repeated update id with the first one's outcome, so the repeat learns that its
    decision stands instead of being refused as "not awaiting review" by the validator. The reviewer
    is part of the decision: a colleague's identical decision is another update, and is refused. Readings
    are compared by value: a repeat that writes 1142 as 1142.0 (a client that parsed the body and wrote it
    again) is the same decision, not one "taken first" by its own reviewer. Amounts need nothing: ``Money``
    holds each to cents. A decision with no such reading hashes as before, so a repeat sent across a rolling
    deploy keeps its id."""
    sent = _readings_by_value(decision).model_dump_json(exclude={"period_seen"})  # what was seen is no part of it
    digest = hashlib.sha256(sent.encode()).hexdigest()[:32]
    return f"review-{decision.revision}-{digest}"


def _readings_by_value(decision: ReviewDecision) -> ReviewDecision:
    """``decision`` with each usage reading written one way for its value (1142.0 and 1142 alike)."""
    if decision.bill is None or not decision.bill.usage:
        return decision
    usage = [
        reading.model_copy(update={"quantity": Decimal(format(reading.quantity.normalize(), "f"))})
        for reading in decision.bill.usage
    ]
    return decision.model_copy(update={"bill": decision.bill.model_copy(update={"usage": usage})})


async def _refusal(
    state: AppState,
    handle: WorkflowHandle[Any, Any],
    job: dict[str, Any],
    err: WorkflowUpdateFailedError,
    corrected: NormalizedBill | None,
    *,
    caller: Principal,
) -> Problem:
    """The workflow's validator refused the decision: 422 for a correction (``corrected``) that fails checks, else
    409."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == "InvalidCorrection":
        failing = [str(d) for d in cause.details]
        return Problem(
            422,
            str(cause.message),
            failing_checks=failing,
            failing_check_details=[detail.model_dump() for detail in reason_details(failing, corrected)],
            code=ProblemCode.DECISION_INVALID,
        )
    if isinstance(cause, ApplicationError) and cause.type == "PeriodStored":
        return await _period_stored_since(state, job, corrected)
    if isinstance(cause, ApplicationError) and cause.type == "ReviewNotPending":
        return await _not_awaiting(state, handle, job, str(cause.message), caller=caller)
    if isinstance(cause, ApplicationError) and cause.type == "StaleRevision":
        revision = await state.pool.fetchval("SELECT revision FROM review_tasks WHERE job_id = $1", job["id"])
        if "escalated" in cause.details:  # its SLA ran out: the status and revision changed, nothing else
            detail = (
                f"the review task was escalated since it was read (revision now {revision}); its bill and reasons are"
                " as they were: send the decision again with that revision"
            )
        else:
            detail = (
                f"the review task changed since it was read (revision now {revision}): read it again with"
                f" GET /reviews/{job['id']}, check the bill, and send the decision with that revision"
            )
        return _refused(detail, ReviewRefusal.STALE_REVISION, revision=revision)
    message = cause.message if isinstance(cause, ApplicationError) else "the decision was refused"
    return Problem(409, str(message), code=ProblemCode.REVIEW_CONFLICT)


TAKEN_FIRST_HISTORY_TIMEOUT = timedelta(seconds=2)
"""How long naming a decision taken but not yet recorded may spend reading the run's history."""


async def _not_awaiting(
    state: AppState, handle: WorkflowHandle[Any, Any], job: dict[str, Any], message: str, *, caller: Principal
) -> Problem:
    """The 409 for a job no longer awaiting review. Where another decision was taken first it says so, whose and
    when: just after it, the job still reads NEEDS_REVIEW, and "not awaiting review (status NEEDS_REVIEW)" read as
    a contradiction. ``taken_by``, ``taken_at`` and ``action`` carry it for clients; ``GET /reviews/{id}`` shows the
    outcome once recorded. Naming it is best effort: not yet recorded, it is read from the run's history, and
    a history that does not come within ``TAKEN_FIRST_HISTORY_TIMEOUT`` leaves the 409 unnamed (``not_pending``)."""
    taken = await _taken_first(state, handle, job["id"])
    if taken is None:
        has_task = await state.pool.fetchval("SELECT EXISTS (SELECT 1 FROM review_tasks WHERE job_id = $1)", job["id"])
        # A job that never went to review has no task to show: GET /reviews/{id} would be a 404.
        where = f"GET /reviews/{job['id']} shows how the task stands" if has_task else "the job has no review task"
        return _refused(f"{message}: {where}; GET /jobs/{job['id']} shows the job", ReviewRefusal.NOT_PENDING)
    status = await state.pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", job["id"])
    where = (
        f"the job is now {status}; GET /reviews/{job['id']} shows the decision"
        if taken.recorded
        else f"it is being recorded: GET /reviews/{job['id']} shows it once it is"
    )
    # The caller's own earlier decision, sent again changed (a note added): "another decision ... by alice" to alice
    # read as a colleague's of the same name.
    mine = taken.taken_by == caller.identity_within(REVIEWER_MAX_LENGTH)
    # A key bound to a customer is told who decided as GET /reviews/{id} tells it (``read_task``).
    taken = taken.model_copy(
        update={"taken_by": (await reviewers_shown_to(state.pool, caller, [taken.taken_by]))(taken.taken_by)}
    )
    whose = (
        f"your own earlier decision was taken first, and this one differs from it: {taken.action.done}"
        if mine
        else f"another decision was taken first: {taken.action.done} by {taken.taken_by}"
    )
    return _refused(
        f"{whose} at {taken.taken_at:%Y-%m-%d %H:%M:%S} UTC; {where}",
        ReviewRefusal.TAKEN_FIRST,
        **taken.model_dump(mode="json"),
    )


async def _taken_first(state: AppState, handle: WorkflowHandle[Any, Any], job_id: uuid.UUID) -> ReviewTakenFirst | None:
    """The decision that closed (or is closing) the task: action, reviewer, when, and whether it is recorded yet.

    Recorded, it is the audit row of the task's revision taken since the task last opened. Until
    ``record_review_decision`` commits, it is only in the run's history: the last ``submit_review`` update the
    validator accepted (whatever revision it was sent with: one read just before an escalation committed its new
    revision is taken as of the new one), while the task is open: a task closed without one recorded has none."""
    task = await state.pool.fetchrow("SELECT revision, status FROM review_tasks WHERE job_id = $1", job_id)
    if task is None:
        return None
    revision = task["revision"]
    row = await state.pool.fetchrow(
        f"SELECT d.action, d.reviewer, d.decided_at FROM review_decisions d WHERE d.job_id = $1 AND d.revision = $2"
        f" AND {_SINCE_OPENED} ORDER BY d.decided_at DESC LIMIT 1",
        job_id,
        revision,
    )
    if row is not None:
        return ReviewTakenFirst(
            action=row["action"], taken_by=row["reviewer"], taken_at=row["decided_at"].astimezone(UTC), recorded=True
        )
    if task["status"] not in OPEN:
        # Closed with no decision recorded (the job cancelled while one was taken): none ever will be, so the
        # history's accepted decision is not "being recorded".
        return None
    try:
        return await asyncio.wait_for(_accepted_in_history(state, handle), TAKEN_FIRST_HISTORY_TIMEOUT.total_seconds())
    except Exception:  # best effort (Temporal slow or down, a payload no key opens): the 409 stands, unnamed
        logger.warning("could not read who decided first", extra={"job_id": str(job_id)}, exc_info=True)
        return None


SUBMIT_REVIEW = "submit_review"
"""The name ``BillIngestionWorkflow.submit_review`` is registered under, as history records it."""


async def _accepted_in_history(state: AppState, handle: WorkflowHandle[Any, Any]) -> ReviewTakenFirst | None:
    found = None
    async for event in handle.fetch_history_events():
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            continue
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        if request.input.name != SUBMIT_REVIEW:
            continue
        [decision] = await state.client.data_converter.decode(request.input.args.payloads, [ReviewDecision])
        at = event.event_time.ToDatetime(tzinfo=UTC)
        found = ReviewTakenFirst(action=decision.action, taken_by=decision.reviewer, taken_at=at, recorded=False)
    return found
