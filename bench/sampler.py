"""CPU and memory of the stack's processes, sampled with psutil while a phase runs."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

from shared.priority import lower_priority
from stack.local import CO_LOCATED_BATCH_NICE


@dataclass
class GroupUsage:
    """One named group of process trees (e.g. every worker process and its children)."""

    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    """Peak of the group's summed RSS."""
    peak_tree_rss_mb: float = 0.0
    """Peak RSS of the largest single tree in the group (one worker process and its children)."""
    peak_root_rss_mb: float = 0.0
    """Peak RSS of the largest root process alone (without children such as a PDF parser pool)."""
    peak_pss_mb: float = 0.0
    peak_tree_pss_mb: float = 0.0
    """The PSS at the RSS peaks (within ``PSS_REREAD_GROWTH`` of them), read in the sample that set them: a page
    shared by N processes (a forked parser pool's copy of its parent's heap, Postgres's shared buffers) counts 1/N
    in each, so a tree's sum counts it once where its RSS sum counted N."""
    pss_complete: bool = True
    """False once a process's PSS could not be read (no smaps_rollup, not ours): the PSS peaks are then left out."""
    rss_at_pss_mb: float = 0.0
    tree_rss_at_pss_mb: float = 0.0
    """The RSS peaks at the last PSS reads: PSS is read again only once a peak has grown ``PSS_REREAD_GROWTH`` past."""
    interpreter_seconds: float | None = None
    """CPU of the roots' interpreter threads (``interpreter_seconds``) over the phase, for groups of Python
    processes: its share of one core per process is how close each is to what its GIL allows."""
    roots: int = 0
    series: list[tuple[float, float, float, float]] = field(default_factory=list)
    """(seconds since start, CPU %, summed RSS MB, largest root's RSS MB) per sample: whether memory
    levels off or keeps growing over a long run shows here, not in the peaks."""

    def summary(self, wall: float) -> dict[str, float]:
        pss = {"peak_pss_mb": round(self.peak_pss_mb, 1), "peak_tree_pss_mb": round(self.peak_tree_pss_mb, 1)}
        interpreter = (
            {"interpreter_pct_per_process": round(100 * self.interpreter_seconds / wall / self.roots, 1)}
            if self.interpreter_seconds is not None and self.roots and wall > 0
            else {}
        )
        return {
            "cpu_pct_avg": round(100 * self.cpu_seconds / wall, 1) if wall > 0 else 0.0,
            "cpu_seconds": round(self.cpu_seconds, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "peak_tree_rss_mb": round(self.peak_tree_rss_mb, 1),
            "peak_root_rss_mb": round(self.peak_root_rss_mb, 1),
            **(pss if self.pss_complete else {}),
            **interpreter,
        }


BENCH_GROUP = "bench"
"""The group of the benchmark's own process (measured without its children, every service among them), which a
``SamplerProcess`` works for."""

CREATE_TIME_SLACK_SECONDS = 2.0

PSS_REREAD_GROWTH = 1.02
"""PSS is read at an RSS peak only once it is 2% past the one it was last read at. Read at every new peak, it was
read for nearly every process at nearly every sample (memory grows through a run): ~80 ms of CPU a sample for 110
processes (smaps_rollup walks page tables), which doubled the bench's own CPU beside the pipeline it measures."""


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    # Linux counts a guest's time in user (guest_nice in nice) as well: summed twice, a host running VMs was
    # busier than it was, and the excess read as other sessions' load ("not ours"). psutil's cpu_percent skips it.
    counted_twice = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return float(sum(times) - counted_twice - times.idle - getattr(times, "iowait", 0.0))


def process_tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_seconds(proc: psutil.Process) -> float:
    """Of the process alone: its children's time is not in it."""
    times = proc.cpu_times()
    return float(times.user + times.system)


def cpu_seconds_with_reaped(proc: psutil.Process) -> tuple[float, float]:
    """Of the process and of every child it has reaped (``children_*``, each child's whole life: a child that
    exits between two samples, or is born and exits between them, hands its time on to its parent there), and of
    those children alone."""
    times = proc.cpu_times()
    reaped = float(times.children_user + times.children_system)
    return float(times.user + times.system) + reaped, reaped


def interpreter_seconds(proc: psutil.Process) -> float:
    """CPU of the process (without its children) but its threads a native library named (Temporal's Rust core:
    ``tokio-rt-worker``, ...): a Python process's main thread and the threads Python started, which inherit the
    process's name and share one GIL. Counted from the whole process, not those threads, so a Python thread
    that ended keeps its time (a native one that ended would count too: the core's live as long as the worker).
    Linux only (``/proc/<pid>/task``); 0 once the process is gone."""
    try:
        own = Path(f"/proc/{proc.pid}/comm").read_text()
        total = cpu_seconds(proc)
        threads = proc.threads()
    except (OSError, psutil.Error):
        return 0.0
    for thread in threads:
        try:
            named = Path(f"/proc/{proc.pid}/task/{thread.id}/comm").read_text()
        except OSError:
            continue  # ended since listed
        if named != own:
            total -= thread.user_time + thread.system_time
    return max(0.0, total)


def pss_mb(proc: psutil.Process) -> float | None:
    """PSS where ``/proc/<pid>/smaps_rollup`` can be read (None where not; 0 once the process is gone). Read only
    when an RSS peak is set: it walks the page tables, ~0.5-9 ms a process here against 0.02 ms for RSS, and every
    0.5 s over a stack's 30-odd processes that was the bench's own load."""
    try:
        return float(proc.memory_full_info().pss) / 2**20
    except psutil.AccessDenied:
        return None
    except psutil.Error:
        return 0.0


def summarize(usage: dict[str, GroupUsage], *, wall: float, machine_busy_seconds: float) -> dict[str, dict[str, float]]:
    """Per group, plus ``machine``: every core's busy time, how much of it was not ours (other sessions'
    tests on a shared machine show up there), and the window sampled (``seconds``: the groups' CPU % is of it)."""
    groups = {name: group.summary(wall) for name, group in usage.items()}
    ours = sum(group.cpu_seconds for group in usage.values())
    span = max(wall, 1e-9)
    groups["machine"] = {
        "busy_pct": round(100 * machine_busy_seconds / span, 1),
        "outside_bench_pct": round(100 * max(0.0, machine_busy_seconds - ours) / span, 1),
        "cores": float(psutil.cpu_count() or 0),
        "seconds": round(wall, 2),
    }
    return groups


class ProcessSampler:
    """Samples every ``interval`` seconds on a thread until stopped; CPU is exact (cpu_times deltas, a process that
    exits between samples included through its parent's ``children_*``), memory as RSS at each sample and PSS in
    the samples that set an RSS peak."""

    def __init__(
        self,
        groups: dict[str, list[int]],
        *,
        flat: frozenset[str] = frozenset({BENCH_GROUP}),
        interpreters: frozenset[str] = frozenset({"worker"}),
        interval: float = 0.5,
    ) -> None:
        self._flat = flat  # groups measured without children: the bench process is every service's parent
        self._roots = {
            name: [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)] for name, pids in groups.items()
        }
        # Groups whose roots are Python processes doing the work: their interpreter's share is read. Not the API's:
        # with API_PROCESSES > 1 its root is uvicorn's supervisor, and the processes serving are its children.
        self._interpreter_groups = sorted(interpreters & self._roots.keys())
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._last: dict[int, float] = {}
        self._cache: dict[int, psutil.Process] = {}
        self._parent: dict[int, int] = {}
        self._reaped: dict[int, float] = {}
        self._members: dict[str, set[int]] = {name: set() for name in groups}
        self.usage = {name: GroupUsage() for name in groups}
        self.started = 0.0
        self._opened_at = 0.0
        self.wall = 0.0
        self._machine = 0.0
        self.machine_busy_seconds = 0.0
        self._interpreter_at_start: dict[int, float] = {}

    def __enter__(self) -> ProcessSampler:
        self._machine = _busy_seconds()
        self._interpreter_at_start = {
            root.pid: interpreter_seconds(root) for name in self._interpreter_groups for root in self._roots[name]
        }
        self.started = time.monotonic()
        self._opened_at = time.time()
        self._sample(record=False)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """End the phase here (at the latest when the ``with`` block ends): what follows is not measured."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        self._sample(record=True)
        self.wall = time.monotonic() - self.started
        self.machine_busy_seconds = _busy_seconds() - self._machine
        for name in self._interpreter_groups:
            usage = self.usage[name]
            usage.roots = len(self._roots[name])
            usage.interpreter_seconds = sum(
                max(0.0, interpreter_seconds(root) - self._interpreter_at_start.get(root.pid, 0.0))
                for root in self._roots[name]
            )

    def summary(self) -> dict[str, dict[str, float]]:
        return summarize(self.usage, wall=self.wall, machine_busy_seconds=self.machine_busy_seconds)

    def _before_phase(self, proc: psutil.Process, seconds: float, *, record: bool) -> float:
        """How much of a process's CPU, first seen now, was spent before the phase: none when it was born during
        it (the worker's PDF parsers start with its first bill, and import before a sample sees them)."""
        if not record:
            return seconds  # the opening sample: everything so far came before
        try:
            # create_time counts from a boot time in whole seconds: a little slack, not the slack of a missed sample
            born_during = proc.create_time() > self._opened_at - CREATE_TIME_SLACK_SECONDS
        except psutil.Error:
            born_during = False
        return 0.0 if born_during else seconds

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample(record=True)

    def _sample(self, *, record: bool) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        for name, roots in self._roots.items():
            usage = self.usage[name]
            flat = name in self._flat
            delta = 0.0
            rss_total = 0.0
            root_rss = 0.0
            members: set[int] = set()
            reaped_since: dict[int, float] = {}
            trees: list[list[psutil.Process]] = []
            pss_read: dict[int, float | None] = {}
            for root in roots:
                rss_tree = 0.0
                tree: list[psutil.Process] = []
                for proc in [root] if flat else process_tree(root):
                    proc = self._cache.setdefault(proc.pid, proc)  # cpu_times of the same object
                    try:
                        # A flat group's children are other groups: its reaped ones (the services stopped) are not its.
                        seconds, reaped = (cpu_seconds(proc), 0.0) if flat else cpu_seconds_with_reaped(proc)
                        rss = proc.memory_info().rss / 2**20
                        self._parent[proc.pid] = proc.ppid()
                    except psutil.Error:
                        if proc.pid in self._members[name]:
                            # Reaped since its parent was read, whose children_* lack it until the next sample:
                            # it leaves the group then, or this sample took its time off before its parent had it.
                            members.add(proc.pid)
                        continue
                    reaped_since[proc.pid] = reaped - self._reaped.get(proc.pid, reaped)
                    self._reaped[proc.pid] = reaped
                    members.add(proc.pid)
                    tree.append(proc)
                    rss_tree += rss
                    if proc.pid == root.pid:
                        root_rss = max(root_rss, rss)
                    last = self._last.get(proc.pid)
                    delta += seconds - (self._before_phase(proc, seconds, record=record) if last is None else last)
                    self._last[proc.pid] = seconds
                rss_total += rss_tree
                trees.append(tree)
                if rss_tree > usage.peak_tree_rss_mb:
                    usage.peak_tree_rss_mb = rss_tree
                    if rss_tree > usage.tree_rss_at_pss_mb * PSS_REREAD_GROWTH:
                        usage.peak_tree_pss_mb = self._pss(usage, tree, pss_read)
                        usage.tree_rss_at_pss_mb = rss_tree
            if not flat:
                delta -= self._counted_again(self._members[name] - members, reaped_since)
            self._members[name] = members
            if rss_total > usage.peak_rss_mb:
                usage.peak_rss_mb = rss_total
                if rss_total > usage.rss_at_pss_mb * PSS_REREAD_GROWTH:
                    usage.peak_pss_mb = self._pss(usage, [proc for tree in trees for proc in tree], pss_read)
                    usage.rss_at_pss_mb = rss_total
            usage.peak_root_rss_mb = max(usage.peak_root_rss_mb, root_rss)
            if record:
                usage.cpu_seconds += delta
                previous = usage.series[-1][0] if usage.series else 0.0
                span = elapsed - previous
                if span < self._interval / 2:
                    continue  # the closing sample right after a periodic one: too short for a rate
                usage.series.append(
                    (round(elapsed, 2), round(100 * delta / span, 1), round(rss_total, 1), round(root_rss, 1))
                )

    @staticmethod
    def _pss(usage: GroupUsage, procs: list[psutil.Process], read: dict[int, float | None]) -> float:
        """The summed PSS of ``procs``, read now (once a sample: ``read``), in the sample whose RSS it stands
        beside."""
        total = 0.0
        for proc in procs:
            if proc.pid not in read:
                read[proc.pid] = pss_mb(proc)
            pss = read[proc.pid]
            if pss is None:
                usage.pss_complete = False
            else:
                total += pss
        return total

    def _counted_again(self, gone: set[int], reaped_since: dict[int, float]) -> float:
        """What processes gone since the last sample had been counted with, where a live ancestor in the group
        reaped them (a pid leaves /proc when reaped): their whole time is in that ancestor's ``children_*`` now,
        so only what they spent since the last sample counts. A tree that died whole hands its time to no one,
        and neither does a process still running outside the group (orphaned, its parent gone without waiting for
        it) nor one reaped by whoever adopted it: what is taken off an ancestor is at most what its ``children_*``
        grew by (``reaped_since``, the live members' growth since the last sample)."""
        by_ancestor: dict[int, float] = {}
        for pid in gone:
            proc = self._cache.get(pid)
            if proc is not None and proc.is_running():
                continue  # left the tree alive: its time is in no one's children_*
            ancestor = self._parent.get(pid)
            while ancestor is not None and ancestor not in reaped_since:
                ancestor = self._parent.get(ancestor) if ancestor in gone else None
            if ancestor is not None:
                by_ancestor[ancestor] = by_ancestor.get(ancestor, 0.0) + self._last.get(pid, 0.0)
        for pid in gone:  # a pid used again later is a new process
            self._last.pop(pid, None)
            self._cache.pop(pid, None)
            self._parent.pop(pid, None)
            self._reaped.pop(pid, None)
        return sum(min(counted, reaped_since[ancestor]) for ancestor, counted in by_ancestor.items())


READY, STOP = "ready", "stop"
"""What a ``SamplerProcess`` and its process say to each other."""


class SamplerProcess:
    """``ProcessSampler`` in a process of its own, in a session of its own at a batch priority, as the worker is.

    On a thread of the bench, each sample (psutil over some 60 processes, and page-table walks for PSS at a new
    peak) held the GIL its clients' event loop needs, and took a core from the API it measures: under the pipeline
    the slowest starts were sent while the bench's process was busy, as far apart as its samples (session 47). Its
    CPU still counts as the bench's own.
    The same ``stop``, ``summary`` and ``usage`` as ``ProcessSampler``; ``usage`` is filled in by ``stop``."""

    def __init__(self, groups: dict[str, list[int]], *, nice: int = CO_LOCATED_BATCH_NICE, **options: Any) -> None:
        context = multiprocessing.get_context("spawn")  # the bench runs threads and a loop: no fork
        self._conn, self._child_end = context.Pipe()
        self._process = context.Process(
            target=_sample_for_parent,
            args=(self._child_end, groups, nice, options),
            name="bench-sampler",
            daemon=True,
        )
        self.usage: dict[str, GroupUsage] = {name: GroupUsage() for name in groups}
        self.wall = 0.0
        self.machine_busy_seconds = 0.0
        self._stopped = False

    def __enter__(self) -> SamplerProcess:
        self._process.start()
        self._child_end.close()  # the child's now: should it die, our end reads EOF instead of waiting for ever
        if self._conn.recv() != READY:  # its opening sample taken: the phase may begin
            raise RuntimeError("the bench's sampler did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """End the phase here, as ``ProcessSampler.stop`` does (its closing sample, then its figures)."""
        if self._stopped:
            return
        self._stopped = True
        self._conn.send(STOP)
        self.usage, self.wall, self.machine_busy_seconds = self._conn.recv()
        self._process.join()

    def summary(self) -> dict[str, dict[str, float]]:
        return summarize(self.usage, wall=self.wall, machine_busy_seconds=self.machine_busy_seconds)


def _sample_for_parent(conn: Connection, groups: dict[str, list[int]], nice: int, options: dict[str, Any]) -> None:
    """The sampler's process: samples from ``READY`` until told to ``STOP`` (or its parent is gone), then sends
    what it measured, its own CPU counted as the bench's."""
    os.setsid()
    lower_priority(nice)
    own = psutil.Process()
    with ProcessSampler(groups, **options) as sampler:
        spent_before = cpu_seconds(own)
        conn.send(READY)
        try:
            conn.recv()
        except EOFError:
            return  # the bench is gone: no one to tell
    if BENCH_GROUP in sampler.usage:
        sampler.usage[BENCH_GROUP].cpu_seconds += cpu_seconds(own) - spent_before
    conn.send((sampler.usage, sampler.wall, sampler.machine_busy_seconds))
