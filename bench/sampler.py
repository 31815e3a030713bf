"""CPU and memory of the stack's processes, sampled with psutil while a phase runs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil


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
    series: list[tuple[float, float, float, float]] = field(default_factory=list)
    """(seconds since start, CPU %, summed RSS MB, largest root's RSS MB) per sample: whether memory
    levels off or keeps growing over a long run shows here, not in the peaks."""

    def summary(self, wall: float) -> dict[str, float]:
        return {
            "cpu_pct_avg": round(100 * self.cpu_seconds / wall, 1) if wall > 0 else 0.0,
            "cpu_seconds": round(self.cpu_seconds, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "peak_tree_rss_mb": round(self.peak_tree_rss_mb, 1),
            "peak_root_rss_mb": round(self.peak_root_rss_mb, 1),
        }


CREATE_TIME_SLACK_SECONDS = 2.0


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
    # Not children_*: children are sampled themselves, and a reaped child's time would count twice.
    times = proc.cpu_times()
    return float(times.user + times.system)


class ProcessSampler:
    """Samples every ``interval`` seconds on a thread until stopped; CPU is exact (cpu_times deltas)."""

    def __init__(
        self, groups: dict[str, list[int]], *, flat: frozenset[str] = frozenset({"bench"}), interval: float = 0.5
    ) -> None:
        self._flat = flat  # groups measured without children: the bench process is every service's parent
        self._roots = {
            name: [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)] for name, pids in groups.items()
        }
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._last: dict[int, float] = {}
        self._cache: dict[int, psutil.Process] = {}
        self.usage = {name: GroupUsage() for name in groups}
        self.started = 0.0
        self._opened_at = 0.0
        self.wall = 0.0
        self._machine = 0.0
        self.machine_busy_seconds = 0.0

    def __enter__(self) -> ProcessSampler:
        self._machine = _busy_seconds()
        self.started = time.monotonic()
        self._opened_at = time.time()
        self._sample(record=False)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(record=True)
        self.wall = time.monotonic() - self.started
        self.machine_busy_seconds = _busy_seconds() - self._machine

    def summary(self) -> dict[str, dict[str, float]]:
        """Per group, plus ``machine``: every core's busy time, and how much of it was not ours
        (other sessions' tests on a shared machine show up there)."""
        groups = {name: usage.summary(self.wall) for name, usage in self.usage.items()}
        ours = sum(u.cpu_seconds for u in self.usage.values())
        wall = max(self.wall, 1e-9)
        groups["machine"] = {
            "busy_pct": round(100 * self.machine_busy_seconds / wall, 1),
            "outside_bench_pct": round(100 * max(0.0, self.machine_busy_seconds - ours) / wall, 1),
            "cores": float(psutil.cpu_count() or 0),
        }
        return groups

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
            delta = 0.0
            rss_total = 0.0
            root_rss = 0.0
            for root in roots:
                rss_tree = 0.0
                for proc in [root] if name in self._flat else process_tree(root):
                    proc = self._cache.setdefault(proc.pid, proc)  # cpu_times of the same object
                    try:
                        seconds = cpu_seconds(proc)
                        rss = proc.memory_info().rss / 2**20
                    except psutil.Error:
                        continue
                    rss_tree += rss
                    if proc.pid == root.pid:
                        root_rss = max(root_rss, rss)
                    last = self._last.get(proc.pid)
                    delta += seconds - (self._before_phase(proc, seconds, record=record) if last is None else last)
                    self._last[proc.pid] = seconds
                rss_total += rss_tree
                usage.peak_tree_rss_mb = max(usage.peak_tree_rss_mb, rss_tree)
            usage.peak_rss_mb = max(usage.peak_rss_mb, rss_total)
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
