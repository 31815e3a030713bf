"""A DATABASE_URL that does not parse is refused without printing any of it (it holds the password)."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import certifi
import pytest
from pydantic import SecretStr

from shared.db import DatabaseRefusedUs, DatabaseUrlUnusable, PostgresUnreachable, create_pool
from shared.settings import Environment, Settings
from shared.startup import Unreachable, when_reachable

PASSWORD_TAIL = "Tz7sQ2secretTail"


async def test_a_pgport_that_is_no_port_is_named(no_pg_tls_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read where the URL names no port; 70000 was an ``OverflowError`` from inside asyncpg's connect."""
    monkeypatch.setenv("PGPORT", "70000")
    with pytest.raises(DatabaseUrlUnusable, match=r"^PGPORT must be a number from 1 to 65535$"):
        await create_pool(settings_with(f"postgresql://app:{PASSWORD_TAIL}@127.0.0.1/db", no_pg_tls_files))


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:Xk9?{PASSWORD_TAIL}@127.0.0.1:1/db",  # asyncpg: "bad query field: '<rest of it>'"
        f"postgresql://app:Xk9#{PASSWORD_TAIL}@127.0.0.1:1/db",  # "invalid literal for int(): 'Xk9'"
        f"postgresql://app:Xk9/{PASSWORD_TAIL}@127.0.0.1:1/db",
    ],
)
async def test_an_unparsable_url_is_refused_without_quoting_it(app_settings: Settings, url: str) -> None:
    settings = app_settings.model_copy(update={"database_url": SecretStr(url)})
    with pytest.raises(DatabaseUrlUnusable) as refused:
        await create_pool(settings)
    assert refused.value.__suppress_context__, "a traceback would print asyncpg's error, quoting the URL"
    assert "Xk9" not in str(refused.value) and PASSWORD_TAIL not in str(refused.value)
    assert "PGPASSWORD" in str(refused.value)


async def test_a_database_or_user_postgres_refuses_is_one_line_at_once(app_settings: Settings, pg_url: str) -> None:
    """A wrong user or password, or a database's name mistyped: the worker's and the API's last line was "worker
    failed" over a 50-line traceback ending in asyncpg's error (an operator's probe, 69C). Now a refusal of the start,
    one line naming what to check, and not waited out as an unreachable server is."""
    url = urlsplit(pg_url)
    server = url.netloc.rsplit("@", 1)[-1]
    for wrong, said in (
        (url._replace(path="/no_such_database_69"), 'database "no_such_database_69" does not exist'),
        (url._replace(netloc=f"no_such_role_69@{server}"), 'role "no_such_role_69" does not exist'),
    ):
        settings = app_settings.model_copy(update={"database_url": SecretStr(wrong.geturl())})
        started = time.monotonic()
        with pytest.raises(DatabaseRefusedUs) as refused:
            await when_reachable("Postgres", partial(create_pool, settings), within=60)
        assert time.monotonic() - started < 30, "refused at once, not waited for"
        assert said in str(refused.value) and "check the user, the password" in str(refused.value), refused.value
        assert refused.value.__suppress_context__


@pytest.fixture()
def no_pg_tls_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ``~/.postgresql`` certificates and none of libpq's TLS variables: only what the URL names counts."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGSSLCRL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def settings_with(url: str, tmp_path: Path) -> Settings:
    return Settings(env=Environment.TEST, data_dir=tmp_path, database_url=SecretStr(url))


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            f"postgresql+asyncpg://app:{PASSWORD_TAIL}@127.0.0.1:1/db",
            "DATABASE_URL must begin postgresql:// (or postgres://)",
        ),
        (
            f"postgresql://app:{PASSWORD_TAIL}@127.0.0.1:1/db?sslmode=required",
            "DATABASE_URL's sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full"
            " (did you mean require?)",
        ),
        (
            f"postgresql://app:{PASSWORD_TAIL}@127.0.0.1:1/db?sslmode=verify-full",
            "DATABASE_URL's sslmode=verify-full needs the CA certificate that signed the server's: add"
            " sslrootcert=/path/to/ca.pem",
        ),
        (
            f"postgresql://app:{PASSWORD_TAIL}@127.0.0.1:1/db?sslmode=verify-ca",
            "DATABASE_URL's sslmode=verify-ca needs the CA certificate",
        ),
        # asyncpg: OverflowError "connect(): port must be 0-65535"; the password's advice; refused and waited on
        (
            f"postgresql://app:{PASSWORD_TAIL}@127.0.0.1:99999/db",
            "DATABASE_URL's port must be a number from 1 to 65535",
        ),
        (
            f"postgresql://app:{PASSWORD_TAIL}@127.0.0.1:5432x/db",
            "DATABASE_URL's port must be a number from 1 to 65535",
        ),
        (
            f"postgresql://app:{PASSWORD_TAIL}@db1:5432,[::1]:0/db",
            "DATABASE_URL's port must be a number from 1 to 65535",
        ),
    ],
    ids=[
        "sqlalchemy-scheme",
        "sslmode-typo",
        "verify-full-without-ca",
        "verify-ca-without-ca",
        "port-too-large",
        "port-not-a-number",
        "port-zero",
    ],
)
async def test_a_url_mistake_is_named_not_blamed_on_the_password(no_pg_tls_files: Path, url: str, said: str) -> None:
    """Each was told to percent-encode its password, which had nothing to do with it."""
    with pytest.raises(DatabaseUrlUnusable) as refused:
        await create_pool(settings_with(url, no_pg_tls_files))
    assert str(refused.value).startswith(said)
    assert "percent-encode" not in str(refused.value) and PASSWORD_TAIL not in str(refused.value)


@pytest.mark.parametrize("setting", ["sslrootcert", "sslcert"])
async def test_a_tls_file_the_url_names_that_is_not_there_is_named(no_pg_tls_files: Path, setting: str) -> None:
    """It surfaced as a bare ``FileNotFoundError`` (no file name), after a minute's wait for a Postgres that
    was never the problem."""
    missing = no_pg_tls_files / "certs" / "missing.pem"
    url = f"postgresql://app@127.0.0.1:1/db?sslmode=verify-full&{setting}={missing}"
    if setting == "sslcert":  # a CA that is there (any bundle), so the client certificate is the file missing
        url += f"&sslrootcert={certifi.where()}"
    with pytest.raises(DatabaseUrlUnusable) as refused:
        await create_pool(settings_with(url, no_pg_tls_files))
    assert str(refused.value) == f"DATABASE_URL's {setting} names no file this process can read: {missing}"


async def test_a_tls_variable_naming_no_file_is_named(no_pg_tls_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = no_pg_tls_files / "missing-ca.pem"
    monkeypatch.setenv("PGSSLROOTCERT", str(missing))
    url = "postgresql://app@127.0.0.1:1/db?sslmode=verify-full"
    with pytest.raises(DatabaseUrlUnusable) as refused:
        await create_pool(settings_with(url, no_pg_tls_files))
    assert str(refused.value) == f"PGSSLROOTCERT names no file this process can read: {missing}"


@pytest.fixture()
def home_with_a_ca(no_pg_tls_files: Path) -> Path:
    """A ``~/.postgresql/root.crt`` (any bundle), which asyncpg verifies against when no CA is named."""
    (no_pg_tls_files / ".postgresql").mkdir()
    (no_pg_tls_files / ".postgresql" / "root.crt").write_bytes(Path(certifi.where()).read_bytes())
    return no_pg_tls_files


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (f"postgresql://app:Xk9/{PASSWORD_TAIL}@127.0.0.1:1/db?sslmode=verify-full", "PGPASSWORD"),  # int('Xk9')
        (f"postgresql://app:{PASSWORD_TAIL}@127.0.0.1:54x/db?sslmode=verify-full", "port must be a number"),
    ],
    ids=["slash-in-password", "bad-port"],
)
async def test_what_asyncpg_did_not_complain_of_is_not_blamed(home_with_a_ca: Path, url: str, said: str) -> None:
    """Told to add a CA certificate, or to encrypt without verifying, though the CA in ``~/.postgresql`` was
    there and asyncpg had stopped at the host and port."""
    with pytest.raises(DatabaseUrlUnusable) as refused:
        await create_pool(settings_with(url, home_with_a_ca))
    assert said in str(refused.value) and "sslmode" not in str(refused.value)
    assert "Xk9" not in str(refused.value) and PASSWORD_TAIL not in str(refused.value)


async def test_an_sslmode_spelled_with_an_underscore_is_asyncpgs_too(no_pg_tls_files: Path) -> None:
    """asyncpg reads ``verify_full`` as ``verify-full``: it was refused as no sslmode at all."""
    url = f"postgresql://app:{PASSWORD_TAIL}@127.0.0.1:1/db?sslmode=verify_full"
    with pytest.raises(DatabaseUrlUnusable) as refused:
        await create_pool(settings_with(url, no_pg_tls_files))
    assert str(refused.value).startswith("DATABASE_URL's sslmode=verify-full needs the CA certificate")

    with pytest.raises(PostgresUnreachable) as unreachable:  # with a CA it is used: nothing listens on port 1
        await create_pool(settings_with(f"{url}&sslrootcert={certifi.where()}", no_pg_tls_files))
    assert isinstance(unreachable.value.__cause__, ConnectionRefusedError)


async def test_an_empty_pgsslmode_is_named(no_pg_tls_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose's ``PGSSLMODE: ${PGSSLMODE}`` sets it empty, which asyncpg refuses: blamed on the password."""
    monkeypatch.setenv("PGSSLMODE", "")
    with pytest.raises(DatabaseUrlUnusable) as refused:
        await create_pool(settings_with(f"postgresql://app:{PASSWORD_TAIL}@127.0.0.1:1/db", no_pg_tls_files))
    assert str(refused.value).startswith("PGSSLMODE is set but empty: unset it, or set it to one of disable,")


async def test_the_ca_advice_never_suggests_leaving_the_server_unverified(no_pg_tls_files: Path) -> None:
    url = "postgresql://app@127.0.0.1:1/db?sslmode=verify-full"
    with pytest.raises(DatabaseUrlUnusable) as refused:
        await create_pool(settings_with(url, no_pg_tls_files))
    assert "needs the CA certificate" in str(refused.value) and "sslmode=require" not in str(refused.value)


@pytest.mark.parametrize(
    ("query", "variable"),
    [
        ("sslmode=require", "PGSSLROOTCERT"),  # asyncpg verifies against a CA it is given, in require too
        ("sslmode=verify-ca", "PGSSLCRL"),
        ("sslmode=prefer", "PGSSLCERT"),
    ],
)
async def test_a_tls_file_asyncpg_reads_for_a_socket_is_named(
    no_pg_tls_files: Path, monkeypatch: pytest.MonkeyPatch, query: str, variable: str
) -> None:
    missing = no_pg_tls_files / "missing.pem"
    monkeypatch.setenv(variable, str(missing))
    if variable != "PGSSLROOTCERT":  # a CA that is there, so the file named is the one missing
        monkeypatch.setenv("PGSSLROOTCERT", certifi.where())
    url = f"postgresql://app@/db?host={no_pg_tls_files / 'cloudsql'}&{query}"
    with pytest.raises(DatabaseUrlUnusable) as refused:
        await create_pool(settings_with(url, no_pg_tls_files))
    assert str(refused.value) == f"{variable} names no file this process can read: {missing}"


async def test_a_client_key_without_its_certificate_is_not_read(
    no_pg_tls_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncpg loads a client key only with the client certificate it belongs to."""
    monkeypatch.setenv("PGSSLKEY", str(no_pg_tls_files / "missing.key"))
    url = f"postgresql://app@/db?host={no_pg_tls_files / 'cloudsql'}&sslmode=prefer"
    with pytest.raises(PostgresUnreachable) as unreachable:  # the socket, which startup waits for
        await create_pool(settings_with(url, no_pg_tls_files))
    assert isinstance(unreachable.value.__cause__, FileNotFoundError)


async def test_postgres_with_no_connection_slot_left_is_waited_for_then_named(
    app_settings: Settings, pg_url: str, unique: str
) -> None:
    """A rolling deploy's new processes while the old ones hold their connections: each start failed at once with
    asyncpg's ``TooManyConnectionsError`` traceback, naming nothing to change (74B). Now waited out as an outage
    is, then refused in one line naming ``DB_POOL_MAX``. A role's connection limit is Postgres's same refusal."""
    role = f"full_{unique}".lower()
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
        url = urlsplit(pg_url)
        full = url._replace(netloc=f"{role}@{url.netloc.rsplit('@', 1)[-1]}").geturl()
        settings = app_settings.model_copy(update={"database_url": SecretStr(full), "db_pool_max": 7})
        tries: list[int] = []

        async def connect() -> asyncpg.Pool:
            tries.append(1)
            return await create_pool(settings, open_all=True)

        with pytest.raises(Unreachable) as refused:
            await when_reachable("Postgres", connect, within=1)
    finally:
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()
    assert len(tries) > 1, "waited for, as the old processes let their connections go"
    said = str(refused.value)
    assert "PostgresFull: Postgres has no connection slot left" in said and "DB_POOL_MAX=7" in said, said
    assert "too many connections" in said, said


async def test_a_database_url_at_a_port_that_is_not_postgres_is_named_at_once(no_pg_tls_files: Path) -> None:
    """Temporal's 7233 in DATABASE_URL: asyncpg's "rejected SSL upgrade" was neither waited for nor refused, and the
    worker and the API ended on a traceback (74B)."""

    async def not_postgres(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(64)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(not_postgres, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = settings_with(f"postgresql://app:{PASSWORD_TAIL}@127.0.0.1:{port}/db", no_pg_tls_files)
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUrlUnusable) as refused:
            await when_reachable("Postgres", partial(create_pool, settings), within=60)
    finally:
        server.close()
    assert time.monotonic() - started < 30, "refused at once, not waited for"
    assert "is not Postgres" in str(refused.value) and "check the port" in str(refused.value), refused.value
    assert PASSWORD_TAIL not in str(refused.value)
