"""``rows_written``'s ``pg_tuples_*``: read once every backend that wrote has reported, the last writes included."""

from __future__ import annotations

import time

import asyncpg

from bench.pipeline import database_tuples, wait_for_idle_backends_to_report

WRITES = 20


async def test_the_tuple_counts_include_the_last_writes_of_a_backend_gone_idle(pg_url: str) -> None:
    """A worker's backend writes in bursts and goes idle with its last counters held back (Postgres 15+ holds them
    up to 10 s when it reported less than a second before): read a second later, the run had written less."""
    writer, reader = await asyncpg.connect(pg_url), await asyncpg.connect(pg_url)
    try:
        await writer.execute("CREATE TEMP TABLE written (n int)")
        before = await database_tuples(reader)
        for n in range(WRITES):  # one statement each, idle in between: the first reports, the rest are held
            await writer.execute("INSERT INTO written VALUES ($1)", n)
        await wait_for_idle_backends_to_report(reader, idle_since=time.monotonic())
        after = await database_tuples(reader)
    finally:
        await writer.close()  # it reports its counters as it exits: only after the reading
        await reader.close()

    assert after["pg_tuples_inserted"] - before["pg_tuples_inserted"] >= WRITES, (before, after)
