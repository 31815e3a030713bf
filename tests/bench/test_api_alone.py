"""``bench.api_alone``'s round lines: each says what that round did."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

import psutil

from bench.api_alone import one_round
from bench.api_clients import job_starter


async def test_each_round_says_only_the_starts_it_retried() -> None:
    """The first start of all is answered 503 and sent again; round 2 retried nothing, and said "1 retried" too:
    the starter counts every round's retries."""
    answered = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
                length = re.search(r"^content-length: (\d+)", head, re.MULTILINE)
                await reader.readexactly(int(length[1]) if length else 0)
                answered += 1
                if answered == 1:
                    writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                else:
                    body = json.dumps({"id": f"job-{answered}"}).encode()
                    writer.write(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n")
                    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, job_starter(f"http://127.0.0.1:{port}", "key", clients=2, account_ids=[7]) as starter:
        lines = [await one_round(starter, psutil.Process(), number=n, requests=4, clients=2) for n in (1, 2)]

    assert lines[0].startswith("round 1: 4 POST /jobs by 2 clients, ") and lines[0].endswith(", 1 retried"), lines
    assert lines[1].startswith("round 2: ") and "retried" not in lines[1], lines
