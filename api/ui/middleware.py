"""Resolve the reviewer's session cookie to an API key for the review UI, and only for it; refuse
forms another origin's page posted to it; answer the UI's errors with pages (``api.ui.errors``).

``authenticate_request`` falls back to ``request.state.session_key_hash``; setting it only under
``/ui`` and for ``GET /jobs/{id}/artifact`` (the raw bill the review page embeds) keeps
the cookie from authenticating any other REST call, so the JSON API needs no CSRF defence.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import DATABASE_RETRY_AFTER, DATABASE_UNAVAILABLE, database_down_response, is_database_down
from api.ui.errors import error_page, problems_as_pages
from api.ui.origin import SAFE_METHODS, from_another_origin
from api.ui.routes import decision_job_id, not_sent_page
from api.ui.session import SESSION_COOKIE, read_cookie, sessions_for

UI_PREFIX = "/ui"
_ARTIFACT_PATH = re.compile(r"/jobs/[^/]+/artifact")

UI_HEADERS = {
    # No inline script or style anywhere in the templates, so the policy can be strict.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none';"
        " form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
ARTIFACT_HEADERS = {
    # A raw bill is whatever its sender made it: even one stored as HTML or SVG runs no script, and in a
    # sandbox (an origin of its own) reaches neither the API nor the reviewer's cookie. Browsers show
    # images and text under it in the review page's frame.
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"
    ),
    "Cache-Control": "private, no-store",
}
PDF_ARTIFACT_HEADERS = {
    # Firefox and Safari show no PDF in a sandbox (their viewers need the script it forbids), and a PDF
    # runs in the browser's own viewer, never as a page of this origin: framed by the review page only.
    "Content-Security-Policy": "frame-ancestors 'self'",
    "Cache-Control": "private, no-store",
}


def artifact_headers(content_type: str | None) -> dict[str, str]:
    """The sandbox for every raw bill but a PDF, which browsers would not show in one."""
    is_pdf = (content_type or "").split(";")[0].strip().lower() == "application/pdf"
    return PDF_ARTIFACT_HEADERS if is_pdf else ARTIFACT_HEADERS


FROM_ANOTHER_ORIGIN = (
    "a page of another origin sent this form: the review UI takes forms only from its own pages;"
    " open the review UI at its own address and send it from there"
)
UI_DATABASE_DOWN = (
    "The review service cannot reach its database just now. Nothing was decided: go back and send your decision"
    " again, or reload this page, in a few seconds."
)
UNEXPECTED = "The review service failed to answer this request."


def is_ui_path(path: str) -> bool:
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def _is_artifact(scope: Scope) -> bool:
    return scope["method"] in {"GET", "HEAD"} and _ARTIFACT_PATH.fullmatch(scope["path"]) is not None


def _database_down_page(request: Request) -> Response:
    """The 503 under ``/ui``, in the page's own terms."""
    return error_page(request, 503, UI_DATABASE_DOWN, headers={"Retry-After": DATABASE_RETRY_AFTER, **UI_HEADERS})


async def _database_down_answer(request: Request) -> Response:
    """The 503 under ``/ui``: a decision form's post gets its form back, every entry kept (``not_sent_page``)."""
    job_id = decision_job_id(request.url.path) if request.method == "POST" else None
    page = await not_sent_page(request, job_id) if job_id is not None else None
    if page is None:
        return _database_down_page(request)
    page.headers.update(UI_HEADERS)
    return page


class UISessionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ui, artifact = is_ui_path(scope["path"]), _is_artifact(scope)
        if not (ui or artifact):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if ui and scope["method"] not in SAFE_METHODS and from_another_origin(request):
            # Every form here, the sign-in first: a page on another port or subdomain of the site can toss
            # the sign-in nonce cookie and fetch its token, then sign the reviewer in under its own key.
            await error_page(request, 403, FROM_ANOTHER_ORIGIN, headers=UI_HEADERS)(scope, receive, send)
            return
        try:
            session = await sessions_for(scope["app"]).get(read_cookie(request, SESSION_COOKIE))
        except DATABASE_UNAVAILABLE as error:
            if not is_database_down(error):
                raise
            # Outside the app's exception handlers: answered here, or a reviewer's page is a bare 500.
            answer = database_down_response(request, error)  # logged; a page of its own under /ui
            await (await _database_down_answer(Request(scope, receive)) if ui else answer)(scope, receive, send)
            return
        if session is not None:
            request.state.ui_session = session
            request.state.session_key_hash = session.key_hash
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                extra = UI_HEADERS if ui else artifact_headers(headers.get("content-type"))
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        if not ui:
            await self.app(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, problems_as_pages(request, send_with_headers))
        except Exception:
            # Unhandled: the app's last-resort handler (outside this middleware) logs it and would answer JSON.
            if not started:
                await error_page(request, 500, UNEXPECTED)(scope, receive, send_with_headers)
            raise
