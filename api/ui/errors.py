"""The review UI's errors as pages: what happened and what to do next, not the API's problem document.

Routes and the services under them raise the same ``Problem`` for the UI as for the JSON API; the app's
handlers answer it as ``application/problem+json``. Under ``/ui`` the session middleware hands the answer to
``problems_as_pages``, which sends this page instead, with the same status and headers (``Retry-After``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Send

from api.problems import PROBLEM_JSON
from api.ui.deps import HOME_PATH, LOGIN_PATH, safe_next
from api.ui.templating import templates

QUEUE_LINK = (HOME_PATH, "Back to the review queue")
HEADINGS = {
    401: "Sign in again",
    403: "Not allowed",
    404: "Not found",
    409: "This changed while you had it open",
    422: "Something sent was not valid",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Try again in a few seconds",
}
ADVICE = {
    401: "Your sign-in is missing or has ended: sign in again with a reviewer key.",
    403: "Reload the page you came from and try again; if it happens again, sign in again with a reviewer key.",
    404: "The job or review task does not exist, or your key may not see it: pick a task from the review queue.",
    409: "Someone (perhaps you, in another tab) decided it first: reload the task to see how it stands now.",
    422: "Go back, correct what was sent and try again.",
    429: "Wait a little (the number of seconds is below), then try again.",
    500: "It has been logged. Go back and try again; if it happens again, tell the team that runs MiniMeter.",
    503: "A service the review UI needs did not answer. Reload this page, or go back and send again, in a few seconds.",
}
DEFAULT_ADVICE = "Go back and try again, or start again from the review queue."
_REPLACED_HEADERS = frozenset({b"content-type", b"content-length"})


def error_page(
    request: Request,
    status: int,
    detail: str,
    *,
    errors: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The page for an error under ``/ui``, with ``status``.

    It carries no CSRF token (so no Sign out form): it may be the answer to another origin's post."""
    context = {
        "signed_in": False,
        "csrf_token": "",
        "status": status,
        "heading": HEADINGS.get(status, HTTPStatus(status).phrase),
        "detail": detail,
        "errors": errors or [],
        "advice": ADVICE.get(status, DEFAULT_ADVICE),
        "retry_after": (headers or {}).get("Retry-After", ""),
        "links": _links(request, status),
    }
    response = templates.TemplateResponse(request, "error.html", context, status_code=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _links(request: Request, status: int) -> list[tuple[str, str]]:
    """Where to go from here: the queue always; the task again where it moved on; sign-in where that helps."""
    links = [QUEUE_LINK]
    here = safe_next(request.url.path)
    if status == 409 and here != HOME_PATH:
        links.insert(0, (here, "Reload the task"))
    if status in {401, 403}:
        # Back to this page after signing in, where it is one a browser can open again.
        page = safe_next(f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path)
        back_to = page if request.method == "GET" else HOME_PATH
        links.append((f"{LOGIN_PATH}?{urlencode({'next': back_to})}", "Sign in again"))
    return links


def page_for_problem(request: Request, start: Message, body: bytes) -> Response:
    """The page for a problem document the app answered: its status, detail, errors and headers."""
    status: int = start["status"]
    problem = _problem_members(body)
    raw_headers: list[tuple[bytes, bytes]] = start.get("headers", [])
    retry_after = dict(raw_headers).get(b"retry-after")
    response = error_page(
        request,
        status,
        _text(problem.get("detail")),
        errors=_errors(problem.get("errors")),
        headers={"Retry-After": retry_after.decode("latin-1")} if retry_after else None,
    )
    kept = [(name, value) for name, value in raw_headers if name.lower() not in _REPLACED_HEADERS | {b"retry-after"}]
    response.raw_headers.extend(kept)
    return response


def _problem_members(body: bytes) -> dict[str, Any]:
    try:
        problem = json.loads(body)
    except ValueError:
        return {}
    return problem if isinstance(problem, dict) else {}


def _text(detail: Any) -> str:
    return detail if isinstance(detail, str) else ""


def _errors(errors: Any) -> list[str]:
    """A problem's ``errors``: strings (a refused decision), or a request's invalid fields (``loc``, ``msg``)."""
    if not isinstance(errors, list):
        return []
    return [_error_text(error) for error in errors]


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        where = " ".join(str(part) for part in _location_parts(error.get("loc")))
        return f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", ""))
    return str(error)


def _location_parts(loc: Any) -> list[Any]:
    """FastAPI's ``loc`` is a list; a service's own ``Problem`` may name one field (a string: not its letters)."""
    if loc is None:
        return []
    return list(loc) if isinstance(loc, list | tuple) else [loc]


def is_problem(start: Message) -> bool:
    """An error answered as a problem document (a redirect's body, ``LoginRequired``'s too, is never read)."""
    content_type: bytes = dict(start.get("headers", [])).get(b"content-type", b"")
    return int(start["status"]) >= 400 and content_type.startswith(PROBLEM_JSON.encode())


def problems_as_pages(request: Request, send: Send) -> Send:
    """``send``, with every problem document the app answers replaced by its page (the rest passes as sent)."""
    problem_start: Message | None = None
    body = bytearray()

    async def send_pages(message: Message) -> None:
        nonlocal problem_start
        if message["type"] == "http.response.start" and is_problem(message):
            problem_start = message  # held back until the whole document has come
            return
        if problem_start is None or message["type"] != "http.response.body":
            await send(message)
            return
        body.extend(message.get("body", b""))
        if not message.get("more_body", False):
            await page_for_problem(request, problem_start, bytes(body))(request.scope, request.receive, send)

    return send_pages
