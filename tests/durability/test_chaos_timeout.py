"""A chaos run its test gives up on is asked to stop (SIGTERM: it stops its stack) before it is killed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.settings import REPO_ROOT
from tests.helpers import run_stopping_on_timeout

OWNS_A_STACK = (
    "import time\nfrom stack.local import stop_on_sigterm\nstop_on_sigterm()\n"
    "try:\n    print('running', flush=True)\n    time.sleep(60)\n"
    "finally:\n    print('stopping the stack', flush=True)\n"
)
DEAF = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: print('SIGTERM ignored', flush=True))\n"
    "print('running', flush=True)\ntime.sleep(60)\nprint('outlived its timeout', flush=True)\n"
)
"""Says when SIGTERM came, sleeps on through it (PEP 475), and says so if nothing killed it."""


def test_a_run_past_its_timeout_gets_sigterm_and_stops_its_stack() -> None:
    """SIGKILLed outright (``subprocess.run``'s timeout), bench.chaos left its stack running."""
    with pytest.raises(subprocess.TimeoutExpired) as timed_out:
        run_stopping_on_timeout([sys.executable, "-c", OWNS_A_STACK], cwd=REPO_ROOT, timeout=5, grace=30)
    assert timed_out.value.output == "running\nstopping the stack\n"


def test_a_run_deaf_to_sigterm_is_killed_after_the_grace_period() -> None:
    with pytest.raises(subprocess.TimeoutExpired) as timed_out:
        run_stopping_on_timeout([sys.executable, "-c", DEAF], timeout=5, grace=1)
    assert timed_out.value.output == "running\nSIGTERM ignored\n"  # asked first, then killed mid-sleep


def test_a_run_within_its_timeout_is_returned_as_subprocess_run_would() -> None:
    done = run_stopping_on_timeout([sys.executable, "-c", "print('out'); raise SystemExit(3)"], timeout=30, grace=1)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "")
