"""Group the publishes of one worker into few warehouse requests.

Every ``insertAll`` costs a round trip and per-request work on the warehouse side
(in the local emulator about 14 ms of CPU, against under 1 ms per extra bill), and a
bill writes three tables. So concurrent ``publish_analytics`` activities hand their
bill to one ``PublishBatcher``: it writes the batch with one ``publish_bills`` call in
a thread, and answers each caller with its own bill's outcome. A batch is written once
no bill has joined it for ``quiet`` (a lone bill waits only that long), once its first
bill has waited ``max_wait`` (under steady load bills keep coming, so batches grow up to
that age), or as soon as ``max_bills`` have joined. Rows that arrive during a write form
the next batch.

Nothing is acknowledged early: an activity completes only after its rows are in the
warehouse, so a worker that dies mid-batch loses nothing (Temporal retries the
activities), and retried rows are harmless (same insertIds, deduplicating views).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.analytics import AnalyticsBill, refusal

logger = logging.getLogger(__name__)


class BillsWriter(Protocol):
    """All a batcher needs of an ``AnalyticsSink``."""

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]: ...


@dataclass
class _Waiting:
    bill: AnalyticsBill
    outcome: asyncio.Future[None]
    arrived: float


class PublishBatcher:
    """Coalesce ``publish`` calls on one event loop into batched ``sink.publish_bills`` calls."""

    def __init__(self, sink: BillsWriter, *, max_bills: int, max_wait: float, quiet: float | None = None) -> None:
        """``quiet`` defaults to ``max_wait``: every batch then waits ``max_wait`` from its first bill."""
        if max_bills < 1:
            raise ValueError("max_bills must be at least 1")
        self._sink = sink
        self._max_bills = max_bills
        self._max_wait = max_wait
        self._quiet = max_wait if quiet is None else min(quiet, max_wait)
        self._waiting: list[_Waiting] = []
        self._arrived = asyncio.Event()
        """Set by every new bill; the flusher clears it before each wait."""
        self._flusher: asyncio.Task[None] | None = None

    async def publish(self, bill: AnalyticsBill) -> None:
        """Return once this bill's rows are written; raise ``AnalyticsPublishFailed`` (``refusal``) or the outage."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[None] = loop.create_future()
        self._waiting.append(_Waiting(bill, outcome, loop.time()))
        self._arrived.set()
        if self._flusher is None or self._flusher.done():
            # A context of its own: created inside this caller's activity, it would log as that job forever.
            self._flusher = asyncio.create_task(
                self._flush_forever(), name="analytics-batcher", context=contextvars.Context()
            )
        await outcome

    async def close(self) -> None:
        """Stop the flusher (callers still waiting see it cancelled and are retried by Temporal)."""
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        for waiting in self._waiting:
            if not waiting.outcome.done():
                waiting.outcome.cancel()

    async def _flush_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._waiting:
                self._arrived.clear()
                await self._arrived.wait()
            while len(self._waiting) < self._max_bills:
                due = min(self._waiting[0].arrived + self._max_wait, self._waiting[-1].arrived + self._quiet)
                if due <= loop.time():
                    break
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    # Not wait_for: on CPython 3.11 it returns a bill's arrival that lands with close()'s
                    # cancellation, drops the cancellation, and close() waited for the flusher for ever.
                    async with asyncio.timeout(due - loop.time()):
                        await self._arrived.wait()
            batch, self._waiting = self._waiting[: self._max_bills], self._waiting[self._max_bills :]
            await self._write([w for w in batch if not w.outcome.done()])

    async def _write(self, batch: list[_Waiting]) -> None:
        if not batch:
            return
        try:
            refused = await asyncio.to_thread(self._sink.publish_bills, [w.bill for w in batch])
        except Exception as outage:  # noqa: BLE001 - every caller of the batch gets it and retries alone
            logger.warning(
                "analytics batch failed",
                extra={
                    "step": "publish_analytics",
                    "bills": len(batch),
                    "job_ids": [w.bill.job_id for w in batch],
                    "error": _described(outage),
                },
            )
            for waiting in batch:
                if not waiting.outcome.done():
                    waiting.outcome.set_exception(outage)
            return
        for waiting in batch:
            if waiting.outcome.done():
                continue  # the activity was cancelled meanwhile
            reason = refused.get(waiting.bill.bill_id)
            if reason is None:
                waiting.outcome.set_result(None)
            else:
                waiting.outcome.set_exception(refusal(reason))


ERROR_LENGTH = 500
"""As much of an outage's message as a log line keeps: the client's retry error holds the last attempt's cause."""


def _described(outage: BaseException) -> str:
    """The outage's type and message: its type alone ("RetryError") said nothing of the timeout behind it."""
    message = str(outage)
    return f"{type(outage).__name__}: {message}"[:ERROR_LENGTH] if message else type(outage).__name__
