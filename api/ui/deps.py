"""Guards for review UI routes: sign-in redirect and CSRF check."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import HTTPException, Request

from api.problems import Problem
from api.ui.session import current_session, session_binding, sessions_for

LOGIN_PATH = "/ui/login"
HOME_PATH = "/ui/reviews"


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


def require_login(request: Request) -> None:
    """No session and no API key header: send the browser to sign in rather than a 401."""
    headers = request.headers
    if current_session(request) is None and "authorization" not in headers and "x-api-key" not in headers:
        raise LoginRequired(request)


async def verify_csrf(request: Request) -> None:
    """403 unless the form echoes the token bound to this browser's session."""
    session = current_session(request)
    token = (await request.form()).get("csrf_token")
    if session is None or not sessions_for(request.app).csrf_valid(session_binding(session), token):
        raise Problem(403, "the form's CSRF token is missing or invalid: reload the page and try again")
