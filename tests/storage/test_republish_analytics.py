"""``python -m worker.republish_analytics``: a bill the warehouse refuses holds back only itself."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from google.api_core.exceptions import BadRequest
from google.cloud import bigquery

from shared.analytics import AnalyticsBill, AnalyticsSink, BigQuerySink
from shared.bill import LineItem, NormalizedBill
from shared.logs import mask_account
from tests.fakes.bigquery_insert import FakeInsertAll
from tests.helpers import create_account, insert_job
from worker.republish_analytics import Remasked, remask, republish
from worker.resources import Resources


async def store_bill(
    resources: Resources,
    account: dict[str, Any],
    bill: NormalizedBill,
    *,
    bill_id: str | None = None,
    created_at: datetime | None = None,
) -> str:
    """Store ``bill`` as Postgres holds an extracted bill, for a job of its own (``created_at``: stored then, not
    now)."""
    bill_id = bill_id or str(uuid.uuid4())
    await resources.pool.execute(
        "INSERT INTO bills (id, job_id, customer_id, utility_account_id, currency, content_sha256, source,"
        " bill_period_start, bill_period_end, payload, created_at)"
        " VALUES ($1, $2, $3, $4, 'USD', $5, 'extraction', $6, $7, $8, COALESCE($9, now()))",
        uuid.UUID(bill_id),
        await insert_job(resources.pool, account, status="SUCCEEDED"),
        account["customer_id"],
        account["id"],
        uuid.uuid4().hex,
        bill.bill_period_start,
        bill.bill_period_end,
        bill.model_dump(mode="json"),
        created_at,
    )
    return bill_id


class RefusingSink:
    """A warehouse that refuses one bill's rows, as BigQuery refuses a row it finds invalid."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.written: list[str] = []
        self.rows: list[AnalyticsBill] = []

    def latest_dates(self) -> dict[str, datetime]:
        return {}

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        refused = {row.bill_id: "interval_usage rejected rows" for row in rows if row.bill_id == self.refuse}
        self.written += [row.bill_id for row in rows if row.bill_id not in refused]
        self.rows += [row for row in rows if row.bill_id not in refused]
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
        await store_bill(resources, account, bill, bill_id=bill_id)
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
    bill = NormalizedBill(
        bill_period_start=date(2019, 1, 1),
        bill_period_end=date(2019, 1, 31),
        total_amount=Decimal("10"),
        line_items=[LineItem(description="energy", amount=Decimal("10"))],
    )
    stored_at = datetime.now(UTC) - timedelta(days=6 * 365)
    bill_id = await store_bill(resources, account, bill, created_at=stored_at)
    try:
        with FakeInsertAll() as warehouse:
            sink = StreamingOnly(BigQuerySink(project="p", dataset="d", endpoint=warehouse.url))
            done = await republish(resources.pool, cast(AnalyticsSink, sink))
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = $1", uuid.UUID(bill_id))

    assert bill_id not in done.refused, done.refused.get(bill_id)
    assert [r["bill_id"] for r in warehouse.written["normalized_bills"] if r["bill_id"] == bill_id] == [bill_id]
    assert [r["description"] for r in warehouse.written["bill_line_items"] if r["bill_id"] == bill_id] == ["energy"]


def published_by_an_earlier_release(
    sink: BigQuerySink, monkeypatch: pytest.MonkeyPatch, row: AnalyticsBill, *, number_masked: bool = False
) -> None:
    """As releases before masking wrote it: descriptions as read, json_payload whole (``number_masked``: one
    that masked json_payload's account number only)."""

    def payload(bill: NormalizedBill, account_number: str | None = None) -> str:
        if not number_masked:
            return bill.model_dump_json()
        shown = bill.model_copy(update={"account_number": mask_account(bill.account_number or "")})
        return shown.model_dump_json(exclude={"customer_name", "service_address"})

    with monkeypatch.context() as earlier_release:
        earlier_release.setattr("shared.analytics.rows.warehouse_text", lambda text, *_: text)
        earlier_release.setattr("shared.analytics.rows.warehouse_payload", payload)
        sink.publish_bill(row)


def analytics_row(bill_id: str, account: dict[str, Any], bill: NormalizedBill) -> AnalyticsBill:
    return AnalyticsBill(
        bill_id=bill_id,
        job_id=str(uuid.uuid4()),
        customer_id=account["customer_id"],
        utility_account_id=account["id"],
        bill=bill,
        created_at=datetime.now(UTC),
    )


def held(sink: BigQuerySink, sql: str) -> list[str]:
    table = f"`{sink._project}.{sink._dataset}`"
    return [row[0] for row in sink._client.query(sql.format(table=table)).result()]


def payloads_held(sink: BigQuerySink) -> list[dict[str, Any]]:
    """Each bill row's ``json_payload``, as the warehouse holds it."""
    return [
        json.loads(text) for text in held(sink, "SELECT TO_JSON_STRING(json_payload) FROM {table}.normalized_bills")
    ]


async def test_what_an_earlier_release_published_unmasked_is_masked_in_place(
    http: httpx.AsyncClient, resources: Resources, bq_sink: BigQuerySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Republishing writes masked rows beside the old ones but leaves those: the warehouse kept the account numbers
    earlier releases published in line items' descriptions (and whole in json_payload, with name and address)."""
    number = f"99{uuid.uuid4().int % 10**8:08d}"
    account = await create_account(http, provider="pge", account_number=number)
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
    bill_id = await store_bill(resources, account, bill)
    published = analytics_row(bill_id, account, bill)
    published_by_an_earlier_release(bq_sink, monkeypatch, published)
    bq_sink.publish_bill(published)  # republished by this release: a masked row beside the old one
    try:
        assert await remask(resources.pool, bq_sink) == Remasked(), "rows in the streaming buffer were updated"
        past_the_buffer = datetime.now(UTC) + timedelta(hours=2)
        assert await remask(resources.pool, bq_sink, now=past_the_buffer) == Remasked(line_items=1, payloads=1)
        assert await remask(resources.pool, bq_sink, now=past_the_buffer) == Remasked()
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = $1", uuid.UUID(bill_id))
    descriptions = held(bq_sink, "SELECT description FROM {table}.bill_line_items")
    assert sorted(descriptions) == ["Energy 501-1000 kWh"] * 2 + [f"Late fee, account ****{number[-4:]}"] * 2
    old, new = payloads_held(bq_sink)
    assert old == new and "customer_name" not in old and old["account_number"] == f"****{number[-4:]}", old


async def test_a_bill_whose_number_was_not_read_is_masked_with_its_accounts(
    http: httpx.AsyncClient, resources: Resources, bq_sink: BigQuerySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An approved photo's bill may hold no account number yet print it in an item ("1234-5678-90", too short for
    the rule for long figures): the account's number masks it, when republished and when remasked in place."""
    number = f"{uuid.uuid4().int % 10**4:04d}-{uuid.uuid4().int % 10**4:04d}-42"
    account = await create_account(http, provider="pge", account_number=number)
    bill = NormalizedBill(
        total_amount=Decimal("10"), line_items=[LineItem(description=f"Late fee ref {number}", amount=Decimal("10"))]
    )
    bill_id = await store_bill(resources, account, bill)
    published_by_an_earlier_release(bq_sink, monkeypatch, analytics_row(bill_id, account, bill))
    every_bill = RefusingSink(refuse="none")
    try:
        await republish(resources.pool, cast(AnalyticsSink, every_bill))
        bq_sink.publish_bills([row for row in every_bill.rows if row.bill_id == bill_id])
        past_the_buffer = datetime.now(UTC) + timedelta(hours=2)
        assert await remask(resources.pool, bq_sink, now=past_the_buffer) == Remasked(line_items=1, payloads=1)
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = $1", uuid.UUID(bill_id))
    descriptions = held(bq_sink, f"SELECT description FROM {{table}}.bill_line_items WHERE bill_id = '{bill_id}'")
    assert descriptions == [f"Late fee ref {mask_account(number)}"] * 2
    assert all(number not in json.dumps(payload) for payload in payloads_held(bq_sink))


class QueriesSent:
    """BigQuery's client, watched: each query's parameters as sent (BigQuery keeps them in its job records);
    ``refuse_first``: BigQuery refuses the first UPDATE of that table, as it refuses one it cannot apply."""

    def __init__(self, sink: BigQuerySink, monkeypatch: pytest.MonkeyPatch, refuse_first: str | None = None) -> None:
        self.updates: list[tuple[str, list[dict[str, Any]]]] = []
        self.refuse_first = refuse_first
        real = sink._client.query

        def query(sql: str, job_config: bigquery.QueryJobConfig | None = None, **kwargs: Any) -> bigquery.QueryJob:
            params = [p.to_api_repr() for p in (job_config.query_parameters if job_config else [])]
            if sql.lstrip().startswith("UPDATE"):
                self.updates.append((sql, params))
                if self.refuse_first is not None and f".{self.refuse_first}`" in sql.split("SET")[0]:
                    self.refuse_first = None
                    raise BadRequest("UPDATE/MERGE must match at most one source row for each target row")
            self.sent.append(json.dumps(params))
            return real(sql, job_config=job_config, **kwargs)

        self.sent: list[str] = []
        monkeypatch.setattr(sink._client, "query", query)

    def source_rows(self, table: str) -> list[list[dict[str, Any]]]:
        """Each UPDATE of ``table``: its ``@rows``, a dict of field values per row."""
        batches = []
        for sql, params in self.updates:
            if f".{table}`" not in sql.split("SET")[0]:
                continue
            (rows,) = [p for p in params if p["name"] == "rows"]
            batches.append(
                [
                    {name: value["value"] for name, value in struct["structValues"].items()}
                    for struct in rows["parameterValue"]["arrayValues"]
                ]
            )
        return batches


async def test_remasking_sends_bigquery_no_number_name_or_address_it_masks(
    http: httpx.AsyncClient, resources: Resources, bq_sink: BigQuerySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows were matched on the held description, sent as a query parameter: BigQuery keeps those 180 days."""
    number = f"99{uuid.uuid4().int % 10**8:08d}"
    account = await create_account(http, provider="pge", account_number=number)
    bill = NormalizedBill(
        account_number=number,
        customer_name="Ada Lovelace",
        service_address="12 Analytical Row",
        total_amount=Decimal("5"),
        line_items=[LineItem(description=f"Late fee, account {number[:5]} {number[5:]}", amount=Decimal("5"))],
    )
    bill_id = await store_bill(resources, account, bill)
    row = analytics_row(bill_id, account, bill)
    published_by_an_earlier_release(bq_sink, monkeypatch, row)
    queries = QueriesSent(bq_sink, monkeypatch)
    try:
        done = await remask(resources.pool, bq_sink, now=datetime.now(UTC) + timedelta(hours=2))
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = $1", uuid.UUID(bill_id))

    assert done == Remasked(line_items=1, payloads=1)
    sent = "\n".join(queries.sent)
    for secret in (number, f"{number[:5]} {number[5:]}", "Ada Lovelace", "12 Analytical Row"):
        assert secret not in sent, f"{secret!r} went to BigQuery as a query parameter"


async def test_a_bill_row_held_twice_is_remasked_and_a_refused_batch_holds_back_only_itself(
    http: httpx.AsyncClient, resources: Resources, bq_sink: BigQuerySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retried insert can leave two rows alike (key and payload): BigQuery refuses an UPDATE ... FROM in which
    a target row matches more than one source row, so every run failed on such a warehouse, and a refused
    UPDATE ended the run."""
    number = f"98{uuid.uuid4().int % 10**8:08d}"
    account = await create_account(http, provider="pge", account_number=number)
    bill = NormalizedBill(
        account_number=number,
        customer_name="Ada Lovelace",
        total_amount=Decimal("5"),
        line_items=[LineItem(description=f"Late fee, account {number[:5]} {number[5:]}", amount=Decimal("5"))],
    )
    bill_id = await store_bill(resources, account, bill)
    row = analytics_row(bill_id, account, bill)
    published_by_an_earlier_release(bq_sink, monkeypatch, row)
    held(bq_sink, "INSERT INTO {table}.normalized_bills SELECT * FROM {table}.normalized_bills")
    later = datetime.now(UTC) + timedelta(hours=2)
    try:
        queries = QueriesSent(bq_sink, monkeypatch, refuse_first="normalized_bills")
        refused = await remask(resources.pool, bq_sink, now=later)
        assert refused.payloads == 0 and len(refused.failed) == 1, refused
        assert refused.line_items == 1, "the run stopped at the refused batch"
        monkeypatch.undo()
        queries = QueriesSent(bq_sink, monkeypatch)
        again = await remask(resources.pool, bq_sink, now=later)
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = $1", uuid.UUID(bill_id))

    for batch in queries.source_rows("normalized_bills"):
        keys = [(r["bill_id"], r["revision"], r["published_at"]) for r in batch]
        assert len(keys) == len(set(keys)), "a bill row matches more than one source row: BigQuery refuses that"
    assert again == Remasked(payloads=2)
    payloads = payloads_held(bq_sink)
    assert len(payloads) == 2 and all(
        "customer_name" not in p and p["account_number"].startswith("****") for p in payloads
    )


async def test_a_bill_rows_descriptions_are_masked_with_its_revisions_own_number(
    http: httpx.AsyncClient, resources: Resources, bq_sink: BigQuerySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release that masked json_payload's account number but not its descriptions: those rows' descriptions were
    masked with Postgres' number, which a reviewer may have changed since, not the one the revision printed."""
    printed = f"97{uuid.uuid4().int % 10**8:08d}"
    corrected = f"96{uuid.uuid4().int % 10**8:08d}"
    account = await create_account(http, provider="pge", account_number=corrected)
    bill = NormalizedBill(
        account_number=printed,
        total_amount=Decimal("5"),
        line_items=[LineItem(description=f"Late fee, account {printed[:5]} {printed[5:]}", amount=Decimal("5"))],
    )
    bill_id = await store_bill(resources, account, bill.model_copy(update={"account_number": corrected}))
    row = analytics_row(bill_id, account, bill)
    published_by_an_earlier_release(bq_sink, monkeypatch, row)
    published_by_an_earlier_release(bq_sink, monkeypatch, row, number_masked=True)
    try:
        await remask(resources.pool, bq_sink, now=datetime.now(UTC) + timedelta(hours=2))
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = $1", uuid.UUID(bill_id))

    payloads = payloads_held(bq_sink)
    descriptions = [item["description"] for p in payloads for item in p["line_items"]]
    assert descriptions == [f"Late fee, account ****{printed[-4:]}"] * 2, descriptions


async def test_a_refused_line_item_batch_leaves_the_revisions_own_number_for_the_next_run(
    http: httpx.AsyncClient, resources: Resources, bq_sink: BigQuerySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bill rows were masked before the line items, whatever became of those: after a refused batch of line
    items, the next run found no revision's number unmasked and masked their descriptions with Postgres' number,
    which a reviewer had changed since, so the printed number stayed in the warehouse."""
    printed = f"95{uuid.uuid4().int % 10**8:08d}"
    corrected = f"94{uuid.uuid4().int % 10**8:08d}"
    account = await create_account(http, provider="pge", account_number=corrected)
    bill = NormalizedBill(
        account_number=printed,
        customer_name="Ada Lovelace",
        total_amount=Decimal("5"),
        line_items=[LineItem(description=f"Late fee, account {printed[:5]} {printed[5:]}", amount=Decimal("5"))],
    )
    bill_id = await store_bill(resources, account, bill.model_copy(update={"account_number": corrected}))
    row = analytics_row(bill_id, account, bill)
    published_by_an_earlier_release(bq_sink, monkeypatch, row)
    later = datetime.now(UTC) + timedelta(hours=2)
    try:
        QueriesSent(bq_sink, monkeypatch, refuse_first="bill_line_items")
        refused = await remask(resources.pool, bq_sink, now=later)
        assert refused.line_items == 0 and len(refused.failed) == 1, refused
        monkeypatch.undo()
        again = await remask(resources.pool, bq_sink, now=later)
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = $1", uuid.UUID(bill_id))

    assert again == Remasked(line_items=1, payloads=1), again
    descriptions = held(bq_sink, "SELECT description FROM {table}.bill_line_items")
    assert descriptions == [f"Late fee, account ****{printed[-4:]}"], descriptions
    [payload] = payloads_held(bq_sink)
    assert payload["account_number"] == f"****{printed[-4:]}" and "customer_name" not in payload, payload
    assert payload["line_items"][0]["description"] == descriptions[0]


async def test_remasking_reads_only_the_rows_it_may_change(
    http: httpx.AsyncClient, bq_sink: BigQuerySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It read both tables whole, into memory: rows this release wrote, or with no digit, are left in BigQuery."""
    account = await create_account(http, provider="pge", account_number=f"RM-{uuid.uuid4().hex[:8]}")
    bill = NormalizedBill(
        account_number="12345678",
        total_amount=Decimal("5"),
        line_items=[
            LineItem(description="Energy charge", amount=Decimal("2")),
            LineItem(description="Tier 501-1000 kWh", amount=Decimal("3")),
        ],
    )

    nothing_to_mask = bill.model_copy(update={"line_items": bill.line_items[:1]})
    bq_sink.publish_bill(analytics_row(str(uuid.uuid4()), account, nothing_to_mask))
    unmasked = analytics_row(str(uuid.uuid4()), account, bill)
    published_by_an_earlier_release(bq_sink, monkeypatch, unmasked)  # its account number whole
    later = datetime.now(UTC) + timedelta(hours=2)

    descriptions = sorted(held.description for held in bq_sink.line_item_descriptions(before=later))
    payloads = [held.bill_id for held in bq_sink.held_payloads(before=later)]

    assert descriptions == ["Tier 501-1000 kWh"]
    assert payloads == [unmasked.bill_id]
