"""``python -m worker.republish_analytics``: write every stored bill to the warehouse again.

Why: a release that adds warehouse columns leaves them NULL in the rows published before it
(``gas_ccf``, ``water_ccf`` and ``current_charges`` came in one), and the rollup would count
those bills as no gas or water and at their amount due; and daily rows now go to ``interval_usage_v2``,
which starts empty beside the ``interval_usage`` of releases before. Publishing again writes each bill's
current version with every column. The views keep each bill's newest row, and releases before
146b5de dated a row when its publish started, after Postgres stored the bill: a row dated when
the bill was stored would lose to the very row it replaces. So each is dated when it was stored
or just after the newest row the warehouse holds for it, whichever is later, and never before
``STREAMABLE_BACK`` ago: ``normalized_bills`` and ``bill_line_items`` are partitioned by ``created_at``, and
BigQuery refuses streamed rows dated more than 1825 days back, so a bill stored longer ago than that is
dated at that floor instead (still later than any row of it the warehouse holds). Running it twice
changes nothing a reader of the views sees; the tables keep one more copy of each bill per run (the same
``revision``), so it is run after an upgrade that adds columns, not routinely (an analyst's probe counted them).
The next rollup takes in their months (they were published within its window).

``--remask`` instead rewrites, in place, what releases before published unmasked (republishing adds masked
rows beside those, it cannot remove them): account numbers in line items' descriptions, and ``json_payload``'s
account number, name and address. Only rows published over 90 minutes ago (BigQuery refuses DML on rows still
in its streaming buffer); a row already masked is not written, so a second run changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TypeVar

import asyncpg
from pydantic import ValidationError

from shared.analytics import AnalyticsBill, AnalyticsSink, BigQuerySink, build_analytics_sink
from shared.analytics.bigquery import REMASK_PAGE, HeldDescription, HeldPayload, Rewritten
from shared.analytics.rows import remasked_payload, warehouse_text
from shared.bill import NormalizedBill
from shared.db import MIGRATE_HELP, SchemaBehind, migrate_for_a_command, open_for_a_command
from shared.settings import settings_or_exit

BATCH = 200
"""Bills per ``publish_bills`` call: a few insertAll requests each, well under BigQuery's limits."""

_PAGE = "SELECT id FROM bills WHERE id > $1 ORDER BY id LIMIT $2"
_BILLS = """
SELECT b.id, b.job_id, b.customer_id, b.utility_account_id, b.payload,
       COALESCE(b.revised_at, b.created_at) AS stored_at, a.account_number
  FROM bills b JOIN utility_accounts a ON a.id = b.utility_account_id
 WHERE b.id = ANY($1::uuid[]) ORDER BY b.id
"""
_AFTER = timedelta(microseconds=1)  # BigQuery TIMESTAMP's precision
STREAMABLE_BACK = timedelta(days=1824)
"""How far back a republished row may be dated: BigQuery streams into partitions up to 1825 days back,
and a day's slack covers a long run and clock skew."""


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
    floor = datetime.now(UTC) - STREAMABLE_BACK
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
                    created_at=_dated(row["stored_at"], held.get(str(row["id"])), floor),
                    account_number=row["account_number"],
                )
            )
        refused = await asyncio.to_thread(sink.publish_bills, bills) if bills else {}
        done.refused |= refused
        done.published += len(bills) - len(refused)
        after = page[-1]
    return done


STREAMING_BUFFER = timedelta(minutes=90)
"""How long BigQuery may keep a streamed row where DML cannot touch it (30 minutes as a rule, rarely 90)."""
_ACCOUNT_NUMBERS = """
SELECT b.id::text AS id, COALESCE(b.payload ->> 'account_number', a.account_number) AS number
  FROM bills b JOIN utility_accounts a ON a.id = b.utility_account_id
 WHERE b.id = ANY($1::uuid[])
"""
"""Each bill's own account number, or its account's where the bill's was not read (``AnalyticsBill.account_number``)."""


@dataclass
class Remasked:
    """Rows a re-masking run rewrote: line items, and bill rows (``json_payload``); and the UPDATE batches
    BigQuery refused (a run goes on past one: run it again for their rows)."""

    line_items: int = 0
    payloads: int = 0
    failed: list[str] = field(default_factory=list)


async def remask(pool: asyncpg.Pool, sink: BigQuerySink, *, now: datetime | None = None) -> Remasked:
    """Mask, in place, what earlier releases published as read: account numbers in line items' descriptions
    (``bill_line_items`` and ``json_payload``), and ``json_payload``'s account number, name and address. Each is
    masked as this release writes a new row, with the account number its revision's bill row holds, or Postgres'
    where that is masked already (a bill no longer there: by the rules that need no number). Only rows past the
    streaming buffer, and only those that may need it (BigQuery filters them, and they are read a page at a
    time); a row already masked is not written again. BigQuery is sent no held text: rows are matched on its
    hash, so no unmasked number lands in its job records."""
    before = (now or datetime.now(UTC)) - STREAMING_BUFFER
    done = Remasked()
    # The number a revision's bill rows hold unmasked: that revision's own, should a reviewer have changed it since.
    # A first pass, so a row of the revision holding it masked already still masks its descriptions with it.
    as_published: dict[tuple[str, str], str] = {}
    async for page in _pages(sink.held_payloads(before=before)):
        for payload_row in page:
            payload = json.loads(payload_row.payload)
            held_number = payload.get("account_number") if isinstance(payload, dict) else None
            if isinstance(held_number, str) and held_number and not held_number.startswith("****"):
                as_published[(payload_row.bill_id, payload_row.revision)] = held_number
    # Line items before bill rows: a revision's bill row is where a later run finds its number, so it is masked
    # only once its descriptions are; should BigQuery refuse a batch of them, their revisions' rows wait too.
    pending: set[tuple[str, str]] = set()
    async for held in _pages(sink.line_item_descriptions(before=before)):
        numbers = await _account_numbers(pool, {row.bill_id for row in held})
        descriptions: list[tuple[HeldDescription, str]] = []
        for row in held:
            number = as_published.get((row.bill_id, row.revision)) or numbers.get(row.bill_id)
            masked = warehouse_text(row.description, number)
            if masked != row.description:
                descriptions.append((row, masked))
                pending.add((row.bill_id, row.revision))
        if descriptions:
            _add(
                done,
                "line_items",
                await asyncio.to_thread(sink.set_line_item_descriptions, descriptions, before=before),
            )
    held_back = bool(done.failed)
    async for page in _pages(sink.held_payloads(before=before)):
        numbers = await _account_numbers(pool, {row.bill_id for row in page})
        rewritten: list[tuple[HeldPayload, str]] = []
        for payload_row in page:
            payload = json.loads(payload_row.payload)
            if not isinstance(payload, dict) or (held_back and (payload_row.bill_id, payload_row.revision) in pending):
                continue
            number = as_published.get((payload_row.bill_id, payload_row.revision)) or numbers.get(payload_row.bill_id)
            shown = remasked_payload(payload, number)
            if shown != payload:
                rewritten.append((payload_row, json.dumps(shown, separators=(",", ":"))))
        if rewritten:
            _add(done, "payloads", await asyncio.to_thread(sink.set_payloads, rewritten, before=before))
    return done


_Row = TypeVar("_Row")


def _add(done: Remasked, counter: str, rewritten: Rewritten) -> None:
    setattr(done, counter, getattr(done, counter) + rewritten.changed)
    done.failed += rewritten.failed


async def _pages(rows: Iterator[_Row]) -> AsyncIterator[list[_Row]]:
    """``rows`` (a blocking iterator over BigQuery's pages) ``REMASK_PAGE`` at a time, read in a thread."""
    while page := await asyncio.to_thread(lambda: list(islice(rows, REMASK_PAGE))):
        yield page


async def _account_numbers(pool: asyncpg.Pool, bill_ids: set[str]) -> dict[str, str | None]:
    ids = sorted(bill_id for bill_id in bill_ids if _is_uuid(bill_id))
    numbers: dict[str, str | None] = {}
    for start in range(0, len(ids), BATCH * 10):
        for row in await pool.fetch(_ACCOUNT_NUMBERS, ids[start : start + BATCH * 10]):
            numbers[row["id"]] = row["number"]
    return numbers


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _dated(stored_at: datetime, newest_held: datetime | None, floor: datetime) -> datetime:
    dated = max(stored_at, floor)
    return dated if newest_held is None else max(dated, newest_held + _AFTER)


async def _main(*, masking: bool, migrating: bool = False) -> int:
    settings = settings_or_exit()
    sink = build_analytics_sink(settings)
    if sink is None:
        print("analytics is disabled (ANALYTICS=disabled): nothing to republish", file=sys.stderr)
        return 0
    if masking and not isinstance(sink, BigQuerySink):
        print("--remask rewrites BigQuery's rows (ANALYTICS=bigquery) only", file=sys.stderr)
        return 2
    await asyncio.to_thread(sink.ensure_schema)
    pool = await open_for_a_command(settings)
    try:
        try:
            applied = await migrate_for_a_command(
                pool, asked=migrating, command="python -m worker.republish_analytics" + (" --remask" if masking else "")
            )
        except SchemaBehind as behind:
            print(f"error: {behind}", file=sys.stderr)
            return 2
        if applied:
            print(f"applied migrations: {', '.join(applied)}", file=sys.stderr)
        if masking:
            assert isinstance(sink, BigQuerySink)
            masked = await remask(pool, sink)
            print(
                f"masked {masked.line_items} line item rows and {masked.payloads} bill rows' json_payload;"
                f" rows published in the last {STREAMING_BUFFER} were left for a later run",
                file=sys.stderr,
            )
            if masked.failed:
                print(
                    f"BigQuery refused {len(masked.failed)} UPDATE batches; run --remask again for their rows:\n"
                    + "\n".join(f"  {why}" for why in masked.failed),
                    file=sys.stderr,
                )
            return 1 if masked.failed else 0
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
    parser = argparse.ArgumentParser(prog="python -m worker.republish_analytics")
    parser.add_argument(
        "--remask",
        action="store_true",
        help="instead of republishing, mask account numbers, names and addresses rows of earlier releases hold",
    )
    parser.add_argument("--migrate", action="store_true", help=MIGRATE_HELP)
    args = parser.parse_args()
    sys.exit(asyncio.run(_main(masking=args.remask, migrating=args.migrate)))


if __name__ == "__main__":
    main()
