"""SIGTERM stops ``python -m worker`` even while a thread of it is blocked in a call that never returns.

The SDK waits for every activity without a limit, and ``asyncio.run`` (on Python 3.11) and the interpreter
join every pool thread without one: a connector read that never answered kept a worker that had logged
"worker stopped" running until SIGKILL, and a synchronous activity blocked in a call kept it from stopping."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from shared.bill import Provider
from shared.settings import Settings
from tests.durability.conftest import create_account, start_on_queue
from tests.helpers import wait_until, worker_env
from tests.worker.blocked_worker import BLOCKED
from worker.resources import Resources

EXIT_WITHIN = 120
"""Only a bound on a hang: the worker's own grace (1 s) and margin (5 s) are what it takes."""


@pytest.mark.parametrize(
    ("block", "stuck_thread"),
    [("source", "activity-io"), ("store", "extract"), ("activity", "activity_")],
    ids=["connector-read", "extraction-call", "sync-activity"],
)
async def test_sigterm_stops_a_worker_with_a_thread_blocked_in_a_call(
    client: Client, resources: Resources, app_settings: Settings, tmp_path: Path, block: str, stuck_thread: str
) -> None:
    queue = f"blocked-{uuid.uuid4().hex[:10]}"
    log = tmp_path / "worker.log"
    async with blocked_worker_with_a_job(client, resources, app_settings, queue=queue, log=log, block=block) as child:

        async def blocked() -> bool:
            return BLOCKED in log.read_text() or child.returncode is not None

        await wait_until(blocked, within=90, what="the child worker blocking")
        assert child.returncode is None, log.read_text()[-3000:]
        child.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(child.wait(), timeout=EXIT_WITHIN)

    lines = logged_lines(log)
    assert code == 0, log.read_text()[-3000:]
    assert "worker stopped" in messages_of(lines)
    [left] = [line for line in lines if line["message"].startswith("threads still blocked in calls")]
    [name] = left["threads"]  # idle threads, and the PDF parsers' pool, ended as the process exited
    assert name.startswith(stuck_thread), left
    # Only an activity that is itself blocked outlives the worker's shutdown; the others ended when cancelled.
    cut_off = any(line["message"].startswith("activities still running after the graceful") for line in lines)
    assert cut_off == (block == "activity"), messages_of(lines)


async def test_a_worker_that_fails_with_a_thread_blocked_in_a_call_exits(
    client: Client, resources: Resources, app_settings: Settings, tmp_path: Path
) -> None:
    """A worker that fails (its run raises) exits non-zero past a connector read it gave up on: the pools were
    released only after a stop, so ``asyncio.run`` joined the stuck thread for good and the container, never
    exiting, was never restarted."""
    queue = f"failing-{uuid.uuid4().hex[:10]}"
    log = tmp_path / "worker.log"
    async with blocked_worker_with_a_job(
        client, resources, app_settings, queue=queue, log=log, block="source", fail="1"
    ) as child:
        code = await asyncio.wait_for(child.wait(), timeout=EXIT_WITHIN)

    lines = logged_lines(log)
    assert code == 1, log.read_text()[-3000:]
    assert "worker failed" in messages_of(lines)
    assert "worker stopped" not in messages_of(lines)
    [left] = [line for line in lines if line["message"].startswith("threads still blocked in calls")]
    [name] = left["threads"]
    assert name.startswith("activity-io"), left


async def test_a_fatal_worker_error_while_a_sync_activity_is_blocked_exits_non_zero_saying_why(
    client: Client, resources: Resources, app_settings: Settings, tmp_path: Path
) -> None:
    """On a fatal error (a poll refused: a revoked key, a deleted namespace) the SDK shuts the worker down and waits
    for every activity without a limit: a synchronous one blocked in a call kept the failed worker up for good,
    never restarted, its log not saying why. It now exits 1, naming the error, its traceback logged once by us."""
    queue = f"fatal-{uuid.uuid4().hex[:10]}"
    log = tmp_path / "worker.log"
    async with blocked_worker_with_a_job(
        client, resources, app_settings, queue=queue, log=log, block="activity", fail="fatal"
    ) as child:
        code = await asyncio.wait_for(child.wait(), timeout=EXIT_WITHIN)

    lines = logged_lines(log)
    assert code == 1, log.read_text()[-3000:]
    [failed] = [line for line in lines if line["message"] == "worker failed"]
    assert failed["level"] == "CRITICAL" and "poll failed: the namespace was refused" in failed["exc_info"], failed
    [ours] = [line for line in lines if "exc_info" in line and not line["logger"].startswith("temporalio")]
    assert ours is failed, ours
    [stopping] = [line for line in lines if line["message"].startswith("fatal worker error")]
    assert stopping["level"] == "WARNING" and "exc_info" not in stopping, stopping
    assert "poll failed: the namespace was refused" in stopping["error"], stopping
    assert "worker shutting down gracefully" not in messages_of(lines)
    assert "worker stopped" not in messages_of(lines)
    assert any(line["message"].startswith("activities still running after the graceful") for line in lines)
    [left] = [line for line in lines if line["message"].startswith("threads still blocked in calls")]
    [name] = left["threads"]
    assert name.startswith("activity_"), left


@asynccontextmanager
async def blocked_worker_with_a_job(
    client: Client, resources: Resources, settings: Settings, *, queue: str, log: Path, block: str, fail: str = "0"
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A blocked worker on ``queue`` (``start_blocked_worker``) and a connector job started there for it; on the
    way out the worker is killed if it still runs, and the job terminated."""
    account = await create_account(resources.pool, provider=Provider.PGE, account_number=uuid.uuid4().hex[:12])
    child = await start_blocked_worker(settings, queue=queue, log=log, block=block, fail=fail)
    job = None
    try:
        job = await start_on_queue(pool=resources.pool, client=client, settings=settings, queue=queue, account=account)
        yield child
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        if job is not None:
            await job.handle.terminate("test over")


async def start_blocked_worker(
    settings: Settings, *, queue: str, log: Path, block: str, fail: str = "0"
) -> asyncio.subprocess.Process:
    """``tests.worker.blocked_worker`` on ``queue`` (``BLOCK=block``, ``FAIL=fail``), its output in ``log``."""
    env = {
        **worker_env(settings, queue=queue, gemini_url="http://127.0.0.1:9"),
        "EXTRACTOR": "rules",
        "GEMINI_API_KEY": "",
        "MOCK_CONNECTOR": "true",
        "WORKER_RECENT_ARTIFACTS_BYTES": "0",
        "WORKER_GRACEFUL_SHUTDOWN_SECONDS": "1",
        "BLOCK": block,
        "FAIL": fail,
    }
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.worker.blocked_worker", env=env, stdout=out, stderr=subprocess.STDOUT
        )


def logged_lines(log: Path) -> list[dict[str, Any]]:
    """The worker's JSON log records, without the lines it printed otherwise."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def messages_of(lines: list[dict[str, Any]]) -> list[object]:
    return [line["message"] for line in lines]
