"""Analytics warehouse: normalized bills streamed to BigQuery, monthly rollups read back.

Idempotency design (why an append-only table plus deduplicating views, not MERGE):

* Bills are written by ``publish_bills`` (``publish_bill`` is its one-bill form): a
  streaming insert (``tabledata.insertAll``) with ``insertId``
  ``{bill_id}:{revision}:{stored at}`` (``revision`` = hash of the bill's content; the
  time keeps apart a later version with an earlier one's figures, which BigQuery would
  otherwise drop). BigQuery's insertId dedupe is best effort only (about a minute, and
  not at all in the emulator), so correctness never relies on it.
* Correctness comes from reading through views that keep one row per key:
  ``normalized_bills_latest`` is ``QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id, utility_account_id, bill_id
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

The package: ``schema`` (tables, views, the records in and out), ``sql``, ``rows`` (a bill
as rows), the sinks ``bigquery`` and ``local``; here the ``AnalyticsSink`` protocol and
the factory, and every public name of the others.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from shared.analytics.bigquery import BQ_TIMEOUT, INSERT_CHUNK_ROWS, INSERT_RETRY, INSERT_TIMEOUT, BigQuerySink
from shared.analytics.local import LocalAnalyticsSink
from shared.analytics.rows import (
    CHILDREN_FIRST,
    AnalyticsPublishFailed,
    AnalyticsRowsUnstreamable,
    BillRows,
    bill_rows,
    daily_kwh,
    raise_refused,
    refusal,
    revision_of,
)
from shared.analytics.schema import (
    BILL_LINE_ITEMS,
    INTERVAL_USAGE,
    MONTHLY_ACCOUNT_ROLLUP,
    NORMALIZED_BILLS,
    TABLES,
    USAGE_COLUMNS,
    VIEWS,
    AnalyticsBill,
    Column,
    MonthlyTotal,
    TableSpec,
    added_columns,
)
from shared.analytics.sql import (
    MONTHLY_TOTALS_SQL,
    ROLLUP_COUNT_SQL,
    ROLLUP_REACH_SQL,
    ROLLUP_SQL,
    months_back,
    rollup_months,
    widened,
)
from shared.emulator import emulator_endpoint
from shared.refusals import StartRefused
from shared.settings import AnalyticsKind, Settings

__all__ = [
    "BILL_LINE_ITEMS",
    "BQ_TIMEOUT",
    "CHILDREN_FIRST",
    "INSERT_CHUNK_ROWS",
    "INSERT_RETRY",
    "INSERT_TIMEOUT",
    "INTERVAL_USAGE",
    "MONTHLY_ACCOUNT_ROLLUP",
    "MONTHLY_TOTALS_SQL",
    "NORMALIZED_BILLS",
    "ROLLUP_COUNT_SQL",
    "ROLLUP_REACH_SQL",
    "ROLLUP_SQL",
    "TABLES",
    "USAGE_COLUMNS",
    "VIEWS",
    "AnalyticsBill",
    "AnalyticsPublishFailed",
    "AnalyticsRowsUnstreamable",
    "AnalyticsSink",
    "BigQuerySink",
    "BillRows",
    "Column",
    "LocalAnalyticsSink",
    "MonthlyTotal",
    "TableSpec",
    "added_columns",
    "bill_rows",
    "build_analytics_sink",
    "daily_kwh",
    "months_back",
    "raise_refused",
    "refusal",
    "revision_of",
    "rollup_months",
    "widened",
]


class AnalyticsSink(Protocol):
    def ensure_schema(self) -> None: ...

    def publish_bill(self, row: AnalyticsBill) -> None: ...

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        """Write many bills at once; returns bill id → why its rows were refused, raises on an outage."""
        ...

    def latest_dates(self) -> dict[str, datetime]:
        """The ``created_at`` of the newest row held for each bill."""
        ...

    def rollup(self, window_start: date, window_end: date) -> int:
        """Recompute the months the window touches, and those of bills published since it began;
        returns how many account-months that span now holds."""
        ...

    def monthly_totals(
        self, customer_id: int, *, months: int = 12, as_of: date | None = None
    ) -> list[MonthlyTotal]: ...

    def customer_rows(self, customer_id: int) -> dict[str, int]:
        """How many rows each table holds of the customer."""
        ...

    def erase_customer(self, customer_id: int) -> None:
        """Delete every row of the customer, in every table (a right-to-erasure request)."""
        ...


def build_analytics_sink(settings: Settings) -> AnalyticsSink | None:
    """The sink ``ANALYTICS`` selects (None when disabled); BigQuery goes to the emulator when its host is set."""
    if settings.analytics is AnalyticsKind.DISABLED:
        return None
    if settings.analytics is AnalyticsKind.LOCAL:
        missing = [name for name in ("duckdb", "sqlglot") if importlib.util.find_spec(name) is None]
        if missing:  # the [local] extra, which a production image leaves out: say so at start, not at a first insert
            raise StartRefused(f"ANALYTICS=local needs {' and '.join(missing)}: pip install 'minimeter[local]'")
        return LocalAnalyticsSink(settings.data_dir / "analytics.duckdb")
    return BigQuerySink(
        project=settings.gcp_project,
        dataset=settings.bq_dataset,
        endpoint=emulator_endpoint(settings.bigquery_emulator_host),
    )
