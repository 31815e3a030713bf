"""Batch processes yield to the API: their threads, and their session where the kernel groups by session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from shared.priority import session_niceness
from stack.local import CO_LOCATED_BATCH_NICE, LocalStack, StackOptions

AUTOGROUP = Path("/proc/self/autogroup").exists()
REPORT = (
    "import json, os; from shared.priority import lower_priority, session_niceness;"
    "lower_priority(7); print(json.dumps({'nice': os.nice(0), 'session': session_niceness(os.getpid())}))"
)


def _lowered(*, own_session: bool) -> dict[str, int | None]:
    done = subprocess.run(
        [sys.executable, "-c", REPORT],
        capture_output=True,
        text=True,
        check=True,
        start_new_session=own_session,
        cwd=Path(__file__).parents[2],
        timeout=60,
    )
    report: dict[str, int | None] = json.loads(done.stdout)
    return report


def test_a_session_leader_lowers_its_threads_and_its_session() -> None:
    report = _lowered(own_session=True)
    assert report["nice"] == os.nice(0) + 7
    if AUTOGROUP:  # where the scheduler shares by session first, the thread's value alone changes nothing
        assert report["session"] == 7


def test_a_process_in_anothers_session_leaves_that_session_alone() -> None:
    before = session_niceness(os.getpid())
    report = _lowered(own_session=False)
    assert report["nice"] == os.nice(0) + 7
    assert report["session"] == before == session_niceness(os.getpid())


def test_the_dev_server_runs_nicer_in_a_session_of_its_own(tmp_path: Path) -> None:
    # Started as the stack starts it, on picked ports it moves off if they are taken before it binds them.
    stack = LocalStack(StackOptions(data_dir=tmp_path, temporal_port=None, ui_port=None, reuse_services=False))
    try:
        stack.start_temporal()
        assert stack.temporal is not None
        assert psutil.Process(stack.temporal.pid).nice() == os.nice(0) + CO_LOCATED_BATCH_NICE
        if AUTOGROUP:
            assert session_niceness(stack.temporal.pid) == CO_LOCATED_BATCH_NICE
        else:
            pytest.skip("no autogroup on this kernel: the threads' nice value is all there is")
    finally:
        stack.close()
