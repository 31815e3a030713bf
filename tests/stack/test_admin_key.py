"""``make run``'s admin key: a saved key the database does not know is replaced, not trusted."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from api.auth import Role, authenticate
from shared.db import create_pool
from shared.settings import Environment, Settings
from stack.local import ensure_admin_key
from stack.services import StackError, free_port

FORGOTTEN = "mm_saved-before-rm-rf-.data-postgres"


def local_settings(data_dir: Path, pg_url: str) -> Settings:
    return Settings(env=Environment.TEST, data_dir=data_dir, database_url=SecretStr(pg_url))


async def role_of(settings: Settings, key: str) -> Role | None:
    pool = await create_pool(settings)
    try:
        principal = await authenticate(pool, key)
    finally:
        await pool.close()
    return principal.role if principal is not None else None


async def test_a_saved_key_the_database_does_not_know_is_replaced(tmp_path: Path, pg_url: str) -> None:
    """A fresh database (or another DATABASE_URL) answered the old key 401, and the demo crashed."""
    settings = local_settings(tmp_path, pg_url)
    key_file = tmp_path / "admin.key"
    key_file.write_text(FORGOTTEN + "\n")

    admin = await ensure_admin_key(settings)

    saved = key_file.read_text().strip()
    assert saved != FORGOTTEN
    assert (admin.key, admin.created) == (saved, True), "a new key is shown once, as on a first run"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert await role_of(settings, admin.key) is Role.ADMIN


async def test_a_saved_key_the_database_knows_is_kept(tmp_path: Path, pg_url: str) -> None:
    settings = local_settings(tmp_path, pg_url)
    first = await ensure_admin_key(settings)
    again = await ensure_admin_key(settings)
    assert (first.created, again.created) == (True, False)
    assert again.key == first.key


async def test_a_database_that_cannot_be_reached_is_a_one_line_stack_error(tmp_path: Path) -> None:
    """``make run`` reports a StackError in one line; a refused connection was a traceback."""
    settings = local_settings(tmp_path, f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    with pytest.raises(StackError, match=r"^Postgres cannot be reached \(\w*Error: .*\)$"):
        await ensure_admin_key(settings)
    assert not (tmp_path / "admin.key").exists()


async def test_a_database_that_refuses_the_connection_is_a_one_line_stack_error(tmp_path: Path, pg_url: str) -> None:
    """A data dir whose first initdb was cut short has no ``postgres`` database: a traceback, not one line."""
    settings = local_settings(tmp_path, urlsplit(pg_url)._replace(path="/no_such_database").geturl())
    log = tmp_path / "postgres.log"
    missing = r"InvalidCatalogNameError: database \"no_such_database\" does not exist"
    with pytest.raises(StackError, match=rf"^Postgres refused the connection \({missing}\); see {log}$"):
        await ensure_admin_key(settings, log=log)
