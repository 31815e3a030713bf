"""The suite's dev servers (``tests.helpers.start_dev_server``) never outlive the test run: not a cancelled
start, not a test failing half-way, not a run killed outright or with its process group."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from shared.settings import REPO_ROOT
from stack.services import still_running
from tests.helpers import DEV_SERVER_STARTER, start_dev_server

PARENT = """
import asyncio, sys
from pathlib import Path
from tests.helpers import start_dev_server

async def main() -> None:
    env = await start_dev_server(log_file=Path(sys.argv[1]))
    print(env.server.pid, flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


def temporal_children() -> set[int]:
    return {child.pid for child in psutil.Process().children() if still_running(child) and child.name() == "temporal"}


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not still_running(psutil.Process(pid)):
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


async def test_a_start_cancelled_half_way_leaves_no_server(tmp_path: Path) -> None:
    """A timeout or Ctrl-C does not stop the thread starting it: the server it started is stopped, not orphaned."""
    before = temporal_children()
    log = tmp_path / "temporal.log"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(start_dev_server(log_file=log), 0.05)
    await asyncio.wrap_future(DEV_SERVER_STARTER.submit(lambda: None))  # the cancelled start has finished
    assert log.exists(), "the start was cancelled before it began: nothing tested"
    assert temporal_children() - before == set()


async def test_a_test_failing_half_way_stops_its_server_at_once_and_outright(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        async with await start_dev_server(log_file=tmp_path / "temporal.log") as env:
            server = env.server
            raise RuntimeError("a test step failed")
    assert server.returncode == -signal.SIGKILL, "in memory, nothing to save: a graceful stop took 1.8 s"


async def test_the_server_does_not_ask_temporal_for_updates(tmp_path: Path) -> None:
    """CI has no network; the SDK's start_local passes the same flag."""
    async with await start_dev_server(log_file=tmp_path / "temporal.log") as env:
        assert "frontend.enableServerVersionCheck=false" in psutil.Process(env.server.pid).cmdline()


async def test_the_server_is_in_the_test_runs_process_group(tmp_path: Path) -> None:
    """A group kill (a cancelled CI job, ``timeout``, a closed terminal) reaches it: no session of its own."""
    async with await start_dev_server(log_file=tmp_path / "temporal.log") as env:
        assert os.getpgid(env.server.pid) == os.getpgid(0)
        assert os.getsid(env.server.pid) == os.getsid(0)


def test_the_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """SIGKILLed (pytest-timeout's thread method, the out-of-memory killer), the run cannot stop it itself."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "temporal.log")], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        server = int(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait()
    if not gone_within(server, 10):
        os.kill(server, signal.SIGKILL)
        pytest.fail("the dev server outlived the process that started it")
