"""Analytics warehouse: normalized bills streamed to BigQuery, monthly rollups read back.

Idempotency design (why an append-only table plus deduplicating views, not MERGE):

* ``publish_bill`` is a streaming insert (``tabledata.insertAll``) with ``insertId``
  ``{bill_id}:{revision}`` (``revision`` = hash of the bill's content). BigQuery's
  insertId dedupe is best effort only (about a minute, and not at all in the
  emulator), so correctness never relies on it.
* Correctness comes from reading through views that keep one row per key:
  ``normalized_bills_latest`` is ``QUALIFY ROW_NUMBER() OVER (PARTITION BY bill_id
  ORDER BY created_at DESC, published_at DESC) = 1``. Publishing the same bill twice
  (a Temporal retry after a lost response) therefore still counts once, and a
  re-issued statement (same ``bill_id``, later ``created_at``) replaces the stored
  one. ``created_at`` is when Postgres stored that version, so the re-issue wins
  even if the original's publish, retried through an outage, lands after it.
  ``bill_line_items_latest`` and ``interval_usage_latest`` keep
  the child rows of that winning revision only, so a correction with fewer line
  items leaves no stale ones behind.
* MERGE was rejected for the publish path: streamed rows sit in BigQuery's
  streaming buffer, where UPDATE/DELETE/MERGE cannot touch them for up to ~30 min,
  and a MERGE per bill costs a query job (slots, quotas, seconds of latency) where
  insertAll costs milliseconds. Duplicates cost a little storage; a scheduled
  compaction could drop them, but is not needed for correctness.
* Child rows are inserted before the bill row, so a reader never sees a bill
  revision whose line items have not arrived.
* ``publish_bills`` writes many bills in one insertAll per table (at most
  ``INSERT_CHUNK_ROWS`` rows per request, as BigQuery advises). Each row keeps its
  own insertId and the views still dedupe, so a batch that fails and is retried bill
  by bill writes nothing the views would count twice; a row the warehouse refuses
  fails only the bill it belongs to, whose bill row is then not written.
* ``rollup`` *is* a single MERGE into ``monthly_account_rollup`` (a table never
  streamed into): rows of the window are updated, inserted, or deleted when their
  account-month vanished (``WHEN NOT MATCHED BY SOURCE``), all in one atomic
  statement. Unchanged rows are not rewritten, so running it twice yields an
  identical table, ``computed_at`` included. The window also takes in the months of
  every bill published since its first day, whatever month the bill is for (a
  year of old bills uploaded at once, or a correction that moved a bill's month).

Months: a bill belongs to the month of its ``bill_period_end`` (else its statement
date, else the day it was published). Usage totals are per commodity and unit
(``USAGE_COLUMNS``): CCF measures gas and water alike, so each has its own column.
A month's cost is its bills' ``current_charges``, not the amount due: the amount
due carries last month's unpaid balance, which would be counted again
(``total_amount`` only where a bill states no current charges). Months are per
currency and never convert one into another.

``LocalAnalyticsSink`` keeps the same tables in a DuckDB file and runs the same
BigQuery SQL, translated by sqlglot (as bqemulator does), for ``ANALYTICS=local``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import ROUND_DOWN, Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from google.api_core.exceptions import NotFound, PreconditionFailed
from google.cloud import bigquery
from pydantic import AwareDatetime, BaseModel

from shared.bill import CENT, Commodity, NormalizedBill, UsageUnit
from shared.emulator import emulator_client_options, emulator_endpoint
from shared.settings import AnalyticsKind, Settings

if TYPE_CHECKING:
    import duckdb


class AnalyticsBill(BaseModel):
    """One persisted bill as the warehouse receives it."""

    bill_id: str
    job_id: str
    customer_id: int
    utility_account_id: int
    bill: NormalizedBill
    created_at: AwareDatetime
    """When this revision of the bill was written; the latest revision wins."""


class MonthlyTotal(BaseModel):
    """One account-month of the rollup, as the dashboard shows it."""

    utility_account_id: int
    month: date
    currency: str
    total_cost: Decimal
    """The month's charges: each bill's ``current_charges`` (its amount due where it states none)."""
    kwh: Decimal
    therms: Decimal
    gas_ccf: Decimal
    water_ccf: Decimal
    gallons: Decimal
    bills: int


class AnalyticsPublishFailed(Exception):
    """The warehouse refused rows; retried by Temporal like any outage."""


class AnalyticsSink(Protocol):
    def ensure_schema(self) -> None: ...

    def publish_bill(self, row: AnalyticsBill) -> None: ...

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        """Write many bills at once; returns bill id → why its rows were refused, raises on an outage."""
        ...

    def rollup(self, window_start: date, window_end: date) -> int:
        """Recompute the months the window touches, and those of bills published since it began;
        returns how many account-months that span now holds."""
        ...

    def monthly_totals(
        self, customer_id: int, *, months: int = 12, as_of: date | None = None
    ) -> list[MonthlyTotal]: ...


# --- schema --------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # BigQuery standard SQL type
    required: bool = False
    fields: tuple[Column, ...] = ()  # for a REPEATED RECORD


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    partition_by: str | None = None  # a TIMESTAMP or DATE column
    partition_type: str = "DAY"
    cluster_by: tuple[str, ...] = ()


def _c(name: str, type_: str, required: bool = False) -> Column:
    return Column(name, type_, required)


_KEYS = (
    _c("bill_id", "STRING", True),
    _c("revision", "STRING", True),
    _c("job_id", "STRING", True),
    _c("customer_id", "INT64", True),
    _c("utility_account_id", "INT64", True),
)
_STAMPS = (_c("created_at", "TIMESTAMP", True), _c("published_at", "TIMESTAMP", True))
USAGE_COLUMNS: dict[tuple[Commodity, UsageUnit], str] = {
    (Commodity.ELECTRICITY, UsageUnit.KWH): "kwh",
    (Commodity.GAS, UsageUnit.THERM): "therms",
    (Commodity.GAS, UsageUnit.CCF): "gas_ccf",
    (Commodity.WATER, UsageUnit.CCF): "water_ccf",
    (Commodity.WATER, UsageUnit.GAL): "gallons",
}
"""The total each reading adds to, by commodity and unit: a reading whose unit does not fit its
commodity (a reviewer approved it as read) adds to none and stays in ``usage`` only."""
_USAGE_TOTALS = tuple(_c(name, "NUMERIC") for name in USAGE_COLUMNS.values())

NORMALIZED_BILLS = TableSpec(
    "normalized_bills",
    (
        *_KEYS,
        _c("provider", "STRING"),
        _c("statement_date", "DATE"),
        _c("bill_period_start", "DATE"),
        _c("bill_period_end", "DATE"),
        _c("due_date", "DATE"),
        _c("total_amount", "NUMERIC"),
        _c("currency", "STRING", True),
        *_USAGE_TOTALS,
        _c("current_charges", "NUMERIC"),
        Column(
            "usage",
            "RECORD",
            fields=(
                _c("commodity", "STRING"),
                _c("quantity", "NUMERIC"),
                _c("unit", "STRING"),
                _c("meter_number", "STRING"),
            ),
        ),
        _c("json_payload", "JSON"),
        *_STAMPS,
    ),
    partition_by="created_at",
    cluster_by=("customer_id", "utility_account_id"),
)
BILL_LINE_ITEMS = TableSpec(
    "bill_line_items",
    (
        *_KEYS,
        _c("line_no", "INT64", True),
        _c("description", "STRING"),
        _c("category", "STRING"),
        _c("commodity", "STRING"),
        _c("amount", "NUMERIC"),
        *_STAMPS,
    ),
    partition_by="created_at",
    cluster_by=("customer_id", "utility_account_id"),
)
INTERVAL_USAGE = TableSpec(
    "interval_usage",
    (*_KEYS, _c("ts", "TIMESTAMP", True), _c("kwh", "NUMERIC", True), *_STAMPS),
    partition_by="ts",
    cluster_by=("customer_id", "utility_account_id"),
)
MONTHLY_ACCOUNT_ROLLUP = TableSpec(
    "monthly_account_rollup",
    (
        _c("customer_id", "INT64", True),
        _c("utility_account_id", "INT64", True),
        _c("month", "DATE", True),
        _c("total_cost", "NUMERIC", True),
        *_USAGE_TOTALS,
        _c("bills", "INT64", True),
        _c("computed_at", "TIMESTAMP", True),
        _c("currency", "STRING"),
    ),
    partition_by="month",
    partition_type="MONTH",
    cluster_by=("customer_id",),
)
TABLES = (NORMALIZED_BILLS, BILL_LINE_ITEMS, INTERVAL_USAGE, MONTHLY_ACCOUNT_ROLLUP)

# BigQuery SQL; {name} is replaced by each backend's reference to that table or view.
VIEWS = {
    "normalized_bills_latest": """
        SELECT * FROM {normalized_bills} WHERE TRUE
        QUALIFY ROW_NUMBER() OVER (PARTITION BY bill_id ORDER BY created_at DESC, published_at DESC) = 1""",
    "bill_line_items_latest": """
        SELECT li.* FROM {bill_line_items} AS li
        JOIN {normalized_bills_latest} AS b ON li.bill_id = b.bill_id AND li.revision = b.revision
        WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY li.bill_id, li.line_no ORDER BY li.published_at DESC) = 1""",
    "interval_usage_latest": """
        SELECT iu.* FROM {interval_usage} AS iu
        JOIN {normalized_bills_latest} AS b ON iu.bill_id = b.bill_id AND iu.revision = b.revision
        WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY iu.bill_id, iu.ts ORDER BY iu.published_at DESC) = 1""",
}

_MEASURES = ("total_cost", *USAGE_COLUMNS.values(), "bills")
_MONTH = "DATE_TRUNC(COALESCE(bill_period_end, statement_date, DATE(created_at)), MONTH)"

ROLLUP_SQL = f"""
MERGE {{monthly_account_rollup}} AS T
USING (
  SELECT customer_id, utility_account_id, month, currency,
         SUM(COALESCE(current_charges, total_amount, 0)) AS total_cost,
         {", ".join(f"COALESCE(SUM({u}), 0) AS {u}" for u in USAGE_COLUMNS.values())},
         COUNT(*) AS bills
  FROM (
    SELECT *, {_MONTH} AS month
    FROM {{normalized_bills_latest}}
  ) AS b
  WHERE month BETWEEN @first_month AND @last_month
  GROUP BY customer_id, utility_account_id, month, currency
) AS S
ON T.customer_id = S.customer_id AND T.utility_account_id = S.utility_account_id AND T.month = S.month
   AND T.currency = S.currency
WHEN MATCHED AND ({" OR ".join(f"T.{m} IS DISTINCT FROM S.{m}" for m in _MEASURES)}) THEN
  UPDATE SET {", ".join(f"{m} = S.{m}" for m in _MEASURES)}, computed_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED BY TARGET THEN
  INSERT (customer_id, utility_account_id, month, currency, {", ".join(_MEASURES)}, computed_at)
  VALUES (S.customer_id, S.utility_account_id, S.month, S.currency, {", ".join(f"S.{m}" for m in _MEASURES)},
          CURRENT_TIMESTAMP())
WHEN NOT MATCHED BY SOURCE AND T.month BETWEEN @first_month AND @last_month THEN
  DELETE
"""

ROLLUP_REACH_SQL = f"""
SELECT MIN(month) AS first_month, MAX(month) AS last_month
FROM (SELECT {_MONTH} AS month FROM {{normalized_bills}}
      WHERE bill_id IN (SELECT bill_id FROM {{normalized_bills}}
                        WHERE published_at >= TIMESTAMP(@published_since))
      UNION ALL
      SELECT month FROM {{monthly_account_rollup}} WHERE currency IS NULL) AS m
"""
"""The months of every revision of each bill published since the window's first day (the months
those bills are in now, and the ones a correction moved them out of), and of rows an earlier
release rolled up before months had a currency, so the first rollup after it rewrites them."""

ROLLUP_COUNT_SQL = """
SELECT COUNT(*) AS n FROM {monthly_account_rollup} WHERE month BETWEEN @first_month AND @last_month
"""

MONTHLY_TOTALS_SQL = f"""
SELECT utility_account_id, month, currency, {", ".join(_MEASURES)}
FROM {{monthly_account_rollup}}
WHERE customer_id = @customer_id AND month >= @since
ORDER BY month DESC, utility_account_id, currency
"""


# --- rows ---------------------------------------------------------------------------

_KWH_SCALE = Decimal("0.000000001")  # NUMERIC's nine decimal places
_MAX_SPREAD_DAYS = 400


@dataclass(frozen=True)
class _Row:
    """One row for ``insertAll``, with the bill it belongs to and its stable insertId."""

    bill_id: str
    row_id: str
    row: dict[str, Any]


@dataclass
class BillRows:
    """The rows one publish writes, per table name, each with its stable insertId."""

    rows: dict[str, list[dict[str, Any]]]
    ids: dict[str, list[str]]


CHILDREN_FIRST = (BILL_LINE_ITEMS, INTERVAL_USAGE, NORMALIZED_BILLS)
"""Insert order: a bill row only ever lands after its line items and intervals."""
INSERT_CHUNK_ROWS = 500
"""BigQuery's advice for insertAll: at most about 500 rows per request."""


def raise_refused(refused: Mapping[str, str]) -> None:
    """Turn ``publish_bills``'s refusals into the retryable failure callers of one bill expect."""
    if refused:
        raise AnalyticsPublishFailed("; ".join(refused.values()))


def revision_of(bill: NormalizedBill) -> str:
    """A content hash: equal for retries of one publish, different for a corrected bill."""
    return hashlib.sha256(bill.model_dump_json().encode()).hexdigest()[:16]


def _num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _usage_totals(bill: NormalizedBill) -> dict[str, str | None]:
    totals: dict[str, Decimal] = {}
    for reading in bill.usage:
        column = USAGE_COLUMNS.get((reading.commodity, reading.unit))
        if column is not None:
            totals[column] = totals.get(column, Decimal(0)) + reading.quantity
    return {column: _num(totals.get(column)) for column in USAGE_COLUMNS.values()}


def daily_kwh(start: date, end: date, kwh: Decimal) -> list[tuple[date, Decimal]]:
    """Spread a bill's kWh evenly over the days of its period (both ends included).

    Bills carry one reading per period, not meter intervals, so ``interval_usage``
    holds one row per day at midnight UTC; the last day takes the rounding remainder
    so the days add up to the bill exactly.
    """
    days = (end - start).days + 1
    if days < 1 or days > _MAX_SPREAD_DAYS:
        return []
    share = (kwh / days).quantize(_KWH_SCALE, rounding=ROUND_DOWN)
    spread = [(start + timedelta(days=i), share) for i in range(days)]
    spread[-1] = (end, kwh - share * (days - 1))
    return spread


def bill_rows(row: AnalyticsBill, *, published_at: datetime) -> BillRows:
    """JSON-ready rows (Decimal as string, ISO dates) for the three fact tables."""
    bill = row.bill
    revision = revision_of(bill)
    stamps = {
        "created_at": row.created_at.astimezone(UTC).isoformat(),
        "published_at": published_at.astimezone(UTC).isoformat(),
    }
    keys = {
        "bill_id": row.bill_id,
        "revision": revision,
        "job_id": row.job_id,
        "customer_id": row.customer_id,
        "utility_account_id": row.utility_account_id,
    }
    totals = _usage_totals(bill)
    normalized = {
        **keys,
        "provider": bill.provider.value if bill.provider else bill.provider_name,
        "statement_date": _day(bill.statement_date),
        "bill_period_start": _day(bill.bill_period_start),
        "bill_period_end": _day(bill.bill_period_end),
        "due_date": _day(bill.due_date),
        "total_amount": _num(bill.total_amount),
        "current_charges": _num(bill.current_charges),
        "currency": bill.currency,
        **totals,
        "usage": [
            {
                "commodity": u.commodity.value,
                "quantity": str(u.quantity),
                "unit": u.unit.value,
                "meter_number": u.meter_number,
            }
            for u in bill.usage
        ],
        "json_payload": bill.model_dump_json(),
        **stamps,
    }
    line_items = [
        {
            **keys,
            "line_no": n,
            "description": item.description,
            "category": item.category.value,
            "commodity": item.commodity.value if item.commodity else None,
            "amount": str(item.amount),
            **stamps,
        }
        for n, item in enumerate(bill.line_items, start=1)
    ]
    intervals: list[dict[str, Any]] = []
    kwh = totals["kwh"]
    if kwh is not None and bill.bill_period_start and bill.bill_period_end:
        intervals = [
            {**keys, "ts": datetime.combine(day, clock(0), UTC).isoformat(), "kwh": str(share), **stamps}
            for day, share in daily_kwh(bill.bill_period_start, bill.bill_period_end, Decimal(kwh))
        ]
    base = f"{row.bill_id}:{revision}"
    return BillRows(
        rows={
            NORMALIZED_BILLS.name: [normalized],
            BILL_LINE_ITEMS.name: line_items,
            INTERVAL_USAGE.name: intervals,
        },
        ids={
            NORMALIZED_BILLS.name: [base],
            BILL_LINE_ITEMS.name: [f"{base}:li{r['line_no']}" for r in line_items],
            INTERVAL_USAGE.name: [f"{base}:{r['ts'][:10]}" for r in intervals],
        },
    )


def rollup_months(window_start: date, window_end: date) -> tuple[date, date]:
    """The whole months a window touches: a rollup always replaces complete months."""
    if window_end < window_start:
        raise ValueError("window_end is before window_start")
    return window_start.replace(day=1), window_end.replace(day=1)


def widened(months: tuple[date, date], reach: Mapping[str, Any] | None) -> tuple[date, date]:
    """``months`` stretched to take in ``ROLLUP_REACH_SQL``'s answer (None when nothing was published)."""
    first, last = months
    if reach is None or reach["first_month"] is None:
        return first, last
    return min(first, _as_date(reach["first_month"])), max(last, _as_date(reach["last_month"]))


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def months_back(as_of: date, months: int) -> date:
    """First day of the month ``months - 1`` months before ``as_of``'s month."""
    index = as_of.year * 12 + as_of.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _plain(value: Any) -> Decimal:
    number = Decimal(value or 0)
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


def _monthly_total(record: Mapping[str, Any]) -> MonthlyTotal:
    return MonthlyTotal.model_validate(
        {
            "utility_account_id": record["utility_account_id"],
            "month": record["month"],
            "currency": record["currency"],
            "total_cost": Decimal(record["total_cost"]).quantize(CENT),
            **{column: _plain(record[column]) for column in USAGE_COLUMNS.values()},
            "bills": record["bills"],
        }
    )


def _render(sql: str, ref: Callable[[str], str]) -> str:
    names = [t.name for t in TABLES] + list(VIEWS)
    return sql.format(**{name: ref(name) for name in names})


# --- BigQuery -------------------------------------------------------------------------

BQ_TIMEOUT = 60.0
# Short client-side retries: a sync activity cannot be interrupted, so the client must give up
# well inside the activity's start-to-close timeout and leave the rest to Temporal. A batch writes
# up to three tables one after another: 3 × 15 s stays inside publish_analytics' 2 minutes.
INSERT_TIMEOUT = 10.0
INSERT_RETRY = bigquery.DEFAULT_RETRY.with_deadline(15)


class BigQuerySink:
    """The warehouse in BigQuery (or bqemulator when ``endpoint`` is given)."""

    def __init__(self, *, project: str, dataset: str, endpoint: str | None = None, location: str | None = None) -> None:
        if endpoint is None:
            self._client = bigquery.Client(project=project, location=location)
        else:
            self._client = bigquery.Client(project=project, location=location, **emulator_client_options(endpoint))
        self._project = project
        self._dataset = dataset

    def _ref(self, name: str) -> str:
        return f"`{self._project}.{self._dataset}.{name}`"

    def ensure_schema(self) -> None:
        """Create the dataset, tables (partitioned, clustered) and views if missing; views are replaced.

        A table created by an earlier release gets the columns added since (``added_columns``) by a
        schema patch, as BigQuery documents; columns no longer written stay, NULL in new rows."""
        self._client.create_dataset(f"{self._project}.{self._dataset}", exists_ok=True, timeout=BQ_TIMEOUT)
        for spec in TABLES:
            table = bigquery.Table(f"{self._project}.{self._dataset}.{spec.name}", schema=_bq_schema(spec.columns))
            if spec.partition_by:
                table.time_partitioning = bigquery.TimePartitioning(type_=spec.partition_type, field=spec.partition_by)
            table.clustering_fields = list(spec.cluster_by) or None
            self._add_columns(spec, self._client.create_table(table, exists_ok=True, timeout=BQ_TIMEOUT))
        for name, body in VIEWS.items():
            self._ensure_view(name, _render(body, self._ref))

    def _add_columns(self, spec: TableSpec, table: bigquery.Table) -> None:
        """Patch in the columns ``spec`` added since ``table`` was created.

        The patch carries the table's etag: when another process (a second worker starting beside
        this one) patched it first, BigQuery answers 412, and the table is read again and compared anew."""
        for _ in range(5):
            missing = added_columns(spec, {field.name for field in table.schema})
            if not missing:
                return
            table.schema = [*table.schema, *_bq_schema(missing)]
            try:
                self._client.update_table(table, ["schema"], timeout=BQ_TIMEOUT)
                return
            except PreconditionFailed:
                table = self._client.get_table(table.reference, timeout=BQ_TIMEOUT)
        raise RuntimeError(f"{spec.name}: its schema kept changing while columns were added; start again")

    def _ensure_view(self, name: str, query: str) -> None:
        """Replace a view only when its SQL changed: API and workers all start with ensure_schema,
        and BigQuery rate-limits metadata updates per table."""
        try:
            current = self._client.get_table(f"{self._project}.{self._dataset}.{name}", timeout=BQ_TIMEOUT).view_query
        except NotFound:
            current = None
        if (current or "").strip() != query.strip():
            self._run(f"CREATE OR REPLACE VIEW {self._ref(name)} AS {query}")

    def publish_bill(self, row: AnalyticsBill) -> None:
        raise_refused(self.publish_bills([row]))

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        published_at = datetime.now(UTC)
        built = [(row.bill_id, bill_rows(row, published_at=published_at)) for row in rows]
        refused: dict[str, str] = {}
        for spec in CHILDREN_FIRST:  # the *_latest views hide children until their bill row arrives
            table_rows = [
                _Row(bill_id, row_id, row)
                for bill_id, bill in built
                if bill_id not in refused  # never write a bill row over children the warehouse refused
                for row_id, row in zip(bill.ids[spec.name], bill.rows[spec.name], strict=True)
            ]
            refused |= self._insert(spec.name, table_rows)
        return refused

    def _insert(self, table: str, rows: list[_Row]) -> dict[str, str]:
        """Insert ``rows``; returns bill id → why, for the bills whose rows the warehouse refused.

        BigQuery refuses a whole request for one invalid row, answering "stopped" for every
        other row: those are sent once more without the refused bills, so one bad bill holds
        back only itself. (``skipInvalidRows`` would do it in one request, but costs the
        emulator 2.5x the CPU of every insert, refusals or not.)
        """
        refused: dict[str, str] = {}
        for attempt in range(2):
            stopped: list[_Row] = []
            for start in range(0, len(rows), INSERT_CHUNK_ROWS):
                chunk = rows[start : start + INSERT_CHUNK_ROWS]
                errors = self._client.insert_rows_json(
                    f"{self._project}.{self._dataset}.{table}",
                    [r.row for r in chunk],
                    row_ids=[r.row_id for r in chunk],
                    timeout=INSERT_TIMEOUT,
                    retry=INSERT_RETRY,
                )
                for error in errors:
                    row, reasons = chunk[int(error["index"])], error["errors"]
                    if attempt == 0 and all(e.get("reason") == "stopped" for e in reasons):
                        stopped.append(row)
                    else:
                        refused.setdefault(row.bill_id, f"{table} rejected rows of bill {row.bill_id}: {reasons[:3]}")
            rows = [r for r in stopped if r.bill_id not in refused]
            if not rows:
                break
        return refused

    def rollup(self, window_start: date, window_end: date) -> int:
        """Recompute the account-months the window touches (and ``ROLLUP_REACH_SQL``'s); returns their rows."""
        reach = self._run(_render(ROLLUP_REACH_SQL, self._ref), {"published_since": window_start})
        first, last = widened(rollup_months(window_start, window_end), dict(reach[0].items()) if reach else None)
        params = {"first_month": first, "last_month": last}
        self._run(_render(ROLLUP_SQL, self._ref), params)
        return int(next(iter(self._run(_render(ROLLUP_COUNT_SQL, self._ref), params)))["n"])

    def monthly_totals(self, customer_id: int, *, months: int = 12, as_of: date | None = None) -> list[MonthlyTotal]:
        since = months_back(as_of or datetime.now(UTC).date(), months)
        rows = self._run(_render(MONTHLY_TOTALS_SQL, self._ref), {"customer_id": customer_id, "since": since})
        return [_monthly_total(dict(r.items())) for r in rows]

    def _run(self, sql: str, params: Mapping[str, int | date] | None = None) -> list[bigquery.Row]:
        config = bigquery.QueryJobConfig(query_parameters=[_bq_param(k, v) for k, v in (params or {}).items()])
        return list(self._client.query(sql, job_config=config, timeout=BQ_TIMEOUT).result(timeout=10 * BQ_TIMEOUT))


def added_columns(spec: TableSpec, existing: set[str]) -> tuple[Column, ...]:
    """The columns ``spec`` has and a table created by an earlier release lacks.

    Rows already stored have no value for a new column, so it must be NULLABLE: a REQUIRED one
    stops the start-up here with its name, before any row is written to a half-changed table."""
    missing = tuple(c for c in spec.columns if c.name not in existing)
    required = [c.name for c in missing if c.required]
    if required:
        raise ValueError(f"{spec.name}: a column added to an existing table must be nullable: {', '.join(required)}")
    return missing


def _bq_param(name: str, value: int | date) -> bigquery.ScalarQueryParameter:
    type_ = "INT64" if isinstance(value, int) else "DATE"
    return bigquery.ScalarQueryParameter(name, type_, value)


def _bq_schema(columns: Sequence[Column]) -> list[bigquery.SchemaField]:
    return [
        bigquery.SchemaField(
            c.name,
            c.type,
            mode="REPEATED" if c.fields else ("REQUIRED" if c.required else "NULLABLE"),
            fields=_bq_schema(c.fields),
        )
        for c in columns
    ]


# --- local DuckDB -----------------------------------------------------------------------

_DUCKDB_TYPES = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "NUMERIC": "DECIMAL(38, 9)",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMPTZ",
    "JSON": "JSON",
    "RECORD": "JSON",
}
_LOCK_WAIT = 10.0


class LocalAnalyticsSink:
    """The same tables and SQL in a DuckDB file, for ``ANALYTICS=local``.

    DuckDB lets one process write a file at a time: each call opens, works and
    closes, and waits (up to 10 s) while another process (API or worker) holds it.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def ensure_schema(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            for spec in TABLES:
                columns = ", ".join(
                    f"{c.name} {_DUCKDB_TYPES[c.type]}{' NOT NULL' if c.required else ''}" for c in spec.columns
                )
                conn.execute(f"CREATE TABLE IF NOT EXISTS {spec.name} ({columns})")
                existing = conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [spec.name]
                ).fetchall()
                for column in added_columns(spec, {name for (name,) in existing}):
                    conn.execute(f"ALTER TABLE {spec.name} ADD COLUMN {column.name} {_DUCKDB_TYPES[column.type]}")
            for name, body in VIEWS.items():
                conn.execute(_duckdb_sql(f"CREATE OR REPLACE VIEW {name} AS {_render(body, str)}"))

    def publish_bill(self, row: AnalyticsBill) -> None:
        raise_refused(self.publish_bills([row]))

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        """One transaction for the whole batch: DuckDB refuses all of it or none."""
        published_at = datetime.now(UTC)
        built = [bill_rows(row, published_at=published_at) for row in rows]
        with self._connect() as conn:
            conn.execute("BEGIN TRANSACTION")
            for spec in CHILDREN_FIRST:
                batch = [r for bill in built for r in bill.rows[spec.name]]
                if batch:
                    names = [c.name for c in spec.columns]
                    sql = f"INSERT INTO {spec.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
                    conn.executemany(sql, [[_duckdb_value(r[n]) for n in names] for r in batch])
            conn.execute("COMMIT")
        return {}

    def rollup(self, window_start: date, window_end: date) -> int:
        with self._connect() as conn:
            cursor = conn.execute(_duckdb_sql(_render(ROLLUP_REACH_SQL, str)), {"published_since": window_start})
            names = [d[0] for d in cursor.description or []]
            reach = cursor.fetchone()
            first, last = widened(
                rollup_months(window_start, window_end), dict(zip(names, reach, strict=True)) if reach else None
            )
            params = {"first_month": first, "last_month": last}
            conn.execute(_duckdb_sql(_render(ROLLUP_SQL, str)), params)
            found = conn.execute(_duckdb_sql(_render(ROLLUP_COUNT_SQL, str)), params).fetchone()
        return int(found[0]) if found else 0

    def monthly_totals(self, customer_id: int, *, months: int = 12, as_of: date | None = None) -> list[MonthlyTotal]:
        since = months_back(as_of or datetime.now(UTC).date(), months)
        with self._connect() as conn:
            cursor = conn.execute(
                _duckdb_sql(_render(MONTHLY_TOTALS_SQL, str)), {"customer_id": customer_id, "since": since}
            )
            names = [d[0] for d in cursor.description or []]
            return [_monthly_total(dict(zip(names, r, strict=True))) for r in cursor.fetchall()]

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        import duckdb

        deadline = time.monotonic() + _LOCK_WAIT
        with self._lock:
            while True:
                try:
                    conn = duckdb.connect(str(self._path))
                    break
                except duckdb.IOException:  # another process holds the file lock
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            try:
                conn.execute("SET TimeZone = 'UTC'")
                yield conn
            finally:
                conn.close()


@cache
def _duckdb_sql(bigquery_sql: str) -> str:
    import sqlglot

    return str(sqlglot.transpile(bigquery_sql, read="bigquery", write="duckdb")[0])


def _duckdb_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list) else value


# --- factory --------------------------------------------------------------------------


def build_analytics_sink(settings: Settings) -> AnalyticsSink | None:
    """The sink ``ANALYTICS`` selects (None when disabled); BigQuery goes to the emulator when its host is set."""
    if settings.analytics is AnalyticsKind.DISABLED:
        return None
    if settings.analytics is AnalyticsKind.LOCAL:
        missing = [name for name in ("duckdb", "sqlglot") if importlib.util.find_spec(name) is None]
        if missing:  # the [local] extra, which a production image leaves out: say so at start, not at a first insert
            raise RuntimeError(f"ANALYTICS=local needs {' and '.join(missing)}: pip install 'minimeter[local]'")
        return LocalAnalyticsSink(settings.data_dir / "analytics.duckdb")
    return BigQuerySink(
        project=settings.gcp_project,
        dataset=settings.bq_dataset,
        endpoint=emulator_endpoint(settings.bigquery_emulator_host),
    )
