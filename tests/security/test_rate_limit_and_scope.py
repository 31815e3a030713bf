"""Per-key rate limits on starts and uploads (one budget across API processes); idempotency keys per API key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from api.auth import Principal, Role, create_key
from api.main import create_app
from api.ratelimit import RateLimiter
from api.routes import jobs as job_routes
from api.services.connector_jobs import START_JOB_ACTION, checked_account
from api.state import AppState
from shared.artifacts import ArtifactStore, ArtifactStoreMisconfigured, ArtifactStoreUnavailable
from shared.models import ArtifactRef
from shared.settings import Settings
from tests.helpers import create_account, serve
from worker.resources import Resources


@pytest.fixture(scope="module")
async def limited_url(app_settings: Settings, worker: object) -> AsyncIterator[str]:
    """The same app with a budget of 3 starts a minute per key."""
    async with serve(create_app(app_settings.model_copy(update={"rate_limit_per_minute": 3}))) as url:
        yield url


async def account_and_key(
    http: httpx.AsyncClient, resources: Resources, name: str, unique: str
) -> tuple[dict[str, Any], str]:
    """A new PG&E account numbered ``{name}-{unique}`` and a new ingest key, ``{name.lower()}-{unique}``."""
    account = await create_account(http, provider="pge", account_number=f"{name}-{unique}")
    key = (await create_key(resources.pool, name=f"{name.lower()}-{unique}", role=Role.INGEST)).key
    return account, key


async def test_job_starts_past_the_budget_get_429_with_retry_after(
    limited_url: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    account, key = await account_and_key(http, resources, "RL", unique)
    other = (await create_key(resources.pool, name=f"rl2-{unique}", role=Role.INGEST)).key
    async with httpx.AsyncClient(base_url=limited_url, headers={"Authorization": f"Bearer {key}"}) as c:
        codes = [(await c.post("/jobs", json={"utility_account_id": account["id"]})).status_code for _ in range(4)]
        assert codes == [201, 201, 201, 429]
        refused = await c.post("/jobs", json={"utility_account_id": account["id"]})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["content-type"] == "application/problem+json"
        upload = await c.post(
            "/bills",
            files={"file": ("b.txt", b"hello bill", "text/plain")},
            data={"utility_account_id": str(account["id"])},
        )
        assert upload.status_code != 429  # uploads have their own budget
    async with httpx.AsyncClient(base_url=limited_url, headers={"Authorization": f"Bearer {other}"}) as c:
        assert (await c.post("/jobs", json={"utility_account_id": account["id"]})).status_code == 201


async def test_the_budget_refills_over_time(resources: Resources, unique: str) -> None:
    limiter, key_id = RateLimiter(resources.pool), _key_id(unique)
    assert [await limiter.acquire(key_id, "x", per_minute=2) for _ in range(3)] == [None, None, 30]
    await _age_bucket(resources, key_id, seconds=15)  # half a token back: not enough yet
    assert await limiter.acquire(key_id, "x", per_minute=2) == 15
    await _age_bucket(resources, key_id, seconds=15)
    assert await limiter.acquire(key_id, "x", per_minute=2) is None
    assert await limiter.acquire(key_id, "y", per_minute=2) is None, "each action has its own budget"
    assert await limiter.acquire(key_id, "x", per_minute=0) is None, "0 turns the limit off"


async def test_api_processes_share_one_budget(
    resources: Resources, other_process_pool: asyncpg.Pool, unique: str
) -> None:
    """Two limiters on two pools, as two API processes have: together they allow the budget once."""
    here, there, key_id = RateLimiter(resources.pool), RateLimiter(other_process_pool), _key_id(unique)
    outcomes = await asyncio.gather(*(limiter.acquire(key_id, "start", per_minute=5) for limiter in [here, there] * 5))
    assert outcomes.count(None) == 5, outcomes


def _key_id(unique: str) -> int:
    """A key id no other test uses (buckets need no api_keys row)."""
    return int(unique, 16) % 2**62 + 2**40


async def _age_bucket(resources: Resources, key_id: int, *, seconds: int) -> None:
    await resources.pool.execute(
        "UPDATE rate_limit_buckets SET updated_at = updated_at - make_interval(secs => $2) WHERE key_id = $1",
        key_id,
        seconds,
    )


async def test_idempotency_keys_are_scoped_per_api_key(
    api_url: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    account = await create_account(http, provider="coned", account_number=f"SC-{unique}")
    keys = [(await create_key(resources.pool, name=f"scope-{i}-{unique}", role=Role.INGEST)).key for i in range(2)]
    ids = []
    for key in keys:
        async with httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {key}"}) as c:
            response = await c.post(
                "/jobs", json={"utility_account_id": account["id"]}, headers={"Idempotency-Key": f"same-{unique}"}
            )
            assert response.status_code == 201
            ids.append(response.json()["id"])
    assert ids[0] != ids[1]


async def test_a_retried_start_is_answered_even_past_the_budget(
    limited_url: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A client whose 201 was lost sends the start again under its Idempotency-Key: it gets its job, not a 429."""
    account, key = await account_and_key(http, resources, "RLR", unique)
    async with httpx.AsyncClient(base_url=limited_url, headers={"Authorization": f"Bearer {key}"}) as c:
        body = {"utility_account_id": account["id"]}
        first = await c.post("/jobs", json=body, headers={"Idempotency-Key": f"once-{unique}"})
        assert [(await c.post("/jobs", json=body)).status_code for _ in range(3)] == [201, 201, 429]

        again = await c.post("/jobs", json=body, headers={"Idempotency-Key": f"once-{unique}"})
        assert (first.status_code, again.status_code) == (201, 200), again.text
        assert again.json()["id"] == first.json()["id"]
        fresh = await c.post("/jobs", json=body, headers={"Idempotency-Key": f"new-{unique}"})
        assert fresh.status_code == 429, "a key never used is a new start: the budget applies"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
async def test_a_key_refused_a_limited_route_gets_403_and_spends_no_token(
    role: Role, limited_url: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Authenticate, authorize, then rate limit: past the budget a forbidden call is still a 403, never a 429."""
    account = await create_account(http, provider="pge", account_number=f"RLF-{role}-{unique}")
    created = await create_key(resources.pool, name=f"rlf-{role}-{unique}", role=role)
    body = {"utility_account_id": account["id"]}
    async with httpx.AsyncClient(base_url=limited_url, headers={"Authorization": f"Bearer {created.key}"}) as c:
        for _ in range(5):  # the budget is 3 a minute
            for refused in [
                await c.post("/jobs", json=body),
                await c.post("/agent/run", params=body),
                await c.post("/ingest/run", json=body),
                await c.post("/bills", files={"file": ("b.txt", b"a bill", "text/plain")}, data=body),
            ]:
                assert refused.status_code == 403, (refused.request.url, refused.text)
    spent = await resources.pool.fetchval("SELECT count(*) FROM rate_limit_buckets WHERE key_id = $1", created.id)
    assert spent == 0, "a refused call took a token"


async def test_malformed_calls_spend_no_token(
    limited_url: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A 422 or a 415 starts nothing: a client's malformed calls leave its whole budget for the calls it gets right."""
    account = await create_account(http, provider="pge", account_number=f"RLM-{unique}")
    no_provider = await create_account(http, provider=None, account_number=f"RLN-{unique}")
    created = await create_key(resources.pool, name=f"rlm-{unique}", role=Role.INGEST)
    body = {"utility_account_id": account["id"]}
    bill = {"file": ("b.txt", b"Total due $1.00", "text/plain")}
    async with httpx.AsyncClient(base_url=limited_url, headers={"Authorization": f"Bearer {created.key}"}) as c:
        for _ in range(5):  # the budget is 3 a minute
            for malformed, refused_with in [
                (await c.post("/jobs", json={"utility_account_id": "one"}), 422),
                (await c.post("/jobs", json=body, headers={"Idempotency-Key": ""}), 422),
                (await c.post("/jobs", json={"utility_account_id": no_provider["id"]}), 422),
                (await c.post("/agent/run", params={"utility_account_id": 0}), 422),
                (await c.post("/ingest/run", json={}), 422),
                (await c.post("/bills", data=body), 415),  # a form with no file: no multipart body
                (await c.post("/bills", files={"file": ("b.txt", b"", "text/plain")}, data=body), 422),
                (await c.post("/bills", files=[("file", bill["file"]), ("file", bill["file"])], data=body), 422),
            ]:
                assert malformed.status_code == refused_with, (malformed.request.url, malformed.text)
        spent = await resources.pool.fetchval("SELECT count(*) FROM rate_limit_buckets WHERE key_id = $1", created.id)
        assert spent == 0, "a malformed call took a token"
        assert [(await c.post("/jobs", json=body)).status_code for _ in range(3)] == [201, 201, 201]
        assert [(await c.post("/bills", files=bill, data=body)).status_code for _ in range(3)] == [201, 201, 201]


@pytest.fixture(scope="module")
async def two_a_minute_url(app_settings: Settings, worker: object) -> AsyncIterator[str]:
    """A budget of 2 starts a minute per key, and uploads of at most 4 KiB (a 413 costs 4 KiB, not 20 MB)."""
    settings = app_settings.model_copy(update={"rate_limit_per_minute": 2, "upload_max_bytes": 4096})
    async with serve(create_app(settings)) as url:
        yield url


async def test_uploads_refused_before_anything_is_stored_spend_no_token(
    two_a_minute_url: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A 413, a 415, a key reused for another file and a replay store nothing: the budget is left for uploads."""
    account, key = await account_and_key(http, resources, "RLU", unique)
    body = {"utility_account_id": account["id"]}

    def bill(text: bytes) -> dict[str, tuple[str, bytes, str]]:
        return {"file": ("b.txt", text, "text/plain")}

    async with httpx.AsyncClient(base_url=two_a_minute_url, headers={"Authorization": f"Bearer {key}"}) as c:
        keyed = {"Idempotency-Key": f"up-{unique}"}
        first = await c.post("/bills", files=bill(b"Total due $1.00"), data=body, headers=keyed)
        assert first.status_code == 201, first.text
        for _ in range(3):
            refused = [
                await c.post("/bills", files=bill(b"x" * 4097), data=body),
                await c.post("/bills", files=bill(b"\x00\x01\x02 not a bill"), data=body),
                await c.post("/bills", files=bill(b"Total due $2.00"), data=body, headers=keyed),
            ]
            assert [r.status_code for r in refused] == [413, 415, 422], [r.text for r in refused]
            replay = await c.post("/bills", files=bill(b"Total due $1.00"), data=body, headers=keyed)
            assert (replay.status_code, replay.json()["id"]) == (200, first.json()["id"])

        second = await c.post("/bills", files=bill(b"Total due $3.00"), data=body)
        assert second.status_code == 201, "the refused calls and the replays took the budget's second token"
        assert (await c.post("/bills", files=bill(b"Total due $4.00"), data=body)).status_code == 429


async def test_a_job_start_under_a_reused_key_spends_no_token(
    two_a_minute_url: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The Idempotency-Key of one account's start sent for another account is a 422, and costs the budget nothing."""
    account, key = await account_and_key(http, resources, "RLK", unique)
    other = await create_account(http, provider="pge", account_number=f"RLO-{unique}")
    keyed = {"Idempotency-Key": f"run-{unique}"}
    async with httpx.AsyncClient(base_url=two_a_minute_url, headers={"Authorization": f"Bearer {key}"}) as c:
        first = await c.post("/jobs", json={"utility_account_id": account["id"]}, headers=keyed)
        assert first.status_code == 201, first.text
        for _ in range(3):
            reused = await c.post("/jobs", json={"utility_account_id": other["id"]}, headers=keyed)
            assert reused.status_code == 422, reused.text
            replay = await c.post("/jobs", json={"utility_account_id": account["id"]}, headers=keyed)
            assert (replay.status_code, replay.json()["id"]) == (200, first.json()["id"])

        second = await c.post("/jobs", json={"utility_account_id": account["id"]})
        assert second.status_code == 201, "the reused key and the replays took the budget's second token"
        assert (await c.post("/jobs", json={"utility_account_id": account["id"]})).status_code == 429


async def test_without_a_budget_the_insert_answers_a_retry_and_a_reused_key(
    app_settings: Settings,
    worker: object,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RATE_LIMIT_PER_MINUTE=0 (a gateway limits) has no token to keep, so a start does not look its key up before
    inserting: the insert's conflict answers a retry with its job and a key reused for another account with a 422."""
    looked_up_first: list[str | None] = []

    async def counted(
        pool: asyncpg.Pool, settings: Settings, *, principal: Principal, account_id: int, key: str | None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        looked_up_first.append(key)
        return await checked_account(pool, settings, principal=principal, account_id=account_id, key=key)

    monkeypatch.setattr(job_routes, "checked_account", counted)  # the route's own checks (a budget's, after its insert)
    account, key = await account_and_key(http, resources, "RL0", unique)
    other = await create_account(http, provider="pge", account_number=f"RL0O-{unique}")
    keyed = {"Idempotency-Key": f"unlimited-{unique}"}
    async with app_with_budget(app_settings, key, per_minute=0) as (c, _state):
        first = await c.post("/jobs", json={"utility_account_id": account["id"]}, headers=keyed)
        again = await c.post("/jobs", json={"utility_account_id": account["id"]}, headers=keyed)
        reused = await c.post("/jobs", json={"utility_account_id": other["id"]}, headers=keyed)

    assert (first.status_code, again.status_code, again.json()["id"]) == (201, 200, first.json()["id"]), again.text
    assert reused.status_code == 422 and "already used for a different request" in reused.text, reused.text
    jobs = await resources.pool.fetchval(
        "SELECT count(*) FROM ingestion_jobs WHERE idempotency_key = $1", keyed["Idempotency-Key"]
    )
    assert jobs == 1
    assert looked_up_first == [], "a start without a budget looked its key up before inserting"


@asynccontextmanager
async def app_with_budget(
    settings: Settings, key: str, *, per_minute: int
) -> AsyncIterator[tuple[httpx.AsyncClient, AppState]]:
    """A served app of the test's own, allowing ``per_minute`` starts a minute per key, with its state (for the test
    to swap parts of) and a client of it sending ``key``."""
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": per_minute}))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
        state: AppState = app.state.minimeter
        yield c, state


def numbered_bill(n: int) -> dict[str, tuple[str, bytes, str]]:
    """A small text bill, its bytes different for each ``n``."""
    return {"file": ("b.txt", f"Total due ${n}.00".encode(), "text/plain")}


class StorageDown:
    """The API's artifact store while ``down``: every write refused with ``error``, as a GCS outage (or a
    revoked key) refuses it."""

    def __init__(self, store: ArtifactStore, error: Exception) -> None:
        self._store = store
        self._error = error
        self.down = True

    def put_once(self, **kwargs: Any) -> ArtifactRef:
        if self.down:
            raise self._error
        return self._store.put_once(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ArtifactStoreUnavailable("object storage answered 503"), 503),
        (ArtifactStoreMisconfigured("object storage refused MiniMeter's credentials"), 500),
    ],
)
async def test_an_upload_refused_because_storage_is_down_spends_no_token(
    app_settings: Settings,
    worker: object,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
    error: Exception,
    status: int,
) -> None:
    """The 503 says the bill was not stored and to send it again: sent again, it must not find its token spent.
    Nor after a 500 for refused credentials, sent again once an operator has mended them."""
    account, key = await account_and_key(http, resources, "RLS", unique)
    body = {"utility_account_id": account["id"]}

    async with app_with_budget(app_settings, key, per_minute=2) as (c, state):
        storage = StorageDown(state.store, error)
        state.store = storage
        refused = [await c.post("/bills", files=numbered_bill(n), data=body) for n in (1, 2)]
        assert [r.status_code for r in refused] == [status, status], [r.text for r in refused]

        storage.down = False
        sent_again = [(await c.post("/bills", files=numbered_bill(n), data=body)).status_code for n in (1, 2, 3)]
        assert sent_again == [201, 201, 429], "the two 503s gave their tokens back, and no more than those"


@contextmanager
def tokens_taken_side_by_side(state: AppState) -> Iterator[None]:
    """Two requests' tokens taken together (``TakesSideBySide``) inside, the app's own limiter back after."""
    limiter = state.limiter
    state.limiter = TakesSideBySide(limiter, parties=2)  # type: ignore[assignment]
    try:
        yield
    finally:
        state.limiter = limiter


class TakesSideBySide:
    """A rate limiter whose token takers wait for each other, so two requests under one Idempotency-Key are
    both past its lookup before either records its job: a retry sent before its first try answered."""

    def __init__(self, limiter: RateLimiter, parties: int) -> None:
        self._limiter = limiter
        self._together = asyncio.Barrier(parties)

    async def acquire(self, *args: Any, **kwargs: Any) -> float | None:
        await asyncio.wait_for(self._together.wait(), 30)  # a safety net, never what is asserted
        return await self._limiter.acquire(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._limiter, name)


@pytest.mark.parametrize("route", ["/bills", "/jobs"])
async def test_a_retry_racing_its_first_try_spends_no_token(
    route: str,
    app_settings: Settings,
    worker: object,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both took a token; the retry, finding the job its first try made, answered 200 and kept its token, so
    a client that retried one timed-out start was refused the next start it made. A start here goes the long way,
    its token taken on its own, as when its insert found the bucket empty (the race inside that insert is below)."""
    account, key = await account_and_key(http, resources, "RLR", unique)

    async def recorded_nothing(**_: Any) -> tuple[None, bool]:
        return None, False

    monkeypatch.setattr(job_routes, "start_connector_job_for_a_token", recorded_nothing)

    def send(c: httpx.AsyncClient, n: int, idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if route == "/jobs":
            return c.post("/jobs", json={"utility_account_id": account["id"]}, headers=headers)
        data = {"utility_account_id": str(account["id"])}
        return c.post("/bills", files=numbered_bill(n), data=data, headers=headers)

    async with app_with_budget(app_settings, key, per_minute=2) as (c, state):
        with tokens_taken_side_by_side(state):
            twins = await asyncio.gather(*(send(c, 1, f"retry-{unique}") for _ in range(2)))
        assert sorted(t.status_code for t in twins) == [200, 201], [t.text for t in twins]
        assert twins[0].json()["id"] == twins[1].json()["id"]

        later = [(await send(c, n)).status_code for n in (2, 3)]
        assert later == [201, 429], "the retry gave its token back, and no more than that one"


async def test_a_start_retry_racing_its_first_try_inside_the_insert_spends_no_token(
    app_settings: Settings,
    worker: object,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both starts found no job under their key and reached the bucket before either recorded one (its row is held
    here until both wait for it): the second then took a token in its insert, met the first's job, gave the token
    back and answered 200 with that job."""
    spent_on_their_own, given_back = limiter_calls(monkeypatch)
    account, key = await account_and_key(http, resources, "RLT", unique)
    key_id = await resources.pool.fetchval("SELECT id FROM api_keys WHERE name = $1", f"rlt-{unique}")
    body = {"utility_account_id": account["id"]}
    async with app_with_budget(app_settings, key, per_minute=3) as (c, _state):
        await resources.pool.execute(
            "INSERT INTO rate_limit_buckets (key_id, action, tokens, updated_at) VALUES ($1, $2, 3, clock_timestamp())",
            key_id,
            START_JOB_ACTION,
        )
        async with resources.pool.acquire() as holder, holder.transaction():
            await holder.execute("SELECT FROM rate_limit_buckets WHERE key_id = $1 FOR UPDATE", key_id)
            twins = asyncio.gather(*(c.post("/jobs", json=body, headers={"Idempotency-Key": unique}) for _ in range(2)))
            await _blocked_by(resources, holder.get_server_pid(), statements=2)
        answers = await twins
        assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
        assert answers[0].json()["id"] == answers[1].json()["id"]
        assert (spent_on_their_own, given_back) == ([], [START_JOB_ACTION]), "the insert took both, one came back"

        later = [(await c.post("/jobs", json=body)).status_code for _ in range(3)]
        assert later == [201, 201, 429], "the retry gave its token back, and no more than that one"


BLOCKED_BY = """
WITH RECURSIVE blocked AS (
    SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))
    UNION
    SELECT waiting.pid FROM pg_stat_activity AS waiting JOIN blocked ON blocked.pid = ANY(pg_blocking_pids(waiting.pid))
)
SELECT count(*) FROM blocked
"""
"""The backends waiting for ``$1``'s locks, directly or behind another that waits (a row's second waiter waits for its
first)."""


async def _blocked_by(resources: Resources, pid: int, *, statements: int) -> None:
    """Until ``statements`` statements wait for a lock the backend ``pid`` holds, or queue behind one that does
    (10 s at most)."""
    for _ in range(200):
        waiting = await resources.pool.fetchval(BLOCKED_BY, pid)
        if waiting >= statements:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{waiting} of {statements} statements waited for the bucket's row")


def limiter_calls(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """The actions whose tokens the API's limiters take on their own (``acquire``) and give back (``refund``),
    in order: a start's token taken inside its insert is in neither."""
    taken: list[str] = []
    given_back: list[str] = []
    acquire, refund = RateLimiter.acquire, RateLimiter.refund

    async def counted_acquire(self: RateLimiter, key_id: int, action: str, *, per_minute: int) -> float | None:
        taken.append(action)
        return await acquire(self, key_id, action, per_minute=per_minute)

    async def counted_refund(self: RateLimiter, key_id: int, action: str, *, per_minute: int) -> None:
        given_back.append(action)
        await refund(self, key_id, action, per_minute=per_minute)

    monkeypatch.setattr(RateLimiter, "acquire", counted_acquire)
    monkeypatch.setattr(RateLimiter, "refund", counted_refund)
    return taken, given_back


async def test_a_start_under_a_budget_pays_inside_its_insert_and_a_refused_one_pays_nothing(
    app_settings: Settings,
    worker: object,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a budget (the default) a start is its key's lookup and one statement, which takes the token as it
    records the job: no token is taken on its own. An account the statement refuses takes none (the checks after it
    answer the 404), and the 429 of an empty bucket comes from the checks after it too."""
    taken_on_their_own, given_back = limiter_calls(monkeypatch)
    own = await create_account(http, provider="pge", account_number=f"RLP-{unique}")
    others = await create_account(http, provider="pge", account_number=f"RLQ-{unique}")
    created = await create_key(resources.pool, name=f"rlp-{unique}", role=Role.INGEST, customer_id=own["customer_id"])
    body = {"utility_account_id": own["id"]}
    async with app_with_budget(app_settings, created.key, per_minute=2) as (c, _state):
        for _ in range(3):
            refused = [
                await c.post("/jobs", json={"utility_account_id": 2**62}),
                await c.post("/jobs", json={"utility_account_id": others["id"]}),
            ]
            assert [r.status_code for r in refused] == [404, 404], [r.text for r in refused]
        buckets = await resources.pool.fetchval("SELECT count(*) FROM rate_limit_buckets WHERE key_id = $1", created.id)
        assert buckets == 0, "a refused start took a token"

        keyed = {"Idempotency-Key": f"paid-{unique}"}
        started = [
            (await c.post("/jobs", json=body, headers=keyed)).status_code,
            (await c.post("/jobs", json=body, headers=keyed)).status_code,  # its replay
            (await c.post("/jobs", json=body)).status_code,
        ]
        assert started == [201, 200, 201]
        assert (taken_on_their_own, given_back) == ([], []), "each token was taken by its insert; the replay took none"
        refused_for_the_budget = await c.post("/jobs", json=body)
        assert refused_for_the_budget.status_code == 429, refused_for_the_budget.text
        assert int(refused_for_the_budget.headers["Retry-After"]) >= 1
        assert taken_on_their_own == [START_JOB_ACTION], "the 429 was the checks' after the statement"


async def test_a_different_file_racing_under_one_key_keeps_its_token_spent(
    app_settings: Settings, worker: object, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The loser of the race stored its own object before its 422: given its token back, a client could store
    any number of unreferenced objects for free by sending files in pairs under one Idempotency-Key."""
    account, key = await account_and_key(http, resources, "RLD", unique)

    def send(c: httpx.AsyncClient, n: int, headers: dict[str, str]) -> Any:
        data = {"utility_account_id": str(account["id"])}
        return c.post("/bills", files=numbered_bill(n), data=data, headers=headers)

    async with app_with_budget(app_settings, key, per_minute=3) as (c, state):
        keyed = {"Idempotency-Key": f"race-{unique}"}
        with tokens_taken_side_by_side(state):
            rivals = await asyncio.gather(send(c, 1, keyed), send(c, 2, keyed))
        assert sorted(r.status_code for r in rivals) == [201, 422], [r.text for r in rivals]

        later = [(await send(c, n, {})).status_code for n in (3, 4)]
        assert later == [201, 429], "the loser's stored object was paid for: one token left, not two"
