"""The DuckDB sink for ``ANALYTICS=local``: the BigQuery SQL translated by sqlglot, so a laptop
runs the warehouse's own statements. duckdb and sqlglot (the [local] extra) load on first use only."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.analytics.rows import CHILDREN_FIRST, bill_rows, raise_refused
from shared.analytics.schema import (
    TABLES,
    VIEW_DESCRIPTIONS,
    VIEW_OF,
    VIEWS,
    AnalyticsBill,
    Column,
    MonthlyTotal,
    added_columns,
)
from shared.analytics.sql import (
    CUSTOMER_ROWS_SQL,
    ERASE_CUSTOMER_SQL,
    LATEST_DATES_SQL,
    MONTHLY_TOTALS_SQL,
    ROLLUP_COUNT_SQL,
    ROLLUP_REACH_SQL,
    ROLLUP_SQL,
    monthly_total_of,
    months_back,
    render_sql,
    rollup_months,
    widened,
)

if TYPE_CHECKING:
    import duckdb

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
                _describe(conn, "TABLE", spec.name, spec.description, spec.columns)
            for name, body in VIEWS.items():
                conn.execute(_duckdb_sql(f"CREATE OR REPLACE VIEW {name} AS {render_sql(body, str)}"))
                _describe(conn, "VIEW", name, VIEW_DESCRIPTIONS[name], VIEW_OF[name].columns)

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

    def latest_dates(self) -> dict[str, datetime]:
        with self._connect() as conn:
            found = conn.execute(_duckdb_sql(render_sql(LATEST_DATES_SQL, str)))
            return {bill_id: created_at.astimezone(UTC) for bill_id, created_at in found.fetchall()}

    def rollup(self, window_start: date, window_end: date) -> int:
        with self._connect() as conn:
            cursor = conn.execute(_duckdb_sql(render_sql(ROLLUP_REACH_SQL, str)), {"published_since": window_start})
            names = [d[0] for d in cursor.description or []]
            reach = cursor.fetchone()
            first, last = widened(
                rollup_months(window_start, window_end), dict(zip(names, reach, strict=True)) if reach else None
            )
            params = {"first_month": first, "last_month": last}
            conn.execute(_duckdb_sql(render_sql(ROLLUP_SQL, str)), params)
            found = conn.execute(_duckdb_sql(render_sql(ROLLUP_COUNT_SQL, str)), params).fetchone()
        return int(found[0]) if found else 0

    def monthly_totals(self, customer_id: int, *, months: int = 12, as_of: date | None = None) -> list[MonthlyTotal]:
        since = months_back(as_of or datetime.now(UTC).date(), months)
        with self._connect() as conn:
            cursor = conn.execute(
                _duckdb_sql(render_sql(MONTHLY_TOTALS_SQL, str)), {"customer_id": customer_id, "since": since}
            )
            names = [d[0] for d in cursor.description or []]
            return [monthly_total_of(dict(zip(names, r, strict=True))) for r in cursor.fetchall()]

    def customer_rows(self, customer_id: int) -> dict[str, int]:
        with self._connect() as conn:
            found = conn.execute(_duckdb_sql(render_sql(CUSTOMER_ROWS_SQL, str)), {"customer_id": customer_id})
            return {table: int(n) for table, n in found.fetchall()}

    def erase_customer(self, customer_id: int) -> None:
        with self._connect() as conn:
            conn.execute("BEGIN TRANSACTION")
            for statement in ERASE_CUSTOMER_SQL:
                conn.execute(_duckdb_sql(render_sql(statement, str)), {"customer_id": customer_id})
            conn.execute("COMMIT")

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


def _describe(
    conn: duckdb.DuckDBPyConnection, kind: str, name: str, description: str, columns: Sequence[Column]
) -> None:
    """The descriptions BigQuery's tables and views carry, as DuckDB comments (``duckdb_columns().comment``), on the
    columns ``name`` has (a view of a table another release made lacks the columns added since)."""
    conn.execute(f"COMMENT ON {kind} {name} IS {_literal(description)}")
    rows = conn.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [name]).fetchall()
    held = {column for (column,) in rows}
    for column in columns:
        if column.name in held:
            conn.execute(f"COMMENT ON COLUMN {name}.{column.name} IS {_literal(column.description)}")


def _literal(text: str) -> str:
    """``text`` as a SQL string literal (DuckDB takes no parameter in a COMMENT): our own words, quotes doubled."""
    return "'" + text.replace("'", "''") + "'"
