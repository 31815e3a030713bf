"""Per-key rate limits for expensive calls (job starts, uploads): a token bucket in memory.

Each API process keeps its own buckets; with N API processes the effective
limit is N times the configured one (documented in README).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[tuple[int, str], _Bucket] = {}

    def acquire(self, key_id: int, action: str, *, per_minute: int) -> float | None:
        """Take a token; returns None when allowed, else the seconds to wait (Retry-After)."""
        if per_minute <= 0:
            return None
        now = time.monotonic()
        rate = per_minute / 60.0
        bucket = self._buckets.setdefault((key_id, action), _Bucket(tokens=float(per_minute), updated=now))
        bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1.0, math.ceil((1.0 - bucket.tokens) / rate))
