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
    first: bool = False
    """Its client's first start: the clients send theirs together, and each waits for all of them (the first wave)."""

    @property
    def answered_at(self) -> float:
        """The bench's wall clock (epoch seconds) when its answer came; Postgres's times are on another clock
        (``bench.pipeline.postgres_clock_offset``)."""
        return self.sent_at + self.latency_ms / 1000


StartOne = Callable[[int, int], Awaitable[tuple[str, int, float, float]]]
"""Start item ``i`` as client ``c``; returns (key, retries, sent_at, latency_ms) of the successful attempt."""


class InFlightLimit:
    """Starters wait while ``limit`` items are started and not yet done (0: no limit).

    Backpressure as a well-behaved producer would apply it: keeps the workflows in flight
    below the worker's workflow cache, where every task is a cache hit instead of a replay.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.started = 0
        self.done = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._changed:
            if self.limit > 0:
                await self._changed.wait_for(lambda: self.started - self.done < self.limit)
            self.started += 1

    async def set_done(self, done: int) -> None:
        async with self._changed:
            self.done = done
            self._changed.notify_all()


async def drive(
    count: int, clients: int, start_one: StartOne, *, rate: float = 0, in_flight: InFlightLimit | None = None
) -> list[Started]:
    """Run ``clients`` loops that take the next index until ``count`` have started.

    With ``rate`` > 0, item ``i`` is not sent before ``i / rate`` seconds (an arrival rate
    instead of as-fast-as-answered), so latency is measured below saturation. With
    ``in_flight``, a start also waits for room under that limit.
    """
    next_index = iter(range(count))
    started: list[Started] = []
    origin = time.monotonic()

    async def client(c: int) -> None:
        first = True
        for i in next_index:  # a shared iterator: each index goes to exactly one client
            if rate > 0:
                await asyncio.sleep(max(0.0, origin + i / rate - time.monotonic()))
            if in_flight is not None:
                await in_flight.acquire()
            key, retries, sent_at, latency_ms = await start_one(i, c)
            started.append(Started(key=key, sent_at=sent_at, latency_ms=latency_ms, retries=retries, first=first))
            first = False

    await asyncio.gather(*(client(c) for c in range(max(1, clients))))
    return started


async def timed(fn: Callable[[], Awaitable[str]]) -> tuple[str, float, float]:
    """(result, sent_at epoch, latency ms) of one call."""
    sent_at = time.time()
    t0 = time.perf_counter()
    key = await fn()
    return key, sent_at, (time.perf_counter() - t0) * 1000
