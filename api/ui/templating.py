"""Jinja2 for the review UI: autoescaping everywhere, and the few helpers templates need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import Response

from api.ui.forms import is_multiline
from api.ui.session import (
    LOGIN_COOKIE,
    LOGIN_NONCE_SECONDS,
    SESSION_COOKIE,
    cookie_shadowed,
    current_session,
    draft_binding,
    session_binding,
    sessions_for,
    set_cookie,
)
from shared.bill import Commodity, LineItemCategory, Provider, UsageUnit

SHADOWED = (
    "This browser also holds a look-alike of the review UI's cookies, set by another page of this site: until"
    " it is gone no sign-in here lasts. Remove this site's cookies in the browser's site settings, then sign in."
)

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def age(seconds: int) -> str:
    """``3m``, ``5h 10m``, ``2d 4h``: how long a task has waited, at a glance."""
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days}d {hours % 24}h"
    if hours:
        return f"{hours}h {minutes % 60}m"
    return f"{minutes}m"


def _environment() -> Environment:
    # autoescape=True for every template whatever its extension: all values are untrusted
    # (bill text comes from uploaded documents).
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined)
    env.filters["age"] = age
    env.globals.update(
        providers=[p.value for p in Provider],
        categories=[c.value for c in LineItemCategory],
        commodities=[c.value for c in Commodity],
        units=[u.value for u in UsageUnit],
        multiline=is_multiline,
    )
    return env


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200) -> Response:
    """A page with the signed-in session's CSRF token (forms on every page need it)."""
    session = current_session(request)
    token = sessions_for(request.app).csrf_token(session_binding(session)) if session else ""
    # When the session ends, on every page: it ends SESSION_TTL_SECONDS after sign-in however busy the reviewer is,
    # and a reviewer signed out mid-task had no warning of it (WCAG 2.2.1, 77B; their entries come back on sign-in).
    base = {
        "signed_in": session is not None,
        "csrf_token": token,
        "session_ends": session.expires_at if session else None,
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def login_page(
    request: Request, nonce: str, *, next_path: str, error: str | None, status_code: int, draft: str = ""
) -> Response:
    """The sign-in form; its CSRF token is bound to the nonce cookie set alongside.

    ``draft``: a decision form posted after its session ended (URL-encoded), carried through sign-in with a
    token binding it to this nonce and ``next_path``: pass only one this browser's own post sent."""
    if any(cookie_shadowed(request, name) for name in (SESSION_COOKIE, LOGIN_COOKIE)):
        error = SHADOWED
    store = sessions_for(request.app)
    draft_token = store.csrf_token(draft_binding(nonce, next_path, draft)) if draft else ""
    context = {
        "login_token": store.login_token(nonce),
        "next": next_path,
        "error": error,
        "draft": draft,
        "draft_token": draft_token,
    }
    response = render(request, "login.html", context, status_code=status_code)
    set_cookie(request, response, LOGIN_COOKIE, nonce, max_age=LOGIN_NONCE_SECONDS)
    return response
