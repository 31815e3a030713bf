"""The chaos run, small: 40 bills through its own stack, one worker SIGKILL and one Postgres outage."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT
from tests.helpers import run_stopping_on_timeout

SUMMARY = re.compile(
    r"^chaos: bills=(\d+) faults=(\d+) lost=(\d+) duplicated=(\d+) stuck=(\d+) failed=(\d+) seconds=(\d+)$"
)


STALL_SECONDS = 150
"""Give up once no job has advanced for this long: past the longest wait a SIGKILL causes (an activity lost with
the worker is retried after its heartbeat timeout, 30 s for extraction and publish_analytics, or else its
start-to-close timeout, 60 s for fetching, storage and validation)."""
CAP_SECONDS = 480
"""Give up whatever happens."""
STOP_GRACE_SECONDS = 60
"""Past its own timeout, how long the run has after SIGTERM to stop its stack before it is SIGKILLed."""


@pytest.mark.timeout(CAP_SECONDS + 150 + STOP_GRACE_SECONDS + 30)
def test_small_chaos_run_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    """Timed by progress, not the clock alone: under load (~7, other tests beside it) a fixed 150 s failed a run
    that was still advancing, with three bills of forty left; a stuck job still fails it, named with its step."""
    args = [
        *("--bills", "40", "--seed", "7", "--kills", "1", "--postgres-outage", "4"),
        *("--storage-outage", "0", "--analytics-outage", "0", "--no-temporal-restart"),
        *("--deadline", str(CAP_SECONDS), "--stall", str(STALL_SECONDS)),
        # Early faults: a SIGKILLed activity is retried only after its start-to-close timeout (60 s for
        # storage), which then overlaps the rest of the batch instead of trailing it.
        *("--fault-window", "0.02,0.3"),
        *("--data-dir", str(tmp_path / "chaos")),
    ]
    run = run_stopping_on_timeout(
        [sys.executable, "-m", "bench.chaos", *args],
        cwd=REPO_ROOT,
        timeout=CAP_SECONDS + 150,  # the stack's start and the checks come on top of the run
        grace=STOP_GRACE_SECONDS,
    )
    print(run.stdout)  # the table, for the pytest report when this fails

    problems = "\n".join(line for line in run.stdout.splitlines() if line.startswith("problem: "))
    assert run.returncode == 0, f"{problems}\n{run.stdout[-3000:]}{run.stderr[-4000:]}"  # each stuck job and its step
    summary = SUMMARY.match(run.stdout.strip().splitlines()[-1])
    assert summary is not None, run.stdout[-2000:]
    bills, faults, lost, duplicated, stuck, failed, _ = map(int, summary.groups())
    assert (bills, faults, lost, duplicated, stuck, failed) == (40, 2, 0, 0, 0, 0)
    assert "kill worker" in run.stdout and "stop postgres" in run.stdout
