"""``make run`` watches every process the stack started, not only the worker and the API."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from stack.local import LocalStack


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
    assert said == f"BigQuery emulator exited (code -9); see {stack.bigquery.log_file}"
    gcs.kill()
    said = next_exit(stack, after=said)
    assert said == f"GCS emulator exited (code -9); see {stack.gcs.log_file}"
    postmaster = int((tmp_path / "postgres" / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGINT)  # a fast shutdown, as from outside
    said = next_exit(stack, after=said)
    assert said == f"Postgres exited (code unknown); see {tmp_path / 'postgres' / 'log'}"
    stack.temporal.kill()
    said = next_exit(stack, after=said)
    assert said == f"Temporal dev server exited (code -9); see {tmp_path / 'logs' / 'temporal.log'}"
