"""Both sinks (BigQuery emulator, local DuckDB): publish twice counts once, rollup twice changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared import analytics
from shared.analytics import (
    AnalyticsBill,
    AnalyticsSink,
    BigQuerySink,
    LocalAnalyticsSink,
    MonthlyTotal,
    build_analytics_sink,
    daily_kwh,
    months_back,
    rollup_months,
)
from shared.bill import Commodity, LineItem, NormalizedBill, Provider, UsageReading, UsageUnit
from shared.settings import AnalyticsKind, Settings
from tests.fakes.bigquery_insert import FakeInsertAll

AS_OF = date(2024, 4, 15)


def query(sink: AnalyticsSink, sql: str) -> list[dict[str, Any]]:
    """Run ``sql`` ({name} = a table or view) on the sink's own engine."""
    if isinstance(sink, BigQuerySink):
        return [dict(r.items()) for r in sink._run(sql.format_map(_Refs(sink._ref)))]
    assert isinstance(sink, LocalAnalyticsSink)
    with sink._connect() as conn:
        cursor = conn.execute(sql.format_map(_Refs(str)))
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class _Refs(dict[str, str]):
    def __init__(self, ref: Any) -> None:
        super().__init__()
        self._ref = ref

    def __missing__(self, key: str) -> str:
        return str(self._ref(key))


def electric_bill(
    *, end: date = date(2024, 1, 31), total: str = "123.45", kwh: str = "310", items: int = 2
) -> NormalizedBill:
    return NormalizedBill(
        provider=Provider.PGE,
        bill_period_start=end.replace(day=1),
        bill_period_end=end,
        total_amount=Decimal(total),
        usage=[UsageReading(commodity=Commodity.ELECTRICITY, quantity=Decimal(kwh), unit=UsageUnit.KWH)],
        line_items=[LineItem(description=f"charge {n}", amount=Decimal("1.00")) for n in range(items)],
    )


def published(
    bill: NormalizedBill,
    *,
    bill_id: str | None = None,
    customer_id: int = 7,
    account: int = 70,
    created_at: datetime | None = None,
) -> AnalyticsBill:
    return AnalyticsBill(
        bill_id=bill_id or str(uuid.uuid4()),
        job_id=str(uuid.uuid4()),
        customer_id=customer_id,
        utility_account_id=account,
        bill=bill,
        created_at=created_at or datetime(2024, 2, 2, tzinfo=UTC),
    )


def test_publishing_twice_counts_once(sink: AnalyticsSink) -> None:
    row = published(electric_bill())
    sink.publish_bill(row)
    sink.publish_bill(row)  # a Temporal retry after a lost response

    assert query(sink, "SELECT COUNT(*) AS n FROM {normalized_bills}")[0]["n"] == 2  # no insertId dedupe here
    latest = query(sink, "SELECT bill_id, total_amount, kwh FROM {normalized_bills_latest}")
    assert latest == [{"bill_id": row.bill_id, "total_amount": Decimal("123.45"), "kwh": Decimal("310")}]
    assert query(sink, "SELECT COUNT(*) AS n FROM {bill_line_items_latest}")[0]["n"] == 2
    days = query(sink, "SELECT COUNT(*) AS n, SUM(kwh) AS kwh FROM {interval_usage_latest}")
    assert days == [{"n": 31, "kwh": Decimal("310")}]


def test_a_correction_replaces_the_bill_and_its_line_items(sink: AnalyticsSink) -> None:
    first = published(electric_bill(items=3))
    sink.publish_bill(first)
    corrected = first.model_copy(
        update={"bill": electric_bill(total="99.00", items=1), "created_at": first.created_at + timedelta(hours=1)}
    )
    sink.publish_bill(corrected)

    assert query(sink, "SELECT total_amount FROM {normalized_bills_latest}") == [{"total_amount": Decimal("99.00")}]
    assert query(sink, "SELECT COUNT(*) AS n FROM {bill_line_items_latest}")[0]["n"] == 1


def rollup_table(sink: AnalyticsSink) -> list[dict[str, Any]]:
    return query(sink, "SELECT * FROM {monthly_account_rollup} ORDER BY customer_id, utility_account_id, month")


def test_rollup_twice_gives_the_same_table(sink: AnalyticsSink) -> None:
    sink.publish_bill(published(electric_bill(end=date(2024, 1, 31), total="100.10", kwh="300")))
    sink.publish_bill(published(electric_bill(end=date(2024, 1, 20), total="20.05", kwh="10.5")))
    sink.publish_bill(published(electric_bill(end=date(2024, 2, 29), total="50.00", kwh="200")))
    gas = NormalizedBill(
        bill_period_end=date(2024, 2, 10),
        total_amount=Decimal("40.00"),
        usage=[UsageReading(commodity=Commodity.GAS, quantity=Decimal("12.5"), unit=UsageUnit.THERM)],
    )
    sink.publish_bill(published(gas, account=71))

    assert sink.rollup(date(2024, 1, 10), date(2024, 2, 20)) == 3
    once = rollup_table(sink)
    assert sink.rollup(date(2024, 1, 10), date(2024, 2, 20)) == 3
    assert rollup_table(sink) == once

    assert sink.monthly_totals(7, as_of=AS_OF) == [
        MonthlyTotal(
            utility_account_id=70,
            month=date(2024, 2, 1),
            total_cost=Decimal("50.00"),
            kwh=Decimal(200),
            therms=Decimal(0),
            ccf=Decimal(0),
            gallons=Decimal(0),
            bills=1,
        ),
        MonthlyTotal(
            utility_account_id=71,
            month=date(2024, 2, 1),
            total_cost=Decimal("40.00"),
            kwh=Decimal(0),
            therms=Decimal("12.5"),
            ccf=Decimal(0),
            gallons=Decimal(0),
            bills=1,
        ),
        MonthlyTotal(
            utility_account_id=70,
            month=date(2024, 1, 1),
            total_cost=Decimal("120.15"),
            kwh=Decimal("310.5"),
            therms=Decimal(0),
            ccf=Decimal(0),
            gallons=Decimal(0),
            bills=2,
        ),
    ]
    assert sink.monthly_totals(7, months=2, as_of=AS_OF) == []  # March and April only
    assert sink.monthly_totals(8, as_of=AS_OF) == []


def test_rollup_drops_account_months_that_no_longer_have_bills(sink: AnalyticsSink) -> None:
    row = published(electric_bill(end=date(2024, 1, 31)))
    sink.publish_bill(row)
    sink.rollup(date(2024, 1, 1), date(2024, 2, 28))
    moved = row.model_copy(
        update={"bill": electric_bill(end=date(2024, 2, 29)), "created_at": row.created_at + timedelta(days=1)}
    )
    sink.publish_bill(moved)  # a reviewer fixed the period

    sink.rollup(date(2024, 1, 1), date(2024, 2, 28))

    assert [(r["month"], r["bills"]) for r in rollup_table(sink)] == [(date(2024, 2, 1), 1)]


def test_rollup_leaves_months_outside_the_window_alone(sink: AnalyticsSink) -> None:
    sink.publish_bill(published(electric_bill(end=date(2023, 11, 30))))
    sink.rollup(date(2023, 11, 1), date(2023, 11, 30))
    sink.rollup(date(2024, 1, 1), date(2024, 2, 28))
    assert [r["month"] for r in rollup_table(sink)] == [date(2023, 11, 1)]


def test_daily_kwh_adds_up_exactly() -> None:
    days = daily_kwh(date(2024, 1, 1), date(2024, 1, 31), Decimal("100"))
    assert len(days) == 31 and sum(kwh for _, kwh in days) == Decimal("100")
    assert days[0][0] == date(2024, 1, 1) and days[-1][0] == date(2024, 1, 31)
    assert daily_kwh(date(2024, 2, 1), date(2024, 1, 1), Decimal(1)) == []


def test_windows_cover_whole_months() -> None:
    assert rollup_months(date(2024, 1, 10), date(2024, 3, 5)) == (date(2024, 1, 1), date(2024, 3, 1))
    assert months_back(date(2024, 4, 15), 12) == date(2023, 5, 1)
    assert months_back(date(2024, 1, 31), 1) == date(2024, 1, 1)


def test_factory(tmp_path: Any) -> None:
    assert build_analytics_sink(Settings(analytics=AnalyticsKind.DISABLED)) is None
    assert isinstance(
        build_analytics_sink(Settings(analytics=AnalyticsKind.LOCAL, data_dir=tmp_path)), LocalAnalyticsSink
    )


def test_a_row_bigquery_refuses_holds_back_only_its_own_bill(monkeypatch: pytest.MonkeyPatch) -> None:
    """BigQuery refuses a whole insertAll for one invalid row unless told to skip it: the batch's other bills land."""
    good, bad = published(electric_bill()), published(electric_bill(end=date(2024, 2, 29)))
    real_rows = analytics.bill_rows

    def with_a_bad_bill_row(row: AnalyticsBill, *, published_at: datetime) -> analytics.BillRows:
        built = real_rows(row, published_at=published_at)
        if row.bill_id == bad.bill_id:
            built.rows[analytics.NORMALIZED_BILLS.name][0]["no_such_column"] = 1
        return built

    monkeypatch.setattr(analytics, "bill_rows", with_a_bad_bill_row)
    with FakeInsertAll() as warehouse:
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)
        refused = sink.publish_bills([good, bad])
    assert set(refused) == {bad.bill_id}
    assert [r["bill_id"] for r in warehouse.written["normalized_bills"]] == [good.bill_id]
