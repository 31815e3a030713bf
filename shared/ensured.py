"""A bucket or a warehouse schema made sure of at start, without letting its outage stop the start.

A worker started while BigQuery did not answer waited in silence for its client's ten minutes of retries, then
exited: a deploy, an OOM kill or a node drain during a warehouse outage stopped every job's fetch, extraction,
review and persist, though only the publish step needs the warehouse (and it retries for a day). The API waited two
minutes in silence for GCS before it listened, its health check unanswered.

``ensure_or_continue`` waits ``within`` seconds (``STARTUP_WAIT_SECONDS``), saying that it waits, then lets the
start go on and keeps trying in the background until the call succeeds. A refusal of who we are (credentials,
permissions: not ``unreachable``) still stops the start, as it did.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from google.api_core.exceptions import GatewayTimeout, RetryError, ServiceUnavailable, TooManyRequests

from shared.artifacts import ArtifactStoreUnavailable
from shared.startup import in_daemon_thread

logger = logging.getLogger(__name__)

SAY_AFTER_SECONDS = 5.0
"""How long a start waits in silence: then it says what it waits for, and for how long more."""
RETRY_SECONDS = 30.0
"""How often the background tries again once the start has gone on."""


def unreachable(error: BaseException) -> bool:
    """Whether a Google client's call failed for want of an answer (refused, reset, timed out, retried out, 5xx or
    429), which waiting may mend, as opposed to a refusal of our credentials or of what we asked."""
    if isinstance(error, ssl.SSLError):
        return False
    retryable = (RetryError, ServiceUnavailable, GatewayTimeout, TooManyRequests, ArtifactStoreUnavailable)
    return isinstance(error, (*retryable, OSError))  # requests' ConnectionError and Timeout are OSErrors


async def ensure_or_continue(
    what: str,
    ensure: Callable[[], None],
    *,
    within: float,
    meanwhile: str,
    retry_every: float = RETRY_SECONDS,
) -> asyncio.Task[None] | None:
    """``ensure()`` (it creates what is missing) in a thread of its own: None once it succeeds within ``within``
    seconds. Where ``what`` does not answer by then (or says it cannot), a warning naming what goes without it
    (``meanwhile``) and a task that tries again every ``retry_every`` seconds until it succeeds, which the caller
    cancels when it closes. Any other failure is raised; so is a cancellation, which leaves the thread to its own."""
    first = asyncio.ensure_future(in_daemon_thread(ensure))
    try:
        done, _ = await asyncio.wait({first}, timeout=min(SAY_AFTER_SECONDS, within))
        if not done:
            logger.warning(f"waiting for {what} to answer", extra={"within_s": max(0.0, within - SAY_AFTER_SECONDS)})
            done, _ = await asyncio.wait({first}, timeout=max(0.0, within - SAY_AFTER_SECONDS))
    except asyncio.CancelledError:
        first.cancel()
        raise
    error = first.exception() if done else None
    if done and error is None:
        return None
    if error is not None and not unreachable(error):
        raise error
    logger.warning(
        f"{what} is not answering: starting without it, and trying again every {retry_every:.0f} s; {meanwhile}",
        extra={"error": f"{type(error).__name__}: {error}"[:300] if error is not None else f"no answer in {within} s"},
    )
    return asyncio.create_task(_until_ensured(what, ensure, first, retry_every), name=f"ensure {what}")


async def _until_ensured(
    what: str, ensure: Callable[[], None], attempt: asyncio.Future[None], retry_every: float
) -> None:
    """Wait for the attempt under way, then try again every ``retry_every`` seconds, until one succeeds or one is
    refused (logged as an error: an operator must mend it)."""
    while True:
        try:
            await attempt
        except asyncio.CancelledError:
            attempt.cancel()
            raise
        except Exception as error:  # noqa: BLE001 - whatever the call raised: told apart below
            if not unreachable(error):
                logger.error(
                    f"{what} refused us: fix its configuration and restart",
                    extra={"error": f"{type(error).__name__}: {error}"[:300]},
                )
                return
            logger.warning(
                f"{what} is still not answering; trying again",
                extra={"retry_in_s": retry_every, "error": f"{type(error).__name__}: {error}"[:300]},
            )
            await asyncio.sleep(retry_every)
            attempt = asyncio.ensure_future(in_daemon_thread(ensure))
            continue
        logger.info(f"{what} answered: ready")
        return
