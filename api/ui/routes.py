"""Review pages: the queue, one task beside its raw bill, and the decision form's POST.

Every read and decision goes through the REST service functions (``review_queue``,
``read_task``, ``submit_decision``), so the UI enforces exactly what the API does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import ReviewerDep, StateDep
from api.problems import Problem
from api.routes.reviews import OPEN, read_task, review_queue, submit_decision
from api.schemas import ReviewDecisionCreate, ReviewTaskPublic
from api.services.jobs import JobCursor
from api.ui.deps import HOME_PATH, require_login, verify_csrf
from api.ui.forms import BillForm, error_messages
from api.ui.reasons import describe, flagged_fields
from api.ui.session import current_session, sessions_for
from api.ui.templating import STATIC_DIR, render
from shared.bill import Provider
from shared.review import ReviewAction

router = APIRouter(include_in_schema=False)
pages = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])

PAGE_SIZE = 50
BLANK_LINE_ITEMS = 2
BLANK_USAGE_ROWS = 1
PROVIDERS = frozenset(p.value for p in Provider)
DONE_VERB = {ReviewAction.APPROVE: "approved", ReviewAction.CORRECT: "corrected", ReviewAction.REJECT: "rejected"}


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
    digits = customer_id or ""
    customer = int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 19 else None  # not "²"
    after = _cursor_or_none(cursor)
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
    context = {
        **page,
        "flashes": flashes,
        "provider": chosen or "",
        "customer_id": str(customer or ""),
        "describe": describe,
        "page_size": PAGE_SIZE,
        "cursor": cursor if after else "",
    }
    return render(request, "queue.html", context)


def _cursor_or_none(cursor: str | None) -> JobCursor | None:
    try:
        return JobCursor.decode(cursor) if cursor else None
    except Problem:
        return None


@pages.get("/ui/reviews/{job_id}")
async def task_page(job_id: str, request: Request, state: StateDep, principal: ReviewerDep) -> Response:
    """The raw bill beside the extracted fields, with failing checks flagged where they are edited."""
    task = await read_task(state, principal, job_id)
    return _task_response(request, task, BillForm.from_bill(task.bill))


@pages.post("/ui/reviews/{job_id}", dependencies=[Depends(verify_csrf)])
async def decide(job_id: str, request: Request, state: StateDep, principal: ReviewerDep) -> Response:
    """Build a ReviewDecisionCreate from the form; refusals re-render the form as it was typed."""
    form = await request.form()
    values, note = BillForm.from_form(form), str(form.get("note") or "")
    override = form.get("override") == "on"
    task = await read_task(state, principal, job_id)
    shown = BillForm.from_bill(task.bill)
    try:
        body = _decision(form, values.keeping_untouched(shown))
    except ValidationError as err:
        messages, names = error_messages(err)
        return _task_response(
            request,
            task,
            values,
            error="Some values are not valid.",
            errors=messages,
            extra_flags=names,
            note=note,
            override=override,
            status_code=422,
        )
    except ValueError as err:
        return _task_response(request, task, values, error=str(err), note=note, override=override, status_code=422)
    if body.action is ReviewAction.APPROVE and values != shown.as_submitted():  # Enter in a field submits Approve
        return _task_response(
            request, task, values, error=EDITED_BUT_APPROVED, note=note, override=override, status_code=422
        )
    try:
        result = await submit_decision(state, principal, job_id, body)
    except Problem as problem:
        if problem.status_code not in {409, 422, 503}:
            raise
        task = await read_task(state, principal, job_id)  # a fresh revision if the task moved on
        failing = [str(c) for c in problem.extra.get("failing_checks", [])]
        return _task_response(
            request,
            task,
            values,
            error=str(problem.detail),
            failing=failing,
            errors=[str(e) for e in problem.extra.get("errors", [])],
            note=note,
            override=override,
            status_code=problem.status_code,
        )
    session = current_session(request)
    if session is not None:
        await sessions_for(request.app).flash(session, f"Job {job_id} {DONE_VERB[body.action]}: now {result.status}.")
    return RedirectResponse(HOME_PATH, status_code=303)


EDITED_BUT_APPROVED = (
    "You changed some fields, but Approve keeps the bill as extracted: use Save corrections to send"
    " your changes, or reload the page to approve the extracted values."
)


def _decision(form: Any, values: BillForm) -> ReviewDecisionCreate:
    """Approve keeps the extracted bill; only Save corrections sends the edited one."""
    try:
        action = ReviewAction(str(form.get("action") or ""))
    except ValueError:
        raise ValueError("Choose Approve, Save corrections or Reject.") from None
    note = str(form.get("note") or "").strip() or None
    if action is ReviewAction.REJECT and note is None:
        raise ValueError("Say why in the note when rejecting.")
    bill = values.to_bill() if action is ReviewAction.CORRECT else None
    override = action is ReviewAction.CORRECT and form.get("override") == "on"
    if override and note is None:
        raise ValueError("Say in the note why the bill is right as entered when you store it despite the checks.")
    return ReviewDecisionCreate(
        action=action, revision=str(form.get("revision") or ""), bill=bill, note=note, override=override
    )


def _task_response(
    request: Request,
    task: ReviewTaskPublic,
    values: BillForm,
    *,
    error: str | None = None,
    errors: list[str] | None = None,
    failing: list[str] | None = None,
    extra_flags: set[str] | None = None,
    note: str = "",
    override: bool = False,
    status_code: int = 200,
) -> Response:
    reasons = failing or task.reasons
    flagged = flagged_fields(reasons)
    for name in extra_flags or ():
        flagged.setdefault(name, []).append("invalid value")
    context = {
        "task": task,
        "form": values,
        "flagged": flagged,
        "error": error,
        "errors": errors or [],
        "reasons": [(r, describe(r)) for r in reasons],
        "failing_now": bool(failing),
        "editable": task.status in OPEN,
        "line_items": values.rendered_rows("line_items", BLANK_LINE_ITEMS),
        "usage": values.rendered_rows("usage", BLANK_USAGE_ROWS),
        "note": note,
        "override": override,
    }
    return render(request, "review.html", context, status_code=status_code)


router.include_router(pages)
