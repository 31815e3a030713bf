"""A worker that cannot run says so in one masked JSON log line, like every other line it writes."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from stack.services import free_port
from tests.helpers import entry_point_env, entry_point_running, run_entry_point, start_dev_server, until_logged


def test_a_worker_that_cannot_reach_temporal_logs_one_json_line_and_exits_non_zero() -> None:
    """Python's own traceback went to stderr: unmasked, and one log entry per line in a JSON pipeline."""
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens there
    done = run_entry_point("worker", TEMPORAL_ADDRESS=nowhere, LOG_FORMAT="json", STARTUP_WAIT_SECONDS="0")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    [failure] = [entry for entry in entries if entry["level"] == "CRITICAL"]
    assert failure["logger"] == "worker.main" and "exc_info" not in failure
    said = "worker refused to start: Temporal did not answer within STARTUP_WAIT_SECONDS (0 s): RuntimeError:"
    assert failure["message"].startswith(said), failure
    assert "Failed client connect" in failure["message"] and nowhere in failure["message"]


async def test_a_worker_started_before_temporal_listens_waits_and_comes_up(
    pg_url: str, payload_keys: str, tmp_path: Path
) -> None:
    """After a reboot or a deploy the worker often starts first: it waits (STARTUP_WAIT_SECONDS), saying so,
    and polls once the server answers, where it used to exit at the first refusal."""
    port = free_port()
    env = entry_point_env(
        ENV="test",
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        TEMPORAL_TASK_QUEUE=f"wait-{port}",
        DATABASE_URL=pg_url,
        PAYLOAD_KEYS=payload_keys,
        DATA_DIR=str(tmp_path / "data"),
        ARTIFACT_STORE="local",
        ANALYTICS="disabled",
        STARTUP_WAIT_SECONDS="120",
        LOG_FORMAT="json",
    )
    log = tmp_path / "worker.log"
    async with entry_point_running("worker", env, log) as worker:
        await until_logged(log, "Temporal is not reachable yet; trying again", worker)
        async with await start_dev_server(log_file=tmp_path / "temporal.log", port=port):
            await until_logged(log, "worker started", worker)
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(worker.wait, 60) == 0
