"""C concurrent clients starting N things as fast as each gets an answer (closed loop per client)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Started:
    key: str
    """The job id or workflow id the start returned."""
    sent_at: float
    """Wall clock (epoch seconds) when the successful attempt was sent."""
    latency_ms: float
    retries: int


StartOne = Callable[[int], Awaitable[tuple[str, int, float, float]]]
"""Start item ``i``; returns (key, retries, sent_at, latency_ms) of the successful attempt."""


async def drive(count: int, clients: int, start_one: StartOne, *, on_start: Callable[[], None] | None = None) -> list[Started]:
    """Run ``clients`` loops that take the next index until ``count`` have started."""
    next_index = iter(range(count))
    started: list[Started] = []

    async def client() -> None:
        for i in next_index:  # a shared iterator: each index goes to exactly one client
            key, retries, sent_at, latency_ms = await start_one(i)
            started.append(Started(key=key, sent_at=sent_at, latency_ms=latency_ms, retries=retries))
            if on_start is not None:
                on_start()

    await asyncio.gather(*(client() for _ in range(max(1, clients))))
    return started


async def timed(fn: Callable[[], Awaitable[str]]) -> tuple[str, float, float]:
    """(result, sent_at epoch, latency ms) of one call."""
    sent_at = time.time()
    t0 = time.perf_counter()
    key = await fn()
    return key, sent_at, (time.perf_counter() - t0) * 1000
