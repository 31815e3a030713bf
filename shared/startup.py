"""Wait for Temporal and Postgres at start, rather than exit because one came up a moment after us.

After a host reboot, a deploy or a Postgres failover, the worker and the API often start before
what they connect to listens. Exiting at once left them to a supervisor's restart loop (compose,
Kubernetes), and under ``make run`` or the chaos run a worker that lost that race stayed down or
counted as a crash. Only refusals are waited out (nothing listening, a server still starting): a
wrong password or an unusable URL fails at once, as before.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

import asyncpg

logger = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 5.0
TEMPORAL_UNREACHABLE = "Failed client connect: Server connection error"
"""How the SDK's ``Client.connect`` says no connection was made (a ``RuntimeError``), as opposed to a server
that answered and refused us; ``TEMPORAL_NOT_THERE`` narrows it to nothing listening or no such name yet
(a TLS handshake that failed, an untrusted certificate, is a misconfiguration: it fails at once)."""
TEMPORAL_NOT_THERE = ('"tcp connect error"', '"dns error"')


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says nothing answered yet, as opposed to a refusal of who we are or what we sent."""
    if isinstance(error, asyncpg.CannotConnectNowError):  # Postgres starting, recovering or shutting down
        return True
    if isinstance(error, ssl.SSLError) or "SSL" in str(error):  # a TLS misconfiguration: waiting will not fix it
        return False
    if isinstance(error, OSError):  # refused, reset, no socket file yet, timed out
        return True
    message = str(error)
    return (
        isinstance(error, RuntimeError)
        and message.startswith(TEMPORAL_UNREACHABLE)
        and any(kind in message for kind in TEMPORAL_NOT_THERE)
    )


async def when_reachable(what: str, connect: Callable[[], Awaitable[T]], *, within: float) -> T:
    """``connect()``, tried again while ``what`` is unreachable, for up to ``within`` seconds in all.

    The tries are 0.5 s apart, then doubling to 5 s; each wait is logged. After ``within`` (0: no
    second try) the last error is raised, as a first failure was before."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    delay = FIRST_DELAY_SECONDS
    attempt = 1
    while True:
        try:
            return await connect()
        except Exception as error:
            if not is_unreachable(error) or loop.time() + delay > deadline:
                raise
            logger.warning(
                f"{what} is not reachable yet; trying again",
                extra={"attempt": attempt, "retry_in_s": delay, "error": f"{type(error).__name__}: {error}"[:300]},
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_SECONDS)
        attempt += 1


@contextmanager
def stop_signals_cancel(task: asyncio.Task[object]) -> Iterator[None]:
    """SIGTERM and SIGINT cancel ``task`` too, while in this block (the main thread only: elsewhere, nothing).

    For the API's start: uvicorn's own handlers only note a stop signal while the app starts, so an API
    waiting for Temporal or Postgres went on waiting for a minute after it was told to stop (past
    compose's and Kubernetes' grace periods). The handlers it had are called as before, then restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    earlier = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def cancel(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(task.cancel)
        handler = earlier[signal.Signals(signum)]
        if callable(handler):
            handler(signum, frame)

    for sig in earlier:
        signal.signal(sig, cancel)
    try:
        yield
    finally:
        for sig, handler in earlier.items():
            signal.signal(sig, handler)
