"""The benchmark's callers of ``POST /jobs``: one aiohttp session, so one connection, per client.

aiohttp rather than httpx: the clients share the machine with the API, and per request
httpx cost the bench 0.65 ms of CPU where aiohttp costs 0.2 ms (one shared httpx client
with 32 connections cost 2.6 ms). A busy bench process reports its own queueing as API
latency.

Each start carries its own ``Idempotency-Key``, so a start whose connection dropped can be
sent again without a second job: a client that waits between starts (``--max-in-flight``)
finds its kept-alive connection closed by the server now and then (uvicorn closes idle ones
after 5 s), and cannot know whether the request got there first.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence

import aiohttp

from bench.load import timed

RETRY_STATUSES = {429, 502, 503, 504}
MAX_ATTEMPTS = 20


class JobStarter:
    """``start`` fits ``bench.load.drive``: item ``i`` is a job for ``account_ids[i % n]``."""

    def __init__(self, sessions: Sequence[aiohttp.ClientSession], account_ids: Sequence[int]) -> None:
        self._sessions = sessions
        self._account_ids = account_ids
        self.retries = 0
        """Answers that asked to come back later (429/5xx) and dropped connections, each retried after a backoff."""

    async def start(self, i: int, client: int) -> tuple[str, int, float, float]:
        session = self._sessions[client]
        body = {"utility_account_id": self._account_ids[i % len(self._account_ids)]}
        headers = {"Idempotency-Key": uuid.uuid4().hex}

        async def call() -> str:
            try:
                async with session.post("/jobs", json=body, headers=headers) as response:
                    if response.status in RETRY_STATUSES:
                        return ""
                    response.raise_for_status()
                    return str((await response.json())["id"])
            except aiohttp.ClientConnectionError:
                return ""

        for attempt in range(MAX_ATTEMPTS):
            job_id, sent_at, latency = await timed(call)
            if job_id:
                return job_id, attempt, sent_at, latency
            self.retries += 1
            await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
        raise RuntimeError(f"POST /jobs kept failing for item {i}")


@contextlib.asynccontextmanager
async def job_starter(
    api_url: str, api_key: str, *, clients: int, account_ids: Sequence[int]
) -> AsyncIterator[JobStarter]:
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                aiohttp.ClientSession(
                    base_url=api_url,
                    headers={"Authorization": f"Bearer {api_key}"},
                    timeout=aiohttp.ClientTimeout(total=60),
                    connector=aiohttp.TCPConnector(limit=1),
                )
            )
            for _ in range(max(1, clients))
        ]
        yield JobStarter(sessions, account_ids)
