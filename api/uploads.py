"""Upload guards: a body-size limit enforced while streaming, and content sniffing."""

from __future__ import annotations

import contextlib

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PROBLEM_JSON, ProblemCode, problem_body

MULTIPART_OVERHEAD = 64 * 1024


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuse request bodies over their limit as they stream in, before they are buffered.

    Uploads (``upload_paths``: a bill, or the Web UI's payloads for the codec) get ``upload_bytes``;
    every other body is JSON or a form and gets ``max_bytes`` (GET, HEAD and OPTIONS pass as they
    are). FastAPI reads a body before it checks the caller's key, so without this an anonymous
    request could make the process hold gigabytes. A declared Content-Length over the limit is
    refused at once; an undeclared (chunked) body is counted and cut off as soon as it passes it.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_bytes: int, upload_paths: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        upload = scope["path"] in self.upload_paths
        limit = self.upload_bytes + MULTIPART_OVERHEAD if upload else self.max_bytes
        detail = (
            f"uploads are limited to {self.upload_bytes} bytes"
            if upload
            else f"request bodies are limited to {self.max_bytes} bytes"
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, detail, scope["path"])
            return
        received = 0
        exceeded = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the app answers once the body was cut off (a parser may turn the
            # interruption into a 400), the client gets the 413 it deserves.
            nonlocal refused
            if exceeded:
                if not refused:
                    refused = True
                    await _refuse(send, detail, scope["path"])
                return
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not refused:
            await _refuse(send, detail, scope["path"])


async def _refuse(send: Send, detail: str, path: str) -> None:
    """The 413 as every other problem reads (``problems.problem_body``, rendered as ``JSONResponse`` renders it)."""
    problem = problem_body(413, detail, code=ProblemCode.CONTENT_TOO_LARGE, instance=path)
    body = JSONResponse(problem).body
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
