"""A multipart body that ends before its closing boundary is refused as cut off, not read as a form that lacks a field.

The form parser stops where the bytes stop: a part it was still reading is dropped without a word, so an upload cut
short (a client's buffer, a proxy's limit) was answered "file: Field required" though a file was sent.
"""

from __future__ import annotations

from python_multipart.multipart import parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class MultipartCutOff(Exception):
    """Raised from the request's ``receive`` at the last chunk of a multipart body that never closed; ``api.problems``
    answers it as a 422 saying so, whether FastAPI's 400 "There was an error parsing the body" wraps it (a form its
    route declares) or it comes bare (a route reading the body itself)."""


def _closing_delimiter(scope: Scope) -> bytes | None:
    """``--boundary--`` of a ``multipart/form-data`` request, or None for any other body (or one with no boundary,
    which the form parser refuses itself)."""
    if scope["type"] != "http":
        return None
    # The first, as Starlette's form parser reads it: dict() kept the last of two.
    header = next((value for name, value in scope["headers"] if name == b"content-type"), None)
    if header is None:
        return None
    media_type, options = parse_options_header(header)
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        return None
    return b"--" + boundary + b"--"


class MultipartEnding:
    """Watches a multipart body stream by for its closing delimiter, keeping only the last few bytes between chunks;
    RFC 2046 lets an epilogue follow it, so it is looked for anywhere, not only at the end."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        closing = _closing_delimiter(scope)
        if closing is None:
            await self.app(scope, receive, send)
            return
        tail = b""
        closed = False

        async def watching_receive() -> Message:
            nonlocal tail, closed
            message = await receive()
            if message["type"] == "http.request" and not closed:
                window = tail + message.get("body", b"")
                closed = closing in window
                tail = window[-(len(closing) - 1) :]
                if not closed and not message.get("more_body", False):
                    raise MultipartCutOff(closing.decode("latin-1"))
            return message

        await self.app(scope, watching_receive, send)
