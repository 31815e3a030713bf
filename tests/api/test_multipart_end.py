"""``MultipartEnding`` over a body's ASGI messages, chunk by chunk: its closing delimiter split across chunks."""

from __future__ import annotations

import pytest
from starlette.types import Message, Receive, Scope, Send

from api.multipart_end import MultipartCutOff, MultipartEnding

BODY = b'--XYZ\r\nContent-Disposition: form-data; name="f"\r\n\r\nvalue\r\n--XYZ--\r\n'
SCOPE: Scope = {"type": "http", "method": "POST", "headers": [(b"content-type", b"multipart/form-data; boundary=XYZ")]}


async def read_in_chunks(body: bytes, size: int, scope: Scope = SCOPE) -> bytes:
    """What an app reading every message of ``body`` sent ``size`` bytes at a time got through the middleware."""
    chunks = [body[n : n + size] for n in range(0, len(body), size)] or [b""]
    messages = iter(
        [{"type": "http.request", "body": c, "more_body": n < len(chunks) - 1} for n, c in enumerate(chunks)]
    )
    read = b""

    async def receive() -> Message:
        return next(messages)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal read
        more = True
        while more:
            message = await receive()
            read += message["body"]
            more = message["more_body"]

    async def send(message: Message) -> None:
        raise AssertionError("nothing is answered here")

    await MultipartEnding(app)(scope, receive, send)
    return read


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, len(BODY)])
async def test_a_closing_delimiter_split_across_chunks_is_found(size: int) -> None:
    assert await read_in_chunks(BODY, size) == BODY


@pytest.mark.parametrize("size", [1, 3, len(BODY)])
async def test_a_body_that_stops_short_of_it_is_cut_off(size: int) -> None:
    with pytest.raises(MultipartCutOff, match="--XYZ--"):
        await read_in_chunks(BODY[:-4], size)  # "--\r\n" lost: the body ends "--XYZ"


async def test_a_body_of_another_type_passes_unwatched() -> None:
    scope = {**SCOPE, "headers": [(b"content-type", b"application/json")]}
    assert await read_in_chunks(b'{"a": 1', 2, scope) == b'{"a": 1'
