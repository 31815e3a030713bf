"""A worker that cannot run says so in one masked JSON log line, like every other line it writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from shared.settings import REPO_ROOT, Settings
from stack.services import free_port


def test_a_worker_that_cannot_reach_temporal_logs_one_json_line_and_exits_non_zero() -> None:
    """Python's own traceback went to stderr: unmasked, and one log entry per line in a JSON pipeline."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.pop("SECRET_MANAGER_PROJECT", None)
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "worker"],
        env={**env, "TEMPORAL_ADDRESS": nowhere, "LOG_FORMAT": "json"},
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
