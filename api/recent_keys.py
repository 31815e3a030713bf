"""Each API process remembers, for a second, the keys it found: a burst of requests under one key asks Postgres once.

Every request looked its key up (``api.auth.KEY_BY_HASH``): a statement of the two a job start costs, 14% of the
API's CPU a start and one more round trip to Postgres (``bench.api_alone``, session 70). A key revoked or expired
is then refused within ``API_KEY_CACHE_SECONDS`` (1 s by default; 0 asks Postgres every time), by every process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from api.auth import Principal


class RecentKeys:
    """The principals of keys found within the last ``seconds``, by key hash; never past a key's ``expires_at``."""

    MAX_REMEMBERED = 1024
    """Keys remembered at most, the longest-remembered forgotten first: forgetting one costs one lookup."""

    def __init__(
        self,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._now = now
        self._found: dict[str, tuple[Principal, float]] = {}
        """Each key's principal and until when (``clock``'s time) it stands, in the order found."""

    def __len__(self) -> int:
        return len(self._found)

    def get(self, key_hash: str) -> Principal | None:
        """The principal found for ``key_hash`` within its time, else None (look it up)."""
        found = self._found.get(key_hash)
        if found is None:
            return None
        principal, until = found
        if self._clock() < until:
            return principal
        del self._found[key_hash]
        return None

    def moment(self) -> float:
        """Now, as ``remember`` takes it: read before the lookup, so the time the lookup took counts."""
        return self._clock()

    def remember(self, principal: Principal, looked_up_at: float) -> None:
        """``principal``, looked up at ``looked_up_at`` (``moment``), for ``seconds`` from then or until its key
        expires, whichever comes first: a lookup that waited (for a pooled connection, for the key's last-use write)
        does not stretch the time a revoked key is served."""
        if self._seconds <= 0 or not principal.key_hash:
            return
        until = looked_up_at + self._seconds
        if principal.expires_at is not None:
            until = min(until, self._clock() + (principal.expires_at - self._now()).total_seconds())
        if until <= self._clock():
            return
        self._found.pop(principal.key_hash, None)  # put back last, so the order stays the order found
        while len(self._found) >= self.MAX_REMEMBERED:
            del self._found[next(iter(self._found))]
        self._found[principal.key_hash] = (principal, until)
