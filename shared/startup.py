"""Wait for Temporal and Postgres at start, rather than exit because one came up a moment after us.

After a host reboot, a deploy or a Postgres failover, the worker and the API often start before
what they connect to listens. Exiting at once left them to a supervisor's restart loop (compose,
Kubernetes), and under ``make run`` or the chaos run a worker that lost that race stayed down or
counted as a crash. Only refusals are waited out (nothing listening, a server still starting): a
wrong password or an unusable URL fails at once, as before. Once Temporal answers, a namespace without
MiniMeter's search attributes is refused: every workflow start would be.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

import asyncpg
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from shared import search_attributes
from shared.refusals import StartRefused

logger = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 5.0
TEMPORAL_UNREACHABLE = "Failed client connect: Server connection error"
"""How the SDK's ``Client.connect`` says no connection was made (a ``RuntimeError``), as opposed to a server
that answered and refused us; ``TEMPORAL_NOT_THERE`` narrows it to nothing listening or no such name yet
(a TLS handshake that failed, an untrusted certificate, is a misconfiguration: it fails at once)."""
TEMPORAL_NOT_THERE = ('"tcp connect error"', '"dns error"')
TEMPORAL_NOT_READY = (
    "call error after connection: Status { code: Unavailable",
    'call error after connection: Status { code: Cancelled, message: "Timeout expired"',
)
"""A server that listens but does not serve yet (``Frontend is not healthy yet`` in the moment after a dev server,
or a Temporal restarted in a deploy, opens its port; a load balancer with no backend up): a worker starting then
exited 1, and a test's client failed, right after the server listened. Or one that takes the connection and never
answers (a TCP proxy with no backend, a frozen server): a traceback after 31 s, whatever ``STARTUP_WAIT_SECONDS``
said (74B)."""
MIN_TRY_SECONDS = 10.0
"""The least time one try is given, however little of the wait is left: a server that answers slowly still can."""


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says nothing answered yet, as opposed to a refusal of who we are or what we sent."""
    if isinstance(error, asyncpg.CannotConnectNowError):  # Postgres starting, recovering or shutting down
        return True
    if isinstance(error, ssl.SSLError) or "SSL" in str(error):  # a TLS misconfiguration: waiting will not fix it
        return False
    # Refused, reset, no socket file yet, timed out. A TLS file DATABASE_URL names but that is not there is an
    # OSError too, without the file's name: ``create_pool`` turns it into ``DatabaseUrlUnusable``, naming it.
    if isinstance(error, OSError):
        return True
    message = str(error)
    if not (isinstance(error, RuntimeError) and message.startswith("Failed client connect:")):
        return False
    return any(not_ready in message for not_ready in TEMPORAL_NOT_READY) or (
        message.startswith(TEMPORAL_UNREACHABLE) and any(kind in message for kind in TEMPORAL_NOT_THERE)
    )


class Unreachable(StartRefused):
    """A service the start needs did not answer in time (``when_reachable``)."""


class NoAnswer(ConnectionError):
    """A try that took its whole time: a server that took the connection and never answered it."""


async def when_reachable(what: str, connect: Callable[[], Awaitable[T]], *, within: float) -> T:
    """``connect()``, tried again while ``what`` is unreachable, for up to ``within`` seconds in all.

    The tries are 0.5 s apart, then doubling to 5 s; each wait is logged. After ``within`` (0: no
    second try) ``Unreachable`` is raised, naming ``what`` and the last error: the worker's last line named
    neither ("worker failed", a traceback ending in ``ConnectionRefusedError``). An error that is no
    unreachability (a refused password) is raised as it is, at once.

    Each try is given what is left of the wait (``MIN_TRY_SECONDS`` at least): a server that takes the connection
    and never answers held one try for asyncpg's 60 s (Postgres) or the SDK's 30 s (Temporal), past the wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    delay = FIRST_DELAY_SECONDS
    attempt = 1
    while True:
        given = max(deadline - loop.time(), MIN_TRY_SECONDS)
        try:
            return await asyncio.wait_for(connect(), given)
        except Exception as raised:
            error = NoAnswer(f"no answer within {given:.0f} s") if _silent(raised) else raised
            if not is_unreachable(error):
                raise
            if loop.time() + delay > deadline:
                raise Unreachable(
                    f"{what} did not answer within STARTUP_WAIT_SECONDS ({within:g} s):"
                    f" {type(error).__name__}: {error}"[:500]
                ) from error
            logger.warning(
                f"{what} is not reachable yet; trying again",
                extra={"attempt": attempt, "retry_in_s": delay, "error": f"{type(error).__name__}: {error}"[:300]},
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_SECONDS)
        attempt += 1


def _silent(error: BaseException) -> bool:
    """A timeout that says nothing more: this try's own (``asyncio.wait_for``) or asyncpg's for a connection."""
    return isinstance(error, TimeoutError) and not str(error)


async def in_daemon_thread(call: Callable[[], None]) -> None:
    """``call()`` in a thread of its own that the process does not wait for when it ends.

    A stop signal cancels the await, never the thread: on the loop's executor (``asyncio.to_thread``)
    ``asyncio.run`` and then the interpreter's exit joined it without a limit, so a worker stopped while
    GCS or BigQuery did not answer logged that it stopped, then hung until its client gave up (minutes:
    their retries) or SIGKILL came. Abandoning the thread is safe: the calls only create what is missing."""
    outcome: Future[None] = Future()

    def run() -> None:
        if not outcome.set_running_or_notify_cancel():
            return
        try:
            call()
        except Exception as error:  # noqa: BLE001 - raised in the awaiting task
            outcome.set_exception(error)
        else:
            outcome.set_result(None)

    threading.Thread(target=run, name=f"startup-{getattr(call, '__name__', 'call')}", daemon=True).start()
    await asyncio.wrap_future(outcome)


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


class SearchAttributesMissing(StartRefused):
    """Temporal's namespace lacks one of MiniMeter's search attributes, or has it of another type."""


class NamespaceMissing(StartRefused):
    """Temporal has no namespace of ``TEMPORAL_NAMESPACE``'s name: a typo, or one not created yet."""


CANNOT_LIST = (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED)
"""How a server says this identity may not use its operator service (an authorizer; Temporal Cloud may, too)."""


async def check_search_attributes(client: Client, *, namespace: str, address: str) -> None:
    """Refuse to start on a namespace without MiniMeter's search attributes, naming the commands that add them.

    Every workflow start sets them: without them each start was refused (INVALID_ARGUMENT) after ``POST /jobs``
    had answered 201, and every job stayed PENDING. A server that will not list them is only warned about."""
    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:  # the worker said "worker failed" over a traceback, the API nothing
            raise NamespaceMissing(
                f"Temporal at {address} has no namespace {namespace!r}: correct TEMPORAL_NAMESPACE, or create it"
                f" (temporal operator namespace create --namespace {namespace} --address {address})"
            ) from None
        if error.status not in CANNOT_LIST:
            raise
        logger.warning(
            "Temporal's search attributes could not be listed, so were not checked",
            extra={"namespace": namespace, "error": f"{error.status.name}: {error.message}"[:300]},
        )
        return
    registered = dict(listed.custom_attributes)
    missing = [key for key in search_attributes.ALL if key.name not in registered]
    mistyped = [
        key
        for key in search_attributes.ALL
        if registered.get(key.name, key.indexed_value_type) != key.indexed_value_type
    ]
    if missing or mistyped:
        raise SearchAttributesMissing(_refusal(missing, mistyped, registered, namespace=namespace, address=address))


def _refusal(
    missing: list[SearchAttributeKey[Any]],
    mistyped: list[SearchAttributeKey[Any]],
    registered: Mapping[str, int],
    *,
    namespace: str,
    address: str,
) -> str:
    """One line: what is wrong, and the CLI commands that put it right."""
    cli = f"temporal operator search-attribute {{}} --address {address} --namespace {namespace}"
    problems = [f"missing: {', '.join(key.name for key in missing)}"] if missing else []
    problems += [
        f"{key.name} is {_type_name(registered[key.name])}, not {_type_name(key.indexed_value_type)}"
        for key in mistyped
    ]
    commands = [cli.format("remove") + "".join(f" --name {key.name}" for key in mistyped)] if mistyped else []
    flags = "".join(f" --name {key.name} --type {_type_name(key.indexed_value_type)}" for key in missing + mistyped)
    commands.append(cli.format("create") + flags)
    return (
        f"Temporal namespace {namespace} lacks MiniMeter's search attributes ({'; '.join(problems)}), without which"
        f" every job stays PENDING: register them with `{' && '.join(commands)}`"
        " (on Temporal Cloud: tcld namespace search-attributes add)"
    )


def _type_name(kind: int) -> str:
    """``Keyword``, ``Int``: as the CLI's ``--type`` takes it."""
    return "".join(part.capitalize() for part in SearchAttributeIndexedValueType(kind).name.split("_"))
