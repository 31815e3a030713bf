"""``make run`` watches every process the stack started, not only the worker and the API."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from stack.local import LocalStack, StackOptions
from stack.services import StackError, free_port


def next_exit(stack: LocalStack, *, after: str | None = None, within: float = 20) -> str | None:
    """What ``exited()`` says once it says something other than ``after`` (the previous exit)."""
    deadline = time.monotonic() + within
    while (exited := stack.exited()) == after and time.monotonic() < deadline:
        time.sleep(0.1)
    return exited


def test_each_service_exiting_is_named_with_its_log(stack: LocalStack, tmp_path: Path) -> None:
    """Killed last-watched first, so each exit is the first one ``exited()`` finds."""
    assert stack.exited() is None
    assert stack.bigquery is not None and stack.gcs is not None and stack.temporal is not None
    bigquery, gcs = stack.bigquery._process, stack.gcs._process
    assert bigquery is not None and gcs is not None

    bigquery.kill()
    said = next_exit(stack)
    assert said == f"BigQuery emulator exited (killed by SIGKILL); see {stack.bigquery.log_file}"
    gcs.kill()
    said = next_exit(stack, after=said)
    assert said == f"GCS emulator exited (killed by SIGKILL); see {stack.gcs.log_file}"
    postmaster = int((tmp_path / "postgres" / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGINT)  # a fast shutdown, as from outside
    said = next_exit(stack, after=said)
    assert said == f"Postgres exited (code unknown); see {tmp_path / 'postgres' / 'log'}"
    stack.temporal.kill()
    said = next_exit(stack, after=said)
    assert said == f"Temporal dev server exited (killed by SIGKILL); see {tmp_path / 'logs' / 'temporal.log'}"


def test_a_worker_and_an_api_refusing_to_start_are_both_named_with_why(tmp_path: Path) -> None:
    """``make run`` said only "the process meant to listen on 127.0.0.1:8000 exited (3)": not which, nor why, which
    its log held behind uvicorn's traceback, nor that the worker had refused too (an operator's probe, 72C)."""
    nowhere = f"127.0.0.1:{free_port()}"
    stack = LocalStack(
        StackOptions(data_dir=tmp_path, env={"ENV": "test", "TEMPORAL_ADDRESS": nowhere, "STARTUP_WAIT_SECONDS": "0"})
    )
    try:
        stack.start_worker().wait(timeout=60)  # refused first, as it starts first
        with pytest.raises(StackError) as refused:
            stack.start_api()
    finally:
        stack.close()
    worker, api = str(refused.value).splitlines()
    why = "refused to start: Temporal did not answer within STARTUP_WAIT_SECONDS (0 s)"
    assert worker.startswith(f"worker exited (code 1): worker {why}"), worker
    assert worker.endswith(f"; see {tmp_path / 'logs' / 'worker-0.log'}") and nowhere in worker
    assert api.startswith(f"API exited (code 3): api {why}"), api
    assert api.endswith(f"; see {tmp_path / 'logs' / 'api.log'}")
