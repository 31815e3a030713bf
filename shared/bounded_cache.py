"""A thread-safe LRU cache bounded both by bytes and by entries, for the worker's short-lived caches."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K")
V = TypeVar("V")

RECENT_ENTRIES = 256
"""A default entry bound: four times the 64 jobs the dispatcher keeps in flight.

The worker's caches serve a read that follows a write within seconds (extract after store,
validate after extract). With small bills a byte bound alone keeps thousands of entries that
nothing will read again: 32 MiB of 3 KB bills is ten thousand, and a 10,000-bill run grew the
worker by the two caches filling (~40 MB) where a few hundred entries serve every hit."""


class RecentCache(Generic[K, V]):
    """The last ``max_entries`` values put, up to ``max_bytes`` as ``getsizeof`` counts them.

    A value over a quarter of the byte budget is not kept, so one large upload does not flush
    every small bill; a miss just reads or parses again. Activities call it from several threads."""

    def __init__(self, *, max_bytes: int, getsizeof: Callable[[V], int], max_entries: int = RECENT_ENTRIES) -> None:
        self._items: LRUCache[K, V] = LRUCache(maxsize=max(1, max_bytes), getsizeof=getsizeof)
        self._max_value = max_bytes // 4
        self._max_entries = max(1, max_entries)
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return int(self._items.currsize)

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        if self._items.getsizeof(value) > self._max_value:
            return
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._max_entries:
                self._items.popitem()
