"""Prepare the lookups a start makes on each pooled connection, before the API serves.

asyncpg prepares a statement the first time a connection runs it (a Parse/Describe round trip, and
the codecs for its result), then keeps it in that connection's cache. The API opens all its
connections at start (``create_pool(open_all=True)``), but a burst of starts still found them cold:
with 32 clients, each of the twenty connections prepared each lookup during the first requests,
which took 60-90 ms against ~30 once warm. ``python -m bench.api_alone --requests 1000 --rounds 2``,
clean clones, interleaved: the first round's p99 55-63 ms with this (nine runs), 62-81 without (six).
``Connection.prepare`` does not help (session 36 tried it): its statements bypass that cache.
A connection asyncpg replaces later (after ``max_queries``, 50,000, or a broken one) starts cold again: one at a time,
which costs its next few requests a round trip each, not a burst of twenty.
"""

from __future__ import annotations

import re

import asyncpg

from api.auth import KEY_BY_HASH
from api.services.accounts import ACCOUNT_BY_ID
from api.services.jobs import JOB_BY_IDEMPOTENCY_KEY

START_LOOKUPS = (KEY_BY_HASH, ACCOUNT_BY_ID, JOB_BY_IDEMPOTENCY_KEY)
"""The key's, the account's and the Idempotency-Key's job (see ``JOB_BY_IDEMPOTENCY_KEY`` for who looks it up).
Read-only, so running one with NULL arguments is harmless: NULL equals nothing, and it finds no row."""

_PARAMETER = re.compile(r"\$(\d+)")


async def prepare_start_lookups(pool: asyncpg.Pool) -> None:
    """Run each lookup once on every connection the pool holds (call before serving: it holds them all)."""
    held: list[asyncpg.pool.PoolConnectionProxy] = []
    try:
        for _ in range(pool.get_size()):
            held.append(await pool.acquire())
        for connection in held:
            for lookup in START_LOOKUPS:
                await connection.fetch(lookup, *[None] * _parameter_count(lookup))
    finally:
        for connection in held:
            await pool.release(connection)


def _parameter_count(statement: str) -> int:
    return max((int(number) for number in _PARAMETER.findall(statement)), default=0)
