"""The local stack as child processes: used by `make run`, the benchmark and the chaos run.

Each service can be stopped and started again on the same ports and data, which is
what fault injection needs (kill a worker, bounce Postgres, restart Temporal).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psutil

from shared.settings import Settings
from stack.emulators import BigQueryEmulator, GcsEmulator
from stack.log_rotation import LogLimit, LogRotator
from stack.services import (
    StackError,
    embedded_postgres_url,
    ensure_port_free,
    forget_embedded_postgres,
    free_port,
    held_by_others,
    how_it_ended,
    log_size,
    postmaster,
    refusal_in,
    start_embedded_postgres,
    start_in_own_session,
    start_moving_if_taken,
    start_temporal_dev_server,
    still_running,
    stop_embedded_postgres,
    stop_process,
    wait_for_port,
)

__all__ = [
    "CO_LOCATED_BATCH_NICE",
    "AdminKey",
    "Child",
    "LocalStack",
    "StackOptions",
    "finish_stopping_undisturbed",
    "stop_on_sigterm",
    "stop_process",
]

WORKER_STOP_MARGIN_SECONDS = 10.0
"""Beyond WORKER_GRACEFUL_SHUTDOWN_SECONDS, for the worker to close its clients and exit before SIGKILL."""

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
"""``API_HOST`` values that listen on every interface, the loopback among them."""

CO_LOCATED_BATCH_NICE = 10
"""How much nicer than the API the worker and the dev server run in the local stack (``WORKER_NICE``
overrides the worker's): the API answers people, the other two work through a queue."""


@dataclass
class StackOptions:
    data_dir: Path
    temporal_db: Path | None = None
    """SQLite file for the dev server; None keeps Temporal in memory."""
    bigquery_in_memory: bool = False
    """The BigQuery emulator's DuckDB in memory instead of under ``data_dir`` (nothing survives a stop)."""
    temporal_port: int | None = 7233
    ui_port: int | None = 8233
    api_port: int | None = 8000
    gcs_port: int | None = 9023
    bq_port: int | None = 9050
    """Every service's port. None: any free one (tests, the bench, the chaos run), moved to another
    if taken before the first start binds it; a chosen one taken is refused (``LocalStack.temporal_port``
    and ``api_port`` say where they are)."""
    use_emulators: bool = True
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment for the worker and API processes (e.g. WORKER_* tuning)."""
    reuse_services: bool = True
    """Use the services TEMPORAL_ADDRESS, DATABASE_URL and the emulator hosts name, when set.
    False starts all of them here (the chaos run must own what it breaks)."""
    log_limit: LogLimit = field(default_factory=LogLimit)
    """How large each child's log (``data_dir/logs/*.log``, the embedded Postgres's) grows before it is rotated."""


@dataclass(frozen=True)
class Child:
    """A process the stack started, as ``make run`` watches it."""

    name: str
    log: Path
    ended: Callable[[], str | None]
    """None while it runs; then how it ended ("code 1", "killed by SIGKILL")."""
    log_from: int | None = None
    """Where its own run's lines begin in ``log`` (appended to across runs): a refusal there says why it ended.
    None for a server that logs none."""

    def said(self) -> str | None:
        """What ``make run`` says of it once it has ended: which, how, why when it said so, where its log is."""
        if (how := self.ended()) is None:
            return None
        refusal = refusal_in(self.log, self.log_from) if self.log_from is not None else None
        return f"{self.name} exited ({how}){f': {refusal}' if refusal else ''}; see {self.log}"


def _exit_code(poll: Callable[[], int | None]) -> Callable[[], str | None]:
    return lambda: None if (code := poll()) is None else how_it_ended(code)


def _gone(process: psutil.Process) -> Callable[[], str | None]:
    """For a process that is no child of ours: its exit code is its parent's (init's) to know."""
    return lambda: None if still_running(process) else "code unknown"


class LocalStack:
    """Start, stop and restart the pieces of a local MiniMeter."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.temporal_port = options.temporal_port or free_port()
        self.ui_port = options.ui_port or free_port()
        self.api_port = options.api_port or free_port()
        self._temporal_started = False
        self._api_started = False
        """Restarts keep their ports: the worker and the API (the clients) know the address."""
        self.logs = options.data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env: dict[str, str] = {**os.environ, "DATA_DIR": str(options.data_dir), **options.env}
        self.temporal: subprocess.Popen[bytes] | None = None
        self.gcs: GcsEmulator | None = None
        self.bigquery: BigQueryEmulator | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.api: subprocess.Popen[bytes] | None = None
        self.new_admin_key = False
        """Whether ``admin_key()`` created the key (so it is shown, once)."""
        self._pgdata = options.data_dir / "postgres"
        self._postmaster: psutil.Process | None = None
        """The embedded Postgres this stack started (and so stops); None when it started none."""
        self._logs_by_pid: dict[int, tuple[Path, int]] = {}
        """Each worker's and API's log, and where its run's lines begin there."""
        default_grace = Settings.model_fields["worker_graceful_shutdown_seconds"].default
        self.worker_stop_timeout: float = default_grace + WORKER_STOP_MARGIN_SECONDS
        """How long ``close()`` waits for a worker after SIGTERM before killing it: past its graceful
        shutdown (``start_worker()`` reads WORKER_GRACEFUL_SHUTDOWN_SECONDS as the worker will)."""
        self._log_rotator = LogRotator(self.log_files, options.log_limit)
        """Left unrotated, the logs of a stack running for weeks filled the disk."""
        self._log_rotator.start()

    # --- infrastructure --------------------------------------------------------------

    @property
    def _external(self) -> Mapping[str, str]:
        return os.environ if self.options.reuse_services else {}

    def start_services(self) -> None:
        """Temporal (unless TEMPORAL_ADDRESS is set), Postgres (unless DATABASE_URL is), emulators.

        An empty or blank variable is unset here as in the settings (README): ``DATABASE_URL=`` starts Postgres,
        where taking it as set would start nothing and leave the children nothing to connect to."""
        external = {name: value for name, value in self._external.items() if value.strip()}
        if not external.get("TEMPORAL_ADDRESS"):
            self.start_temporal()
            self.env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{self.temporal_port}"
            if not self.env.get("TEMPORAL_UI_URL", "").strip():  # its Web UI's port, not the default's, in the links
                self.env["TEMPORAL_UI_URL"] = f"http://localhost:{self.ui_port}"
        if not external.get("DATABASE_URL"):
            self.env["DATABASE_URL"] = embedded_postgres_url(self._pgdata, stop_on_exit=True)
            self._postmaster = postmaster(self._pgdata)
        if self.options.use_emulators and not external.get("STORAGE_EMULATOR_HOST"):
            self.gcs = GcsEmulator(
                data_dir=self.options.data_dir / "gcs", port=self.options.gcs_port, log_file=self.logs / "gcs.log"
            )
            self.gcs.start()
            self.env["STORAGE_EMULATOR_HOST"] = self.gcs.url
        if self.options.use_emulators and not external.get("BIGQUERY_EMULATOR_HOST"):
            self.bigquery = BigQueryEmulator(
                data_dir=self.options.data_dir / "bigquery",
                port=self.options.bq_port,
                ephemeral=self.options.bigquery_in_memory,
                log_file=self.logs / "bigquery.log",
            )
            self.bigquery.start()
            self.env["BIGQUERY_EMULATOR_HOST"] = self.bigquery.url

    def start_temporal(self) -> None:
        def start() -> None:
            self.temporal = start_temporal_dev_server(
                db_file=self.options.temporal_db,
                port=self.temporal_port,
                ui_port=self.ui_port,
                log_file=self.logs / "temporal.log",
                nice=CO_LOCATED_BATCH_NICE,
            )

        def move() -> None:
            self.temporal_port, self.ui_port = free_port(), free_port()

        # Only when both were picked: the log does not say which one was taken, and a chosen one stays.
        movable = not self._temporal_started and self.options.temporal_port is None and self.options.ui_port is None
        start_moving_if_taken(
            start, move=move if movable else None, log=self.logs / "temporal.log", what="the Temporal dev server"
        )
        self._temporal_started = True

    def stop_temporal(self) -> None:
        if self.temporal is not None:
            stop_process(self.temporal)
            self.temporal = None

    def stop_postgres(self) -> None:
        """Stop the embedded server; one that died already is only forgotten (``pg_ctl stop`` would fail, loudly)."""
        if self._postmaster is not None and not still_running(self._postmaster):
            forget_embedded_postgres(self._pgdata)
        else:
            stop_embedded_postgres(self._pgdata)
        self._postmaster = None

    def start_postgres(self) -> None:
        start_embedded_postgres(self._pgdata)
        self._postmaster = postmaster(self._pgdata)

    def settings(self) -> Settings:
        """Settings as the child processes see them."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            return Settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    # --- application processes ---------------------------------------------------------

    def _spawn(self, module: str, log_name: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self.logs / log_name
        log_from = log_size(log)
        with open(log, "ab") as out:  # the child writes through its own copy: ours would leak one per restart
            proc = start_in_own_session(
                [sys.executable, "-m", module],
                env={**self.env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._logs_by_pid[proc.pid] = (log, log_from)
        return proc

    @property
    def worker_env(self) -> dict[str, str]:
        """Everything shares this machine: batch work yields to API requests."""
        return {"WORKER_NICE": self.env.get("WORKER_NICE", str(CO_LOCATED_BATCH_NICE))}

    def start_worker(self) -> subprocess.Popen[bytes]:
        self.worker_stop_timeout = self.settings().worker_graceful_shutdown_seconds + WORKER_STOP_MARGIN_SECONDS
        proc = self._spawn("worker", f"worker-{len(self.workers)}.log", self.worker_env)
        self.workers.append(proc)
        return proc

    def start_api(self, *, module: str = "api", log_name: str = "api.log") -> subprocess.Popen[bytes]:
        """The API (or ``module``, serving in its place on its port: ``bench.floor_app``)."""
        host, log = self.api_host, self.logs / log_name
        # It may wait for Temporal, then Postgres, before it listens: past that, its own exit says why.
        timeout = 60 + 2 * self.startup_wait_seconds

        def start() -> None:
            ensure_port_free(host, self.api_port, "the API")
            self.api = self._spawn(module, log_name, {"API_PORT": str(self.api_port)})
            try:
                wait_for_port(host, self.api_port, timeout=timeout, process=self.api, log=log)  # close() stops it
            except StackError:
                if not (ended := self.all_exited()):
                    raise
                raise StackError("\n".join(ended)) from None  # the API, the worker too where both refused

        def move() -> None:
            self.api_port = free_port()

        movable = not self._api_started and self.options.api_port is None
        start_moving_if_taken(start, move=move if movable else None, log=log, what="the API")
        self._api_started = True
        assert self.api is not None
        return self.api

    def _child_setting(self, name: str) -> str | None:
        """One setting as the children read it (any case, empty is unset), without validating every other
        setting: a child refusing one says so in its own log, which ``start_api`` names."""
        return next((value for key, value in self.env.items() if key.upper() == name and value), None)

    @property
    def startup_wait_seconds(self) -> float:
        """``STARTUP_WAIT_SECONDS`` as the children read it; unreadable here, the default."""
        default = float(Settings.model_fields["startup_wait_seconds"].default)
        raw = self._child_setting("STARTUP_WAIT_SECONDS")
        try:
            return max(0.0, float(raw)) if raw is not None else default
        except ValueError:
            return default

    @property
    def api_host(self) -> str:
        """Where this machine reaches the API: the address it binds (``API_HOST``), the loopback for a
        wildcard. Waiting on 127.0.0.1 whatever it bound, ``make run`` with ``API_HOST`` set to the
        machine's own address (to reach the API from another one) gave up after a minute."""
        host = self._child_setting("API_HOST") or "127.0.0.1"
        return "127.0.0.1" if host in WILDCARD_HOSTS else host

    @property
    def api_url(self) -> str:
        host = self.api_host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.api_port}"

    def admin_key(self) -> str:
        """The stack's admin key: created once, kept in DATA_DIR/admin.key (see ``new_admin_key``)."""
        pg_log = self._pgdata / "log" if self._postmaster is not None else None
        admin = asyncio.run(ensure_admin_key(self.settings(), log=pg_log))
        self.new_admin_key = admin.created
        return admin.key

    # --- watching ----------------------------------------------------------------------

    def log_files(self) -> list[Path]:
        """Every log the stack's children write: ``logs/*.log`` and the embedded Postgres's, when it started one."""
        pg_log = [self._pgdata / "log"] if self._postmaster is not None else []
        return sorted(self.logs.glob("*.log")) + pg_log

    def children(self) -> list[Child]:
        """Every process this stack started and still means to run, infrastructure first."""
        children: list[Child] = []
        if self.temporal is not None:
            children.append(Child("Temporal dev server", self.logs / "temporal.log", _exit_code(self.temporal.poll)))
        if self._postmaster is not None:
            children.append(Child("Postgres", self._pgdata / "log", _gone(self._postmaster)))  # embedded_postgres's log
        for name, emulator in (("GCS emulator", self.gcs), ("BigQuery emulator", self.bigquery)):
            if emulator is not None:
                children.append(Child(name, emulator.log_file, _exit_code(emulator.poll)))
        apps = [("worker", proc) for proc in self.workers] + ([("API", self.api)] if self.api is not None else [])
        for name, proc in apps:
            log, log_from = self._logs_by_pid.get(proc.pid, (self.logs, None))
            children.append(Child(name, log, _exit_code(proc.poll), log_from))
        return children

    def exited(self) -> str | None:
        """What ``make run`` says when a child has exited (``Child.said``); None while all run."""
        return next(iter(self.all_exited()), None)

    def all_exited(self) -> list[str]:
        """``Child.said`` of every child that has exited, infrastructure first: a worker and an API refusing the same
        setting are both named."""
        return [said for child in self.children() if (said := child.said()) is not None]

    def close(self) -> None:
        """Stop everything, application first (the worker gracefully), infrastructure last."""
        self._log_rotator.stop()
        if self.api is not None:
            stop_process(self.api)
        for proc in self.workers:
            stop_process(proc, timeout=self.worker_stop_timeout)
        if self.bigquery is not None:
            self.bigquery.stop()
        if self.gcs is not None:
            self.gcs.stop()
        self.stop_temporal()
        if self._postmaster is not None and not held_by_others(self._pgdata):  # only a server no one else uses
            self.stop_postgres()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""``kill``, a supervisor or a CI timeout; a closed terminal or a dropped SSH session."""


def stop_on_sigterm() -> None:
    """Make SIGTERM and SIGHUP unwind like Ctrl-C, and a stop Python swallowed arrive again.

    Python's default ends the process at once, skipping the ``finally`` that stops the
    stack: Temporal, Postgres, the emulators and the API (each in a session of its own)
    would run on, orphaned, holding their ports.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    if not isinstance(sys.unraisablehook, _RedeliverLostStop):
        sys.unraisablehook = _RedeliverLostStop(sys.unraisablehook)


def finish_stopping_undisturbed() -> None:
    """Once stopping has begun, a second Ctrl-C, SIGTERM or SIGHUP must not cut it short."""
    for signum in (signal.SIGINT, *STOP_SIGNALS):
        signal.signal(signum, signal.SIG_IGN)


_last_stop_signal: int = signal.SIGINT
"""The last SIGTERM or SIGHUP turned into ``KeyboardInterrupt``; SIGINT (Ctrl-C, Python's handler) until one came."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    global _last_stop_signal
    _last_stop_signal = signum
    raise KeyboardInterrupt


class _RedeliverLostStop:
    """``sys.unraisablehook`` that sends a swallowed stop again.

    Where Python cannot raise (a ``__del__``, a weakref callback, a gc callback, a generator closed when collected),
    it prints the interrupt as ignored and runs on, and the stack with it. Sent again a moment later, the stop lands
    where it can raise; once the entry point has begun stopping (``finish_stopping_undisturbed``) it is ignored.
    Other unraisable errors go to the hook it replaced."""

    def __init__(self, previous: Callable[[sys.UnraisableHookArgs], object]) -> None:
        self._previous = previous

    def __call__(self, unraisable: sys.UnraisableHookArgs) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            sys.stderr.write(f"stop signal lost in {unraisable.object!r}; sending it again\n")
            threading.Timer(REDELIVER_SECONDS, os.kill, (os.getpid(), _last_stop_signal)).start()
            return
        self._previous(unraisable)


REDELIVER_SECONDS = 0.05
"""How soon a swallowed stop is sent again: soon enough to feel immediate, late enough to land past the finalizer."""


@dataclass(frozen=True)
class AdminKey:
    key: str
    created: bool
    """Made on this run: shown once, like any new key."""


async def ensure_admin_key(settings: Settings, *, log: Path | None = None) -> AdminKey:
    """The admin key in ``DATA_DIR/admin.key`` (mode 0600), replaced by a new one when the database
    does not know it: a fresh or other database (``rm -rf .data/postgres``, another DATABASE_URL).

    A database that cannot be reached is a ``StackError`` naming ``log`` (the server's), as ``make run``
    reports any service dead at birth, not a traceback."""
    import asyncpg

    from api.auth import Role, authenticate, create_key
    from shared.db import DatabaseRefusedUs, PostgresUnreachable, create_pool, migrate

    path = settings.data_dir / "admin.key"
    saved = path.read_text().strip() if path.exists() else None
    see = f"; see {log}" if log is not None else ""
    try:
        pool = await create_pool(settings)
    except (OSError, asyncpg.CannotConnectNowError) as error:  # refused, no socket, starting or shutting down
        cause = error.__cause__ if isinstance(error, PostgresUnreachable) and error.__cause__ is not None else error
        raise StackError(f"Postgres cannot be reached ({type(cause).__name__}: {cause}){see}") from None
    except DatabaseRefusedUs as refused:  # no such database (a data dir whose initdb was cut short), a password
        raise StackError(f"Postgres refused the connection ({refused.refusal}){see}") from None
    except asyncpg.PostgresError as error:
        raise StackError(f"Postgres refused the connection ({type(error).__name__}: {error}){see}") from None
    try:
        await migrate(pool)
        if saved and await authenticate(pool, saved) is not None:
            return AdminKey(saved, created=False)
        created = await create_key(pool, name="local-admin", role=Role.ADMIN)
    finally:
        await pool.close()
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(created.key + "\n")
    return AdminKey(created.key, created=True)
