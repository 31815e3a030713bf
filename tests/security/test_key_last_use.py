"""A key's last use is kept to the minute and written once, however many of its requests arrive together."""

from __future__ import annotations

import asyncio

import httpx

from api.auth import Role, create_key
from api.key_last_use import RECORD_LAST_USE, LastUseWrites
from tests.helpers import ManualClock, wait_until
from worker.resources import Resources

REQUESTS = 8


async def test_a_burst_on_a_new_key_waits_on_one_write_of_its_last_use(
    anon_http: httpx.AsyncClient, resources: Resources
) -> None:
    """The key's row is held locked while the burst arrives, as a slow commit would hold it: each request that
    wrote the last use would wait there, and only the one that writes it may."""
    created = await create_key(resources.pool, name="burst", role=Role.VIEWER)
    bearer = {"Authorization": f"Bearer {created.key}"}
    async with resources.pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM api_keys WHERE id = $1 FOR UPDATE", created.id)
        burst = [asyncio.create_task(anon_http.get("/jobs", headers=bearer)) for _ in range(REQUESTS)]

        async def all_but_the_writer_answered() -> bool:
            return sum(task.done() for task in burst) == REQUESTS - 1

        await wait_until(
            all_but_the_writer_answered,
            within=10,
            every=0.05,
            what=f"{REQUESTS - 1} of {REQUESTS} answered while the key's row was locked",
        )
        assert await resources.pool.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1", created.id) is None
    answers = await asyncio.wait_for(asyncio.gather(*burst), timeout=30)
    assert [a.status_code for a in answers] == [200] * REQUESTS
    assert await resources.pool.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1", created.id) is not None


async def test_the_write_leaves_a_last_use_written_this_minute_as_it_is(resources: Resources) -> None:
    """Another process that found the key stale at the same moment writes nothing once the first has written."""
    created = await create_key(resources.pool, name="two-processes", role=Role.VIEWER)
    assert await resources.pool.execute(RECORD_LAST_USE, created.id) == "UPDATE 1"
    assert await resources.pool.execute(RECORD_LAST_USE, created.id) == "UPDATE 0"
    await resources.pool.execute(
        "UPDATE api_keys SET last_used_at = now() - interval '61 seconds' WHERE id = $1", created.id
    )
    assert await resources.pool.execute(RECORD_LAST_USE, created.id) == "UPDATE 1"


def test_one_claim_per_key_per_minute() -> None:
    clock = ManualClock()
    writes = LastUseWrites(seconds=60, clock=clock)
    assert writes.claim("a")
    assert not writes.claim("a"), "written this minute"
    assert writes.claim("b"), "another key is its own"
    clock.now += 59
    assert not writes.claim("a")
    clock.now += 1
    assert writes.claim("a"), "a minute on"


def test_a_failed_write_is_claimed_again_by_the_next_request() -> None:
    writes = LastUseWrites(seconds=60, clock=ManualClock())
    assert writes.claim("a")
    writes.release("a")
    assert writes.claim("a")


def test_it_remembers_a_bounded_number_of_keys_the_longest_written_first_forgotten() -> None:
    clock = ManualClock()
    writes = LastUseWrites(seconds=60, clock=clock)
    for number in range(LastUseWrites.MAX_REMEMBERED):
        assert writes.claim(f"key-{number}")
        clock.now += 0.001
    assert writes.claim("one more")
    assert len(writes) == LastUseWrites.MAX_REMEMBERED
    assert writes.claim("key-0"), "the longest written was forgotten: its next request writes (if its row is stale)"
    assert not writes.claim("key-2"), "the rest are remembered"
    assert not writes.claim("one more")
