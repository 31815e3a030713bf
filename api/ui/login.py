"""Sign in with an API key, sign out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import AUTH_DISABLED_PRINCIPAL, Principal, authenticate
from api.deps import StateDep
from api.problems import Problem, ProblemCode
from api.ui.deps import HOME_PATH, LOGIN_PATH, REVIEW_ROLES, safe_next, verified_sessions
from api.ui.origin import from_this_origin
from api.ui.routes import draft_after_sign_in
from api.ui.session import (
    LOGIN_COOKIE,
    LOGIN_FORM_SECONDS,
    SESSION_COOKIE,
    Session,
    SessionStore,
    clear_cookie,
    cookie_and_look_alike_values,
    cookie_shadowed,
    current_session,
    draft_binding,
    login_token_age,
    looks_like_login_token,
    read_cookie,
    secure_cookies_dropped,
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
    nonce = read_cookie(request, LOGIN_COOKIE) or secrets.token_urlsafe(16)
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
    nonce = read_cookie(request, LOGIN_COOKIE) or None
    store = sessions_for(request.app)
    issued = store.login_token_issued_at(nonce, csrf_token) if nonce else None
    age = login_token_age(issued)
    if nonce is None or age is None or age >= LOGIN_FORM_SECONDS:
        # Its cookie is gone, or its token is ours but its hour is up, or it looks like a token of a form of ours
        # whose nonce cookie another sign-in page has since replaced (it outlived it, then that page set anew).
        # One ours for this very nonce but dated past the clock's skew was not replaced: it is refused plainly.
        nonce_replaced = nonce is not None and issued is None and looks_like_login_token(csrf_token)
        stale = nonce is None or age is not None or nonce_replaced
        if stale and from_this_origin(request):
            return _sign_in_form_again(request, store, nonce, next_path, draft, draft_token, replaced=nonce_replaced)
        # With SameSite=Strict, other sites' posts come without the nonce cookie. Pages on another port or
        # subdomain of the site could toss one in and fetch its token: the UI middleware refuses their posts.
        raise Problem(
            403, "the sign-in form's CSRF token is missing or invalid: reload the page", code=ProblemCode.CSRF_INVALID
        )
    draft = draft if _draft_is_ours(request, store, nonce, next_path, draft, draft_token) else ""
    principal = await _principal(state, key.strip())
    if principal is None:
        return login_page(
            request,
            nonce,
            next_path=safe_next(next_path),
            error="That key is invalid, revoked or expired.",
            status_code=401,
            draft=draft,
        )
    if principal.role not in REVIEW_ROLES:
        return login_page(
            request,
            nonce,
            next_path=safe_next(next_path),
            error=f"{_a(principal.role)} {principal.role} key cannot review bills: use a reviewer key.",
            status_code=403,
            draft=draft,
        )
    session = await store.create(key.strip())
    if (replaced := current_session(request)) is not None:  # its cookie is about to be replaced: end it too
        await store.drop(replaced.id)
    resumed = await draft_after_sign_in(request, state, principal, session, next_path, draft) if draft else None
    response = resumed or RedirectResponse(safe_next(next_path), status_code=303)
    # The nonce cookie stays: sign-in forms open in other tabs, a draft's among them, still sign in. It opens
    # nothing by itself, and every sign-in makes a session id of its own.
    set_cookie(request, response, SESSION_COOKIE, session.id, max_age=store.ttl_seconds)
    return response


def _sign_in_form_again(
    request: Request,
    store: SessionStore,
    nonce: str | None,
    next_path: str,
    draft: str,
    draft_token: str,
    *,
    replaced: bool = False,
) -> Response:
    """The sign-in form once more (403), for a form of this very origin's that can no longer sign in: nobody is.

    Either its token's hour is up (the nonce cookie, kept 12 hours, is still there: the form comes back under
    that same nonce with a new token, and with its draft where the draft's own token, bound to that nonce,
    checks out), or the nonce cookie is gone (older than 12 hours, or cleared): then nothing tells this
    browser's draft from another page's, so a new nonce and no draft. The answer goes to the reviewer's own
    page, so a new token cannot help another page sign them in (login CSRF). Where the cookie was ``replaced``
    (its token is for another nonce), the form comes back under the cookie's nonce, so the sign-in page that
    set it still signs in, and as for a cookie gone, without the draft."""
    if replaced:
        error = f"{NONCE_REPLACED} {DRAFT_LOST}" if draft else NONCE_REPLACED
        return login_page(request, nonce or "", next_path=safe_next(next_path), error=error, status_code=403)
    if nonce is None:
        gone = NEEDS_HTTPS if secure_cookies_dropped(request) else NONCE_GONE
        error = f"{gone} {DRAFT_LOST}" if draft else gone
        return login_page(
            request, secrets.token_urlsafe(16), next_path=safe_next(next_path), error=error, status_code=403
        )
    kept = draft if _draft_is_ours(request, store, nonce, next_path, draft, draft_token) else ""
    return login_page(
        request,
        nonce,
        next_path=safe_next(next_path),
        error=f"{OPEN_TOO_LONG} {DRAFT_STILL_CARRIED}" if kept else OPEN_TOO_LONG,
        status_code=403,
        draft=kept,
    )


OPEN_TOO_LONG = "This sign-in page was open too long: nothing was signed in. Sign in again."
DRAFT_STILL_CARRIED = "Your entries are still kept: signing in brings the task back with them."
NEEDS_HTTPS = (
    "Signing in needs HTTPS at this address: browsers keep no secure cookie from a plain http:// page of any host but"
    " localhost, so nothing was signed in. Open MiniMeter over HTTPS (behind a TLS proxy), or at http://localhost on"
    " its own machine."
)
NONCE_GONE = (
    "This sign-in page has outlived its cookie (it was open more than 12 hours, or this browser's cookies were"
    " cleared): nothing was signed in. Sign in again."
)
NONCE_REPLACED = (
    "This sign-in page has outlived its cookie (another sign-in page opened since has replaced it): nothing was"
    " signed in. Sign in again."
)
DRAFT_LOST = "The entries it carried could not be kept: open the task again."


def _draft_is_ours(
    request: Request, store: SessionStore, nonce: str, next_path: str, draft: str, draft_token: str
) -> bool:
    """Whether ``draft`` came back from the sign-in form our answer to this browser's own post carried.

    Not from a page on another port or subdomain: it can set the nonce cookie and fetch the matching
    token, and would put its chosen entries on the task page as the reviewer's own."""
    if not draft:
        return False
    return from_this_origin(request) and store.csrf_valid(draft_binding(nonce, next_path, draft), draft_token)


def _a(word: str) -> str:
    return "An" if word[:1] in {"a", "e", "i", "o", "u"} else "A"  # "An ingest key", "A viewer key"


async def _principal(state: StateDep, key: str) -> Principal | None:
    if state.settings.auth_disabled:
        return AUTH_DISABLED_PRINCIPAL
    return await authenticate(state.pool, key) if key else None


@router.post("/ui/logout")
async def logout(request: Request) -> Response:
    """End the session on the server (not just in the browser): the id stops working at once, everywhere.

    A page left open past its session's end signs out too (to the sign-in page, not a 403): with
    no session there is nothing a forged request could end, so no CSRF token to check. So does one loaded
    under an earlier sign-in (its token is that session's) where the browser says this origin posted it:
    else Sign out there would leave the reviewer signed in.
    """
    sessions = await _sessions_to_end(request)
    if sessions and not from_this_origin(request):
        # Only those the form's token is bound to: a look-alike's setter knows its own session's token,
        # and must not end the reviewer's with it.
        sessions = await verified_sessions(request, sessions)
    for session in sessions:
        await sessions_for(request.app).drop(session.id)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response


async def _sessions_to_end(request: Request) -> list[Session]:
    """The browser's session; beside a look-alike cookie, every live one the Cookie header names.

    The look-alike hides the reviewer's session from ``read_cookie`` (so from ``current_session``), not from
    Sign out: else its row would outlive the sign-out, the id good for hours. Ending the look-alike's session
    too (its setter's, or none) costs the reviewer nothing."""
    session = current_session(request)
    if session is not None:
        return [session]
    if not cookie_shadowed(request, SESSION_COOKIE):
        return []
    return await sessions_for(request.app).find(cookie_and_look_alike_values(request, SESSION_COOKIE))
