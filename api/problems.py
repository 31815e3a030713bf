"""RFC 9457 problem details: every error is ``application/problem+json``, never a stack trace."""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import asyncpg
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from api.json_names import NameRepeated
from api.multipart_end import MultipartCutOff
from shared.artifacts import ArtifactStoreMisconfigured
from shared.db import PostgresUnreachable

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

STORAGE_RETRY_AFTER = "5"
"""Retry-After (seconds) of a 503 for an object-storage outage: outages outlast a quick retry."""
TEMPORAL_RETRY_AFTER = "5"
"""Retry-After (seconds) of a 503 for Temporal or its workers not answering: a restart or a backlog outlasts a quick
retry too."""
DATABASE_RETRY_AFTER = "5"
"""Retry-After (seconds) of a 503 for a Postgres outage (a failover, a Cloud SQL proxy restart)."""
DATABASE_DOWN_DETAIL = (
    "the database did not answer: send the request again shortly (under the same Idempotency-Key, where the"
    " route takes one)"
)

STORAGE_MISCONFIGURED_DETAIL = (
    "object storage is misconfigured on our side: no bill can be stored or read until an operator fixes it;"
    " resending the request will not help"
)
"""The 500 for ``ArtifactStoreMisconfigured``: a server fault no wait mends, so nothing in it says to retry.
Customers' keys read it too: what was refused, and whose credentials, is for the operator's log alone."""

DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # a connection lost mid-query
    asyncpg.CannotConnectNowError,  # the server starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    OSError,  # a connection never made: refused, reset, timed out, no socket file (asyncpg's own only)
)
"""Errors that mean Postgres (or the way to it) is down, not that the request or the code is wrong.
An ``OSError`` (``TimeoutError`` too) counts only when asyncpg raised it (``is_database_down``): one
from anywhere else (a file, a full disk) is a bug, answered 500 and logged with its traceback."""


def is_database_down(error: BaseException) -> bool:
    """Whether ``error`` says Postgres cannot be reached (see ``DATABASE_UNAVAILABLE``)."""
    if isinstance(error, PostgresUnreachable):
        return True
    if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        return isinstance(error, DATABASE_UNAVAILABLE)
    if not isinstance(error, OSError):
        return False
    return any(
        f"{os.sep}asyncpg{os.sep}" in frame.f_code.co_filename for frame, _ in traceback.walk_tb(error.__traceback__)
    )


class _OutageLog:
    """The API's log of requests refused for Postgres down: the first of an outage, then one line a minute with how
    many since. One line a request was 630 in a 34 s outage (an operator's drill), burying what else was logged; the
    access log still has each request's 503. An outage is over once none was refused for a minute."""

    EVERY_SECONDS = 60.0
    OVER_AFTER_SECONDS = 60.0

    def __init__(self) -> None:
        self._refused = 0
        self._since = self._said_at = self._last = -self.OVER_AFTER_SECONDS

    def refused(self, path: str, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._last >= self.OVER_AFTER_SECONDS:  # a new outage
            self._refused, self._since, self._said_at = 0, now, now
            logger.warning("database unavailable", extra={"path": path, "error": repr(error)[:300]})
        self._refused += 1
        self._last = now
        if now - self._said_at >= self.EVERY_SECONDS:
            self._said_at = now
            logger.warning(
                "database still unavailable",
                extra={
                    "path": path,
                    "error": repr(error)[:300],
                    "requests_refused": self._refused,
                    "for_s": round(now - self._since),
                },
            )


_outage = _OutageLog()


def database_down_response(request: Request, error: BaseException) -> JSONResponse:
    """The 503 for ``is_database_down`` errors, logged (``_OutageLog``): the app's handler and the UI session
    middleware (which runs outside the handlers) both answer with it."""
    # A 503, not a 500: the client (or its retry library) should send it again. A connection lost
    # at COMMIT may have committed: the route's Idempotency-Key makes the repeat safe.
    _outage.refused(request.url.path, error)
    return problem_response(
        request,
        503,
        DATABASE_DOWN_DETAIL,
        code=ProblemCode.DATABASE_UNAVAILABLE,
        headers={"Retry-After": DATABASE_RETRY_AFTER},
    )


class ProblemCode(StrEnum):
    """What went wrong, for a client to branch on: a problem's ``code`` member. ``detail`` says it in words for a
    person and may change between releases; a code does not. A review decision's 409 has its ``reason`` as code."""

    INVALID_REQUEST = "invalid_request"
    """The body, a query parameter or a header failed validation (``errors`` lists each)."""
    MALFORMED_BODY = "malformed_body"
    """The codec endpoints' body is no Temporal payload list."""
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    """The body was sent as another type than the route reads (JSON, or a multipart form for uploads)."""
    UNSUPPORTED_FILE_TYPE = "unsupported_file_type"
    """The uploaded file is no PDF, PNG, JPEG or plain text."""
    CONTENT_TOO_LARGE = "content_too_large"
    """The body or the upload is over its limit."""
    EMPTY_FILE = "empty_file"
    """The uploaded file is empty, or blank space alone."""
    ONE_FILE_PER_REQUEST = "one_file_per_request"
    """An upload sent several files or account ids."""
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    """The Idempotency-Key was used before for another request, or another file."""
    INVALID_CURSOR = "invalid_cursor"
    """The cursor is not one this API gave, or was given for other filters."""
    CURSOR_AND_OFFSET = "cursor_and_offset"
    """A list was asked for with both a cursor and an offset."""
    EMPTY_TIME_WINDOW = "empty_time_window"
    """``created_after`` is not earlier than ``created_before``."""
    NO_CONNECTOR = "no_connector"
    """No connector fetches the account's bills (no provider, or none deployed): upload the bill instead."""
    PAYLOAD_UNDECRYPTABLE = "payload_undecryptable"
    """The codec could not open a payload: tampered, or sealed with a key no longer held."""
    DECISION_INVALID = "decision_invalid"
    """A review decision's body is invalid, or its corrected bill fails checks (``failing_checks``)."""
    API_KEY_MISSING = "api_key_missing"
    """No API key was sent."""
    API_KEY_AMBIGUOUS = "api_key_ambiguous"
    """Two keys were sent (both headers, or one header repeated)."""
    API_KEY_INVALID = "api_key_invalid"
    """The API key is unknown, revoked or expired."""
    FORBIDDEN = "forbidden"
    """The key's role may not do this."""
    CSRF_INVALID = "csrf_invalid"
    """The review page's form token is missing or stale: reload the page."""
    NOT_FOUND = "not_found"
    """No such route, or no such object the key may see (another customer's answers so too)."""
    STORED_BILL_UNAVAILABLE = "stored_bill_unavailable"
    """The job has no stored bill (yet), or it is gone from object storage or outside the configured one."""
    METHOD_NOT_ALLOWED = "method_not_allowed"
    """The path takes other methods (``Allow`` names them)."""
    ACCOUNT_EXISTS = "account_exists"
    """The customer already has the utility account (``utility_account_id``)."""
    PROVIDER_SET = "provider_set"
    """The utility account has a provider already: it stays (register the number with another as another account)."""
    STALE_REVISION = "stale_revision"
    """The review task changed since it was read (``revision`` is the task's now)."""
    NOT_PENDING = "not_pending"
    """The job is not awaiting review."""
    TAKEN_FIRST = "taken_first"
    """Another review decision was taken first (``action``, ``taken_by``, ``taken_at``)."""
    BILL_REOPENED = "bill_reopened"
    """Another job reviews the reopened bill already (``job_id``; ``reopen_job_id`` for a decision that would replace
    it): decide its task first."""
    STORED_BILL_CHANGED = "stored_bill_changed"
    """A reopened bill's correction: the bill was replaced since it was reopened (``stored_job_id`` stored it)."""
    PERIOD_STORED = "period_stored"
    """Another job stored a bill for the correction's account and period: check it, then ``onto_stored_period``."""
    REVIEW_CONFLICT = "review_conflict"
    """The workflow refused the decision for another reason, named in ``detail``."""
    RATE_LIMITED = "rate_limited"
    """The key's budget for this action is spent for now (``Retry-After``)."""
    INTERNAL_ERROR = "internal_error"
    """A fault on MiniMeter's side, logged."""
    STORAGE_MISCONFIGURED = "storage_misconfigured"
    """Object storage refuses MiniMeter's credentials: an operator must fix it; resending will not help."""
    DATABASE_UNAVAILABLE = "database_unavailable"
    """Postgres did not answer: send the request again shortly (``Retry-After``)."""
    STORAGE_UNAVAILABLE = "storage_unavailable"
    """Object storage did not answer: send the request again shortly (``Retry-After``)."""
    TEMPORAL_UNAVAILABLE = "temporal_unavailable"
    """Temporal or the run's worker did not answer in time: send the decision again (``Retry-After``)."""
    PAYLOAD_KEY_PENDING = "payload_key_pending"
    """The workflow's answer is sealed with a payload key this API does not hold yet: send the decision again."""
    HTTP_ERROR = "http_error"
    """Any other HTTP error the framework answers (its status says which)."""


_FRAMEWORK_CODES = {
    404: ProblemCode.NOT_FOUND,
    405: ProblemCode.METHOD_NOT_ALLOWED,
    413: ProblemCode.CONTENT_TOO_LARGE,
    415: ProblemCode.UNSUPPORTED_MEDIA_TYPE,
}
"""The codes of the errors Starlette raises itself (an unknown path, a method the path does not take)."""


class ProblemDetails(BaseModel):
    """The RFC 9457 body every error answers with (extra members, e.g. ``errors``, allowed)."""

    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)
    type: str
    title: str
    status: int
    code: str = Field(json_schema_extra={"enum": [code.value for code in ProblemCode]})
    """What went wrong, for a client to branch on (``detail`` says it for a person, and may change): one of
    ``ProblemCode``'s, listed inline, since each response's schema stands alone in the document."""
    detail: Any = None
    instance: str | None = None


_DESCRIPTIONS = {
    400: "the request body is malformed",
    401: "missing, invalid, revoked or expired API key",
    403: "the key's role may not do this",
    404: "not found (or not the caller's)",
    409: "conflicts with the current state",
    413: "the upload is too large",
    415: "unsupported media type",
    422: "the request is invalid",
    429: "rate limit exceeded (see Retry-After)",
    503: "a dependency (Temporal, object storage, the database) did not answer: try again (see Retry-After, if sent)",
}


def problem_responses(
    *codes: int, members: Mapping[int, type[ProblemDetails]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem+json errors, so clients and fuzzers know them; ``members`` names a
    code's problem with extension members of its own (a 409's ``utility_account_id``), else ``ProblemDetails`` (a
    422's ``InvalidRequest``, with its ``errors``)."""
    models: dict[int, type[ProblemDetails]] = {422: InvalidRequest, **(members or {})}
    return {
        code: {
            "description": _DESCRIPTIONS.get(code, "error"),
            "content": {PROBLEM_JSON: {"schema": models.get(code, ProblemDetails).model_json_schema()}},
            **({"headers": {"Retry-After": _RETRY_AFTER}} if code in (429, 503) else {}),
        }
        for code in codes
    }


_RETRY_AFTER = {
    "description": "seconds to wait before trying again (a 503 sends it where the outage is known)",
    "schema": {"type": "integer", "minimum": 0},
}
"""A 429's and a 503's header, declared so a generated client exposes it: only in their descriptions' text, it was
not (an integrator's probe)."""


class InvalidRequest(ProblemDetails):
    """A 422: what is wrong with the request, each with where (``errors``)."""

    errors: list[dict[str, Any]] | None = None
    """Each error: ``loc`` (where: ``["body", "customer_id"]``, ``["query", "limit"]``), ``msg`` and ``type``. Only
    in OpenAPI's ``ProblemDetails`` as an extra member, a generated client dropped it (an integrator's probe)."""


class AccountConflict(ProblemDetails):
    """``POST /utility-accounts``'s 409: the customer already has the account."""

    utility_account_id: int
    """The account already registered: a key that may not list accounts learns its id here."""


class ReviewConflict(ProblemDetails):
    """A review decision's 409: the task moved on, or another decision was taken first."""

    reason: (
        Literal["stale_revision", "not_pending", "taken_first", "period_stored", "bill_reopened", "stored_bill_changed"]
        | None
    ) = None
    """What to do: ``stale_revision``, read the task again (``revision`` is its revision now); ``not_pending``, the
    job is not awaiting review; ``taken_first``, another decision was (``action``, ``taken_by``, ``taken_at``);
    ``period_stored``, job ``stored_job_id`` stored a bill for the corrected account and period (or, to an approval,
    a bill a reviewer corrected that this re-issued statement would replace): check the period, and send the decision
    again with ``onto_stored_period`` if it is right (``outcome`` says what storing it does); ``bill_reopened``, the
    decision would replace a stored bill a reviewer reopened and has not decided (``reopen_job_id``): send it again once
    that is decided; ``stored_bill_changed``, a reopened bill was replaced since it was reopened (job ``stored_job_id``
    stored it): approve the task to close it, and reopen the bill to review what it holds now."""
    revision: str | None = None
    stored_job_id: str | None = None
    reopen_job_id: str | None = None
    """``bill_reopened``'s: the job reviewing the stored bill this decision would replace."""
    outcome: Literal["replaces", "duplicate", "refused"] | None = None
    """``period_stored``'s: a later statement date replaces the stored bill (a re-issue); any other is its
    duplicate, and nothing of the corrected bill is stored; ``refused`` for a reopened bill's correction, which may
    not take another stored bill's period (``onto_stored_period`` does not confirm it)."""
    stored_corrected: bool | None = None
    """``period_stored``'s: whether the stored bill is a reviewer's correction, whose figures storing this one loses
    (kept in its revisions)."""
    action: Literal["approve", "correct", "reject"] | None = None
    taken_by: str | None = None
    taken_at: datetime | None = None
    recorded: bool | None = None
    """False in the moment before the job reads RUNNING, while only the run's history has the decision."""


class DecisionInvalid(InvalidRequest):
    """A review decision's 422: the body is invalid (``errors``), or a correction fails the bill's checks."""

    failing_checks: list[str] | None = None
    """The checks a corrected bill fails: fix the bill, or send ``override`` with a note where it is right."""
    failing_check_details: list[dict[str, Any]] | None = None
    """Each of ``failing_checks`` explained, with the corrected bill's sums: ``{code, text, fields}``, as a task's
    ``reason_details`` (``GET /reviews/{job_id}``)."""


class ReopenConflict(ProblemDetails):
    """``POST /bills/{id}/reopen``'s 409: a reopening of the bill is open already."""

    job_id: str
    """The open reopening's job: decide its review task."""


class Problem(HTTPException):
    """An HTTP error with a problem type and optional extra members (e.g. failing checks)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: ProblemCode,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.code = code
        self.title = title
        self.extra = extra


_TITLES = {413: "Content Too Large"}
"""RFC 9110's names where Python's ``HTTPStatus`` keeps older ones ("Request Entity Too Large" until 3.13): the body
limit's 413 and a route's read alike."""


def problem_body(
    status: int, detail: Any, *, code: ProblemCode, instance: str, title: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A problem's members, for ``problem_response`` and for a middleware that answers before any route."""
    from http import HTTPStatus

    return {
        "type": "about:blank",
        "title": title or _TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
        "code": code.value,
        "detail": detail,
        "instance": instance,
        **extra,
    }


def problem_response(
    request: Request,
    status: int,
    detail: Any,
    *,
    code: ProblemCode,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, detail, code=code, instance=request.url.path, title=title, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))


def answer_problem(request: Request, exc: Problem) -> JSONResponse:
    """The response for a raised ``Problem``, whether a route or a middleware raised it."""
    return problem_response(
        request, exc.status_code, exc.detail, code=exc.code, title=exc.title, headers=exc.headers, **exc.extra
    )


NOT_A_FILE = "Value error, Expected UploadFile, received:"
"""Starlette's words for a form's file sent as a text field (``curl -F file=bill.pdf``, without its ``@``)."""


def in_clients_words(message: str) -> str:
    """A validation message the framework words in its own types, said in what a client sends instead."""
    if message.startswith(NOT_A_FILE):
        return "send the bill as a file part (curl -F file=@bill.pdf), not as a text field"
    return message.removeprefix("Value error, ")  # pydantic's wording of our own checks' refusals


def _invalid_request(request: Request, errors: list[dict[str, Any]]) -> JSONResponse:
    return problem_response(
        request, 422, "the request is invalid: see errors", code=ProblemCode.INVALID_REQUEST, errors=errors
    )


def _not_utf8(error: UnicodeDecodeError) -> dict[str, Any]:
    """A JSON body in another encoding than UTF-8 (a Latin-1 "Café", as some clients send by default): the framework
    answered 400 "There was an error parsing the body", which says neither what nor where."""
    byte = error.object[error.start : error.start + 1].hex()
    return {
        "loc": ["body", error.start],
        "msg": f"the body is not UTF-8 (byte 0x{byte} at {error.start}): send JSON encoded in UTF-8",
        "type": "json_invalid",
    }


def _cut_off(error: MultipartCutOff) -> dict[str, Any]:
    """An upload that stopped short of its closing boundary: the part being read was dropped, and the request read
    as one that never sent it ("file: Field required")."""
    return {
        "loc": ["body"],
        "msg": f"the multipart body ends before its closing boundary ({error}): it was cut short; send it again whole",
        "type": "multipart_incomplete",
    }


def _unreadable_form(error: MultiPartException) -> dict[str, Any]:
    """A multipart body the parser refuses (no boundary, a part with no name): a 400 no route documents."""
    return {"loc": ["body"], "msg": f"the multipart body cannot be read: {error.message}", "type": "multipart_invalid"}


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return answer_problem(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's 400 "There was an error parsing the body"
            return _invalid_request(request, [_not_utf8(exc.__cause__)])
        if isinstance(exc.__cause__, NameRepeated):  # the same 400, from our reading of the JSON (api.json_names)
            return _invalid_request(request, [exc.__cause__.error()])
        if isinstance(exc.__cause__, RecursionError):  # the same 400: JSON nested past the parser's depth
            error = {"loc": ["body"], "msg": "the JSON body nests too deeply to read", "type": "json_invalid"}
            return _invalid_request(request, [error])
        if isinstance(exc.__cause__, MultipartCutOff):  # the same 400, raised from the body's last chunk
            return _invalid_request(request, [_cut_off(exc.__cause__)])
        if isinstance(exc.__context__, MultiPartException):  # Starlette's 400 with the parser's words
            return _invalid_request(request, [_unreadable_form(exc.__context__)])
        code = _FRAMEWORK_CODES.get(exc.status_code, ProblemCode.HTTP_ERROR)
        return problem_response(request, exc.status_code, exc.detail, code=code, headers=headers)

    @app.exception_handler(MultipartCutOff)
    async def _multipart_cut_off(request: Request, exc: MultipartCutOff) -> JSONResponse:
        # Raised bare where a route reads the body itself (POST /agent/run, the review page's forms): a 500 otherwise.
        return _invalid_request(request, [_cut_off(exc)])

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, Any]] = []
        for e in exc.errors():
            error = {
                "loc": list(e.get("loc", ())),
                "msg": in_clients_words(e.get("msg", "")),
                "type": e.get("type", ""),
            }
            if error not in errors:  # a header both a dependency and its route read (Idempotency-Key) fails twice
                errors.append(error)
        return _invalid_request(request, errors)

    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        if not is_database_down(exc):
            return await _unexpected(request, exc)
        return database_down_response(request, exc)

    @app.exception_handler(ArtifactStoreMisconfigured)
    async def _storage_misconfigured(request: Request, exc: ArtifactStoreMisconfigured) -> JSONResponse:
        logger.error("object storage refused the credentials", extra={"path": request.url.path, "error": str(exc)})
        return problem_response(request, 500, STORAGE_MISCONFIGURED_DETAIL, code=ProblemCode.STORAGE_MISCONFIGURED)

    for error_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_type, _database_down)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(request, 500, "internal error; it has been logged", code=ProblemCode.INTERNAL_ERROR)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the request's path takes: Starlette's 405 names only the first route matching
    the path ("Allow: POST" for HEAD /jobs, though GET /jobs is a route too). The app's routers are included with
    no prefix, so each route's own path is the one it answers."""
    path = request.url.path
    return sorted(
        {
            method
            for route in _routes(request.app.router.routes)
            if route.path_regex.match(path)
            for method in route.methods or ()
        }
    )


def _routes(routes: Sequence[Any]) -> Iterator[Any]:
    """The routes, those of included routers too (FastAPI keeps an included router whole, as one route)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        elif hasattr(route, "path_regex") and hasattr(route, "methods"):
            yield route
