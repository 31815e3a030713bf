"""``api.recent_keys``: how long an API process trusts a key it found, never past the key's expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.auth import Principal, Role
from api.recent_keys import RecentKeys

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.seconds = 100.0

    def __call__(self) -> float:
        return self.seconds


def principal(key_hash: str, expires_at: datetime | None = None) -> Principal:
    return Principal(key_id=1, name="k", role=Role.VIEWER, customer_id=None, key_hash=key_hash, expires_at=expires_at)


def test_a_key_is_trusted_for_its_seconds_then_looked_up_again() -> None:
    clock = Clock()
    keys = RecentKeys(1.0, clock=clock, now=lambda: NOW)
    found = principal("h1")
    keys.remember(found, keys.moment())
    clock.seconds += 0.99
    assert keys.get("h1") is found
    clock.seconds += 0.02
    assert keys.get("h1") is None and len(keys) == 0, "forgotten once its second is over"
    assert keys.get("h2") is None


def test_a_key_is_never_trusted_past_its_expiry() -> None:
    clock = Clock()
    keys = RecentKeys(1.0, clock=clock, now=lambda: NOW)
    keys.remember(principal("soon", expires_at=NOW + timedelta(seconds=0.25)), keys.moment())
    keys.remember(principal("gone", expires_at=NOW - timedelta(seconds=1)), keys.moment())
    clock.seconds += 0.2
    assert keys.get("soon") is not None
    clock.seconds += 0.1
    assert keys.get("soon") is None, "its expiry came before the second was over"
    assert keys.get("gone") is None, "an expired key is not remembered at all"


def test_the_second_counts_from_before_the_lookup() -> None:
    """A lookup that waited (for a pooled connection, for the key's last-use write) stretched the time a key revoked
    during it was served: its second began once the lookup was over (a review of session 70's change, 70C)."""
    clock = Clock()
    keys = RecentKeys(1.0, clock=clock, now=lambda: NOW)
    looked_up_at = keys.moment()
    clock.seconds += 0.7  # the lookup's wait
    keys.remember(principal("slow"), looked_up_at)
    clock.seconds += 0.31
    assert keys.get("slow") is None
    late = keys.moment()
    clock.seconds += 1.5  # a lookup that outlasted the second is not remembered at all
    keys.remember(principal("late"), late)
    assert keys.get("late") is None and len(keys) == 0


def test_zero_seconds_remembers_nothing_and_memory_is_bounded() -> None:
    clock = Clock()
    off = RecentKeys(0.0, clock=clock, now=lambda: NOW)
    off.remember(principal("h"), off.moment())
    assert off.get("h") is None and len(off) == 0
    keys = RecentKeys(1.0, clock=clock, now=lambda: NOW)
    for n in range(RecentKeys.MAX_REMEMBERED + 10):
        keys.remember(principal(f"h{n}"), keys.moment())
    assert len(keys) == RecentKeys.MAX_REMEMBERED
    assert keys.get("h0") is None and keys.get(f"h{RecentKeys.MAX_REMEMBERED + 9}") is not None
