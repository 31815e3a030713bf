"""Guards for review UI routes: sign-in redirect and CSRF check."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from fastapi import HTTPException, Request

from api.auth import Principal, Role
from api.deps import authenticate_request, presents_api_key, require
from api.problems import Problem, ProblemCode
from api.ui.session import Session, current_session, session_binding, sessions_for

LOGIN_PATH = "/ui/login"
HOME_PATH = "/ui/reviews"
REVIEW_ROLES = frozenset({Role.ADMIN, Role.REVIEWER})
FORM_MAX_FIELDS = 20_000
"""Four fields per line-item or usage row; what bounds a form is the request size limit, not this."""


class LoginRequired(HTTPException):
    """A 303 to the sign-in page that returns the reviewer to where they were going."""

    def __init__(self, request: Request) -> None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        super().__init__(303, "sign in first", headers={"Location": f"{LOGIN_PATH}?{urlencode({'next': target})}"})


def safe_next(target: str | None) -> str:
    """Only a path inside the UI: a ``next`` pointing elsewhere would be an open redirect."""
    if target and (target == "/ui" or target.startswith("/ui/")) and "\\" not in target:
        return target
    return HOME_PATH


async def require_login(request: Request) -> None:
    """No session and no API key: send the browser to sign in rather than a 401 (a proxy's ``Authorization:
    Basic`` is no key: the session's ending ran past it, losing a reviewer's entries to a bare 401).

    A session whose key was revoked, or no longer has a reviewer's role, ends here and the
    browser signs in again: else every page would answer 401 or 403, none would offer Sign
    out, and the browser would be locked out until its cookie expired.
    """
    if await presents_api_key(request):
        return
    session = current_session(request)
    if session is None:
        raise LoginRequired(request)
    try:
        principal: Principal | None = await authenticate_request(request)
    except Problem:
        principal = None
    if principal is None or principal.role not in REVIEW_ROLES:
        await sessions_for(request.app).drop(session.id)
        raise LoginRequired(request)


async def reviewer_or_sign_in(request: Request) -> Principal | None:
    """The reviewer behind a form's post, or None where a page would be sent to sign in (``require_login``):
    the post is answered with the sign-in form, which keeps what was sent rather than losing it to a redirect."""
    try:
        await require_login(request)
    except LoginRequired:
        return None
    return await require(Role.REVIEWER)(request)


async def csrf_valid(request: Request) -> bool:
    """Whether the form echoes the token bound to this browser's session."""
    session = current_session(request)
    return bool(await sessions_the_form_echoes(request, [session] if session is not None else []))


async def sessions_the_form_echoes(request: Request, sessions: Sequence[Session]) -> list[Session]:
    """Those of ``sessions`` whose token the form echoes: a page of one session acts for no other."""
    # Starlette refuses a form of over 1,000 fields with a 400; a review page sends four per row,
    # so a bill of ~250 line items could not be decided. This first parse is the one cached for the
    # route, and the body size is already bounded (REQUEST_MAX_BYTES).
    token = (await request.form(max_fields=FORM_MAX_FIELDS)).get("csrf_token")
    store = sessions_for(request.app)
    return [session for session in sessions if store.csrf_valid(session_binding(session), token)]


async def verified_sessions(request: Request, sessions: Sequence[Session]) -> list[Session]:
    """The sessions among ``sessions`` the form's token is bound to; 403 if none."""
    echoed = await sessions_the_form_echoes(request, sessions)
    if not echoed:
        raise Problem(
            403,
            "the form's CSRF token is missing or invalid: reload the page and try again",
            code=ProblemCode.CSRF_INVALID,
        )
    return echoed
