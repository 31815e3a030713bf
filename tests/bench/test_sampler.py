"""What ``bench.sampler.ProcessSampler`` counts: CPU and memory of process trees over a phase."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections import namedtuple
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from bench import sampler
from bench.sampler import ProcessSampler, SamplerProcess
from stack.local import CO_LOCATED_BATCH_NICE

PARENT = """
import subprocess, sys
sys.stdin.readline()  # the sampler has started
print(subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]]).pid, flush=True)
sys.stdin.readline()  # the sampler has stopped
"""
BURNER = """
import os, pathlib, sys, time
while sum(os.times()[:2]) < 0.5:
    pass
pathlib.Path(sys.argv[1]).write_text(str(sum(os.times()[:2])))
time.sleep(600)
"""


def child_burning_during_a_phase(
    tmp_path: Path,
    on_spawn: Callable[[str, int], None] = lambda role, pid: None,
    sampler_for: Callable[[dict[str, list[int]]], ProcessSampler | SamplerProcess] = lambda groups: ProcessSampler(
        groups, interval=3600
    ),
) -> tuple[float, float]:
    """A worker's tree whose child is born during the phase, burns 0.5 s of CPU and is first seen by the closing
    sample (the periodic ones are an hour apart): the worker's CPU seconds as sampled, and the child's burnt.
    ``on_spawn`` gets the parent's pid before anything reads the process, and the child's before that sample."""
    burnt = tmp_path / "burnt"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, BURNER, str(burnt)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdin is not None and parent.stdout is not None
    on_spawn("parent", parent.pid)
    tree = psutil.Process(parent.pid)
    try:
        with sampler_for({"worker": [parent.pid]}) as sampled:  # by default samples when entered and left
            parent.stdin.write("go\n")
            parent.stdin.flush()
            on_spawn("child", int(parent.stdout.readline()))
            while not burnt.exists() or not burnt.read_text():
                assert parent.poll() is None
                time.sleep(0.05)
        return sampled.usage["worker"].cpu_seconds, float(burnt.read_text())
    finally:
        for proc in tree.children(recursive=True):
            proc.kill()
        parent.kill()
        parent.wait()


def test_a_child_born_during_the_phase_counts_with_the_cpu_it_spent_before_a_sample_saw_it(tmp_path: Path) -> None:
    """The worker starts its PDF parsers with its first bill, and they spend their imports before the next sample:
    counted from their first sample on, that CPU was no one's."""
    sampled, burnt = child_burning_during_a_phase(tmp_path)

    assert sampled >= burnt


@pytest.mark.parametrize("within_slack", [True, False])
def test_a_process_first_seen_during_the_phase_brings_its_earlier_cpu_only_if_born_within_the_slack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, within_slack: bool
) -> None:
    """``create_time`` counts from a boot time in whole seconds, so a child born just before the phase opened
    (within the slack) is taken as born during it; one born earlier ran before the phase (a tree the opening
    sample could not read), and only what it spends from its first sample on is the phase's."""
    original = psutil.Process.create_time
    born: dict[int, float] = {}

    def spawned(role: str, pid: int) -> None:
        # The phase opened after ``before`` and before the child's pid is read: a hundredth of a second inside or
        # outside its slack. The parent is older still (psutil's children are never older than their parent).
        now = time.time()
        edge = now + 0.01 if within_slack else before - 0.01
        born[pid] = edge - sampler.CREATE_TIME_SLACK_SECONDS - (60 if role == "parent" else 0)

    monkeypatch.setattr(psutil.Process, "create_time", lambda proc: born.get(proc.pid) or original(proc))
    before = time.time()
    sampled, burnt = child_burning_during_a_phase(tmp_path, spawned)

    assert (sampled >= burnt) is within_slack, (sampled, burnt)


CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait irq softirq steal guest guest_nice")


def test_the_machine_is_as_busy_as_its_cpu_times_say_guest_time_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux's ``guest`` is part of ``user`` already (``guest_nice`` of ``nice``): a host running a VM was shown
    busier than it was, and the difference as load from outside the bench."""
    monkeypatch.setattr(psutil, "cpu_times", lambda: CpuTimes(50, 5, 20, 100, 3, 1, 1, 0, 30, 4))

    assert sampler._busy_seconds() == 50 + 5 + 20 + 1 + 1


REAPING_PARENT = """
import subprocess, sys
child = None
def spawn():
    return subprocess.Popen(
        [sys.executable, "-c", sys.argv[1], sys.argv[3]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
if sys.argv[2] == "before":  # the child has burnt its first second and is seen when the phase opens
    child = spawn()
    child.stdout.readline()
print("ready", flush=True)
sys.stdin.readline()  # the sampler has started
if child is None:  # the child is born during the phase
    child = spawn()
child.communicate("go\\n")  # it burns, exits, and is reaped here
print("reaped", flush=True)
sys.stdin.readline()  # the sampler has stopped
"""
BURNS_THEN_EXITS = """
import os, pathlib, sys
def burnt():
    return sum(os.times()[:2])
while burnt() < 1.0:
    pass
before = burnt()
print("burnt", flush=True)
sys.stdin.readline()
while burnt() < before + 0.5:
    pass
pathlib.Path(sys.argv[1]).write_text(f"{before} {burnt()}")
"""


@contextlib.contextmanager
def reaping_parent(child: str, burnt: Path) -> Iterator[subprocess.Popen[str]]:
    """``REAPING_PARENT`` with its ``BURNS_THEN_EXITS`` child started ``child`` the phase, once it is ready; killed
    when left."""
    parent = subprocess.Popen(
        [sys.executable, "-c", REAPING_PARENT, BURNS_THEN_EXITS, child, str(burnt)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    try:
        assert parent.stdout.readline() == "ready\n"
        yield parent
    finally:
        parent.kill()
        parent.wait()


def let_it_reap(parent: subprocess.Popen[str]) -> None:
    """Tell ``parent`` to go on and wait until it has reaped its child."""
    assert parent.stdin is not None and parent.stdout is not None
    parent.stdin.write("go\n")
    parent.stdin.flush()
    assert parent.stdout.readline() == "reaped\n"


@pytest.mark.parametrize("child", ["before", "during"])
def test_a_child_that_exits_between_samples_counts_what_it_spent_in_the_phase_once(tmp_path: Path, child: str) -> None:
    """A parser or a Postgres backend that exits between two samples: its CPU since the last sample was lost (and
    all of it when born and gone between two), and counted from its parent's ``children_*`` it must not count twice.
    A child seen before the phase has 1 s of CPU from before it, which is not the phase's."""
    burnt = tmp_path / "burnt"
    with reaping_parent(child, burnt) as parent:
        with ProcessSampler({"worker": [parent.pid]}, interval=3600) as sampled:  # samples when entered and left
            let_it_reap(parent)
        before, total = (float(x) for x in burnt.read_text().split())
    in_phase = total - before if child == "before" else total

    assert in_phase <= sampled.usage["worker"].cpu_seconds < in_phase + 0.9, (sampled.usage["worker"], before, total)


def test_a_child_reaped_between_reading_its_parent_and_itself_leaves_the_group_a_sample_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its parent read just before the reaping, without it in ``children_*``, and the child gone when read: taken
    off there, that sample's CPU went below zero (or, held to the parent's growth, was counted again later)."""
    burnt = tmp_path / "burnt"
    with reaping_parent("before", burnt) as parent:
        tree = sampler.process_tree(psutil.Process(parent.pid))
        with ProcessSampler({"worker": [parent.pid]}, interval=3600) as sampled:
            parent_as_read = sampler.cpu_seconds_with_reaped(tree[0])
            let_it_reap(parent)
            with monkeypatch.context() as race:  # the tree listed and its parent read before the child was reaped
                race.setattr(sampler, "process_tree", lambda root: tree)
                real = sampler.cpu_seconds_with_reaped
                race.setattr(
                    sampler,
                    "cpu_seconds_with_reaped",
                    lambda proc: parent_as_read if proc.pid == parent.pid else real(proc),
                )
                sampled._sample(record=True)
            in_the_racing_sample = sampled.usage["worker"].cpu_seconds
        before, total = (float(x) for x in burnt.read_text().split())

    assert in_the_racing_sample >= 0, sampled.usage["worker"]
    assert total - before <= sampled.usage["worker"].cpu_seconds < total - before + 0.9, (before, total)


ORPHANING_PARENT = """
import subprocess, sys
pipe = subprocess.PIPE
middle = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdin=pipe, stdout=pipe)
print(middle.stdout.readline().strip().decode(), flush=True)  # the grandchild's pid, once it has burnt its second
sys.stdin.readline()  # the sampler has started
middle.communicate(b"go\\n")  # it exits without waiting for the grandchild, and is reaped here
print("reaped", flush=True)
sys.stdin.readline()  # the sampler has stopped
"""
LEAVES_ITS_CHILD = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE)
child.stdout.readline()
print(child.pid, flush=True)
sys.stdin.readline()
before = sum(os.times()[:2])
while sum(os.times()[:2]) < before + 0.5:  # half a second in the phase, handed to its parent when reaped
    pass
os._exit(0)
"""
BURNS_THEN_SLEEPS = """
import os, sys, time
while sum(os.times()[:2]) < 1.0:
    pass
print("burnt", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("grandchild_then", ["runs", "is reaped by its adopter"])
def test_a_grandchild_orphaned_takes_no_time_off_the_tree(
    monkeypatch: pytest.MonkeyPatch, grandchild_then: str
) -> None:
    """R starts P, P starts G and exits without waiting for it: G, adopted outside the tree, never reaches R's
    ``children_*``. Taking off its second as though it had, the phase's CPU was -0.5 s (P's half second less G's).
    Once G is gone too, whether P had reaped it cannot be told from R: no more is taken off than R's
    ``children_*`` grew by, so P's half second may go uncounted, never below zero."""
    root = subprocess.Popen(
        [sys.executable, "-c", ORPHANING_PARENT, LEAVES_ITS_CHILD, BURNS_THEN_SLEEPS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert root.stdin is not None and root.stdout is not None
    grandchild = psutil.Process(int(root.stdout.readline()))
    try:
        with ProcessSampler({"worker": [root.pid]}, interval=3600) as sampled:  # samples when entered and left
            let_it_reap(root)
            assert grandchild.is_running() and grandchild.ppid() != root.pid
            if grandchild_then != "runs":  # this machine's pid 1 leaves orphans unreaped: as a systemd would not
                real = psutil.Process.is_running
                monkeypatch.setattr(psutil.Process, "is_running", lambda p: p.pid != grandchild.pid and real(p))
    finally:
        grandchild.kill()
        root.kill()
        root.wait()

    least = 0.5 if grandchild_then == "runs" else -1e-9  # float sums of the same seconds
    assert least <= sampled.usage["worker"].cpu_seconds < 1.4, sampled.usage["worker"]


SHARING_PARENT = """
import os, sys, time
heap = b"x" * (64 * 2**20)  # written: resident, and shared with the children after the fork
for _ in range(2):
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
print("ready", flush=True)
sys.stdin.readline()
"""


def test_memory_a_forked_pool_shares_with_its_parent_counts_once_in_pss() -> None:
    """A worker's parser pool is forked from it: the tree's RSS sums the shared heap once per process, its PSS
    once in all (the 400 MB target was read from the RSS sum, 360 MB of which 236 MB was the worker alone)."""
    parent = subprocess.Popen([sys.executable, "-c", SHARING_PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert parent.stdout is not None and parent.stdin is not None
    tree = psutil.Process(parent.pid)
    try:
        assert parent.stdout.readline() == b"ready\n"
        with ProcessSampler({"worker": [parent.pid]}, interval=3600) as sampled:
            pass
        usage = sampled.summary()["worker"]
    finally:
        for proc in tree.children(recursive=True):
            proc.kill()
        parent.kill()
        parent.wait()

    assert usage["peak_tree_rss_mb"] > 3 * 64, usage
    assert 64 < usage["peak_tree_pss_mb"] < 2 * 64, usage
    assert usage["peak_pss_mb"] == usage["peak_tree_pss_mb"], usage


PEAKING = """
import sys
print("ready", flush=True)
sys.stdin.readline()
heap = b"x" * (96 * 2**20)  # written: resident
print("peak", flush=True)
sys.stdin.readline()
del heap  # unmapped: back to the system
print("freed", flush=True)
sys.stdin.readline()
"""


def test_the_pss_beside_the_rss_peak_is_read_at_that_peak() -> None:
    """Read every 5 s, PSS missed a peak that RSS, read every 0.5 s, had: the two printed side by side were not of
    one moment, and the PSS read well under it looked like the shared pages the pool did not have."""
    proc = subprocess.Popen([sys.executable, "-c", PEAKING], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None

    def step(said: str) -> None:
        assert proc.stdout is not None and proc.stdout.readline() == said + "\n"

    try:
        step("ready")
        with ProcessSampler({"worker": [proc.pid]}, interval=3600) as sampled:  # samples when entered and left
            proc.stdin.write("\n")
            proc.stdin.flush()
            step("peak")
            sampled._sample(record=True)  # a periodic sample at the peak
            proc.stdin.write("\n")
            proc.stdin.flush()
            step("freed")
        usage = sampled.summary()["worker"]
    finally:
        proc.kill()
        proc.wait()

    assert usage["peak_tree_rss_mb"] > 96, usage
    assert 96 < usage["peak_tree_pss_mb"] <= usage["peak_tree_rss_mb"], usage
    assert usage["peak_pss_mb"] == usage["peak_tree_pss_mb"], usage


def test_pss_is_read_again_only_once_the_rss_peak_has_grown_past_the_last_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read at every new RSS peak, PSS was read for nearly every process at nearly every sample of a run whose
    memory grows a little each time: the bench's own CPU doubled beside the pipeline it measured."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    reads: list[int] = []
    rss = iter(range(100, 100 + 40))  # a peak 1 MB higher at every sample: 1% and less
    real_pss = sampler.pss_mb
    Memory = namedtuple("Memory", "rss")

    def counted_pss(p: psutil.Process) -> float | None:
        reads.append(p.pid)
        return real_pss(p)

    monkeypatch.setattr(sampler, "pss_mb", counted_pss)
    monkeypatch.setattr(psutil.Process, "memory_info", lambda p: Memory(next(rss) * 2**20))
    try:
        with ProcessSampler({"worker": [proc.pid]}, interval=3600) as sampled:
            for _ in range(30):
                sampled._sample(record=True)
        usage = sampled.summary()["worker"]
    finally:
        proc.kill()
        proc.wait()
    assert usage["peak_rss_mb"] >= 130, usage
    assert 1 < len(reads) <= 15, reads  # a read each 2% of growth, the tree's and the group's in one (was each sample)
    assert "peak_pss_mb" in usage, usage


BURN_IN_A_THREAD = """
import sys, threading, time
burnt, ending = threading.Event(), threading.Event()
def burn():
    if sys.argv[1] == "renamed":  # as a native library names its threads (Temporal's Rust core: tokio-rt-worker)
        with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as comm:
            comm.write("tokio-rt-worker")
    until = time.monotonic() + 0.8
    while time.monotonic() < until:
        pass
    burnt.set()
    if sys.argv[1] != "ended":
        ending.wait()  # alive past the phase, as the worker's threads are
sys.stdin.readline()  # the sampler has started
thread = threading.Thread(target=burn, daemon=True)
thread.start()
burnt.wait()
print("burnt", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize(("thread", "counted"), [("python", True), ("ended", True), ("renamed", False)])
def test_an_interpreters_share_counts_the_threads_python_started_not_those_a_library_named(
    thread: str, counted: bool
) -> None:
    """The worker's interpreter near a full core is its GIL's limit, whatever the machine has left; a Rust
    thread's CPU is not the interpreter's."""
    proc = subprocess.Popen(
        [sys.executable, "-c", BURN_IN_A_THREAD, thread], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        with ProcessSampler({"worker": [proc.pid]}, interval=3600) as phase:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline() == "burnt\n"
        worker = phase.summary()["worker"]
    finally:
        proc.kill()
        proc.wait()
    assert worker["cpu_pct_avg"] > 40, worker
    if counted:
        assert worker["interpreter_pct_per_process"] > 0.8 * worker["cpu_pct_avg"], worker
    else:
        assert worker["interpreter_pct_per_process"] < 0.2 * worker["cpu_pct_avg"], worker


def test_only_groups_of_python_processes_report_an_interpreter() -> None:
    """The dev server's and Postgres's threads are not an interpreter's: no share is made up for them."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    try:
        with ProcessSampler({"temporal": [proc.pid], "worker": [proc.pid]}, interval=3600) as phase:
            time.sleep(0.05)
        summary = phase.summary()
    finally:
        proc.kill()
        proc.wait()
    assert "interpreter_pct_per_process" not in summary["temporal"]
    assert "interpreter_pct_per_process" in summary["worker"]


def test_a_sampler_process_runs_in_a_session_of_its_own_at_the_workers_priority() -> None:
    """The bench's sampler runs beside its clients' event loop, not on it: a process of its own, in a session of
    its own (so its nice value weighs there too), at the worker's priority."""
    with SamplerProcess({"bench": [os.getpid()]}, interval=3600) as sampled:
        process = psutil.Process(sampled._process.pid)
        assert os.getsid(process.pid) == process.pid
        assert process.nice() == CO_LOCATED_BATCH_NICE


def test_a_sampler_process_measures_what_the_thread_measured(tmp_path: Path) -> None:
    """The same ``ProcessSampler`` in the other process: a child born during the phase counts whole, and the
    figures come back through ``usage`` and ``summary``."""
    holder: list[SamplerProcess] = []

    def sampler_process(groups: dict[str, list[int]]) -> SamplerProcess:
        holder.append(SamplerProcess(groups, interval=3600))
        return holder[0]

    sampled, burnt = child_burning_during_a_phase(tmp_path, sampler_for=sampler_process)

    assert sampled == pytest.approx(burnt, abs=0.1)
    assert holder[0].summary()["worker"]["cpu_seconds"] == pytest.approx(sampled, abs=0.05)


def test_a_sampler_process_counts_its_own_cpu_as_the_benchs() -> None:
    """It works for the bench: what it spends over the phase is the bench's, as it was on the bench's thread. At
    nice 0 and sampling every millisecond, so that it spends some CPU within the phase even on a busy machine."""
    own = psutil.Process()
    spent_before = sampler.cpu_seconds(own)
    with SamplerProcess({"bench": [own.pid]}, nice=0, interval=0.001) as sampled:
        process = psutil.Process(sampled._process.pid)
        sampler_at_start = sampler.cpu_seconds(process)
        deadline = time.monotonic() + 30
        while sampler.cpu_seconds(process) - sampler_at_start < 0.1 and time.monotonic() < deadline:
            time.sleep(0.01)
        sampler_spent = sampler.cpu_seconds(process) - sampler_at_start
    bench_own = sampler.cpu_seconds(own) - spent_before
    assert sampler_spent >= 0.1
    assert bench_own + sampler_spent <= sampled.usage["bench"].cpu_seconds + 0.05
    assert sampled.usage["bench"].cpu_seconds <= bench_own + sampler_spent + 0.2
