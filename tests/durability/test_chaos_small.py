"""The chaos run, small: 40 bills through its own stack, one worker SIGKILL and one Postgres outage."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from shared.settings import REPO_ROOT

SUMMARY = re.compile(r"^chaos: bills=(\d+) faults=(\d+) lost=(\d+) duplicated=(\d+) stuck=(\d+) seconds=(\d+)$")


def test_small_chaos_run_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    args = [
        *("--bills", "40", "--seed", "7", "--kills", "1", "--postgres-outage", "4"),
        *("--storage-outage", "0", "--analytics-outage", "0", "--no-temporal-restart", "--deadline", "150"),
        # Early faults: a SIGKILLed activity is retried only after its start-to-close timeout (60 s for
        # storage), which then overlaps the rest of the batch instead of trailing it.
        *("--fault-window", "0.02,0.3"),
        *("--data-dir", str(tmp_path / "chaos")),
    ]
    run = subprocess.run(
        [sys.executable, "-m", "bench.chaos", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=240
    )
    print(run.stdout)  # the table, for the pytest report when this fails

    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    summary = SUMMARY.match(run.stdout.strip().splitlines()[-1])
    assert summary is not None, run.stdout[-2000:]
    bills, faults, lost, duplicated, stuck, _ = map(int, summary.groups())
    assert (bills, faults, lost, duplicated, stuck) == (40, 2, 0, 0, 0)
    assert "kill worker" in run.stdout and "stop postgres" in run.stdout
