"""Refuse a body of a type its route does not read (415), before reading it, saying what to send instead.

FastAPI reads a JSON route's body sent as ``text/plain`` (or curl's default form) as bytes, and a raw PDF sent to
an upload as an empty form: each was a 422 in pydantic's words ("Input should be a valid dictionary", "Field
required", "Expected UploadFile") where the fault was the request's ``Content-Type``.
"""

from __future__ import annotations

from email.message import Message

from starlette.requests import Request

from api.problems import Problem, ProblemCode

FORM = "multipart/form-data"


def _media_type(declared: str) -> str:
    message = Message()
    message["content-type"] = declared
    return message.get_content_type()


def _has_body(request: Request) -> bool:
    return request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers


def check_body_media(request: Request, *, form: bool) -> None:
    """Raise a 415 for a body ``request``'s route cannot read: a file route's that is not ``multipart/form-data``;
    a JSON route's not declared as JSON (FastAPI reads a body of no declared type as no JSON either)."""
    declared = request.headers.get("content-type") or None
    media = _media_type(declared) if declared else "no Content-Type"
    if form:
        if media != FORM:
            raise Problem(
                415,
                f"send this request as {FORM} (curl -F), each field a part: not {media}",
                code=ProblemCode.UNSUPPORTED_MEDIA_TYPE,
            )
        return
    if _has_body(request) and not _is_json(media):
        raise Problem(
            415,
            f"send the body as JSON, with Content-Type: application/json: not {media}",
            code=ProblemCode.UNSUPPORTED_MEDIA_TYPE,
        )


def _is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
