"""Sign in with an API key, sign out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import AUTH_DISABLED_PRINCIPAL, Principal, authenticate
from api.deps import StateDep
from api.problems import Problem
from api.ui.deps import HOME_PATH, LOGIN_PATH, REVIEW_ROLES, from_this_origin, safe_next, verify_csrf
from api.ui.routes import draft_after_sign_in
from api.ui.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SessionStore,
    clear_cookie,
    current_session,
    draft_binding,
    login_binding,
    sessions_for,
    set_cookie,
)
from api.ui.templating import login_page

router = APIRouter(include_in_schema=False)


@router.get(LOGIN_PATH)
async def login_form(request: Request, next_path: Annotated[str | None, Query(alias="next")] = None) -> Response:
    """The sign-in form; its CSRF token is bound to a nonce cookie set alongside."""
    if current_session(request) is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    return login_page(request, nonce, next_path=safe_next(next_path), error=None, status_code=200)


@router.post(LOGIN_PATH)
async def login(
    request: Request,
    state: StateDep,
    key: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = HOME_PATH,
    draft: Annotated[str, Form()] = "",  # bounded by REQUEST_MAX_BYTES, as the decision form it carries
    draft_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Check the key and its role, then open a session (a new id every time).

    With the ``draft`` of a decision sent after the session ended, the task page comes back with it."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    store = sessions_for(request.app)
    if not nonce or not store.csrf_valid(login_binding(nonce), csrf_token):
        # SameSite=Strict keeps the nonce cookie off cross-site posts: this stops login CSRF.
        raise Problem(403, "the sign-in form's CSRF token is missing or invalid: reload the page")
    draft = draft if _draft_is_ours(request, store, nonce, next_path, draft, draft_token) else ""
    principal = await _principal(state, key.strip())
    if principal is None:
        return login_page(
            request,
            nonce,
            next_path=safe_next(next_path),
            error="That key is invalid or revoked.",
            status_code=401,
            draft=draft,
        )
    if principal.role not in REVIEW_ROLES:
        return login_page(
            request,
            nonce,
            next_path=safe_next(next_path),
            error=f"A {principal.role} key cannot review bills: use a reviewer key.",
            status_code=403,
            draft=draft,
        )
    session = await store.create(key.strip())
    resumed = await draft_after_sign_in(request, state, principal, session, next_path, draft) if draft else None
    response = resumed or RedirectResponse(safe_next(next_path), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, session.id, max_age=store.ttl_seconds)
    clear_cookie(request, response, LOGIN_COOKIE)
    return response


def _draft_is_ours(
    request: Request, store: SessionStore, nonce: str, next_path: str, draft: str, draft_token: str
) -> bool:
    """Whether ``draft`` came back from the sign-in form our answer to this browser's own post carried.

    Not from a page on another port or subdomain: it can set the nonce cookie and fetch the matching
    token, and would put its chosen entries on the task page as the reviewer's own."""
    if not draft:
        return False
    return from_this_origin(request) and store.csrf_valid(draft_binding(nonce, next_path, draft), draft_token)


async def _principal(state: StateDep, key: str) -> Principal | None:
    if state.settings.auth_disabled:
        return AUTH_DISABLED_PRINCIPAL
    return await authenticate(state.pool, key) if key else None


@router.post("/ui/logout")
async def logout(request: Request) -> Response:
    """End the session on the server (not just in the browser): the id stops working at once, everywhere.

    A page left open past its session's end signs out too (to the sign-in page, not a 403): with
    no session there is nothing a forged request could end, so no CSRF token to check.
    """
    session = current_session(request)
    if session is not None:
        await verify_csrf(request)
        await sessions_for(request.app).drop(session.id)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response
