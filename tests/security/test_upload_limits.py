"""Oversize bodies are refused with 413 while streaming: before the body has been sent, and without buffering it.

Uploads have ``UPLOAD_MAX_BYTES``; every other body (JSON, forms) ``REQUEST_MAX_BYTES``, checked
before the caller's key, since FastAPI reads a body before its dependencies run.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import uuid
from collections.abc import AsyncIterator
from typing import NamedTuple
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from shared.settings import Settings
from tests.helpers import create_account

MB = 1024 * 1024
CHUNK = b"x" * (256 * 1024)
BOUNDARY = "securitytestboundary"
MAX_RSS_GROWTH = 50 * MB
IN_FLIGHT_SLACK = 32 * MB
"""What a client can have sent past the bytes the server read: both sockets' buffers, which Linux grows
to a few MB each on loopback. A server that read the whole body before answering would be far past it."""
ANSWER_WITHIN = 120.0
"""Only keeps a broken test from hanging; how much of the body went out before the answer is the check."""


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


async def multipart_stream(account_id: int, total: int) -> AsyncIterator[bytes]:
    """A well-formed multipart body whose file part is ``total`` bytes, generated as it is sent."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="utility_account_id"\r\n\r\n{account_id}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bill.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"
    ).encode()
    sent = 0
    while sent < total:
        yield CHUNK
        sent += len(CHUNK)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture()
async def account_id(http: httpx.AsyncClient) -> int:
    return int((await create_account(http, provider="pge", account_number=f"BIG-{uuid.uuid4().hex[:10]}"))["id"])


def test_app_uses_a_small_limit(app_settings: Settings) -> None:
    """The cases below send 10x and 50x the limit; they mean nothing if the limit were huge."""
    assert app_settings.upload_max_bytes <= 20 * MB


async def json_stream(total: int) -> AsyncIterator[bytes]:
    """A JSON object with one string field of ``total`` bytes, generated as it is sent."""
    yield b'{"utility_account_id": 1, "padding": "'
    sent = 0
    while sent < total:
        yield CHUNK
        sent += len(CHUNK)
    yield b'"}'


class RawAnswer(NamedTuple):
    status: int
    content_type: str
    sent_before_answer: int
    """Body bytes the client had written when the answer's head arrived."""


async def raw_post(
    api_url: str,
    key: str | None,
    body: AsyncIterator[bytes],
    *,
    declared: int | None,
    path: str = "/bills",
    content_type: str = f"multipart/form-data; boundary={BOUNDARY}",
) -> RawAnswer:
    """POST over a raw socket, reading the answer while still sending.

    Reading concurrently matters: the server answers 413 and closes while the client is
    mid-body, and a client that only reads after a failed write (as httpx does) loses
    the answer to the connection reset.
    """
    url = urlsplit(api_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    framing = f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked"
    authorization = f"Authorization: Bearer {key}\r\n" if key else ""
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n{authorization}"
            f"Content-Type: {content_type}\r\n{framing}\r\n\r\n"
        ).encode()
    )

    sent = 0

    async def send() -> None:
        nonlocal sent
        async for piece in body:
            writer.write(piece if declared is not None else b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            sent += len(piece)
        if declared is None:
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    sending = asyncio.create_task(send())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=ANSWER_WITHIN)
        sent_before_answer = sent
    finally:
        sending.cancel()
        writer.close()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sending
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines if line)
    return RawAnswer(int(status_line.split(" ")[1]), headers.get("content-type", ""), sent_before_answer)


@pytest.mark.parametrize(
    ("size", "declared"),
    [(200 * MB, None), (1024 * MB, 1024 * MB)],
    ids=["200MB-chunked-no-content-length", "1GB-declared-content-length"],
)
async def test_oversize_upload_is_413_with_bounded_memory(
    api_url: str, admin_key: str, app_settings: Settings, account_id: int, size: int, declared: int | None
) -> None:
    before = rss()
    started = time.monotonic()
    answer = await raw_post(api_url, admin_key, multipart_stream(account_id, size), declared=declared)
    elapsed = time.monotonic() - started
    growth = rss() - before
    print(
        f"\n{size // MB} MB, declared={declared}: {answer.status} in {elapsed:.2f}s after"
        f" {answer.sent_before_answer / MB:.1f} MB sent, RSS {growth / MB:+.1f} MB"
    )
    assert answer.status == 413
    assert answer.content_type.startswith("application/problem+json")
    # Refused once past the limit, not after the whole body (200 MB, 1 GB) was read.
    assert answer.sent_before_answer <= app_settings.upload_max_bytes + IN_FLIGHT_SLACK, answer
    assert growth < MAX_RSS_GROWTH, f"RSS grew by {growth / MB:.0f} MB"


async def test_upload_within_the_limit_is_not_refused(http: httpx.AsyncClient, account_id: int) -> None:
    """The control: the limit is not simply refusing everything."""
    response = await http.post(
        "/bills",
        files={"file": ("bill.txt", b"ACME Power\nTotal due $1.00\n" * 1000, "text/plain")},
        data={"utility_account_id": str(account_id)},
    )
    assert response.status_code in {200, 201}, response.text


@pytest.mark.parametrize("path", ["/jobs", f"/reviews/{uuid.UUID(int=1)}", "/ui/login"])
async def test_oversize_body_without_a_key_is_413_with_bounded_memory(
    api_url: str, app_settings: Settings, path: str
) -> None:
    """No key at all: the body would otherwise be read whole before the 401 (chunked bodies are
    counted as they stream by the same code, tested on /bills above)."""
    before = rss()
    answer = await raw_post(
        api_url, None, json_stream(100 * MB), declared=100 * MB, path=path, content_type="application/json"
    )
    growth = rss() - before
    assert answer.status == 413
    assert answer.content_type.startswith("application/problem+json")
    assert answer.sent_before_answer <= app_settings.request_max_bytes + IN_FLIGHT_SLACK, answer
    assert growth < MAX_RSS_GROWTH, f"RSS grew by {growth / MB:.0f} MB"
