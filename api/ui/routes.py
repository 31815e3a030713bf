"""Review pages: the queue, one task beside its raw bill, and the decision form's POST.

Every read and decision goes through the REST service functions (``review_queue``,
``read_task``, ``submit_decision``), so the UI enforces exactly what the API does.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, parse_qsl, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from api.auth import Principal
from api.deps import ReviewerDep, StateDep
from api.problems import DATABASE_RETRY_AFTER, DATABASE_UNAVAILABLE, Problem, ProblemCode, is_database_down
from api.review_reasons import describe, flagged_fields
from api.routes.reviews import OPEN, read_task, review_queue, reviews_cursor_scope, submit_decision
from api.schemas import ReviewDecisionCreate, ReviewRefusal, ReviewTakenFirst, ReviewTaskInternal, visible_text
from api.services import review_claims as claims
from api.services.jobs import JobCursor, artifact_link, get_job_row
from api.services.reviewer_names import reviewer_shown, reviewers_shown_to
from api.state import AppState
from api.ui.deps import (
    FORM_MAX_FIELDS,
    HOME_PATH,
    LOGIN_PATH,
    LoginRequired,
    csrf_valid,
    require_login,
    reviewer_or_sign_in,
    safe_next,
    verified_sessions,
)
from api.ui.forms import SCALAR_FIELDS, BillForm, error_messages, is_bill_input
from api.ui.origin import from_this_origin
from api.ui.session import LOGIN_COOKIE, Session, current_session, read_cookie, sessions_for
from api.ui.templating import STATIC_DIR, login_page, render
from extraction.checks import passes_with_override, payments_typed_negative
from shared.bill import NormalizedBill, Provider
from shared.models import JobStatus
from shared.review import ReviewAction

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
pages = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])

TASK_PATH = "/ui/reviews/"
PAGE_SIZE = 50
QUEUE_QUERY_MAX = 500
BLANK_ROWS = {"line_items": 2, "usage": 1}
ADDED_ROWS = {"line_items": 5, "usage": 2}
"""Blank rows a table's Add rows button adds to it (the form has no JavaScript to add one at a time)."""
MAX_BLANK_ROWS = 100
ADD_ROWS = "add_rows"
"""A page from before each table had its own button (``add_rows:<table>``): rows for both tables."""
FIRST_INPUT = {"line_items": "description", "usage": "commodity"}
NO_DECISION = "none"
"""The page's hidden button that Enter on a checkbox reaches (see review.html): the page back, every entry kept."""
TAKE_OVER = "take_over"
"""The button shown instead of the decisions while a colleague has the task open: the task becomes this reviewer's,
and the page comes back with every entry kept."""
GIVEN_BACK = frozenset({ADD_ROWS, NO_DECISION, TAKE_OVER, *(f"{ADD_ROWS}:{kind}" for kind in BLANK_ROWS)})
PROVIDERS = frozenset(p.value for p in Provider)


@router.get("/ui/static/ui.css")
async def stylesheet() -> FileResponse:
    return FileResponse(STATIC_DIR / "ui.css", media_type="text/css")


@router.get("/ui")
async def home() -> RedirectResponse:
    return RedirectResponse(HOME_PATH, status_code=303)


@pages.get(HOME_PATH)
async def queue_page(
    request: Request,
    state: StateDep,
    principal: ReviewerDep,
    provider: str | None = None,
    customer_id: str | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Open tasks, oldest first; filter values (and a cursor) that do not parse are ignored, not a 422.

    "next" follows the page's cursor: colleagues deciding tasks on the pages before do not make it skip any."""
    chosen = provider if provider in PROVIDERS else None
    customer = _customer_or_none(customer_id)
    after = _cursor_or_none(cursor, chosen, customer)
    page = await review_queue(
        state,
        principal,
        provider=Provider(chosen) if chosen else None,
        customer_id=customer,
        limit=PAGE_SIZE,
        offset=0 if after else offset,
        after=after,
    )
    session = current_session(request)
    flashes = await sessions_for(request.app).pop_flashes(session) if session else []
    typed = (customer_id or "").strip()
    if customer is None and typed:  # ignored, it left the box blank and said nothing
        flashes.append(NO_SUCH_CUSTOMER_FILTER.format(typed=typed[:40]))
    context = {
        **page,
        "flashes": flashes,
        "provider": chosen or "",
        "customer_id": str(customer or ""),
        "describe": describe,
        "page_size": PAGE_SIZE,
        "cursor": cursor if after else "",
        "here": _queue_query(provider, customer_id, cursor),
        "me": reviewer_shown(principal, {principal.key_id})(principal.identity),  # as its queue's claims name it
    }
    return render(request, "queue.html", context)


NO_SUCH_CUSTOMER_FILTER = (
    "\u201c{typed}\u201d is no customer id (a customer's number, as the queue lists it): every customer's tasks are"
    " listed."
)


def _customer_or_none(digits: str | None) -> int | None:
    """The customer filter, or none: ``0`` (or ``00``) names no customer, and filtered the queue to nobody's tasks
    while its box showed blank."""
    digits = digits or ""
    number = int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 19 else None  # not "²"
    return number or None


def _queue_query(provider: str | None, customer_id: str | None, cursor: str | None) -> str:
    """The queue's filters and page as a query string, keeping only values the queue understands."""
    chosen, customer = provider if provider in PROVIDERS else None, _customer_or_none(customer_id)
    kept = {
        "provider": chosen,
        "customer_id": customer,
        "cursor": cursor if _cursor_or_none(cursor, chosen, customer) else None,
    }
    return urlencode({name: value for name, value in kept.items() if value})


def _queue_from(raw: str | None) -> str:
    """The queue a task was opened from (``?queue=``, then the form's hidden field), re-read, not trusted:
    one with more fields than a queue has (``parse_qs`` raises) is no queue."""
    try:
        params = parse_qs((raw or "")[:QUEUE_QUERY_MAX], max_num_fields=10)
    except ValueError:
        return ""

    def first(name: str) -> str | None:
        values = params.get(name)
        return values[0] if values else None

    return _queue_query(first("provider"), first("customer_id"), first("cursor"))


def _cursor_or_none(cursor: str | None, provider: str | None, customer_id: int | None) -> JobCursor | None:
    """The queue's cursor under its filters (``provider``, one of ``PROVIDERS``), or none: one that does not parse,
    or is another list's or other filters', starts the queue over."""
    scope = reviews_cursor_scope(Provider(provider) if provider else None, customer_id)
    try:
        return JobCursor.decode(cursor, scope) if cursor else None
    except Problem:
        return None


@pages.get(TASK_PATH + "{job_id}")
async def task_page(
    job_id: str,
    request: Request,
    state: StateDep,
    principal: ReviewerDep,
    queue: str | None = None,
) -> Response:
    """The raw bill beside the extracted fields, with failing checks flagged where they are edited.

    ``queue`` is the queue page it was opened from: the decision returns there, filters and page kept (one
    longer than a queue's is cut, as ``_queue_from`` reads it: the task still opens, not a 422)."""
    task = await read_task(state, principal, job_id)
    decided_duplicate = task.decision is not None and task.decision.job_status is JobStatus.DUPLICATE
    held_by = await _held_by(state, principal, job_id) if decided_duplicate else None
    # Opening the task claims it, unless a colleague has it open; a link from another site does not (a GET changes
    # nothing another site can make a browser ask for): the decision sent from the page claims it then.
    from_elsewhere = request.headers.get("sec-fetch-site") == "cross-site"
    claimed = await (_held(state, principal, task) if from_elsewhere else _claim(request, state, principal, task))
    return _task_response(
        request,
        task,
        BillForm.from_bill(task.bill),
        queue=_queue_from(queue),
        held_by=held_by,
        entries_sent=False,
        claimed=claimed,
    )


async def _claim(
    request: Request, state: AppState, principal: Principal, task: ReviewTaskInternal, *, take_over: bool = False
) -> claims.Claim | None:
    """Claim an open task for this reviewer; the colleague's claim that holds instead, if any (None: theirs, and the
    page says when it lapses, seen just now, beside Release)."""
    if task.status not in OPEN:
        return None
    job_id = uuid.UUID(task.job_id)
    held = await claims.claim(state.pool, job_id, principal, settings=state.settings, take_over=take_over)
    if held.held_by_other(principal):
        return await _claim_shown(state, principal, held)
    request.state.claim_lapses_at = datetime.now(UTC) + claims.lapse(state.settings)
    return None


@router.post(TASK_PATH + "{job_id}/release")
async def release(job_id: str, request: Request, state: StateDep) -> Response:
    """End this reviewer's own claim on the task, back to the queue: one who only looked keeps no colleague out for
    the lapse. A colleague's claim (they took it over) and any decision are left as they are."""
    principal = await reviewer_or_sign_in(request)
    if principal is None:  # signed out meanwhile: to sign in again (their claim lapses on its own)
        return RedirectResponse(LOGIN_PATH, status_code=303)
    session = current_session(request)
    await verified_sessions(request, [session] if session is not None else [])  # 403 unless this session's page
    task = await read_task(state, principal, job_id)  # one this key may not see is a 404, as its page is
    await claims.release(state.pool, uuid.UUID(task.job_id), principal)
    if session is not None:
        await sessions_for(request.app).flash(
            session, f"Job {task.job_id} released: it is free for a colleague to open."
        )
    return RedirectResponse(_queue_url(_queue_from(str((await request.form()).get("queue") or ""))), status_code=303)


async def _held(state: AppState, principal: Principal, task: ReviewTaskInternal) -> claims.Claim | None:
    """The colleague's claim that holds on an open task, if any, taking nothing: for a page that offers no decision
    until it is sent again, which then claims."""
    if task.status not in OPEN:
        return None
    held = await claims.current(state.pool, uuid.UUID(task.job_id), settings=state.settings)
    return await _claim_shown(state, principal, held) if held is not None and held.held_by_other(principal) else None


async def _claim_shown(state: AppState, principal: Principal, held: claims.Claim) -> claims.Claim:
    """A colleague's claim, its holder named to a key bound to a customer as ``read_task`` names a reviewer."""
    reviewers = await reviewers_shown_to(state.pool, principal, [held.reviewer])
    return held.model_copy(update={"reviewer": reviewers(held.reviewer)})


@router.post(TASK_PATH + "{job_id}")  # not among `pages`: a post after the session ended is answered here
async def decide(job_id: str, request: Request, state: StateDep) -> Response:
    """Build a ReviewDecisionCreate from the form; refusals re-render the form as it was typed, and so does a
    database outage before the decision was sent (``not_sent_page``)."""
    try:
        return await _decide(job_id, request, state)
    except DATABASE_UNAVAILABLE as error:
        # Once sent, the decision may have been taken: the plain 503 page says to send it again, which is safe.
        if not is_database_down(error) or getattr(request.state, "decision_sent", False):
            raise
        page = await not_sent_page(request, job_id)
        if page is None:
            raise
        logger.warning("database unavailable: decision form given back", extra={"error": repr(error)[:300]})
        return page


def _mark_sent(request: Request) -> None:
    """From here on a database outage may follow the decision's arrival at Temporal: not answered ``not_sent_page``."""
    request.state.decision_sent = True


async def _decide(job_id: str, request: Request, state: AppState) -> Response:
    principal = await reviewer_or_sign_in(request)  # here, not a dependency: its key lookup may meet the outage
    if principal is None:
        return await _sign_in_to_send(request)
    forged_or_stale = not await csrf_valid(request)  # parses the form (the many-field limit is set there)
    form = await request.form()
    note, override = _note(form), form.get("override") == "on"
    queue = _queue_from(str(form.get("queue") or ""))
    task = await read_task(state, principal, job_id)
    shown = BillForm.from_bill(task.bill)
    values, page_showed = _page_sent(form, task)
    kept: dict[str, Any] = {"note": note, "override": override, "queue": queue}
    if forged_or_stale and not from_this_origin(request):
        # SameSite (Lax) keeps other sites' posts cookieless, not other ports or subdomains of this one:
        # a page there could post a crafted correction, and a re-rendered form with a fresh token
        # would leave the reviewer one click from sending it.
        raise Problem(
            403,
            "the form's CSRF token is missing or invalid: reload the page and try again",
            code=ProblemCode.CSRF_INVALID,
        )
    if task.status in OPEN and page_showed is not None and _read_anew(page_showed, task):
        # The job ran again: first of all, whatever else is wrong with the form. Any other answer would show
        # the old page's values under the new revision, and a corrected resubmit would send them as checked.
        return _task_read_anew(request, task, values, page_showed, claimed=await _held(state, principal, task), **kept)
    if forged_or_stale:
        # Nothing is decided. The page is this signed-in reviewer's own, loaded before they signed in
        # again: give their edits back with a fresh token rather than a bare 403 that loses them.
        error = STALE_FORM if task.status in OPEN else CLOSED_SINCE.format(status=task.status)
        claimed = await _held(state, principal, task)  # read, not taken: nothing from this form is trusted yet
        return _task_response(request, task, values, error=error, status_code=403, claimed=claimed, **kept)
    action = str(form.get("action") or "")
    claimed = await _claim(request, state, principal, task, take_over=action == TAKE_OVER)
    if claimed is not None:  # a colleague took the task over (or opened it once this reviewer's claim lapsed)
        error = CLAIMED.format(reviewer=claimed.reviewer, since=f"{claimed.claimed_at:%Y-%m-%d %H:%M} UTC")
        return _task_response(request, task, values, error=error, status_code=409, claimed=claimed, **kept)
    if action in GIVEN_BACK:
        return _given_back(request, task, values, form, action, **kept)
    try:
        body = _decision(form, values.sendable().keeping_untouched(shown))
    except ValidationError as err:
        messages, invalid = error_messages(err, values.sendable_positions())
        error = "Some values are not valid: each is marked beside its field."
        return _refused(request, task, values, error=error, errors=messages, invalid=invalid, **kept)
    except NoteNeeded as err:  # marked on the note itself, for a screen reader reading that box
        return _refused(request, task, values, error=str(err), invalid={"note": [str(err)]}, **kept)
    except ValueError as err:
        return _refused(request, task, values, error=str(err), **kept)
    # Approve clicked after editing (or Enter in a field, on a page from before Enter sent nothing): the edits kept.
    if body.action is ReviewAction.APPROVE and values != shown.as_submitted():
        return _refused(request, task, values, error=EDITED_BUT_APPROVED, reload=True, **kept)
    try:
        result = await submit_decision(state, principal, job_id, body, on_sending=lambda: _mark_sent(request))
    except Problem as problem:
        if problem.status_code not in {409, 422, 503}:
            raise
        task = await read_task(state, principal, job_id)  # a fresh revision if the task moved on
        failing = [str(c) for c in problem.extra.get("failing_checks", [])]
        reason = problem.extra.get("reason")
        approving = body.action is ReviewAction.APPROVE
        error = _refusal_message(problem, task, approving=approving)  # the API's detail speaks to its clients
        if problem.status_code == 422 and body.bill is not None and payments_typed_negative(body.bill):
            error = PAYMENTS_SIGN  # not the override: ticked, it stored the payments with the wrong sign
        elif problem.status_code == 422 and _overridable(body, task):  # the API's says "send it with override"
            error = OVERRIDE_OFFERED
        taken_first = reason == ReviewRefusal.TAKEN_FIRST
        # A reopened bill's correction onto another bill's period is refused however confirmed: no box to tick.
        period_stored = reason == ReviewRefusal.PERIOD_STORED and problem.extra.get("outcome") != "refused"
        moved_on = task.revision != body.revision and not taken_first and not _stored_meanwhile(problem)
        if task.status in OPEN and moved_on:  # escalated meanwhile (not reopened for the refusal itself)
            if page_showed is not None and _read_anew(page_showed, task):  # the job ran again: as for Approve
                return _task_read_anew(request, task, values, page_showed, **kept)
            moved = MOVED_ON.format(status=task.status)  # the form has the task's revision now
            error = f"{STALE} {moved}" if reason == ReviewRefusal.STALE_REVISION else f"{error.rstrip('.')}. {moved}"
        return _task_response(
            request,
            task,
            values,
            error=error,
            failing=failing,
            failing_bill=body.bill,
            approving=approving,
            errors=[_message(e) for e in problem.extra.get("errors", [])],
            note=note,
            override=override,
            queue=queue,
            status_code=problem.status_code,
            taken_first=taken_first,
            # Offered again, ticked, where another refusal (the checks' 422) answers a decision that confirmed it.
            period_stored=period_stored or body.onto_stored_period,
            period_confirmed=body.onto_stored_period,
            reload=problem.status_code == 409 and reason != ReviewRefusal.PERIOD_STORED,  # the task moved on
        )
    session = current_session(request)
    if session is not None:
        said = f"Job {job_id} {body.action.done}: now {result.status}."
        if result.revises:
            said += f" Its bill replaced the one job {result.revises} stored for this account and period."
        if result.status is JobStatus.DUPLICATE:
            holder = f"job {result.duplicate_of}" if result.duplicate_of else "an earlier job"
            said = f"Job {job_id} {body.action.done}, but not stored: {NOT_STORED.format(holder=holder)}"
        await sessions_for(request.app).flash(session, said)
    return RedirectResponse(_queue_url(queue), status_code=303)


async def _held_by(state: AppState, principal: Principal, job_id: str) -> str:
    """Who holds the bill a decision on a job that ended DUPLICATE led to: the job that stored it first."""
    result = (await get_job_row(state.pool, principal=principal, job_id=job_id)).get("result")
    holder = result.get("duplicate_of") if isinstance(result, dict) else None
    return f"job {holder}" if holder else "an earlier job"


def _given_back(
    request: Request,
    task: ReviewTaskInternal,
    values: BillForm,
    form: Any,
    action: str,
    *,
    note: str,
    override: bool,
    queue: str,
) -> Response:
    """The page again with every entry and blank row kept; nothing is sent to the workflow. Add rows adds blank
    rows to its table (to both, from a page from before each had its own button); Enter on a checkbox adds none,
    and says only a decision button decides.

    A task escalated meanwhile says so, as a refused decision does: the page now carries its new revision."""
    if task.status not in OPEN:
        return _refused(request, task, values, error="", note=note, override=override, queue=queue)
    adding = list(BLANK_ROWS) if action == ADD_ROWS else [k for k in BLANK_ROWS if action == f"{ADD_ROWS}:{k}"]
    left = {kind: min(_rows_posted(form, kind) - len(values.rows[kind]), MAX_BLANK_ROWS) for kind in BLANK_ROWS}
    blanks = {kind: left[kind] + (ADDED_ROWS[kind] if kind in adding else 0) for kind in BLANK_ROWS}
    said = [ENTER_DECIDES_NOTHING] if action == NO_DECISION else []
    if str(form.get("revision") or "") != task.revision:
        said.append(MOVED_ON.format(status=task.status))
    # The keyboard goes on in the first row the button added, not at the top of the page it reloaded.
    focus = f"{adding[0]}-{len(values.rows[adding[0]]) + left[adding[0]]}-{FIRST_INPUT[adding[0]]}" if adding else ""
    return _task_response(
        request,
        task,
        values,
        error=" ".join(said) or None,
        note=note,
        override=override,
        queue=queue,
        blanks=blanks,
        focus=focus,
        status_code=422 if action == NO_DECISION else 200,
        taken_over=action == TAKE_OVER,
    )


def _rows_posted(form: Any, kind: str) -> int:
    """How many rows of ``kind`` the page had, filled or blank (the form keeps only those with entries)."""
    return len({name.split("-")[1] for name in form if is_bill_input(name) and name.startswith(f"{kind}-")})


def _message(error: Any) -> str:
    """An ``errors`` item of a problem as a line to read: its ``msg`` (located at ``loc``, if in the bill)."""
    if not isinstance(error, dict):
        return str(error)
    where = " ".join(str(part) for part in error.get("loc", []) if part != "body").replace("_", " ")
    return f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", ""))


def _refused(
    request: Request,
    task: ReviewTaskInternal,
    values: BillForm,
    *,
    error: str,
    note: str,
    override: bool,
    queue: str,
    errors: list[str] | None = None,
    invalid: dict[str, list[str]] | None = None,
    reload: bool = False,
) -> Response:
    """The form back with what to fix (422), nothing sent. On a task closed meanwhile, only that it is closed
    (409): no fix makes it sendable, and its fields now show the stored bill (a colleague's correction would
    make an untouched Approve read as edited)."""
    if task.status not in OPEN:
        error, errors, invalid = CLOSED_SINCE.format(status=task.status), None, None
    return _task_response(
        request,
        task,
        values,
        error=error,
        errors=errors,
        invalid=invalid,
        note=note,
        override=override,
        queue=queue,
        status_code=422 if task.status in OPEN else 409,
        reload=reload,
    )


SHOWN_VERSION = "v2:"
"""Begins the page's ``extracted`` since a value with line breaks is in a box of lines, which keeps them. One
without it is from a page from before (open across a deploy, or served by a replica not yet updated), whose
fingerprints and text inputs had every value without its line breaks."""
SHOWN_CHARS_PER_INPUT = 100
"""Of ``extracted``, per input of the bill the form posted: ``"line_items-12-description": "<16 hex>", `` is about
50. Other names (any number of them up to the form's field limit) add nothing: the page fingerprints only these."""


def _shown_on_page(form: Any) -> dict[str, str] | None:
    """What the page the form came from showed, input by input (its hidden ``extracted``: ``input_digests``);
    None from a page from before the field was added, or a form that garbled it (too long to be one input per
    field: a few hundred thousand ``[`` would recurse past the interpreter's limit)."""
    extracted = str(form.get("extracted") or "").removeprefix(SHOWN_VERSION)
    if len(extracted) > SHOWN_CHARS_PER_INPUT * sum(1 for name in form if is_bill_input(name)):
        return None
    try:
        shown = json.loads(extracted)
    except (ValueError, RecursionError):
        return None
    valid = isinstance(shown, dict) and all(isinstance(v, str) for v in shown.values())
    return shown if valid else None


def _page_sent(form: Any, task: ReviewTaskInternal) -> tuple[BillForm, dict[str, str] | None]:
    """The form's values (given back, by Add rows say: every row with an entry), and what its page showed
    (``_shown_on_page``).

    A page from before boxes of lines (no ``SHOWN_VERSION``) that showed this task's bill is read as a page of
    today: what it showed is this task's, and the values it left as shown get their line breaks back. An address
    in lines would otherwise make the job seem to have run again (409), or an untouched Approve seem edited."""
    values = BillForm.from_form(form, partial_rows=True)  # a refused decision gives back a row not yet complete too
    page_showed = _shown_on_page(form)
    if page_showed is None or str(form.get("extracted") or "").startswith(SHOWN_VERSION):
        return values, page_showed
    shown = BillForm.from_bill(task.bill)
    if page_showed == shown.as_submitted(text_inputs_only=True).input_digests():
        return values.sent_from_text_inputs(shown), _task_shows(task)
    return values, page_showed


def _read_anew(page_showed: dict[str, str], task: ReviewTaskInternal) -> bool:
    """Whether the task's bill is not the one the page showed: the job ran again (an operator reset it) and
    opened a new task with the bill read anew. Its values then differ from the page's, and Approve on the old
    page would otherwise be told the reviewer changed fields they never touched."""
    return page_showed != _task_shows(task)


def _over_new_reading(task: ReviewTaskInternal, values: BillForm, page_showed: dict[str, str]) -> tuple[BillForm, str]:
    """The new task's values where the reviewer left the old page's as shown, their entries where they changed
    one, and what to say of it."""
    on_page, rows_as_sent = values.over_new_reading(page_showed, BillForm.from_bill(task.bill))
    untouched = values.input_digests() == page_showed
    error = READ_ANEW if untouched else f"{READ_ANEW} {READ_ANEW_KEPT}"
    for kind in rows_as_sent:
        error += " " + ROWS_AS_SENT.format(table=kind.replace("_", " "))
    return on_page, error


def _task_read_anew(
    request: Request,
    task: ReviewTaskInternal,
    values: BillForm,
    page_showed: dict[str, str],
    *,
    note: str,
    override: bool,
    queue: str,
    claimed: claims.Claim | None = None,
) -> Response:
    """The new task (409), nothing sent: each field the reviewer did not change shows the bill read anew, each
    they did keeps their entry, as on any refused form, with the way to send them (``claimed``: a colleague's claim,
    offered to take over instead)."""
    on_page, error = _over_new_reading(task, values, page_showed)
    return _task_response(
        request, task, on_page, error=error, note=note, override=override, queue=queue, status_code=409, claimed=claimed
    )


async def _sign_in_to_send(request: Request) -> Response:
    """The sign-in form, carrying the decision form the reviewer sent after their session ended.

    Nothing is decided: once signed in they get the task page back with their entries (``draft_after_sign_in``)
    and send it again. A post the browser does not say this origin made is sent to sign in without it, as a
    page is: a page on another port or subdomain could otherwise put its own correction one click from sent."""
    if not from_this_origin(request):
        raise LoginRequired(request)
    form = await request.form(max_fields=FORM_MAX_FIELDS)
    sent = [(name, value) for name, value in form.multi_items() if isinstance(value, str) and name != "csrf_token"]
    draft = urlencode(sent)
    # The cookie's nonce, so sign-in forms open in other tabs stay valid; a page on another port or subdomain
    # may know it, but cannot post the draft back: login() keeps one only from this origin, signed by us.
    return login_page(
        request,
        read_cookie(request, LOGIN_COOKIE) or secrets.token_urlsafe(16),
        next_path=safe_next(request.url.path),
        error=SIGNED_OUT,
        status_code=401,
        draft=draft,
    )


async def draft_after_sign_in(
    request: Request, state: AppState, principal: Principal, session: Session, next_path: str, draft: str
) -> Response | None:
    """The task page ``next_path`` names, with the entries of ``draft`` and the new session's token (None: no
    such page, or none this key may read; the sign-in then goes on to ``next_path`` as usual)."""
    job_id = next_path.removeprefix(TASK_PATH)
    if job_id == next_path or not job_id or "/" in job_id:
        return None
    try:
        form = dict(parse_qsl(draft, keep_blank_values=True, max_num_fields=FORM_MAX_FIELDS))
        task = await read_task(state, principal, job_id)
    except (ValueError, Problem):
        return None
    request.state.ui_session = session  # the page's forms carry the token of the session just opened
    (values, page_showed), error = _page_sent(form, task), KEPT_THROUGH_SIGN_IN
    if page_showed is not None and _read_anew(page_showed, task):  # the job ran again while they were signed out
        values, error = _over_new_reading(task, values, page_showed)
    return _task_response(
        request,
        task,
        values,
        claimed=await _claim(request, state, principal, task),
        error=error if task.status in OPEN else CLOSED_SINCE.format(status=task.status),
        note=_note(form),
        override=form.get("override") == "on",
        queue=_queue_from(str(form.get("queue") or "")),
    )


@dataclass(frozen=True)
class UnreadTask:
    """What a page can say of a task it could not read (the database down): where its form goes, and the revision
    and raw bill's link the form was sent with."""

    job_id: str
    revision: str
    artifact_url: str
    account_number: str = ""
    account_label: str | None = None
    reopened: None = None
    """Not known unread: the page offers what any task's does (the workflow refuses a reopened bill's rejection)."""


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _echoed_artifact_url(job_id: str, echoed: str) -> str:
    """The raw bill's link the form echoed, named by its hash as the task's page named it; only this job's artifact
    link is taken back (the form is the sender's), else the plain link (the job's newest bill)."""
    sha256 = echoed.rpartition("=")[2]
    named = _SHA256.fullmatch(sha256) is not None and echoed == artifact_link(job_id, sha256)
    return artifact_link(job_id, sha256 if named else None)


def decision_job_id(path: str) -> str | None:
    """The job whose decision form posts to ``path`` (``TASK_PATH`` and its id), or None for any other path."""
    job_id = path.removeprefix(TASK_PATH)
    try:
        return str(uuid.UUID(job_id)) if job_id != path and "/" not in job_id else None
    except ValueError:
        return None


async def not_sent_page(request: Request, job_id: str) -> Response | None:
    """The decision form back as it was posted (503), saying nothing was sent, the database being unavailable: every
    entry kept, to send again once it is back. The task is not read (it cannot be), so the page shows the form
    alone, with the revision and ``extracted`` it was sent with, for the route to check when it is sent again, and the
    raw bill's link it echoed (``_echoed_artifact_url``).

    None (the plain 503 page) for a form no page of this origin posted, as a refused form is given back only to
    them, for a path that is no task's, or for a form that cannot be read. The token is the session's where the
    session was read, else the one the form echoed, checked when it is sent again."""
    job = decision_job_id(f"{TASK_PATH}{job_id}")
    if job is None or not from_this_origin(request):
        return None
    try:
        form = await request.form(max_fields=FORM_MAX_FIELDS)
    except (HTTPException, ClientDisconnect):
        return None
    values = BillForm.from_form(form, partial_rows=True)
    queue = _queue_from(str(form.get("queue") or ""))
    context: dict[str, Any] = {
        "task": UnreadTask(
            job_id=job,
            revision=str(form.get("revision") or ""),
            artifact_url=_echoed_artifact_url(job, str(form.get("artifact_url") or "")),
        ),
        "form": values,
        "flagged": {},
        "invalid": {},
        "error": NOT_SENT_DATABASE_DOWN,
        "errors": [],
        "approving": False,
        "failing_now": False,
        "editable": True,
        "decision": None,
        "line_items": values.rendered_rows("line_items", BLANK_ROWS["line_items"]),
        "usage": values.rendered_rows("usage", BLANK_ROWS["usage"]),
        "note": _note(form),
        "override": form.get("override") == "on",
        "queue": queue,
        "back": _queue_url(queue),
        "extracted": str(form.get("extracted") or ""),
        "focus": "",
        "yours": None,
        "taken_first": False,
        "claimed": None,
        "reload": False,  # the error says to send again in a few seconds: these entries, not the task anew
        "taken_over": False,
        "lapses_at": None,  # not known: the claim was not read
        "period_stored": False,  # a confirmation ticked is asked for again, should the period still be stored
        "period_confirmed": False,
    }
    if current_session(request) is None:
        context["csrf_token"] = str(form.get("csrf_token") or "")
    response = render(request, "not_sent.html", context, status_code=503)
    response.headers["Retry-After"] = DATABASE_RETRY_AFTER
    return response


def _queue_url(queue: str) -> str:
    return f"{HOME_PATH}?{queue}" if queue else HOME_PATH


MOVED_ON = (
    "The task was updated while you had it open (it is {status} now): your entries are kept below;"
    " check them against the bill and send again."
)
STALE_FORM = (
    "Nothing was sent: this page was loaded under an earlier sign-in (its form has expired)."
    " Your entries are below; check them and send again."
)
SIGNED_OUT = (
    "Your session ended before your decision arrived: nothing was sent. Sign in again to get the task back"
    " with your entries."
)
KEPT_THROUGH_SIGN_IN = "Nothing was sent: your session had ended. Your entries are below; check them and send again."
NOT_STORED = "{holder} already holds this account's bill for this period."
"""Why a decision that ended the job DUPLICATE stored nothing: the bill it led to was stored before."""
NOT_SENT_DATABASE_DOWN = (
    "Nothing was sent: the database is unavailable just now, so your decision could not be sent. Your entries are"
    " below: send your decision again in a few seconds."
)
CLOSED_SINCE = "Nothing was sent: this task has been closed since you opened it (it is {status} now)."
READ_ANEW = (
    "Nothing was sent: the job ran again since you opened this page, and its new task has the bill read anew."
    " The new task is below: check its values against the bill, then decide again."
)
READ_ANEW_KEPT = (
    "The fields you changed keep your entries, the others show the new reading: Approve keeps the new extracted"
    " values, so use Save corrections to send yours."
)
ROWS_AS_SENT = (
    "You changed the {table} rows and the new reading's differ from those your page showed, so the {table} rows"
    " are yours as you sent them, none taken from the new reading: check each row against the bill."
)
ENTER_DECIDES_NOTHING = (
    "Nothing was sent: Enter decides nothing. Choose Approve, Save corrections or Reject (Space ticks a box)."
)
EDITED_BUT_APPROVED = (
    "You changed some fields, but Approve keeps the bill as extracted: use Save corrections to send"
    " your changes, or reload the task to approve the extracted values."
)


TAKEN_FIRST = (
    "Nothing was sent: another decision was taken first ({action} by {reviewer} at {at:%Y-%m-%d %H:%M:%S} UTC)."
)
TAKEN_FIRST_PENDING = " It is being recorded: reload the task in a moment to see the outcome."
TAKEN_FIRST_RECORDED = " It stands, as shown below."
YOURS_KEPT = " Your entries are kept below it, not sent."
PERIOD_STORED = (
    "Nothing was sent: job {job} already stored this account's bill for that period, and this bill would {outcome}."
    " Check the period and the account number. If they are right, tick \u201cThe period is right\u201d and save the"
    " corrections again."
)
STORED_MEANWHILE = (
    "Nothing was stored: while your corrections were on their way, job {job} stored this account's bill for that"
    " period, and this bill would {outcome}. Check the period and the account number. If they are right, tick"
    " \u201cThe period is right\u201d and save the corrections again."
)
"""``PERIOD_STORED``'s words for a correction persist held (the 409 gives the task's new ``revision``): sent, it met a
bill stored after the check (two reviewers correcting onto one period at once)."""
APPROVED_MEANWHILE = (
    "Nothing was stored: while your approval was on its way, job {job} stored this account's bill for that period as"
    " a reviewer corrected it, and approving this statement (a re-issue: its statement date is later) would replace it"
    " with the values as extracted, theirs put aside. Compare the two: correct this bill to keep what they set, or"
    " tick \u201cThe period is right\u201d and approve again."
)
"""``PERIOD_CORRECTED``'s, for an approval persist held so."""
CORRECTED_THERE = " A reviewer corrected that bill: storing this one puts their figures aside (kept in its history)."
PERIOD_CORRECTED = (
    "Nothing was sent: job {job} stored this account's bill for that period as a reviewer corrected it, and approving"
    " this statement (a re-issue: its statement date is later) would replace it with the values as extracted, theirs"
    " put aside. Compare the two: correct this bill to keep what they set, or tick \u201cThe period is right\u201d"
    " and approve again."
)
PERIOD_STORED_OUTCOMES = {
    "replaces": "replace it (as a re-issued statement: its statement date is later)",
    "duplicate": "be refused as its duplicate, and your corrections not stored",
}
PERIOD_TAKEN = (
    "Nothing was sent: job {job} already stored this account's bill for that period, and a reopened bill cannot take"
    " another bill's period. Check the period and the account number."
)
STALE = "Nothing was sent: the task changed since this page was read."
STALE_RELOAD = "Reload the task and check it against the bill before you decide again: your entries are kept below."
NOT_PENDING = (
    "Nothing was sent: this task is not waiting for a decision any more (one may have just been taken, or the job"
    " is being closed). Reload the task in a moment to see how it stands."
)


OVERRIDE_OFFERED = (
    "Nothing was sent: the corrected bill fails validation (the checks below). If the bill really says this, tick"
    " \u201cThe bill really says this\u201d, say why in the note, and save the corrections again."
)


PAYMENTS_SIGN = (
    "Nothing was sent: the bill balances once its payments received are positive. Type them without the minus sign"
    " the bill prints: they are taken off the previous balance. Then save the corrections again."
)


def _overridable(body: ReviewDecisionCreate, task: ReviewTaskInternal) -> bool:
    """Whether a correction sent without the override box ticked fails only checks that box lets it pass."""
    if body.action is not ReviewAction.CORRECT or body.bill is None or body.override:
        return False
    return passes_with_override(body.bill, task.account_number, task.provider)


def _refusal_message(problem: Problem, task: ReviewTaskInternal, *, approving: bool) -> str:
    """The page's words for a decision the API refused, by the problem's ``reason``; a refusal without one (a
    correction failing checks, Temporal not answering) is said as the API says it."""
    reason = problem.extra.get("reason")
    if reason == ReviewRefusal.TAKEN_FIRST:  # who beat them, and where to see it
        taken = ReviewTakenFirst.model_validate(problem.extra)
        said = TAKEN_FIRST.format(action=taken.action.done, reviewer=taken.taken_by, at=taken.taken_at.astimezone(UTC))
        return said + (TAKEN_FIRST_RECORDED if task.decision is not None else TAKEN_FIRST_PENDING) + YOURS_KEPT
    if reason == ReviewRefusal.STALE_REVISION:
        return f"{STALE} {STALE_RELOAD}"
    if reason == ReviewRefusal.NOT_PENDING:
        return NOT_PENDING if task.status in OPEN else CLOSED_SINCE.format(status=task.status)
    if reason == ReviewRefusal.PERIOD_STORED and problem.extra.get("outcome") == "refused":
        return PERIOD_TAKEN.format(job=problem.extra.get("stored_job_id"))
    if reason == ReviewRefusal.PERIOD_STORED and approving:
        said = APPROVED_MEANWHILE if _stored_meanwhile(problem) else PERIOD_CORRECTED
        return said.format(job=problem.extra.get("stored_job_id"))
    if reason == ReviewRefusal.PERIOD_STORED:
        outcome = PERIOD_STORED_OUTCOMES.get(str(problem.extra.get("outcome")), "replace it or be its duplicate")
        said = (STORED_MEANWHILE if _stored_meanwhile(problem) else PERIOD_STORED).format(
            job=problem.extra.get("stored_job_id"), outcome=outcome
        )
        return said + (CORRECTED_THERE if problem.extra.get("stored_corrected") else "")
    return str(problem.detail)


def _stored_meanwhile(problem: Problem) -> bool:
    """Whether a 409 ``period_stored`` answers a correction persist held, its task open again under a new revision."""
    return problem.extra.get("reason") == ReviewRefusal.PERIOD_STORED and "revision" in problem.extra


CLAIMED = (
    "Nothing was sent: {reviewer} has had this task open since {since} (they took it over, or opened it once you had"
    " left it for a while). Your entries are below: take the task over to send them, once you have agreed who decides."
)


def _note(form: Any) -> str:
    """The note as typed: a browser sends each line break as CRLF, but its box counts one character for it
    (``maxlength``), so a note that fitted there would be refused as too long."""
    return str(form.get("note") or "").replace("\r\n", "\n")


class NoteNeeded(ValueError):
    """The decision needs a note saying why: refused beside the note box."""


def _decision(form: Any, values: BillForm) -> ReviewDecisionCreate:
    """Approve keeps the extracted bill; only Save corrections sends the edited one."""
    try:
        action = ReviewAction(str(form.get("action") or ""))
    except ValueError:
        raise ValueError("Choose Approve, Save corrections or Reject.") from None
    written = _note(form).strip()
    note = written if visible_text(written) else None  # zero-width characters alone say nothing, as blanks do
    if action is ReviewAction.REJECT and note is None:
        raise NoteNeeded("Say why in the note when rejecting.")
    bill = values.to_bill() if action is ReviewAction.CORRECT else None
    override = action is ReviewAction.CORRECT and form.get("override") == "on"
    onto_stored_period = action is not ReviewAction.REJECT and form.get("onto_stored_period") == "on"
    if override and note is None:
        raise NoteNeeded("Say in the note why the bill is right as entered when you store it despite the checks.")
    return ReviewDecisionCreate(
        action=action,
        revision=str(form.get("revision") or ""),
        bill=bill,
        note=note,
        override=override,
        onto_stored_period=onto_stored_period,
    )


def _task_response(
    request: Request,
    task: ReviewTaskInternal,
    values: BillForm,
    *,
    error: str | None = None,
    errors: list[str] | None = None,
    failing: list[str] | None = None,
    failing_bill: NormalizedBill | None = None,
    approving: bool = False,
    invalid: dict[str, list[str]] | None = None,
    note: str = "",
    override: bool = False,
    queue: str = "",
    status_code: int = 200,
    blanks: dict[str, int] | None = None,
    held_by: str | None = None,
    focus: str = "",
    entries_sent: bool = True,
    taken_first: bool = False,
    claimed: claims.Claim | None = None,
    reload: bool = False,
    period_stored: bool = False,
    period_confirmed: bool = False,
    taken_over: bool = False,
) -> Response:
    """``invalid``: the messages of each input whose value was refused (keyed by its form name); ``values``
    are shown only while the task is open; ``blanks``: the blank rows under each table's; ``approving``:
    ``failing`` are the extracted bill's, refused as approved, not a correction's; ``held_by``: of a decision
    that ended the job DUPLICATE, the job that stored the bill first (``_held_by``); ``focus``: the row input the
    page puts the keyboard in (an error, when there is one, takes it first); ``entries_sent``: ``values`` (and
    ``note``) are what the reviewer sent, not the task's own bill; ``taken_first``: another decision was taken
    first, so nothing may be sent from this page though the task may not read closed yet; ``claimed``: the claim of
    the colleague who has the task open, offered to take over instead of the decisions; ``reload``: the error says to
    reload the task, and a link beside it does (the browser's reload of a page a form's post answered sends the form
    again, and was refused again); ``period_stored``: the correction's period is another job's stored bill's, and
    the box that confirms it is offered (ticked: ``period_confirmed``); ``taken_over``: the reviewer just took the task
    over from a colleague, and the page says so.

    A closed task says how it was decided, by whom and with what note: a colleague's decision (say, the
    one that just refused this reviewer's) is otherwise invisible, and a rejected bill looks like any other."""
    editable = task.status in OPEN and not taken_first
    yours = None
    if not editable:  # decided or closed meanwhile: the fields show the bill as stored, as the page says
        stored = BillForm.from_bill(task.bill)
        if entries_sent and (note.strip() or values != stored.as_submitted()):
            yours = values  # what they typed is not lost: shown apart, read-only, to compare or copy
        values = stored
    reasons = failing or task.reasons
    # A closed task's fields are the bill as stored, read-only: marked invalid with why it went to review, its
    # corrected total read "check it on the bill" to a screen reader. The reasons stay listed above them.
    flagged = flagged_fields(reasons) if editable else {}
    for name in invalid or {}:
        kind = name.split("-", 1)[0]
        if kind != name:  # a row's input: its table is flagged too, the message goes beside the input
            flagged.setdefault(kind, [])
    if error or taken_over:  # said at the top, where the keyboard starts
        focus = ""
    elif editable and not focus:
        focus = _first_marked(flagged.keys() | (invalid or {}).keys())
    context = {
        "task": task,
        "form": values,
        "flagged": flagged,
        "invalid": invalid or {},
        "error": error,
        "errors": errors or [],
        "reasons": [(r, describe(r, failing_bill if failing else task.bill)) for r in reasons],
        "failing_now": bool(failing),
        "approving": approving,
        "editable": editable,
        "decision": task.decision,
        "line_items": values.rendered_rows("line_items", (blanks or BLANK_ROWS)["line_items"]),
        "usage": values.rendered_rows("usage", (blanks or BLANK_ROWS)["usage"]),
        "note": note,
        "override": override,
        "queue": queue,
        "back": _queue_url(queue),
        "extracted": _shown_field(task),
        "not_stored": NOT_STORED.format(holder=held_by or "an earlier job"),
        "focus": focus,
        "yours": yours,
        "taken_first": taken_first,
        "claimed": claimed if editable else None,
        "reload": reload,
        "period_stored": period_stored,
        "period_confirmed": period_confirmed,
        "taken_over": taken_over,
        "lapses_at": getattr(request.state, "claim_lapses_at", None) if editable else None,
    }
    return render(request, "review.html", context, status_code=status_code)


def _first_marked(marked: Collection[str]) -> str:
    """The page's first input that a check flags or that was refused (of a flagged table, its first row's first):
    a reviewer opening the task lands on the field to fix, not on the top of a page of fields."""
    first = next((name for name in (*SCALAR_FIELDS, *BLANK_ROWS, "note") if name in marked), "")
    return f"{first}-0-{FIRST_INPUT[first]}" if first in FIRST_INPUT else first


def _shown_field(task: ReviewTaskInternal) -> str:
    """The page's hidden ``extracted``: what it shows, input by input, for ``_shown_on_page`` to read back."""
    return SHOWN_VERSION + json.dumps(_task_shows(task), separators=(",", ":"))


def _task_shows(task: ReviewTaskInternal) -> dict[str, str]:
    """What a page of ``task`` shows, input by input (``BillForm.input_digests``)."""
    return BillForm.from_bill(task.bill).as_submitted().input_digests()


router.include_router(pages)
