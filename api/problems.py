"""RFC 9457 problem details: every error is ``application/problem+json``, never a stack trace."""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import asyncpg
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.artifacts import ArtifactStoreMisconfigured

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
    if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        return isinstance(error, DATABASE_UNAVAILABLE)
    if not isinstance(error, OSError):
        return False
    return any(
        f"{os.sep}asyncpg{os.sep}" in frame.f_code.co_filename for frame, _ in traceback.walk_tb(error.__traceback__)
    )


def database_down_response(request: Request, error: BaseException) -> JSONResponse:
    """The 503 for ``is_database_down`` errors, logged: the app's handler and the UI session middleware
    (which runs outside the handlers) both answer with it."""
    # A 503, not a 500: the client (or its retry library) should send it again. A connection lost
    # at COMMIT may have committed: the route's Idempotency-Key makes the repeat safe.
    logger.warning("database unavailable", extra={"path": request.url.path, "error": repr(error)[:300]})
    return problem_response(request, 503, DATABASE_DOWN_DETAIL, headers={"Retry-After": DATABASE_RETRY_AFTER})


class ProblemDetails(BaseModel):
    """The RFC 9457 body every error answers with (extra members, e.g. ``errors``, allowed)."""

    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)
    type: str
    title: str
    status: int
    detail: Any = None
    instance: str | None = None


_DESCRIPTIONS = {
    400: "the request body is malformed",
    401: "missing, invalid or revoked API key",
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
    code's problem with extension members of its own (a 409's ``utility_account_id``), else ``ProblemDetails``."""
    models = members or {}
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


class AccountConflict(ProblemDetails):
    """``POST /utility-accounts``'s 409: the customer already has the account."""

    utility_account_id: int
    """The account already registered: a key that may not list accounts learns its id here."""


class ReviewConflict(ProblemDetails):
    """A review decision's 409: the task moved on, or another decision was taken first."""

    reason: Literal["stale_revision", "not_pending", "taken_first", "period_stored"] | None = None
    """What to do: ``stale_revision``, read the task again (``revision`` is its revision now); ``not_pending``, the
    job is not awaiting review; ``taken_first``, another decision was (``action``, ``taken_by``, ``taken_at``);
    ``period_stored``, job ``stored_job_id`` stored a bill for the corrected account and period: check the period,
    and send the decision again with ``onto_stored_period`` if it is right (``outcome`` says what storing it does)."""
    revision: str | None = None
    stored_job_id: str | None = None
    outcome: Literal["replaces", "duplicate"] | None = None
    """``period_stored``'s: a later statement date replaces the stored bill (a re-issue); any other is its
    duplicate, and nothing of the corrected bill is stored."""
    action: Literal["approve", "correct", "reject"] | None = None
    taken_by: str | None = None
    taken_at: datetime | None = None
    recorded: bool | None = None
    """False in the moment before the job reads RUNNING, while only the run's history has the decision."""


class DecisionInvalid(ProblemDetails):
    """A review decision's 422: the body is invalid (``errors``), or a correction fails the bill's checks."""

    errors: list[dict[str, Any]] | None = None
    failing_checks: list[str] | None = None
    """The checks a corrected bill fails: fix the bill, or send ``override`` with a note where it is right."""


class Problem(HTTPException):
    """An HTTP error with a problem type and optional extra members (e.g. failing checks)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.title = title
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    detail: Any,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    from http import HTTPStatus

    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))


def answer_problem(request: Request, exc: Problem) -> JSONResponse:
    """The response for a raised ``Problem``, whether a route or a middleware raised it."""
    return problem_response(request, exc.status_code, exc.detail, title=exc.title, headers=exc.headers, **exc.extra)


NOT_A_FILE = "Value error, Expected UploadFile, received:"
"""Starlette's words for a form's file sent as a text field (``curl -F file=bill.pdf``, without its ``@``)."""


def _in_clients_words(message: str) -> str:
    """A validation message the framework words in its own types, said in what a client sends instead."""
    if message.startswith(NOT_A_FILE):
        return "send the bill as a file part (curl -F file=@bill.pdf), not as a text field"
    return message


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return answer_problem(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return problem_response(request, exc.status_code, exc.detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, Any]] = []
        for e in exc.errors():
            error = {
                "loc": list(e.get("loc", ())),
                "msg": _in_clients_words(e.get("msg", "")),
                "type": e.get("type", ""),
            }
            if error not in errors:  # a header both a dependency and its route read (Idempotency-Key) fails twice
                errors.append(error)
        return problem_response(request, 422, "the request is invalid: see errors", errors=errors)

    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        if not is_database_down(exc):
            return await _unexpected(request, exc)
        return database_down_response(request, exc)

    @app.exception_handler(ArtifactStoreMisconfigured)
    async def _storage_misconfigured(request: Request, exc: ArtifactStoreMisconfigured) -> JSONResponse:
        logger.error("object storage refused the credentials", extra={"path": request.url.path, "error": str(exc)})
        return problem_response(request, 500, STORAGE_MISCONFIGURED_DETAIL)

    for error_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_type, _database_down)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(request, 500, "internal error; it has been logged")


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
