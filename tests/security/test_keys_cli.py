"""``python -m api.keys``: the key is printed once, listed never, and revocation locks it out."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from api.auth import Role, authenticate, create_key, hash_key
from shared.db import migration_files
from shared.settings import Settings
from stack.services import embedded_postgres_url, postmaster, still_running, stop_embedded_postgres
from tests.helpers import answered_once_the_key_is_forgotten, create_missing_database
from tests.security.conftest import caller
from worker.resources import Resources


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


async def keys_cli(pg_url: str | None, *args: str, data_dir: Path | None = None) -> Run:
    """``python -m api.keys`` against ``pg_url``, or (None) the embedded server in ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"ENV": "test"}
    env |= {"DATABASE_URL": pg_url} if pg_url else {"DATA_DIR": str(data_dir)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.keys",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def test_create_list_revoke(
    pg_url: str, api_url: str, http: httpx.AsyncClient, resources: Resources, app_settings: Settings
) -> None:
    customer_id = (await http.post("/customers", json={"name": "CLI customer"})).json()["id"]

    created = await keys_cli(
        pg_url, "create", "--role", "reviewer", "--name", "cli-alice", "--customer-id", str(customer_id)
    )
    assert created.code == 0, created.err
    key = created.out.strip()
    assert key.startswith("mm_") and "\n" not in key, "stdout is the key alone, so it can be piped"
    principal = await authenticate(resources.pool, key)
    assert principal is not None
    assert (principal.role, principal.customer_id, principal.name) == (Role.REVIEWER, customer_id, "cli-alice")
    async with caller(api_url, key) as alice:
        assert (await alice.get("/reviews")).status_code == 200
        assert (await alice.get("/secrets/check")).status_code == 403

    listed = await keys_cli(pg_url, "list")
    assert listed.code == 0, listed.err
    header, *rows = listed.out.splitlines()
    assert header.split()[:4] == ["id", "name", "role", "customer"]
    row = next(r for r in rows if r.split()[0] == str(principal.key_id))
    assert row.split()[1:4] == ["cli-alice", "reviewer", str(customer_id)]
    assert key not in listed.out and key[3:] not in listed.out
    assert hash_key(key) not in listed.out

    revoked = await keys_cli(pg_url, "revoke", str(principal.key_id))
    assert revoked.code == 0, revoked.err
    assert await authenticate(resources.pool, key) is None
    async with caller(api_url, key) as alice:
        await answered_once_the_key_is_forgotten(lambda: alice.get("/reviews"), 401, app_settings)
    again = await keys_cli(pg_url, "revoke", str(principal.key_id))
    assert again.code == 1 and "already revoked" in again.err
    listed = await keys_cli(pg_url, "list")
    row = next(r for r in listed.out.splitlines() if r.split()[0] == str(principal.key_id))
    assert row.split()[-1] != "-", "the revoked column shows when"


async def test_a_key_given_a_lifetime_stops_working_when_it_ends(
    pg_url: str, api_url: str, resources: Resources, app_settings: Settings
) -> None:
    """Keys lived until revoked: a contractor's or a pilot customer's key worked for as long as nobody remembered to
    revoke it (a security probe, 70B)."""
    created = await keys_cli(pg_url, "create", "--role", "viewer", "--name", "cli-pilot", "--expires-in", "90d")
    assert created.code == 0, created.err
    key = created.out.strip()
    principal = await authenticate(resources.pool, key)
    assert principal is not None
    expires_at = await resources.pool.fetchval("SELECT expires_at FROM api_keys WHERE id = $1", principal.key_id)
    assert timedelta(days=89, hours=23) < expires_at - datetime.now(UTC) <= timedelta(days=90)
    assert f"until {expires_at.isoformat(timespec='seconds')}" in created.err
    listed = await keys_cli(pg_url, "list")
    header, *rows = listed.out.splitlines()
    assert header.split()[-2:] == ["expires", "revoked"]
    row = next(r for r in rows if r.split()[0] == str(principal.key_id))
    assert row.split()[-2:] == [expires_at.isoformat(timespec="seconds"), "-"]
    async with caller(api_url, key) as pilot:
        assert (await pilot.get("/jobs")).status_code == 200

        await resources.pool.execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", principal.key_id
        )
        expired = await answered_once_the_key_is_forgotten(lambda: pilot.get("/jobs"), 401, app_settings)
    assert expired.status_code == 401 and expired.json()["code"] == "api_key_invalid"
    assert "expired" in expired.json()["detail"]
    assert await authenticate(resources.pool, key) is None

    for lifetime in ("0d", "30m", "3651d", "soon", "3600", "P"):
        refused = await keys_cli(pg_url, "create", "--role", "viewer", "--name", "x", "--expires-in", lifetime)
        assert refused.code == 2 and "--expires-in" in refused.err and refused.out == "", refused.err


async def test_refuses_unknown_customer_and_role(pg_url: str, resources: Resources) -> None:
    before = await resources.pool.fetchval("SELECT count(*) FROM api_keys")
    unknown = await keys_cli(pg_url, "create", "--role", "viewer", "--name", "ghost", "--customer-id", "987654321")
    assert unknown.code == 1 and "does not exist" in unknown.err and unknown.out == ""
    bad_role = await keys_cli(pg_url, "create", "--role", "root", "--name", "ghost")
    assert bad_role.code == 2 and bad_role.out == ""
    for args in (("create", "--role", "viewer", "--name", "ghost", "--customer-id", str(2**63)), ("revoke", "0")):
        out_of_range = await keys_cli(pg_url, *args)  # an id no row can have: a usage error, no traceback
        assert out_of_range.code == 2 and "no such id" in out_of_range.err, out_of_range.err
        assert "Traceback" not in out_of_range.err
    customer = await resources.pool.fetchval("INSERT INTO customers (name) VALUES ('bound admin') RETURNING id")
    bound_admin = await keys_cli(pg_url, "create", "--role", "admin", "--name", "ghost", "--customer-id", str(customer))
    assert bound_admin.code == 1 and "every customer" in bound_admin.err and bound_admin.out == ""
    with pytest.raises(ValueError, match="every customer"):  # admin routes act on all customers' data
        await create_key(resources.pool, name="ghost", role=Role.ADMIN, customer_id=customer)
    with pytest.raises(asyncpg.CheckViolationError):  # nor can a row written past create_key hold one
        await resources.pool.execute(
            "INSERT INTO api_keys (name, role, customer_id, key_hash, prefix)"
            " VALUES ('ghost', 'admin', $1, 'h', 'mm_')",
            customer,
        )
    assert await resources.pool.fetchval("SELECT count(*) FROM api_keys") == before


async def test_the_embedded_server_it_started_is_stopped_and_a_running_one_left_alone(tmp_path: Path) -> None:
    """Without DATABASE_URL the CLI starts the embedded Postgres if needed: it must not outlive the command,
    nor may the command stop the server ``make run`` started."""
    pgdata = tmp_path / "postgres"
    listed = await keys_cli(None, "list", data_dir=tmp_path)
    assert listed.code == 0, listed.err
    assert postmaster(pgdata) is None, "the CLI left the embedded Postgres it started running"

    await asyncio.to_thread(embedded_postgres_url, pgdata)  # as make run's stack would have
    try:
        server = postmaster(pgdata)
        assert server is not None
        assert (await keys_cli(None, "list", data_dir=tmp_path)).code == 0
        assert still_running(server), "the CLI stopped a server it did not start"
    finally:
        await asyncio.to_thread(stop_embedded_postgres, pgdata)


async def test_a_database_behind_this_release_is_not_migrated_unless_asked(pg_url: str) -> None:
    """Run from a newer release's image against a deployment mid-upgrade, the CLI applied that release's migrations
    under the older workers still running, saying nothing. A database never migrated (a first key, before any
    service started) is still migrated."""
    name = f"keys_cli_{uuid.uuid4().hex[:12]}"
    await create_missing_database(pg_url, name)
    url = urlunsplit(urlsplit(pg_url)._replace(path=f"/{name}"))
    newest = migration_files()[-1].stem

    assert (first := await keys_cli(url, "list")).code == 0, first.err
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM schema_migrations WHERE version = $1", newest)  # as a release behind left it

        behind = await keys_cli(url, "list")
        assert behind.code == 2 and behind.out == ""
        assert newest in behind.err and "--migrate" in behind.err, behind.err
        assert not await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = $1", newest)

        asked = await keys_cli(url, "list", "--migrate")
        assert asked.code == 0 and f"applied migrations: {newest}" in asked.err, asked.err
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = $1", newest) == 1
    finally:
        await conn.close()


async def test_a_database_it_cannot_open_ends_the_command_in_one_line(tmp_path: Path) -> None:
    """A refused connection or a socket not there printed asyncpg's traceback, many lines deep."""
    for url in ("postgresql://minimeter@127.0.0.1:1/minimeter", f"postgresql://minimeter@/minimeter?host={tmp_path}"):
        refused = await keys_cli(url, "list")
        assert refused.code == 1 and refused.out == ""
        assert "Traceback" not in refused.err and len(refused.err.strip().splitlines()) == 1, refused.err
        assert refused.err.startswith("error: the database at DATABASE_URL could not be opened: "), refused.err
