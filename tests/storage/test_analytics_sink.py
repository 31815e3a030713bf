"""Both sinks (BigQuery emulator, local DuckDB): publish twice counts once, rollup twice changes nothing."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.analytics import AnalyticsActivities
from activities.bills import BillActivities
from shared import analytics
from shared.analytics import (
    AnalyticsBill,
    AnalyticsSink,
    BigQuerySink,
    Column,
    LocalAnalyticsSink,
    MonthlyTotal,
    build_analytics_sink,
    daily_kwh,
    months_back,
    rollup_months,
)
from shared.analytics.bigquery import PUBLISH_BUDGET_SECONDS, DatasetNotCreatable
from shared.analytics.rows import WITHHELD, bill_rows, remasked_payload, warehouse_text
from shared.analytics.schema import NORMALIZED_BILLS, VIEW_OF
from shared.bill import UNITS_BY_COMMODITY, Commodity, LineItem, NormalizedBill, Provider, UsageReading, UsageUnit
from shared.models import ArtifactRef, PersistRequest, PublishRequest
from shared.settings import AnalyticsKind, Settings
from stack.emulators import BigQueryEmulator
from tests.fakes.bigquery_datasets import FakeDatasets
from tests.fakes.bigquery_insert import FakeInsertAll
from tests.fakes.bigquery_tables import FakeTables
from tests.helpers import create_account, insert_job
from worker.republish_analytics import republish
from worker.resources import Resources
from workflows import policies

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


def test_latest_dates_are_each_bills_newest_row(sink: AnalyticsSink) -> None:
    first = published(electric_bill())
    sink.publish_bill(first)
    later = first.created_at + timedelta(hours=1, microseconds=7)
    sink.publish_bill(first.model_copy(update={"created_at": later}))
    other = published(electric_bill(), created_at=first.created_at - timedelta(days=1))
    sink.publish_bill(other)

    held = sink.latest_dates()
    assert (held[first.bill_id], held[other.bill_id]) == (later, other.created_at)


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
            currency="USD",
            total_cost=Decimal("50.00"),
            kwh=Decimal(200),
            therms=Decimal(0),
            gas_ccf=Decimal(0),
            water_ccf=Decimal(0),
            gallons=Decimal(0),
            gas_m3=Decimal(0),
            gas_gj=Decimal(0),
            water_m3=Decimal(0),
            bills=1,
            bills_with_usage=1,
        ),
        MonthlyTotal(
            utility_account_id=71,
            month=date(2024, 2, 1),
            currency="USD",
            total_cost=Decimal("40.00"),
            kwh=Decimal(0),
            therms=Decimal("12.5"),
            gas_ccf=Decimal(0),
            water_ccf=Decimal(0),
            gallons=Decimal(0),
            gas_m3=Decimal(0),
            gas_gj=Decimal(0),
            water_m3=Decimal(0),
            bills=1,
            bills_with_usage=1,
        ),
        MonthlyTotal(
            utility_account_id=70,
            month=date(2024, 1, 1),
            currency="USD",
            total_cost=Decimal("120.15"),
            kwh=Decimal("310.5"),
            therms=Decimal(0),
            gas_ccf=Decimal(0),
            water_ccf=Decimal(0),
            gallons=Decimal(0),
            gas_m3=Decimal(0),
            gas_gj=Decimal(0),
            water_m3=Decimal(0),
            bills=2,
            bills_with_usage=2,
        ),
    ]
    assert sink.monthly_totals(7, months=2, as_of=AS_OF) == []  # March and April only
    assert sink.monthly_totals(8, as_of=AS_OF) == []


def test_gas_and_water_measured_in_ccf_are_totalled_apart(sink: AnalyticsSink) -> None:
    """A municipal bill reads both in CCF: one sum of them would mean nothing."""
    municipal = NormalizedBill(
        bill_period_end=date(2024, 3, 31),
        total_amount=Decimal("80.00"),
        usage=[
            UsageReading(commodity=Commodity.GAS, quantity=Decimal("30"), unit=UsageUnit.CCF),
            UsageReading(commodity=Commodity.WATER, quantity=Decimal("12.5"), unit=UsageUnit.CCF),
            UsageReading(commodity=Commodity.WATER, quantity=Decimal("2"), unit=UsageUnit.CCF),
            UsageReading(commodity=Commodity.WATER, quantity=Decimal("900"), unit=UsageUnit.GAL),
            # a unit that fits no total (a reviewer approved it as read): kept in ``usage``, added to nothing
            UsageReading(commodity=Commodity.ELECTRICITY, quantity=Decimal("5"), unit=UsageUnit.CCF),
        ],
    )
    sink.publish_bill(published(municipal, account=72))
    sink.rollup(date(2024, 3, 1), date(2024, 3, 31))

    [march] = sink.monthly_totals(7, as_of=AS_OF)
    assert (march.gas_ccf, march.water_ccf, march.gallons, march.kwh, march.therms) == (
        Decimal(30),
        Decimal("14.5"),
        Decimal(900),
        Decimal(0),
        Decimal(0),
    )
    stored = query(sink, "SELECT gas_ccf, water_ccf, kwh FROM {normalized_bills_latest}")
    assert stored == [{"gas_ccf": Decimal(30), "water_ccf": Decimal("14.5"), "kwh": None}]


def test_a_months_cost_is_its_charges_not_the_amount_due(sink: AnalyticsSink) -> None:
    """February's 220.00 due is January's unpaid 100.00 and its own 120.00: the months cost 220.00 in all."""
    january = electric_bill(end=date(2024, 1, 31), total="100.00").model_copy(
        update={"current_charges": Decimal("100.00")}
    )
    february = electric_bill(end=date(2024, 2, 29), total="220.00").model_copy(
        update={
            "previous_balance": Decimal("100.00"),
            "payments_received": Decimal("0.00"),
            "current_charges": Decimal("120.00"),
        }
    )
    march = electric_bill(end=date(2024, 3, 31), total="42.00")  # states no charges: its amount due stands in
    for bill in (january, february, march):
        sink.publish_bill(published(bill))
    sink.rollup(date(2024, 1, 1), date(2024, 3, 31))

    costs = {m.month: m.total_cost for m in sink.monthly_totals(7, as_of=AS_OF)}
    assert costs == {date(2024, 1, 1): Decimal("100.00"), date(2024, 2, 1): Decimal("120.00"), date(2024, 3, 1): 42}


def test_a_month_billed_in_two_currencies_has_a_row_for_each(sink: AnalyticsSink) -> None:
    sink.publish_bill(published(electric_bill(total="10.00")))
    sink.publish_bill(published(electric_bill(total="5.00", kwh="20").model_copy(update={"currency": "CAD"})))
    sink.rollup(date(2024, 1, 1), date(2024, 1, 31))
    sink.rollup(date(2024, 1, 1), date(2024, 1, 31))  # the currencies' rows match themselves: nothing changes

    rows = {(m.currency, m.total_cost, m.kwh, m.bills) for m in sink.monthly_totals(7, as_of=AS_OF)}
    assert rows == {("CAD", Decimal("5.00"), Decimal(20), 1), ("USD", Decimal("10.00"), Decimal(310), 1)}


def test_bills_published_within_the_window_are_rolled_up_whatever_their_month(sink: AnalyticsSink) -> None:
    """A year of old bills uploaded today reaches the rollup; so does the month a correction moved one out of."""
    today = datetime.now(UTC).date()
    window = (today - timedelta(days=62), today)
    old = published(electric_bill(end=date(2023, 3, 31)))
    sink.publish_bill(old)
    sink.rollup(*window)
    assert [(m.month, m.bills) for m in sink.monthly_totals(7, months=60, as_of=today)] == [(date(2023, 3, 1), 1)]

    moved = old.model_copy(
        update={"bill": electric_bill(end=date(2023, 4, 30)), "created_at": old.created_at + timedelta(days=1)}
    )
    sink.publish_bill(moved)  # a reviewer fixed its period
    sink.rollup(*window)
    assert [(m.month, m.bills) for m in sink.monthly_totals(7, months=60, as_of=today)] == [(date(2023, 4, 1), 1)]


def test_tables_views_and_their_columns_say_what_they_hold(sink: AnalyticsSink) -> None:
    """An analyst reads a column's meaning beside it (BigQuery's console, a DuckDB comment), where the README is not:
    ``total_amount`` read as a cost counted every unpaid balance twice. A view's columns carry their table's."""
    assert all(_expected_descriptions().values()), "every table, view and column has its description"
    _assert_described(sink)


def test_a_view_whose_descriptions_bigquery_refuses_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    """Descriptions document; a start that failed on one would leave the worker down for no data's sake."""
    spec = analytics.NORMALIZED_BILLS
    fields = [_as_created_by_an_earlier_release(c) for c in spec.columns]
    with FakeTables("p", "d", "normalized_bills_latest", fields) as warehouse:
        warehouse.refusing = True
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)
        with caplog.at_level(logging.WARNING, logger="shared.analytics.bigquery"):
            sink._describe_view("normalized_bills_latest")
    assert warehouse.patches == 1
    [warned] = [r for r in caplog.records if r.getMessage() == "view's descriptions not set"]
    assert warned.__dict__["view"] == "normalized_bills_latest" and "Invalid schema update" in warned.__dict__["error"]


def test_every_commodity_and_unit_that_fit_have_a_total() -> None:
    assert set(analytics.USAGE_COLUMNS) == {
        (commodity, unit) for commodity, units in UNITS_BY_COMMODITY.items() for unit in units
    }


def _earlier_release(spec: analytics.TableSpec) -> analytics.TableSpec:
    """``spec`` as the first release created it: one ``ccf`` for gas and water alike, no metric units, no
    current charges, and months and line items without a currency."""
    added = {"gas_ccf", "water_ccf", "gas_m3", "gas_gj", "water_m3", "current_charges"}
    if spec in (analytics.MONTHLY_ACCOUNT_ROLLUP, analytics.BILL_LINE_ITEMS):
        added.add("currency")
    columns = [_undescribed(c) for c in spec.columns if c.name not in added]
    if any(c.name == "kwh" for c in columns):
        columns.append(Column("ccf", "NUMERIC"))
    return dataclasses.replace(spec, columns=tuple(columns), description="")


def _undescribed(column: Column) -> Column:
    """``column`` as releases before session 67 created it: no description, its record's fields none either."""
    return dataclasses.replace(column, description="", fields=tuple(_undescribed(f) for f in column.fields))


def _expected_descriptions() -> dict[str, str]:
    """Each table's and view's description, and each of their columns' (a record's fields by their path)."""
    views = {name: (spec.columns, analytics.schema.VIEW_DESCRIPTIONS[name]) for name, spec in VIEW_OF.items()}
    objects = {**{spec.name: (spec.columns, spec.description) for spec in analytics.TABLES}, **views}
    expected = {}
    for name, (columns, description) in objects.items():
        expected[name] = description
        for column in columns:
            expected[f"{name}.{column.name}"] = column.description
            for field in column.fields:
                expected[f"{name}.{column.name}.{field.name}"] = field.description
    return expected


def _assert_described(sink: AnalyticsSink) -> None:
    """The warehouse holds every description this release gives (a column it no longer writes keeps its own)."""
    held, expected = _descriptions(sink), _expected_descriptions()
    missing = {key for key in expected if key not in held}
    # DuckDB holds a record as JSON: its fields are no columns, and have no comment of their own.
    fields = {key for key in expected if key.count(".") == 2}
    assert missing == (fields if isinstance(sink, LocalAnalyticsSink) else set())
    shared = [key for key in expected if key in held]
    assert {key: held[key] for key in shared} == {key: expected[key] for key in shared}


def _descriptions(sink: AnalyticsSink) -> dict[str, str]:
    """What the warehouse holds as those descriptions (BigQuery's, DuckDB's comments), of ``_expected_descriptions``'
    tables, views and columns; nothing where it holds none. DuckDB holds a record as JSON, whose fields have none."""
    held: dict[str, str] = {}
    names = [spec.name for spec in analytics.TABLES] + list(VIEW_OF)
    if isinstance(sink, BigQuerySink):
        for name in names:
            table = sink._client.get_table(f"{sink._project}.{sink._dataset}.{name}")
            held[name] = table.description or ""
            for field in table.schema:
                held[f"{name}.{field.name}"] = field.description or ""
                for inner in field.fields:
                    held[f"{name}.{field.name}.{inner.name}"] = inner.description or ""
        return held
    assert isinstance(sink, LocalAnalyticsSink)
    with sink._connect() as conn:
        objects = conn.execute(
            "SELECT table_name, comment FROM duckdb_tables() UNION ALL"
            " SELECT view_name, comment FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
        columns = conn.execute("SELECT table_name || '.' || column_name, comment FROM duckdb_columns()").fetchall()
    return {name: comment or "" for name, comment in [*objects, *columns] if name.split(".")[0] in names}


@pytest.mark.parametrize("kind", ["bigquery", "local"])
def test_tables_an_earlier_release_created_get_the_new_columns(
    kind: str, request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make: Callable[[], AnalyticsSink]
    if kind == "bigquery":
        emulator: BigQueryEmulator = request.getfixturevalue("bigquery_emulator")
        dataset = f"t_{uuid.uuid4().hex[:12]}"
        make = lambda: BigQuerySink(project="minimeter-local", dataset=dataset, endpoint=emulator.url)  # noqa: E731
        module = "shared.analytics.bigquery"
    else:
        make = lambda: LocalAnalyticsSink(tmp_path / "analytics.duckdb")  # noqa: E731
        module = "shared.analytics.local"
    with monkeypatch.context() as earlier:  # TABLES where the sink's ensure_schema reads it
        earlier.setattr(f"{module}.TABLES", tuple(_earlier_release(spec) for spec in analytics.TABLES))
        make().ensure_schema()
    assert query(make(), "SELECT ccf FROM {normalized_bills}") == []  # the earlier release's table, not today's

    sink = make()
    sink.ensure_schema()
    sink.ensure_schema()  # every process runs it at start: the second adds nothing
    _assert_described(sink)  # the earlier release's tables and views now say what their columns hold
    query(  # a month the earlier release rolled up, before months had a currency; its bills are gone since
        sink,
        "INSERT INTO {monthly_account_rollup} (customer_id, utility_account_id, month, total_cost, bills, computed_at)"
        " VALUES (7, 70, DATE '2023-06-01', 5, 1, TIMESTAMP '2023-07-01 00:00:00+00')",
    )
    gas = NormalizedBill(
        bill_period_end=date(2024, 3, 31),
        usage=[
            UsageReading(commodity=Commodity.GAS, quantity=Decimal("30"), unit=UsageUnit.CCF),
            UsageReading(commodity=Commodity.WATER, quantity=Decimal("12.5"), unit=UsageUnit.M3),
        ],
        line_items=[LineItem(description="Gas delivery", amount=Decimal("20.00"))],
    )
    sink.publish_bill(published(gas))
    sink.rollup(date(2024, 3, 1), date(2024, 3, 31))
    assert [row["currency"] for row in query(sink, "SELECT currency FROM {bill_line_items}")] == ["USD"]

    [march] = sink.monthly_totals(7, months=24, as_of=AS_OF)  # June 2023 rewritten: it had no bills
    assert (march.month, march.currency, march.gas_ccf, march.water_ccf, march.water_m3, march.gas_m3) == (
        date(2024, 3, 1),
        "USD",
        Decimal(30),
        Decimal(0),
        Decimal("12.5"),
        Decimal(0),
    )


def _patch_table(sink: BigQuerySink, spec: analytics.TableSpec) -> None:
    """What ``ensure_schema`` does to a table that exists: its columns added since and its descriptions."""
    table = sink._client.get_table(f"p.d.{spec.name}")
    sink._patch_schema(spec.name, spec.columns, spec.description, table, add=True)


def test_columns_patched_in_by_another_process_first_are_not_added_twice() -> None:
    """Two workers start together after an upgrade: the second's patch meets a changed etag (412)."""
    spec = analytics.MONTHLY_ACCOUNT_ROLLUP
    old = [_as_created_by_an_earlier_release(c, described=True) for c in spec.columns if c.name != "currency"]
    with FakeTables("p", "d", spec.name, old, description=spec.description) as warehouse:
        currency = _as_created_by_an_earlier_release(next(c for c in spec.columns if c.name == "currency"))
        warehouse.patched_by_another = [*old, {**currency, "description": analytics.schema._CURRENCY}]
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)
        _patch_table(sink, spec)

        assert warehouse.patches == 1, "one patch, refused; the table read again already had the column"
        assert [f["name"] for f in warehouse.fields].count("currency") == 1


def test_a_dataset_created_beforehand_needs_no_permission_to_create_datasets() -> None:
    """roles/bigquery.dataEditor on the dataset, as the README documents: BigQuery answers a dataset insert
    403 (no bigquery.datasets.create on the project), which crash-looped every worker at start."""
    with FakeDatasets("p", {"d"}, may_create=False) as warehouse:
        BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)._ensure_dataset()
        assert warehouse.inserts == 0


def test_a_missing_dataset_this_identity_may_not_create_is_named_with_the_permission() -> None:
    with FakeDatasets("p", set(), may_create=False) as warehouse:
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)
        with pytest.raises(DatasetNotCreatable, match=r"p\.d does not exist .*bigquery\.datasets\.create"):
            sink._ensure_dataset()


def test_a_missing_dataset_is_created() -> None:
    with FakeDatasets("p", set(), may_create=True) as warehouse:
        BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)._ensure_dataset()
        assert warehouse.existing == {"d"}


def test_a_required_column_is_never_added_to_an_existing_table() -> None:
    spec = analytics.TableSpec("t", (Column("a", "STRING", True), Column("b", "STRING", True), Column("c", "STRING")))
    assert analytics.added_columns(spec, {"a", "b"}) == (Column("c", "STRING"),)
    with pytest.raises(ValueError, match="t: a column added to an existing table must be nullable: b"):
        analytics.added_columns(spec, {"a"})


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


def test_numeric_columns_are_written_in_fixed_point() -> None:
    """A zero-kWh day or an amount parsed as "1E+3" went out as "0E-9" / "1E+3": plain digits only."""
    bill = electric_bill(total="1E+3", kwh="0.000").model_copy(
        update={"line_items": [LineItem(description="credit", amount=Decimal("-5E+1"))]}
    )
    rows = analytics.bill_rows(published(bill), published_at=datetime(2024, 2, 3, tzinfo=UTC)).rows
    bill_row = rows[analytics.NORMALIZED_BILLS.name][0]
    assert (bill_row["total_amount"], bill_row["usage"][0]["quantity"]) == ("1000.00", "0.000")
    assert rows[analytics.BILL_LINE_ITEMS.name][0]["amount"] == "-50.00"
    kwh = {row["kwh"] for row in rows[analytics.INTERVAL_USAGE.name]}
    assert kwh and not any("E" in text for text in kwh), kwh


def test_windows_cover_whole_months() -> None:
    assert rollup_months(date(2024, 1, 10), date(2024, 3, 5)) == (date(2024, 1, 1), date(2024, 3, 1))
    assert months_back(date(2024, 4, 15), 12) == date(2023, 5, 1)
    assert months_back(date(2024, 1, 31), 1) == date(2024, 1, 1)


def test_factory(tmp_path: Any) -> None:
    assert build_analytics_sink(Settings(analytics=AnalyticsKind.DISABLED)) is None
    assert isinstance(
        build_analytics_sink(Settings(analytics=AnalyticsKind.LOCAL, data_dir=tmp_path)), LocalAnalyticsSink
    )


def test_local_analytics_without_duckdb_says_what_to_install(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The production image leaves the [local] extra out: ANALYTICS=local there must fail at start, clearly."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "duckdb" else real_find_spec(name, *a)
    )
    with pytest.raises(RuntimeError, match=r"ANALYTICS=local needs duckdb: pip install 'minimeter\[local\]'"):
        build_analytics_sink(Settings(analytics=AnalyticsKind.LOCAL, data_dir=tmp_path))


def test_a_row_bigquery_refuses_holds_back_only_its_own_bill(monkeypatch: pytest.MonkeyPatch) -> None:
    """BigQuery refuses a whole insertAll for one invalid row unless told to skip it: the batch's other bills land."""
    now = datetime.now(UTC)  # the fake, like BigQuery, streams only into partitions near today
    good, bad = (
        published(electric_bill(), created_at=now),
        published(electric_bill(end=date(2024, 2, 29)), created_at=now),
    )
    real_rows = analytics.bill_rows

    def with_a_bad_bill_row(row: AnalyticsBill, *, published_at: datetime) -> analytics.BillRows:
        built = real_rows(row, published_at=published_at)
        if row.bill_id == bad.bill_id:
            built.rows[analytics.NORMALIZED_BILLS.name][0]["no_such_column"] = 1
        return built

    monkeypatch.setattr("shared.analytics.bigquery.bill_rows", with_a_bad_bill_row)  # where BigQuerySink reads it
    with FakeInsertAll() as warehouse:
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)
        refused = sink.publish_bills([good, bad])
    assert set(refused) == {bad.bill_id}
    assert [r["bill_id"] for r in warehouse.written["normalized_bills"]] == [good.bill_id]


def years_ago(years: int) -> date:
    today = datetime.now(UTC).date()
    return date(today.year - years, today.month, 28 if today.month == 2 else 30)


def test_a_bill_for_a_period_over_five_years_old_reaches_the_warehouse() -> None:
    """interval_usage was partitioned by ts, the period's days, and BigQuery streams only into partitions
    from 1825 days back: such a bill was refused on every attempt for a day, then its job failed."""
    old = published(electric_bill(end=years_ago(6), kwh="300"), created_at=datetime.now(UTC))
    with FakeInsertAll() as warehouse:
        refused = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url).publish_bills([old])
    assert refused == {}
    assert sum(Decimal(r["kwh"]) for r in warehouse.written[analytics.INTERVAL_USAGE.name]) == Decimal(300)
    assert [r["bill_id"] for r in warehouse.written["normalized_bills"]] == [old.bill_id]


def test_interval_rows_never_stream_into_the_table_an_earlier_release_partitioned_by_ts() -> None:
    """Releases before partitioned interval_usage by ts; the README said to drop it and republish at once, but a
    table dropped and created anew under the same name may take streamed rows into the dropped one for minutes,
    insertAll answering success. This release writes its interval rows to a table of a name never used before."""
    old = published(electric_bill(end=years_ago(6), kwh="300"), created_at=datetime.now(UTC))
    with FakeInsertAll() as warehouse:
        warehouse.partitioned_by["interval_usage"] = "ts"  # still in the dataset, as the earlier release made it
        refused = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url).publish_bills([old])
    assert refused == {}
    assert "interval_usage" not in warehouse.written
    assert sum(Decimal(r["kwh"]) for r in warehouse.written[analytics.INTERVAL_USAGE.name]) == Decimal(300)


async def test_a_refused_bill_is_retried_with_the_remedy_and_lands_once_the_table_is_fixed() -> None:
    """A refusal for a table partitioned by the bill's dates failed the publish at once, non-retryable: the bill
    stayed stored without its rows (the same file again is a DUPLICATE) even after the operator fixed the table."""
    bill = electric_bill(end=years_ago(6))
    request = PublishRequest(
        job_id="j",
        bill_id=str(uuid.uuid4()),
        customer_id=7,
        utility_account_id=70,
        bill=bill,
        stored_at=datetime.now(UTC),
    )
    interval_table = analytics.INTERVAL_USAGE.name
    with FakeInsertAll() as warehouse:
        warehouse.partitioned_by[interval_table] = "ts"  # made by hand, say, as the warning at start would name
        publish = AnalyticsActivities(BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)).publish_analytics
        with pytest.raises(Exception) as failed:
            await ActivityEnvironment().run(publish, request)
        assert not (isinstance(failed.value, ApplicationError) and failed.value.non_retryable), repr(failed.value)
        assert type(failed.value).__name__ == "AnalyticsRowsUnstreamable"
        assert "outside the allowed bounds" in str(failed.value) and "recreate it as the README says" in str(
            failed.value
        )
        assert "normalized_bills" not in warehouse.written, "a bill row over children the warehouse refused"

        warehouse.partitioned_by[interval_table] = "published_at"  # the operator recreated it: the retry lands
        await ActivityEnvironment().run(publish, request)
    assert [r["bill_id"] for r in warehouse.written["normalized_bills"]] == [request.bill_id]


def test_a_bill_queued_behind_a_slow_batch_still_fits_its_activitys_timeout() -> None:
    """Waiting for the batch being written, then its own batch forming and being written: a budget of
    90 s let that take ~180 s against publish_analytics' 2 minutes, so slow warehouses timed attempts out."""
    forming = Settings.model_fields["analytics_batch_max_wait_ms"].default / 1000
    assert 2 * PUBLISH_BUDGET_SECONDS + forming < policies.ANALYTICS.start_to_close.total_seconds()


def test_a_batch_the_warehouse_is_too_slow_for_stops_within_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full batch is several requests of up to 15 s each: past the batch's budget no further one starts,
    so the activity fails and is retried instead of outliving its timeout while the thread still writes."""
    bill = published(electric_bill(), created_at=datetime.now(UTC))
    monkeypatch.setattr("shared.analytics.bigquery.INSERT_CHUNK_ROWS", 1)  # a request per row, as in a full batch
    monkeypatch.setattr("shared.analytics.bigquery.PUBLISH_BUDGET_SECONDS", 0.5)
    with FakeInsertAll() as warehouse:
        warehouse.delay = 0.2
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)
        with pytest.raises(Exception) as raised:  # AnalyticsOutOfTime, or the client giving up at the budget
            sink.publish_bills([bill])
        assert "normalized_bills" not in warehouse.written, f"the batch ran to its end ({raised.value!r})"

        warehouse.delay = 0.0
        assert sink.publish_bills([bill]) == {}  # Temporal's retry: every row, once (insertIds)
    assert [r["bill_id"] for r in warehouse.written["normalized_bills"]] == [bill.bill_id]


@pytest.mark.parametrize("budget", [60.0, 18.0, 8.0])
def test_each_requests_retries_and_last_attempt_end_within_the_batchs_budget(
    monkeypatch: pytest.MonkeyPatch, budget: float
) -> None:
    """The client starts no retry past its deadline, but an attempt started just before it runs its whole timeout:
    retrying until the budget's end let a batch run a timeout past it (a slow answer after two 503s), and a bill
    queued behind it outran publish_analytics' 2 minutes."""
    monkeypatch.setattr("shared.analytics.bigquery.PUBLISH_BUDGET_SECONDS", budget)
    asked: list[tuple[float, float, float]] = []
    with FakeInsertAll() as warehouse:
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)
        insert = sink._client.insert_rows_json

        def recorded(*args: Any, timeout: float, retry: Any, **kwargs: Any) -> Any:
            left = sink_deadline[0] - time.monotonic()
            asked.append((left, timeout, retry.timeout))
            return insert(*args, **kwargs | {"timeout": timeout, "retry": retry})

        sink_deadline = [time.monotonic() + budget]
        monkeypatch.setattr(sink._client, "insert_rows_json", recorded)
        assert sink.publish_bills([published(electric_bill(), created_at=datetime.now(UTC))]) == {}
    assert asked
    for left, timeout, retrying in asked:
        assert retrying + timeout <= left + 0.5, (left, timeout, retrying)  # 0.5 s: this test's own clock


async def test_republishing_fills_the_columns_rows_of_an_earlier_release_lack(
    http: httpx.AsyncClient, resources: Resources, bq_sink: BigQuerySink
) -> None:
    """A gas bill stored before gas_ccf existed counts no gas in the warehouse until it is published again."""
    account = await create_account(http, provider="sfpuc", account_number=f"RP-{uuid.uuid4().hex[:8]}")
    gas = NormalizedBill(
        bill_period_start=date(2024, 3, 1),
        bill_period_end=date(2024, 3, 31),
        total_amount=Decimal("180.00"),
        previous_balance=Decimal("100.00"),
        payments_received=Decimal("0.00"),
        current_charges=Decimal("80.00"),
        usage=[UsageReading(commodity=Commodity.GAS, quantity=Decimal("30"), unit=UsageUnit.CCF)],
    )
    job_id = await insert_job(resources.pool, account, status="RUNNING")
    stored = await ActivityEnvironment().run(
        BillActivities(resources.pool).persist_bill,
        PersistRequest(
            job_id=job_id,
            customer_id=account["customer_id"],
            utility_account_id=account["id"],
            artifact=ArtifactRef(uri="gs://b/rp", sha256=uuid.uuid4().hex * 2, size=1, content_type="text/plain"),
            bill=gas,
        ),
    )
    # Releases before 146b5de dated a row when its publish started, after Postgres stored the bill.
    assert stored.stored_at is not None
    publish_started = stored.stored_at + timedelta(seconds=3)
    old_shape = published(
        gas,
        bill_id=stored.bill_id,
        customer_id=account["customer_id"],
        account=account["id"],
        created_at=publish_started,
    )
    bq_sink.publish_bill(old_shape)
    query(bq_sink, "UPDATE {normalized_bills} SET gas_ccf = NULL, current_charges = NULL WHERE TRUE")  # as before

    damaged_job, damaged = await insert_job(resources.pool, account, status="SUCCEEDED"), uuid.uuid4()
    await resources.pool.execute(  # a payload stored as a JSON string, not an object
        "INSERT INTO bills (id, job_id, customer_id, utility_account_id, currency, content_sha256, source, payload)"
        " VALUES ($1, $2, $3, $4, 'USD', $5, 'extraction', $6)",
        damaged,
        damaged_job,
        account["customer_id"],
        account["id"],
        uuid.uuid4().hex,
        "{}",
    )
    try:
        first = await republish(resources.pool, bq_sink, batch=50)
        again = await republish(resources.pool, bq_sink, batch=50)  # the view still holds one row per bill
    finally:
        await resources.pool.execute("DELETE FROM bills WHERE id = $1", damaged)
    assert first.published >= 1 and again.published == first.published
    assert str(damaged) in first.unreadable  # named, skipped, and the rest still published
    bq_sink.rollup(date(2024, 3, 1), date(2024, 3, 31))

    [march] = bq_sink.monthly_totals(account["customer_id"], months=36, as_of=AS_OF)
    assert (march.gas_ccf, march.total_cost, march.bills) == (Decimal(30), Decimal("80.00"), 1)


def test_the_warehouse_never_holds_the_account_number_or_the_customers_name_and_address(sink: AnalyticsSink) -> None:
    """BigQuery is shared more widely than any other store: it gets the bill masked as the API shows it."""
    bill = electric_bill().model_copy(
        update={"account_number": "9876543210", "customer_name": "Jane Roe", "service_address": "12 Elm St, Ely"}
    )
    sink.publish_bill(published(bill))

    [row] = query(sink, "SELECT * FROM {normalized_bills}")
    held = " ".join(str(value) for value in row.values())
    assert "9876543210" not in held
    assert "Jane Roe" not in held
    assert "Elm St" not in held
    assert "****3210" in str(row["json_payload"])  # the last four, as the API's account_number_masked


ORDINARY_DESCRIPTIONS = [
    "Electric usage 01/01/2024-01/31/2024",
    "Tier 2 0-500 kWh @ $0.12345678",
    "Service charge 30 days",
    "Tier 2 501-1000 kWh",
    "Tier 3 1001-2500 kWh @ $0.35",
    "Block 2 2001-4000 gallons",
    "Step 2 10001-20000 gal",
    "Usage 20240101-20240131",
    "Read 2024 0131 to 2024 0229",
    "Demand 12 345 678 W",
    "Turnkey: rebate",
    "Account number change fee",
]


@pytest.mark.parametrize(
    ("account", "printed", "masked"),
    [
        (
            "9876-543-210",
            ["Late fee, acct 9876 543 210", "Transfer from account no: 4111-1111-1111-1111", "Ref 9876543210 adj"],
            ["Late fee, acct ****3210", "Transfer from account no: ****1111", "Ref ****3210 adj"],
        ),
        # The bill's own number as no digit rule would see it: only its own-number masking hides it.
        (
            "AB-1234-XY",
            ["Transfer to AB 1234 XY", "Acct # 4111 1111 1111 1111 paid"],
            ["Transfer to ****34XY", "Acct # ****1111 paid"],
        ),
        # Other numbers: a card's or another account's in groups, or after a bare label.
        (
            "9876-543-210",
            [
                "Payment by card 4111 1111 1111 1111 thank you",
                "Autopay from checking 0123-4567-8901",
                "Transferred balance from acct 5555-6666-7777",
                "Account: 1234 5678 9012 credit",
                "Acct. 99887766 credit",
            ],
            [
                "Payment by card ****1111 thank you",
                "Autopay from checking ****8901",
                "Transferred balance from acct ****7777",
                "Account: ****9012 credit",
                "Acct. ****7766 credit",
            ],
        ),
    ],
)
def test_line_item_descriptions_reach_the_warehouse_without_account_numbers(
    sink: AnalyticsSink, account: str, printed: list[str], masked: list[str]
) -> None:
    """A description is free text, and a bill may print its account number (or another) in one: the warehouse
    gets it masked there as in ``json_payload``, while tier ranges, compact dates, amounts and words stay as read."""
    ordinary = ORDINARY_DESCRIPTIONS
    bill = electric_bill().model_copy(
        update={
            "account_number": account,
            "line_items": [LineItem(description=text, amount=Decimal("1.00")) for text in ordinary + printed],
        }
    )
    sink.publish_bill(published(bill))

    items = query(sink, "SELECT line_no, description FROM {bill_line_items} ORDER BY line_no")
    descriptions = [row["description"] for row in items]
    [payload] = [str(row["json_payload"]) for row in query(sink, "SELECT json_payload FROM {normalized_bills}")]
    assert descriptions[: len(ordinary)] == ordinary
    assert descriptions[len(ordinary) :] == masked
    for held in (" ".join(descriptions[len(ordinary) :]), payload):
        for number in ("9876", "4111", "AB 1234", "0123", "5555", "1234 5678", "9988"):
            assert number not in held
    assert all(text in payload for text in descriptions)


@pytest.mark.parametrize(
    ("account", "text", "held"),
    [
        ("12345", "Credit $123.45 applied", "Credit $123.45 applied"),  # a short number spread over an amount
        ("12345", "Rebate 12.345 kWh", "Rebate 12.345 kWh"),
        ("12345", "Ref 12345 adj", "Ref ****45 adj"),  # printed whole, it is the number
        ("12-345", "Ref 12-345 adj", "Ref ****45 adj"),
        ("9876543210", "Paid $9876543210.00", "Paid $9876543210.00"),
        ("9876-543-210", "Account 3 of 5", "Account 3 of 5"),
        ("9876-543-210", "Account: rebate", "Account: rebate"),
    ],
)
def test_a_short_own_number_is_masked_only_as_printed_not_inside_amounts(account: str, text: str, held: str) -> None:
    assert warehouse_text(text, account) == held


@pytest.mark.parametrize(
    ("account", "text", "held"),
    [
        ("9876543210", "Late fee acct.9876543210", "Late fee acct.****3210"),
        ("9876543210", "Ref No.9876543210 adj", "Ref No.****3210 adj"),
        ("98765", "Ref No.98765 adj", "Ref No.****65 adj"),  # a short own number, printed whole
        ("1234 5678", "Paid by card no.4111111111111111", "Paid by card no.****1111"),
        ("1234 5678", "Autopay chk.0123-4567-8901", "Autopay chk.****8901"),
        # A dot after a digit, a blank or a sign starts a decimal: its digits stay.
        ("1234 5678", "Rate @ .12345678901/kWh", "Rate @ .12345678901/kWh"),
        ("1234 5678", "Tier 2 @ $0.12345678901", "Tier 2 @ $0.12345678901"),
        ("98765", "Adjustment .98765 kWh", "Adjustment .98765 kWh"),
        ("98765", "Credit $.98765", "Credit $.98765"),
    ],
)
def test_a_number_after_an_abbreviations_dot_is_masked(account: str, text: str, held: str) -> None:
    """A number written "No.9876543210" was kept whole: the dot before it was taken for a decimal point."""
    assert warehouse_text(text, account) == held


@pytest.mark.parametrize(
    ("account", "text", "held"),
    [
        ("1234567890", "Balance transferred from ACCT1234567890", "Balance transferred from ACCT****7890"),
        ("1234567890", "Autopay from acct 1234567890ACH", "Autopay from acct ****7890ACH"),
        ("1234-5678", "Ref ACCT1234-5678 adj", "Ref ACCT****5678 adj"),
        ("1234 5678", "Card4111111111111111 payment", "Card****1111 payment"),
        ("1234 5678", "Payment card 4111111111111111-thank you", "Payment card ****1111-thank you"),
        ("1234 5678", "Transfer to account_9876543210", "Transfer to account_****3210"),
        ("1234 5678", "Acct-9876543210 late fee", "Acct-****3210 late fee"),
        ("1234 5678", "Card4111-1111-1111-1111 refund", "Card****1111 refund"),
        ("1234 5678", "Visa4111 1111 1111 1111", "Visa****1111"),
        ("1234 5678", "ref_0123-4567-8901", "ref_****8901"),
        # A short own number glued to a word may be part of one, and an amount stays whatever touches it.
        ("12345", "Code AB12345 rebate", "Code AB12345 rebate"),
        ("1234 5678", "Credit US$12345678901.00", "Credit US$12345678901.00"),
    ],
)
def test_a_number_glued_to_a_word_is_masked(account: str, text: str, held: str) -> None:
    """Text layers glue a label to its number: the bill's own number, or ten digits or more, beside a letter, "_"
    or "-" reached the warehouse in full."""
    assert warehouse_text(text, account) == held


@pytest.mark.parametrize(
    ("account", "text", "held"),
    [
        # A decimal-comma bill groups digits with dots, and its descriptions are kept as printed.
        ("1234 5678", "Late fee contract 12.345.678", "Late fee contract ****5678"),
        ("1234 5678", "Late fee contract 12.345.678 € 12,50", "Late fee contract ****5678 € 12,50"),
        ("1234 5678", "Vertrag Nr. 1234.5678 Mahngebühr", "Vertrag Nr. ****5678 Mahngebühr"),
        ("1234 5678", "Rebate 12.345.678,90", "Rebate 12.345.678,90"),  # an amount, not the number
        ("1234 5678", "Rebate 0,12345678", "Rebate 0,12345678"),
        ("1234 5678", "Energy 1.234,56 kWh", "Energy 1.234,56 kWh"),
        ("1234 5678", "Meter 87.654.321 kWh", "Meter 87.654.321 kWh"),  # another 8-digit figure
        ("12.345", "Ref 12.345 adj", "Ref ****45 adj"),
        ("12.345", "Credit 12.345,67 applied", "Credit 12.345,67 applied"),  # a short number as printed, in an amount
        # Another number of 10 digits or more, grouped with dots; amounts so grouped stay.
        ("1234 5678", "Autopay from checking 0123.4567.8901", "Autopay from checking ****8901"),
        ("1234 5678", "Grid levy 1.234.567.890,12", "Grid levy 1.234.567.890,12"),
        ("1234 5678", "Grid levy 123.456.789.012,50", "Grid levy 123.456.789.012,50"),
    ],
)
def test_numbers_grouped_with_dots_on_decimal_comma_bills_are_masked_but_amounts_are_not(
    account: str, text: str, held: str
) -> None:
    assert warehouse_text(text, account) == held


NBSP, THIN, NARROW_NBSP, HYPHEN, FIGURE_DASH, EN_DASH, MINUS = (
    "\u00a0",
    "\u2009",
    "\u202f",
    "\u2010",
    "\u2012",
    "\u2013",
    "\u2212",
)


@pytest.mark.parametrize(
    ("account", "text", "held"),
    [
        # The bill's own number, as a word processor or a PDF's text layer writes its groups.
        ("9876-543-210", f"Late fee, acct 9876{NBSP}543{NBSP}210", "Late fee, acct ****3210"),
        ("9876-543-210", f"Ref 9876{EN_DASH}543{EN_DASH}210 adj", "Ref ****3210 adj"),
        ("12-345", f"Ref 12{HYPHEN}345 adj", "Ref ****45 adj"),
        ("12 345", f"Ref 12{NARROW_NBSP}345 adj", "Ref ****45 adj"),
        # Another account's or a card's number, labelled or not.
        (
            "9876-543-210",
            f"Payment by card 4111{NBSP}1111{NBSP}1111{NBSP}1111 thank you",
            "Payment by card ****1111 thank you",
        ),
        ("9876-543-210", f"Autopay from checking 0123{MINUS}4567{MINUS}8901", "Autopay from checking ****8901"),
        ("9876-543-210", f"Card 4111{FIGURE_DASH}1111{FIGURE_DASH}1111{FIGURE_DASH}1111", "Card ****1111"),
        ("9876-543-210", f"Account: 1234{THIN}5678{THIN}9012 credit", "Account: ****9012 credit"),
        (
            "9876-543-210",
            f"Transfer from account no: 4111{NBSP}1111{NBSP}1111{NBSP}1111",
            "Transfer from account no: ****1111",
        ),
        # Ranges, dates and amounts so written stay, as they do with ASCII separators.
        ("9876-543-210", f"Tier 2 501{EN_DASH}1000 kWh", f"Tier 2 501{EN_DASH}1000 kWh"),
        ("9876-543-210", f"Usage 20240101{EN_DASH}20240131", f"Usage 20240101{EN_DASH}20240131"),
        ("9876-543-210", f"Demand 12{NBSP}345{NBSP}678 W", f"Demand 12{NBSP}345{NBSP}678 W"),
        (
            "9876-543-210",
            f"Grid levy 1{NARROW_NBSP}234{NARROW_NBSP}567{NARROW_NBSP}890,12",
            f"Grid levy 1{NARROW_NBSP}234{NARROW_NBSP}567{NARROW_NBSP}890,12",
        ),
        ("12345", f"Credit {MINUS}$123.45 applied", f"Credit {MINUS}$123.45 applied"),
    ],
)
def test_numbers_grouped_with_unicode_spaces_or_dashes_are_masked_as_with_ascii_ones(
    account: str, text: str, held: str
) -> None:
    """A no-break or thin space or a Unicode dash between digit groups kept the number whole in the warehouse."""
    assert warehouse_text(text, account) == held


EM_DASH = "\u2014"


@pytest.mark.parametrize("dash", [EN_DASH, EM_DASH, MINUS])
@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("Paid by card{dash}4111-1111-1111-1111", "Paid by card{dash}****1111"),
        ("Card 4111-2222-3333-4444{dash}thanks", "Card ****4444{dash}thanks"),
        ("Paid by card{dash}4111 1111 1111 1111", "Paid by card{dash}****1111"),
        ("Autopay{dash}ACCT1234567890{dash}monthly", "Autopay{dash}ACCT****7890{dash}monthly"),
    ],
)
def test_a_number_beside_a_dash_of_prose_is_masked_whole(dash: str, text: str, held: str) -> None:
    """An en or em dash or a minus sign beside a number was taken for part of a longer dashed figure, so the
    number was left whole, or masked from its second group with its first shown."""
    assert warehouse_text(text.format(dash=dash), "9876-543-210") == held.format(dash=dash)


@pytest.mark.parametrize(
    "figure",
    [
        "Rebate REF-1234-5678-9012",
        f"Rebate REF{HYPHEN}1234{HYPHEN}5678{HYPHEN}9012",
        "Rebate 1234-5678-9012-X",
        f"Usage 20240131{EN_DASH}1234{EN_DASH}5678{EN_DASH}9012",
    ],
)
def test_digit_groups_hyphenated_to_a_word_or_dashed_to_a_figure_are_left(figure: str) -> None:
    """A hyphen between digit groups and a word, or any dash after a longer figure's digits, still joins them into
    one code, left as it is."""
    assert warehouse_text(figure, "9876-543-210") == figure


def test_remasking_mends_a_number_grouped_with_unicode_dashes() -> None:
    """``--remask`` rewrites a description an earlier release published through the same rule, so it mends these."""
    payload = {"account_number": "9876543210", "line_items": [{"description": f"Ref 9876{EN_DASH}543{EN_DASH}210"}]}
    assert remasked_payload(payload, None)["line_items"] == [{"description": "Ref ****3210"}]


def test_a_correction_of_the_account_number_alone_is_still_a_new_revision() -> None:
    """The revision hashes the whole bill, masked fields and all, so a reviewer's fix of one is not lost."""
    row = published(electric_bill().model_copy(update={"account_number": "9876543210"}))
    fixed = row.model_copy(update={"bill": row.bill.model_copy(update={"account_number": "1111543210"})})

    now = datetime(2024, 2, 3, tzinfo=UTC)
    assert analytics.bill_rows(row, published_at=now).ids != analytics.bill_rows(fixed, published_at=now).ids


def test_a_version_with_an_earlier_versions_figures_is_streamed_under_its_own_ids() -> None:
    """A reopened bill corrected back to its first figures has the first version's revision (a content hash): under
    ids of bill and revision alone BigQuery's deduplication, within its window, dropped its rows as the first
    version's, and the view kept the figures it corrected (an analyst's probe, 72B). A retry of one version's
    publish keeps its ids."""
    first = published(electric_bill())
    reverted = first.model_copy(update={"created_at": first.created_at + timedelta(minutes=1)})
    now = datetime(2024, 2, 3, tzinfo=UTC)

    rows, again = analytics.bill_rows(first, published_at=now), analytics.bill_rows(first, published_at=now)
    back = analytics.bill_rows(reverted, published_at=now + timedelta(minutes=1))

    assert rows.rows[NORMALIZED_BILLS.name][0]["revision"] == back.rows[NORMALIZED_BILLS.name][0]["revision"]
    assert again.ids == rows.ids
    for table, ids in rows.ids.items():
        assert ids and not set(ids) & set(back.ids[table]), table


def _as_created_by_an_earlier_release(column: Column, *, without: str = "", described: bool = False) -> dict[str, Any]:
    """A column as tables.get shows it, one of its sub-fields (``without``) not yet in the release that made it;
    with this release's descriptions where ``described`` (releases before session 67 gave none)."""
    mode = "REPEATED" if column.fields else ("REQUIRED" if column.required else "NULLABLE")
    field: dict[str, Any] = {"name": column.name, "type": column.type, "mode": mode}
    if described:
        field["description"] = column.description
    if column.fields:
        field["fields"] = [
            _as_created_by_an_earlier_release(f, described=described) for f in column.fields if f.name != without
        ]
    return field


def test_a_sub_field_added_to_a_record_is_patched_into_an_existing_table() -> None:
    """BigQuery refuses every row with a field its table lacks: a new ``usage`` field must reach old tables too."""
    spec = analytics.NORMALIZED_BILLS
    old = [_as_created_by_an_earlier_release(c, without="meter_number") for c in spec.columns]
    old.append({"name": "ccf", "type": "NUMERIC", "mode": "NULLABLE", "description": "no longer written"})
    with FakeTables("p", "d", spec.name, old) as warehouse:
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)
        _patch_table(sink, spec)
        _patch_table(sink, spec)  # the next start: nothing to add

        assert warehouse.patches == 1
        [usage] = [f for f in warehouse.fields if f["name"] == "usage"]
        assert [(f["name"], f["mode"]) for f in usage["fields"]] == [
            ("commodity", "NULLABLE"),
            ("quantity", "NULLABLE"),
            ("unit", "NULLABLE"),
            ("meter_number", "NULLABLE"),
        ]
        assert usage["mode"] == "REPEATED"
        assert warehouse.fields[-1] == old[-1]  # a column no longer written is kept as it was


def test_a_required_sub_field_is_never_added_to_an_existing_table() -> None:
    record = Column("usage", "RECORD", fields=(Column("unit", "STRING"), Column("meter", "STRING", True)))
    spec = analytics.TableSpec("t", (record,))
    old = [_as_created_by_an_earlier_release(record, without="meter")]
    with FakeTables("p", "d", "t", old) as warehouse:
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)
        with pytest.raises(ValueError, match=r"t\.usage: a column added to an existing table must be nullable: meter"):
            _patch_table(sink, spec)
        assert warehouse.patches == 0


def test_a_customers_rows_are_counted_and_erased_in_every_table_and_no_others(sink: AnalyticsSink) -> None:
    """The warehouse's part of ``python -m worker.erase_customer``, in BigQuery's SQL and DuckDB's translation."""
    sink.publish_bills([published(electric_bill(), customer_id=901), published(electric_bill(), customer_id=902)])
    sink.rollup(date(2024, 1, 1), date(2024, 2, 28))
    held = sink.customer_rows(901)
    assert set(held) == {spec.name for spec in analytics.TABLES} and all(held.values()), held

    sink.erase_customer(901)

    assert set(sink.customer_rows(901).values()) == {0}
    assert sink.customer_rows(902) == held


def test_line_items_never_carry_who_the_bill_is_for() -> None:
    """A line item's free text named the customer and the service address, and the warehouse, which holds no name or
    address anywhere else, held them in ``bill_line_items`` and ``json_payload`` (a privacy probe, 76A)."""
    bill = electric_bill().model_copy(
        update={
            "customer_name": "Alice Secret-Person",
            "service_address": "12 Secret Lane, Springfield, CA 94000",
            "line_items": [
                LineItem(description="Medical baseline credit ALICE  SECRET-PERSON", amount=Decimal("-5.00")),
                LineItem(description="Service at 12 Secret Lane", amount=Decimal("3.00")),
                LineItem(description="Electric charge (Secret Lane is not a name here)", amount=Decimal("3.00")),
            ],
        }
    )
    rows = bill_rows(published(bill), published_at=datetime(2024, 2, 3, tzinfo=UTC)).rows
    held = [item["description"] for item in rows["bill_line_items"]]
    assert held == [
        f"Medical baseline credit {WITHHELD}",
        f"Service at {WITHHELD}",
        "Electric charge (Secret Lane is not a name here)",
    ]
    payload = json.loads(rows["normalized_bills"][0]["json_payload"])
    assert [item["description"] for item in payload["line_items"]] == held
    earlier = remasked_payload({**bill.model_dump(mode="json")}, None)
    assert [item["description"] for item in earlier["line_items"]] == held, "--remask withholds them too"
