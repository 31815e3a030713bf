"""The Postgres session store: expiry, nothing secret at rest, and one view for every API process."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import asyncpg
import pytest
from starlette.requests import Request

from api.auth import hash_key
from api.ui.session import (
    SESSION_COOKIE,
    SessionStore,
    login_binding,
    login_token_age,
    read_cookie,
    session_binding,
)
from shared.settings import Environment
from worker.resources import Resources


def new_key() -> str:
    return f"mm_test_{uuid.uuid4().hex}"


async def sessions_of(pool: asyncpg.Pool, key: str) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM ui_sessions WHERE key_hash = $1", hash_key(key)))


async def test_sessions_expire_and_expired_rows_go_at_the_next_sign_in(resources: Resources) -> None:
    key = new_key()
    short = await SessionStore.open(resources.pool, ttl_seconds=0)
    expired = await short.create(key)
    assert await short.get(expired.id) is None
    assert await sessions_of(resources.pool, key) == 1
    store = await SessionStore.open(resources.pool, ttl_seconds=60)
    live = await store.create(key)
    assert await sessions_of(resources.pool, key) == 1, "the expired row is gone"
    got = await store.get(live.id)
    assert got is not None and got.key_hash == hash_key(key)
    assert await store.get(None) is None and await store.get("") is None and await store.get("nope") is None


async def test_each_sign_in_gets_a_new_id_and_logout_drops_only_that_one(resources: Resources) -> None:
    key = new_key()
    store = await SessionStore.open(resources.pool)
    first, second = await store.create(key), await store.create(key)
    assert first.id != second.id
    await store.drop(first.id)
    assert await store.get(first.id) is None and await store.get(second.id) is not None
    assert key not in repr(second) and second.id not in repr(second), "neither shows in logs"


async def test_neither_the_session_id_nor_the_key_is_stored(resources: Resources) -> None:
    key = new_key()
    store = await SessionStore.open(resources.pool)
    session = await store.create(key)
    rows = await resources.pool.fetch("SELECT * FROM ui_sessions WHERE key_hash = $1", hash_key(key))
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    assert session.id not in stored and key not in stored


async def test_another_process_sees_the_session_and_accepts_its_csrf_token(
    resources: Resources, other_process_pool: asyncpg.Pool
) -> None:
    here, there = await SessionStore.open(resources.pool), await SessionStore.open(other_process_pool)
    session = await here.create(new_key())
    seen = await there.get(session.id)
    assert seen is not None and seen.key_hash == session.key_hash
    token = here.csrf_token(session_binding(session))
    assert there.csrf_valid(session_binding(seen), token)
    await there.drop(session.id)
    assert await here.get(session.id) is None, "logout in one process ends the session in all"


async def test_csrf_tokens_are_bound_to_one_session_or_one_sign_in_form(resources: Resources) -> None:
    store = await SessionStore.open(resources.pool)
    a, b = await store.create(new_key()), await store.create(new_key())
    token = store.csrf_token(session_binding(a))
    assert store.csrf_valid(session_binding(a), token)
    assert not store.csrf_valid(session_binding(b), token)
    assert not store.csrf_valid(login_binding(a.id, 0), token)
    assert not store.csrf_valid(session_binding(a), None)
    assert not store.csrf_valid(session_binding(a), "")
    assert not SessionStore(resources.pool, b"another secret").csrf_valid(session_binding(a), token)


async def test_flashes_show_once_in_order(resources: Resources) -> None:
    store = await SessionStore.open(resources.pool)
    session, other = await store.create(new_key()), await store.create(new_key())
    await store.flash(session, "first")
    await store.flash(session, "second")
    await store.flash(session, "first")  # the same decision answered again: said once
    assert await store.pop_flashes(other) == []
    assert await store.pop_flashes(session) == ["first", "second"]
    assert await store.pop_flashes(session) == []


def local_request(*cookie_headers: bytes) -> Request:
    """A plain-HTTP localhost request in development, where the session cookie is ``mm_session``."""
    settings = SimpleNamespace(env=Environment.DEVELOPMENT)
    app = SimpleNamespace(state=SimpleNamespace(minimeter=SimpleNamespace(settings=settings)))
    headers = [(b"host", b"127.0.0.1:8000"), *((b"cookie", value) for value in cookie_headers)]
    scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/ui", "query_string": b"", "headers": headers}
    return Request(scope | {"app": app})


@pytest.mark.parametrize(
    ("cookie_headers", "read"),
    [
        ((b"a=1; mm_session=own; b=2",), "own"),
        ((b"mm_session_x=1;\tmm_session=own ",), "own"),
        ((b"",), None),
        ((b"mm_session=own; mm_session=tossed",), None),
        ((b"mm_session=own", b"mm_session=tossed"), None),
        ((b"mm_session=own; \xa0mm_session=tossed",), None),
        ((b"\x85mm_session=tossed; mm_session=own",), None),
        ((b"mm_session=own; \x1fmm_session=tossed",), None),
        ((b"mm_session=own; MM_Session=tossed",), None),
        ((b"\xa0mm_session=tossed",), None),
    ],
    ids=[
        "among-others",
        "spaces-and-tabs-trimmed",
        "absent",
        "sent-twice",
        "in-two-headers",
        "nbsp-look-alike",
        "nel-look-alike-first",
        "control-look-alike",
        "case-look-alike",
        "look-alike-alone",
    ],
)
def test_a_cookie_is_read_by_its_exact_name_and_not_at_all_beside_a_look_alike(
    cookie_headers: tuple[bytes, ...], read: str | None
) -> None:
    """Another page of the site can set a name Starlette's parser would take for ours (it ``str.strip()``s
    names, keeps the last of two): then there is no session, rather than perhaps the other page's."""
    assert read_cookie(local_request(*cookie_headers), SESSION_COOKIE) == read


async def test_a_sign_in_token_tells_its_age_only_for_its_own_nonce_and_issue_time(resources: Resources) -> None:
    """A form's age is read from its token, so a token whose issue time is rewritten (to make an old form young)
    or that another nonce's form carried says nothing."""
    store = await SessionStore.open(resources.pool)
    token = store.login_token("nonce-a", issued_at=1_000)
    issued, _, mac = token.partition(".")
    age = login_token_age(store.login_token_issued_at("nonce-a", token))
    assert issued == "1000" and age is not None and age > 1_000
    assert login_token_age(store.login_token_issued_at("nonce-b", token)) is None
    assert login_token_age(store.login_token_issued_at("nonce-a", f"9999999999.{mac}")) is None
    assert login_token_age(store.login_token_issued_at("nonce-a", mac)) is None
    assert login_token_age(store.login_token_issued_at("nonce-a", None)) is None


async def test_a_sign_in_token_issued_ahead_past_a_clocks_skew_or_with_non_ascii_text_is_not_ours(
    resources: Resources,
) -> None:
    """A token issued an hour from now would sign in for two: not ours. One issued seconds ahead is (clocks of
    the app's instances differ a little). Non-ASCII text, which a form may post, is not ours either."""
    store = await SessionStore.open(resources.pool)
    now = int(time.time())
    an_hour_ahead = store.login_token("nonce-a", issued_at=now + 3600)
    assert login_token_age(store.login_token_issued_at("nonce-a", an_hour_ahead)) is None
    skewed = login_token_age(store.login_token_issued_at("nonce-a", store.login_token("nonce-a", issued_at=now + 30)))
    assert skewed is not None and skewed < 0
    issued = store.login_token("nonce-a").partition(".")[0]
    assert login_token_age(store.login_token_issued_at("nonce-a", f"{issued}.é")) is None
    assert not store.csrf_valid(login_binding("nonce-a", 0), "é")
