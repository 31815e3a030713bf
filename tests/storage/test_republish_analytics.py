"""``python -m worker.republish_analytics``: a bill the warehouse refuses holds back only itself."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import cast

import httpx
import pytest

from shared.analytics import AnalyticsBill, AnalyticsSink, BigQuerySink
from shared.bill import LineItem, NormalizedBill
from tests.fakes.bigquery_insert import FakeInsertAll
from tests.helpers import create_account, insert_job
from worker.republish_analytics import Remasked, remask, republish
from worker.resources import Resources


class RefusingSink:
    """A warehouse that refuses one bill's rows, as BigQuery refuses a row it finds invalid."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.written: list[str] = []

    def latest_dates(self) -> dict[str, datetime]:
        return {}

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        refused = {row.bill_id: "interval_usage rejected rows" for row in rows if row.bill_id == self.refuse}
        self.written += [row.bill_id for row in rows if row.bill_id not in refused]
        return refused


async def test_a_refused_bill_is_named_and_the_bills_after_it_are_still_republished(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    account = await create_account(http, provider="pge", account_number=f"RF-{uuid.uuid4().hex[:8]}")
    bill_ids = sorted(str(uuid.uuid4()) for _ in range(3))
    for month, bill_id in enumerate(bill_ids, start=1):
        bill = NormalizedBill(
            bill_period_start=date(2024, month, 1), bill_period_end=date(2024, month, 28), total_amount=Decimal("10")
        )
        await resources.pool.execute(
            "INSERT INTO bills (id, job_id, customer_id, utility_account_id, currency, content_sha256, source,"
            " bill_period_start, bill_period_end, payload)"
            " VALUES ($1, $2, $3, $4, 'USD', $5, 'extraction', $6, $7, $8)",
            uuid.UUID(bill_id),
            await insert_job(resources.pool, account, status="SUCCEEDED"),
            account["customer_id"],
            account["id"],
            uuid.uuid4().hex,
            bill.bill_period_start,
            bill.bill_period_end,
            bill.model_dump(mode="json"),
        )
    first, *later = bill_ids
    sink = RefusingSink(refuse=first)
    try:
        # A cast: republishing uses latest_dates and publish_bills alone. batch=1: the refused bill alone on its page.
        done = await republish(resources.pool, cast(AnalyticsSink, sink), batch=1)
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = ANY($1::uuid[])", bill_ids)

    assert list(done.refused) == [first] and "interval_usage rejected rows" in done.refused[first]
    assert set(later) <= set(sink.written), "the bills after the refused one were never republished"
    assert first not in sink.written and done.published == len(sink.written)


class StreamingOnly:
    """BigQuery's insertAll (the fake, which refuses rows outside the partitions BigQuery streams into), holding
    no rows yet: republishing's first read, ``latest_dates``, is a query job the fake does not answer."""

    def __init__(self, sink: BigQuerySink) -> None:
        self.sink = sink

    def latest_dates(self) -> dict[str, datetime]:
        return {}

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        return self.sink.publish_bills(rows)


async def test_a_bill_stored_over_five_years_ago_is_republished(http: httpx.AsyncClient, resources: Resources) -> None:
    """normalized_bills and bill_line_items are partitioned by created_at, and republishing dated each row when
    Postgres stored its bill: BigQuery streams no row dated more than 1825 days back, so such a bill was refused."""
    account = await create_account(http, provider="pge", account_number=f"OL-{uuid.uuid4().hex[:8]}")
    bill_id = str(uuid.uuid4())
    bill = NormalizedBill(
        bill_period_start=date(2019, 1, 1),
        bill_period_end=date(2019, 1, 31),
        total_amount=Decimal("10"),
        line_items=[LineItem(description="energy", amount=Decimal("10"))],
    )
    stored_at = datetime.now(UTC) - timedelta(days=6 * 365)
    await resources.pool.execute(
        "INSERT INTO bills (id, job_id, customer_id, utility_account_id, currency, content_sha256, source,"
        " bill_period_start, bill_period_end, payload, created_at)"
        " VALUES ($1, $2, $3, $4, 'USD', $5, 'extraction', $6, $7, $8, $9)",
        uuid.UUID(bill_id),
        await insert_job(resources.pool, account, status="SUCCEEDED"),
        account["customer_id"],
        account["id"],
        uuid.uuid4().hex,
        bill.bill_period_start,
        bill.bill_period_end,
        bill.model_dump(mode="json"),
        stored_at,
    )
    try:
        with FakeInsertAll() as warehouse:
            sink = StreamingOnly(BigQuerySink(project="p", dataset="d", endpoint=warehouse.url))
            done = await republish(resources.pool, cast(AnalyticsSink, sink))
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = $1", uuid.UUID(bill_id))

    assert bill_id not in done.refused, done.refused.get(bill_id)
    assert [r["bill_id"] for r in warehouse.written["normalized_bills"] if r["bill_id"] == bill_id] == [bill_id]
    assert [r["description"] for r in warehouse.written["bill_line_items"] if r["bill_id"] == bill_id] == ["energy"]


async def test_what_an_earlier_release_published_unmasked_is_masked_in_place(
    http: httpx.AsyncClient, resources: Resources, bq_sink: BigQuerySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Republishing writes masked rows beside the old ones but leaves those: the warehouse kept the account numbers
    earlier releases published in line items' descriptions (and whole in json_payload, with name and address)."""
    number = f"99{uuid.uuid4().int % 10**8:08d}"
    account = await create_account(http, provider="pge", account_number=number)
    bill_id = str(uuid.uuid4())
    bill = NormalizedBill(
        account_number=number,
        customer_name="Ada Lovelace",
        service_address="12 Analytical Row",
        total_amount=Decimal("10"),
        line_items=[
            LineItem(description=f"Late fee, account {number[:5]} {number[5:]}", amount=Decimal("5")),
            LineItem(description="Energy 501-1000 kWh", amount=Decimal("5")),
        ],
    )
    await resources.pool.execute(
        "INSERT INTO bills (id, job_id, customer_id, utility_account_id, currency, content_sha256, source, payload)"
        " VALUES ($1, $2, $3, $4, 'USD', $5, 'extraction', $6)",
        uuid.UUID(bill_id),
        await insert_job(resources.pool, account, status="SUCCEEDED"),
        account["customer_id"],
        account["id"],
        uuid.uuid4().hex,
        bill.model_dump(mode="json"),
    )
    published = AnalyticsBill(
        bill_id=bill_id,
        job_id=str(uuid.uuid4()),
        customer_id=account["customer_id"],
        utility_account_id=account["id"],
        bill=bill,
        created_at=datetime.now(UTC),
    )
    with monkeypatch.context() as earlier_release:
        earlier_release.setattr("shared.analytics.rows.warehouse_text", lambda text, bill: text)
        earlier_release.setattr("shared.analytics.rows.warehouse_payload", lambda bill: bill.model_dump_json())
        bq_sink.publish_bill(published)
    bq_sink.publish_bill(published)  # republished by this release: a masked row beside the old one

    def held(sql: str) -> list[str]:
        table = f"`{bq_sink._project}.{bq_sink._dataset}`"
        return [row[0] for row in bq_sink._client.query(sql.format(table=table)).result()]

    try:
        assert await remask(resources.pool, bq_sink) == Remasked(), "rows in the streaming buffer were updated"
        past_the_buffer = datetime.now(UTC) + timedelta(hours=2)
        assert await remask(resources.pool, bq_sink, now=past_the_buffer) == Remasked(line_items=1, payloads=1)
        assert await remask(resources.pool, bq_sink, now=past_the_buffer) == Remasked()
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = $1", uuid.UUID(bill_id))
    descriptions = held("SELECT description FROM {table}.bill_line_items")
    assert sorted(descriptions) == ["Energy 501-1000 kWh"] * 2 + [f"Late fee, account ****{number[-4:]}"] * 2
    old, new = (json.loads(text) for text in held("SELECT TO_JSON_STRING(json_payload) FROM {table}.normalized_bills"))
    assert old == new and "customer_name" not in old and old["account_number"] == f"****{number[-4:]}", old
