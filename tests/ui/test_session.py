"""The in-memory session store: expiry, bounds, and CSRF tokens bound to one session."""

from __future__ import annotations

from api.ui.session import SessionStore, login_binding, session_binding


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_expire_and_can_be_dropped() -> None:
    clock = Clock()
    store = SessionStore(ttl_seconds=60, clock=clock)
    session = store.create("mm_key")
    assert store.get(session.id) is session
    clock.now += 61
    assert store.get(session.id) is None
    again = store.create("mm_key")
    store.drop(again.id)
    assert store.get(again.id) is None
    assert store.get(None) is None and store.get("") is None


def test_each_sign_in_gets_a_new_id_and_the_oldest_are_evicted() -> None:
    store = SessionStore(max_sessions=2)
    first, second, third = (store.create("mm_key") for _ in range(3))
    assert len({first.id, second.id, third.id}) == 3
    assert store.get(first.id) is None and store.get(third.id) is third
    assert "mm_key" not in repr(third), "the key never shows in logs"


def test_csrf_tokens_are_bound_to_one_session_and_one_store() -> None:
    store, other = SessionStore(), SessionStore()
    a, b = store.create("k"), store.create("k")
    token = store.csrf_token(session_binding(a))
    assert store.csrf_valid(session_binding(a), token)
    assert not store.csrf_valid(session_binding(b), token)
    assert not other.csrf_valid(session_binding(a), token), "a restart invalidates old forms"
    assert not store.csrf_valid(login_binding(a.id), token)
    assert not store.csrf_valid(session_binding(a), None)
    assert not store.csrf_valid(session_binding(a), "")


def test_flashes_show_once() -> None:
    session = SessionStore().create("k")
    session.flashes.append("done")
    assert session.pop_flashes() == ["done"]
    assert session.pop_flashes() == []
