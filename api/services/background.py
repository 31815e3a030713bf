"""A loop the API runs beside its requests for as long as it serves (dispatcher, reconciler)."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod

from shared.awaits import awaiting

logger = logging.getLogger(__name__)


class BackgroundLoop(ABC):
    name = "background-loop"
    stop_patience_seconds = 5.0
    """How long ``stop`` waits for the loop to end before cancelling it again."""

    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the loop and wait until it has ended, cancelling it again while it runs on: a cancellation can be
        lost on the way (CPython 3.11's ``wait_for`` returns a result that lands with it; asyncpg has lost one mid
        query), and the API's shutdown, and a test's, waited for it for ever."""
        task = self._task
        if task is None:
            return
        task.cancel()
        while not (await asyncio.wait({task}, timeout=self.stop_patience_seconds))[0]:
            logger.warning(
                "background loop still running after it was cancelled; cancelling it again",
                extra={"loop": self.name, "waiting_in": "\n".join(awaiting(task))},
            )
            task.cancel()
        if not task.cancelled():
            task.exception()  # retrieved: an error it ended with was its own to log (``_run``)

    @abstractmethod
    async def _run(self) -> None:
        """Run until cancelled; handle its own errors, or the loop ends with the first one."""


class FailureStreak:
    """How a loop that retries logs its failures: the first of a streak with its traceback, the rest as one line at
    most every ``every_seconds``, and the recovery. During a Postgres outage the dispatcher logged a traceback each
    second (61 over two short outages, an operator's probe, 69C), burying what else was logged."""

    def __init__(self, what: str, *, every_seconds: float = 60.0) -> None:
        self._what = what
        self._every = every_seconds
        self._failures = 0
        self._since = 0.0
        self._said_at = 0.0

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        self._failures += 1
        if self._failures == 1:
            self._since = self._said_at = now
            logger.warning(f"{self._what} failed; retrying", exc_info=error)
        elif now - self._said_at >= self._every:
            self._said_at = now
            logger.warning(
                f"{self._what} still failing; retrying",
                extra={
                    "failures": self._failures,
                    "for_s": round(now - self._since),
                    "error": f"{type(error).__name__}: {error}"[:300],
                },
            )

    def succeeded(self) -> None:
        if self._failures:
            logger.info(
                f"{self._what} works again",
                extra={"failures": self._failures, "for_s": round(time.monotonic() - self._since)},
            )
            self._failures = 0
