"""``python -m worker.republish_analytics``: a bill the warehouse refuses holds back only itself."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import cast

import httpx

from shared.analytics import AnalyticsBill, AnalyticsSink
from shared.bill import NormalizedBill
from tests.helpers import create_account, insert_job
from worker.republish_analytics import republish
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
