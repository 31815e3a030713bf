"""What ``bench.sampler.ProcessSampler`` counts: CPU and memory of process trees over a phase."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from bench import sampler
from bench.sampler import ProcessSampler

PARENT = """
import subprocess, sys
sys.stdin.readline()  # the sampler has started
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
sys.stdin.readline()  # the sampler has stopped
"""
BURNER = """
import os, pathlib, sys, time
while sum(os.times()[:2]) < 0.5:
    pass
pathlib.Path(sys.argv[1]).write_text(str(sum(os.times()[:2])))
time.sleep(600)
"""


def test_a_child_born_during_the_phase_counts_with_the_cpu_it_spent_before_a_sample_saw_it(tmp_path: Path) -> None:
    """The worker starts its PDF parsers with its first bill, and they spend their imports before the next sample:
    counted from their first sample on, that CPU was no one's."""
    burnt = tmp_path / "burnt"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, BURNER, str(burnt)], stdin=subprocess.PIPE, text=True)
    assert parent.stdin is not None
    tree = psutil.Process(parent.pid)
    try:
        with ProcessSampler({"worker": [parent.pid]}, interval=3600) as sampled:  # samples when entered and left
            parent.stdin.write("go\n")
            parent.stdin.flush()
            while not burnt.exists() or not burnt.read_text():
                assert parent.poll() is None
                time.sleep(0.05)
        assert sampled.usage["worker"].cpu_seconds >= float(burnt.read_text()), sampled.summary()
    finally:
        for proc in tree.children(recursive=True):
            proc.kill()
        parent.kill()
        parent.wait()


CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait irq softirq steal guest guest_nice")


def test_the_machine_is_as_busy_as_its_cpu_times_say_guest_time_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux's ``guest`` is part of ``user`` already (``guest_nice`` of ``nice``): a host running a VM was shown
    busier than it was, and the difference as load from outside the bench."""
    monkeypatch.setattr(psutil, "cpu_times", lambda: CpuTimes(50, 5, 20, 100, 3, 1, 1, 0, 30, 4))

    assert sampler._busy_seconds() == 50 + 5 + 20 + 1 + 1


def test_a_process_running_before_the_phase_counts_only_what_it_spent_during_it() -> None:
    """Never seen by the opening sample (its tree could not be read then), it must not bring its whole past."""
    with ProcessSampler({}, interval=3600) as sampled:
        init = psutil.Process(1)
        assert sampled._before_phase(init, 7.0, record=True) == 7.0
        assert sampled._before_phase(init, 7.0, record=False) == 7.0
