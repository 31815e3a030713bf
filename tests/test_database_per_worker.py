"""TEST_DATABASE_URL under pytest-xdist: each worker gets a database of its own on that server. Sharing one,
any worker's API dispatcher started the other's waiting jobs on its own Temporal, and that test waited forever."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT
from tests.helpers import database_of_worker

RECORDING_FILE = "test_recording.py"
RECORDING_TEST = """
import asyncio
import os
from pathlib import Path

import asyncpg


def test_records_its_database(pg_url: str) -> None:
    async def current_database() -> str:
        conn = await asyncpg.connect(pg_url)
        try:
            return str(await conn.fetchval("SELECT current_database()"))
        finally:
            await conn.close()

    Path(os.environ["DATABASES_SEEN"], os.environ["PYTEST_XDIST_WORKER"]).write_text(asyncio.run(current_database()))
"""


def test_a_workers_database_is_named_after_it_on_the_same_server() -> None:
    url = "postgresql://app@/minimeter?host=/cloudsql/project:region:instance"

    assert database_of_worker(url, "gw1") == "postgresql://app@/minimeter_gw1?host=/cloudsql/project:region:instance"
    assert database_of_worker("postgresql://app@db:5432", "gw0") == "postgresql://app@db:5432/minimeter_test_gw0"


@pytest.mark.timeout(300)
def test_two_workers_given_one_test_database_url_use_two_databases(tmp_path: Path, pg_url: str) -> None:
    """The suite's own ``pg_url`` in two xdist workers, both running one test that names the database it reached."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / RECORDING_FILE).write_text(RECORDING_TEST)
    seen = tmp_path / "seen"
    seen.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env |= {"TEST_DATABASE_URL": pg_url, "DATABASES_SEEN": str(seen), "PYTHONPATH": str(REPO_ROOT)}

    options = ["-p", "no:cacheprovider", "-p", "no:bqemulator", "-p", "tests.conftest", "-n", "2", "--dist", "each"]
    config = [f"--rootdir={tmp_path}", "-c", str(tmp_path / "pytest.ini"), f"--basetemp={tmp_path / 'pt'}"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *options, *config, str(tmp_path / RECORDING_FILE)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    databases = {worker.name: worker.read_text() for worker in seen.iterdir()}
    assert sorted(databases) == ["gw0", "gw1"], databases
    assert databases["gw0"] != databases["gw1"], databases
