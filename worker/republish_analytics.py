"""``python -m worker.republish_analytics``: write every stored bill to the warehouse again.

Why: a release that adds warehouse columns leaves them NULL in the rows published before it
(``gas_ccf``, ``water_ccf`` and ``current_charges`` came in one), and the rollup would count
those bills as no gas or water and at their amount due; and daily rows now go to ``interval_usage_v2``,
which starts empty beside the ``interval_usage`` of releases before. Publishing again writes each bill's
current version with every column. The views keep each bill's newest row, and releases before
146b5de dated a row when its publish started, after Postgres stored the bill: a row dated when
the bill was stored would lose to the very row it replaces. So each is dated when it was stored
or just after the newest row the warehouse holds for it, whichever is later. Running it twice
changes nothing a reader sees. The next rollup takes in their months (they were published
within its window).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
from pydantic import ValidationError

from shared.analytics import AnalyticsBill, AnalyticsSink, build_analytics_sink
from shared.bill import NormalizedBill
from shared.db import create_pool, migrate
from shared.settings import settings_or_exit

BATCH = 200
"""Bills per ``publish_bills`` call: a few insertAll requests each, well under BigQuery's limits."""

_PAGE = "SELECT id FROM bills WHERE id > $1 ORDER BY id LIMIT $2"
_BILLS = """
SELECT id, job_id, customer_id, utility_account_id, payload, COALESCE(revised_at, created_at) AS stored_at
  FROM bills WHERE id = ANY($1::uuid[]) ORDER BY id
"""
_AFTER = timedelta(microseconds=1)  # BigQuery TIMESTAMP's precision


@dataclass
class Republished:
    """What a run did: bills written again, the ids of stored bills whose payload no longer reads, and
    the bills the warehouse refused, with why."""

    published: int = 0
    unreadable: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


async def republish(pool: asyncpg.Pool, sink: AnalyticsSink, *, batch: int = BATCH) -> Republished:
    """Publish every bill in Postgres, a page at a time. A payload that does not read as a bill, or a bill
    the warehouse refuses, is named and skipped, so one bad bill does not hold back the rest (or every
    later run, which would stop at the same bill)."""
    done, after = Republished(), "00000000-0000-0000-0000-000000000000"
    # The warehouse is read before Postgres, so a version stored meanwhile is the one written here,
    # and a version stored after this read is dated later than anything written here.
    held = await asyncio.to_thread(sink.latest_dates)
    while page := [str(row["id"]) for row in await pool.fetch(_PAGE, after, batch)]:
        bills = []
        for row in await pool.fetch(_BILLS, page):
            try:
                bill = NormalizedBill.model_validate(row["payload"])
            except ValidationError:
                done.unreadable.append(str(row["id"]))
                continue
            bills.append(
                AnalyticsBill(
                    bill_id=str(row["id"]),
                    job_id=str(row["job_id"]),
                    customer_id=row["customer_id"],
                    utility_account_id=row["utility_account_id"],
                    bill=bill,
                    created_at=_dated(row["stored_at"], held.get(str(row["id"]))),
                )
            )
        refused = await asyncio.to_thread(sink.publish_bills, bills) if bills else {}
        done.refused |= refused
        done.published += len(bills) - len(refused)
        after = page[-1]
    return done


def _dated(stored_at: datetime, newest_held: datetime | None) -> datetime:
    return stored_at if newest_held is None else max(stored_at, newest_held + _AFTER)


async def _main() -> int:
    settings = settings_or_exit()
    sink = build_analytics_sink(settings)
    if sink is None:
        print("analytics is disabled (ANALYTICS=disabled): nothing to republish", file=sys.stderr)
        return 0
    await asyncio.to_thread(sink.ensure_schema)
    pool = await create_pool(settings, one_shot=True)
    try:
        await migrate(pool)
        done = await republish(pool, sink)
    finally:
        await pool.close()
    print(f"republished {done.published} bills; the next analytics rollup rewrites their months", file=sys.stderr)
    if done.unreadable:
        print(
            f"{len(done.unreadable)} stored bills have a payload that does not read as a bill and were not"
            f" republished: {', '.join(done.unreadable)}",
            file=sys.stderr,
        )
    if done.refused:
        print(
            f"the warehouse refused {len(done.refused)} stored bills, which were not republished:\n"
            + "\n".join(f"  {bill_id}: {why}" for bill_id, why in done.refused.items()),
            file=sys.stderr,
        )
    return 1 if done.unreadable or done.refused else 0


def main() -> None:
    sys.exit(asyncio.run(_main()))


if __name__ == "__main__":
    main()
