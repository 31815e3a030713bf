"""An LRU cache bounded both by bytes and by entries, for the worker's short-lived caches."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cachetools import LRUCache

K = TypeVar("K")
V = TypeVar("V")

RECENT_ENTRIES = 256
"""A default entry bound: four times the 64 jobs the dispatcher keeps in flight.

The worker's caches serve a read that follows a write within seconds (extract after store,
validate after extract). With small bills a byte bound alone keeps thousands of entries that
nothing will read again: 32 MiB of 3 KB bills is ten thousand, and a 10,000-bill run grew the
worker by the two caches filling (~40 MB) where a few hundred entries serve every hit."""


class BoundedLRU(LRUCache[K, V]):
    """``LRUCache`` sized by ``getsizeof`` up to ``max_bytes``, and holding at most ``max_entries``."""

    def __init__(self, *, max_bytes: int, max_entries: int, getsizeof: Callable[[V], int]) -> None:
        super().__init__(maxsize=max(1, max_bytes), getsizeof=getsizeof)
        self.max_entries = max(1, max_entries)

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        while len(self) > self.max_entries:
            self.popitem()
