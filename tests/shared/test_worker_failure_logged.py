"""A worker that cannot run says so in one masked JSON log line, like every other line it writes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from shared.settings import REPO_ROOT, Settings
from stack.services import free_port
from tests.helpers import start_dev_server


def test_a_worker_that_cannot_reach_temporal_logs_one_json_line_and_exits_non_zero() -> None:
    """Python's own traceback went to stderr: unmasked, and one log entry per line in a JSON pipeline."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.pop("SECRET_MANAGER_PROJECT", None)
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "worker"],
        env={**env, "TEMPORAL_ADDRESS": nowhere, "LOG_FORMAT": "json", "STARTUP_WAIT_SECONDS": "0"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    [failure] = [entry for entry in entries if entry["level"] == "CRITICAL"]
    assert failure["message"] == "worker failed" and failure["logger"] == "worker.main"
    assert "Failed client connect" in failure["exc_info"] and nowhere in failure["exc_info"]


async def test_a_worker_started_before_temporal_listens_waits_and_comes_up(
    pg_url: str, payload_keys: str, tmp_path: Path
) -> None:
    """After a reboot or a deploy the worker often starts first: it waits (STARTUP_WAIT_SECONDS), saying so,
    and polls once the server answers, where it used to exit at the first refusal."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.pop("SECRET_MANAGER_PROJECT", None)
    env |= {
        "ENV": "test",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "TEMPORAL_TASK_QUEUE": f"wait-{port}",
        "DATABASE_URL": pg_url,
        "PAYLOAD_KEYS": payload_keys,
        "DATA_DIR": str(tmp_path / "data"),
        "ARTIFACT_STORE": "local",
        "ANALYTICS": "disabled",
        "STARTUP_WAIT_SECONDS": "120",
        "LOG_FORMAT": "json",
    }
    log = tmp_path / "worker.log"
    worker = await asyncio.to_thread(spawn_worker, env, log)
    try:
        await until_logged(log, "Temporal is not reachable yet; trying again", worker)
        async with await start_dev_server(log_file=tmp_path / "temporal.log", port=port):
            await until_logged(log, "worker started", worker)
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(worker.wait, 60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "worker"], env=env, cwd=REPO_ROOT, stdout=out, stderr=out)


async def until_logged(log: Path, message: str, process: subprocess.Popen[bytes], *, within: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        text = await asyncio.to_thread(log.read_text)
        if any(json.loads(line).get("message") == message for line in text.splitlines() if line.startswith("{")):
            return
        assert process.poll() is None, f"the worker exited ({process.returncode}) before logging {message!r}"
        assert asyncio.get_running_loop().time() < deadline, f"no {message!r} in {text[-2000:]}"
        await asyncio.sleep(0.2)
