"""When each API key was last used, kept to the minute and written once a minute however busy the key is."""

from __future__ import annotations

import time
from collections.abc import Callable

LAST_USE_RESOLUTION_SECONDS = 60
"""A key's ``last_used_at`` is kept to the minute: a request writes it only when it is older than that."""

RECORD_LAST_USE = (
    "UPDATE api_keys SET last_used_at = now() WHERE id = $1"
    f" AND (last_used_at IS NULL OR last_used_at < now() - interval '{LAST_USE_RESOLUTION_SECONDS} seconds')"
)
"""Conditional, so of the requests that found the key stale at once in several processes, the first writes
and the others, once its row lock is theirs, find it fresh and write nothing."""


class LastUseWrites:
    """The keys whose last use this process wrote within the resolution, so a burst writes it once.

    Every request that found its key stale used to write it: the 32 requests a fresh benchmark sends
    together on a new key made 32 updates of one row, each waiting for the one before it to commit, and the
    same again every minute from the requests in flight on a busy key. 32 starts sent together to a fresh API
    (no worker, two runs each) cost Postgres 46 and 49 ms of CPU on a new key, 31 and 36 on one used before.
    """

    MAX_REMEMBERED = 1024
    """Keys remembered at most, the longest-written forgotten first. Forgetting one costs at most a conditional
    update that writes nothing: whether a request writes is still the key's row's to say (``stale``)."""

    def __init__(
        self, *, seconds: float = LAST_USE_RESOLUTION_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._written: dict[str, float] = {}
        """In the order written, oldest first."""

    def __len__(self) -> int:
        return len(self._written)

    def claim(self, key_hash: str) -> bool:
        """True for the one request that is to write this key's last use now (``release`` it if that fails)."""
        now = self._clock()
        written = self._written.get(key_hash)
        if written is not None and now - written < self._seconds:
            return False
        self._written.pop(key_hash, None)  # put back last, so the order stays the order written
        while len(self._written) >= self.MAX_REMEMBERED:
            del self._written[next(iter(self._written))]
        self._written[key_hash] = now
        return True

    def release(self, key_hash: str) -> None:
        self._written.pop(key_hash, None)


LAST_USE_WRITES = LastUseWrites()
"""This process's: keyed by the key's hash, unique to the key for good, so a process serving several
databases (the tests) never skips one key's write for another's."""
