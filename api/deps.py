"""FastAPI dependencies as ``Annotated`` aliases: state, database, Temporal client, caller."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from functools import cache
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Form, Header, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BeforeValidator

from api.auth import AUTH_DISABLED_PRINCIPAL, RAW_BILL_READERS, Principal, Role, authenticate_hash, hash_key
from api.problems import Problem, ProblemCode
from api.services.jobs import find_idempotent_job
from api.state import AppState

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="API key as `Authorization: Bearer <key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")
KEY_SCHEMES = (_bearer, _header)
"""The two ways to present a key: read by ``authenticate_request``, documented by ``api.openapi``."""


async def get_state(request: Request) -> AppState:
    """``async`` on purpose, like every dependency here: FastAPI runs a plain ``def`` in a thread."""
    state: AppState = request.app.state.minimeter
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_pool(state: StateDep) -> asyncpg.Pool:
    return state.pool


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def authenticate_request(request: Request) -> Principal:
    """The caller behind the request's key, or its UI session (401 when missing, unknown, revoked or expired).

    Found once per request: ``AuthenticateBeforeBody`` calls this before a body is read, and every later call
    (``api.role_first``'s, the route's ``require`` check) takes the first one's answer.
    """
    state = await get_state(request)
    if state.settings.auth_disabled:
        return AUTH_DISABLED_PRINCIPAL
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    bearer = await _bearer(request)
    header = await _header(request)
    if bearer is not None and header and header != bearer.credentials:
        # Two keys: the Bearer one alone was used, a viewer's X-API-Key beside an admin's Bearer acting as admin.
        raise Problem(
            401,
            "send one API key: Authorization: Bearer and X-API-Key name two",
            headers=UNAUTHORIZED,
            code=ProblemCode.API_KEY_AMBIGUOUS,
        )
    if _repeated(request, "x-api-key") or _repeated(request, "authorization"):
        # The first of each alone was read: an admin's X-API-Key before a viewer's acted as the admin.
        raise Problem(
            401,
            "send one API key: the request repeats its key header with another value",
            headers=UNAUTHORIZED,
            code=ProblemCode.API_KEY_AMBIGUOUS,
        )
    key = bearer.credentials if bearer is not None else header
    key_hash = hash_key(key) if key else getattr(request.state, "session_key_hash", None)
    if not key_hash:
        raise Problem(
            401,
            "an API key is required (Authorization: Bearer <key> or X-API-Key)",
            headers=UNAUTHORIZED,
            code=ProblemCode.API_KEY_MISSING,
        )
    principal = state.recent_keys.get(key_hash)
    if principal is None:  # remembered from this lookup on, not from each use: a busy key is asked about every second
        looked_up_at = state.recent_keys.moment()
        principal = await authenticate_hash(state.pool, key_hash)
        if principal is not None:
            state.recent_keys.remember(principal, looked_up_at)
    if principal is None:
        raise Problem(
            401, "the API key is invalid, revoked or expired", headers=UNAUTHORIZED, code=ProblemCode.API_KEY_INVALID
        )
    request.state.principal = principal
    return principal


def _repeated(request: Request, header: str) -> bool:
    """Whether ``header`` comes more than once with different values."""
    return len(set(request.headers.getlist(header))) > 1


async def presents_api_key(request: Request) -> bool:
    """Whether the request carries an API key (``Authorization: Bearer`` or ``X-API-Key``): not a proxy's
    ``Authorization: Basic``, which a browser behind nginx's ``auth_basic`` sends with every request."""
    return await _bearer(request) is not None or bool(await _header(request))


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits admins and the given roles (403 for others)."""
    return _require(frozenset({Role.ADMIN, *roles}))


_ROLE_CHECKS: dict[Callable[..., Any], frozenset[Role]] = {}
"""Each ``require`` dependency and the roles it admits, so a route's roles can be checked before its body."""


@cache  # one callable per set of roles: FastAPI runs a dependency it meets twice in a request once
def _require(allowed: frozenset[Role]) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def check(request: Request) -> Principal:
        """The caller, from the request alone: FastAPI solves each of a route's dependencies on every request,
        and a caller's own three (the state, the key's two headers) took 4-7% of the API's CPU a start."""
        principal = await authenticate_request(request)
        check_role(principal, allowed)
        return principal

    _ROLE_CHECKS[check] = allowed
    return check


def check_role(principal: Principal, allowed: frozenset[Role]) -> None:
    """403 unless the caller's role is one of ``allowed``."""
    if principal.role not in allowed:
        raise Problem(403, f"the {principal.role} role may not do this", code=ProblemCode.FORBIDDEN)


def roles_required(dependant: Dependant) -> list[frozenset[Role]]:
    """The role sets a route's ``require`` dependencies admit, at any depth: a caller must be in each."""
    required = [_ROLE_CHECKS[dependant.call]] if dependant.call in _ROLE_CHECKS else []
    for sub in dependant.dependencies:
        required += roles_required(sub)
    return required


AdminDep = Annotated[Principal, Depends(require())]
IngestDep = Annotated[Principal, Depends(require(Role.INGEST))]
ReaderDep = Annotated[Principal, Depends(require(Role.INGEST, Role.REVIEWER, Role.VIEWER))]
ReviewerDep = Annotated[Principal, Depends(require(Role.REVIEWER))]
ArtifactReaderDep = Annotated[Principal, Depends(require(*RAW_BILL_READERS))]
DashboardDep = Annotated[Principal, Depends(require(Role.VIEWER))]


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Same key, same answer: a request sent again never creates a second job or customer. Held per"
        " API key: sent again under another API key (another instance of a client, a rotated key) it is a new request",
    ),
]


async def spend_rate_limit_token(
    state: AppState, *, principal: Principal, action: str, idempotency_key: str | None
) -> bool:
    """429 with Retry-After when the caller's key exceeds its per-minute budget for ``action``; else
    whether a token was taken (to refund if the call then stores and starts nothing).

    A connector start takes its token inside its insert (``api.services.connector_jobs``) and calls this only for
    a start that insert did not record. A route calls this once the request is known to be well formed, never as a
    dependency: FastAPI solves dependencies before it validates the body, so a malformed call (422) would spend a
    token of the budget for the calls the client gets right. The role check still comes first (403).
    """
    wait = await state.limiter.acquire(principal.key_id, action, per_minute=state.settings.rate_limit_per_minute)
    if wait is None:
        return True
    if idempotency_key and await find_idempotent_job(state.pool, principal=principal, key=idempotency_key):
        return False  # a retry of a start already made (its answer lost) starts nothing: answer it, 200
    raise Problem(
        429, f"rate limit exceeded for {action}", headers={"Retry-After": str(int(wait))}, code=ProblemCode.RATE_LIMITED
    )


async def refund_rate_limit_token(state: AppState, *, principal: Principal, action: str) -> None:
    """Give back the token of a call that, after taking it, stored and started nothing."""
    await state.limiter.refund(principal.key_id, action, per_minute=state.settings.rate_limit_per_minute)


def _plain_digits(value: object) -> object:
    """Lax parsing read "1.0", "+1", " 1" and "1_0" as ids: a client's float or padded id reached whichever row
    had that value. Refused here as "abc" is, a 422 listing the error."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("an id is written in digits only")
    return value


IdPath = Annotated[int, Path(ge=1, le=2**63 - 1), BeforeValidator(_plain_digits)]
"""A database id in a path: digits only, and out-of-range values are a 422, never a database error."""


IdQuery = Annotated[int, Query(ge=1, le=2**63 - 1), BeforeValidator(_plain_digits)]
"""A database id in a query string, as strict as one in a path: "2.0" started a job on account 2."""
IdFilter = Annotated[int | None, Query(ge=1, le=2**63 - 1), BeforeValidator(_plain_digits)]
"""A list's optional filter by a database id, as strict."""
PageLimit = Annotated[int, Query(ge=1, le=200)]
"""How many rows a page of a list holds (50 unless asked)."""
PageCursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the page before")]
"""Where a list's page starts: the ``next_cursor`` of the page before."""


def _form_digits(value: object) -> object:
    """A form field's id as a path's (``_plain_digits``), but for the line end a file's contents end in: curl's
    ``-F utility_account_id=<id.txt`` sends "42\\n"."""
    return _plain_digits(value.removesuffix("\n").removesuffix("\r") if isinstance(value, str) else value)


IdForm = Annotated[int, Form(ge=1, le=2**63 - 1), BeforeValidator(_form_digits)]
"""A database id in a form field (an upload's account), as strict as one in a path."""
