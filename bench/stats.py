"""Small statistics over a run's timings: percentiles, throughput, per-second series."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def distribution(values: Sequence[float], *, digits: int = 1) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50": round(percentile(ordered, 50), digits),
        "p95": round(percentile(ordered, 95), digits),
        "p99": round(percentile(ordered, 99), digits),
        "max": round(ordered[-1], digits),
        "mean": round(sum(ordered) / len(ordered), digits),
    }


def per_second(offsets: Sequence[float]) -> list[int]:
    """How many events fell in each whole second after the origin (offsets in seconds)."""
    if not offsets:
        return []
    counts = [0] * (int(max(offsets)) + 1)
    for offset in offsets:
        counts[max(0, int(offset))] += 1
    return counts


@dataclass(frozen=True)
class Span:
    """A phase's makespan: first start to last completion, in seconds since the epoch."""

    first_start: float
    last_finish: float

    @property
    def seconds(self) -> float:
        return max(self.last_finish - self.first_start, 1e-9)

    def rate(self, count: int) -> float:
        return count / self.seconds
