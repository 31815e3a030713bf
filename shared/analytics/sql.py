"""The SQL both sinks run, written once in BigQuery's dialect, and the month arithmetic around it.

``{name}`` in a statement is replaced by each backend's reference to that table or view (``render_sql``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.analytics.schema import TABLES, USAGE_COLUMNS, VIEWS, MonthlyTotal
from shared.bill import CENT

_MEASURES = ("total_cost", *USAGE_COLUMNS.values(), "bills", "bills_with_usage")


def any_usage(qualifier: str = "") -> str:
    """SQL: a bill's row (or its usage sums, ``qualifier`` naming them: ``"u."``) has a reading in some usage column."""
    return f"COALESCE({', '.join(qualifier + column for column in USAGE_COLUMNS.values())}) IS NOT NULL"


_MONTH = "DATE_TRUNC(COALESCE(bill_period_end, statement_date, DATE(created_at)), MONTH)"

ROLLUP_SQL = f"""
MERGE {{monthly_account_rollup}} AS T
USING (
  SELECT customer_id, utility_account_id, month, currency,
         SUM(COALESCE(current_charges, total_amount, 0)) AS total_cost,
         {", ".join(f"COALESCE(SUM({u}), 0) AS {u}" for u in USAGE_COLUMNS.values())},
         COUNT(*) AS bills,
         COUNTIF({any_usage()}) AS bills_with_usage
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

LATEST_DATES_SQL = """
SELECT bill_id, MAX(created_at) AS created_at FROM {normalized_bills} GROUP BY bill_id
"""
"""The date of the newest row the warehouse holds for each bill (republishing dates past it). One
scan for the whole run: a filter by bill id cannot prune a table partitioned by date."""

HELD_DESCRIPTIONS_SQL = """
SELECT DISTINCT bill_id, revision, line_no, description, TO_HEX(SHA256(description)) AS fp FROM {bill_line_items}
 WHERE published_at < @before AND REGEXP_CONTAINS(description, r'\\d')
"""
"""Line items' descriptions as held, for ``republish_analytics --remask``; only rows published before ``@before``,
since BigQuery refuses DML on rows still in the streaming buffer, and only those with a digit (every rule of
``warehouse_text`` masks digits, but for an account number that has none)."""

REMASK_SQL = """
UPDATE {bill_line_items} AS t SET description = u.masked
  FROM UNNEST(@rows) AS u
 WHERE t.bill_id = u.bill_id AND t.revision = u.revision AND t.line_no = u.line_no
   AND TO_HEX(SHA256(t.description)) = u.fp AND t.published_at < @before
"""
"""Matched on the held text's hash (``fp``), never the text: a query's parameters stay in BigQuery's job records
(180 days), and the held text is what holds the account number."""

HELD_PAYLOADS_SQL = """
SELECT DISTINCT bill_id, revision, published_at, TO_JSON_STRING(json_payload) AS payload,
       TO_HEX(SHA256(TO_JSON_STRING(json_payload))) AS fp
  FROM {normalized_bills}
 WHERE published_at < @before AND json_payload IS NOT NULL
   AND (REGEXP_CONTAINS(TO_JSON_STRING(json_payload), r'"(customer_name|service_address)"\\s*:')
        OR NOT STARTS_WITH(IFNULL(JSON_VALUE(json_payload, '$.account_number'), '****'), '****')
        OR REGEXP_CONTAINS(TO_JSON_STRING(json_payload), r'"description"\\s*:\\s*"(?:[^"\\\\]|\\\\.)*\\d'))
"""
"""Bill rows a re-masking may change: a name or address, an account number not masked, a line item's description
with a digit. DISTINCT: a retried insert may leave two rows alike, and BigQuery refuses an UPDATE ... FROM in
which a target row matches more than one source row."""

REMASK_PAYLOAD_SQL = """
UPDATE {normalized_bills} AS t SET json_payload = PARSE_JSON(u.payload)
  FROM UNNEST(@rows) AS u
 WHERE t.bill_id = u.bill_id AND t.revision = u.revision AND t.published_at = u.published_at
   AND TO_HEX(SHA256(TO_JSON_STRING(t.json_payload))) = u.fp AND t.published_at < @before
"""
"""By key and the held payload's hash: a bill's rows of one revision published again (a retry, a republish)
differ in ``published_at``, those alike in it too are rewritten alike, and one changed since it was read
(another run) is left alone."""

ROLLUP_COUNT_SQL = """
SELECT COUNT(*) AS n FROM {monthly_account_rollup} WHERE month BETWEEN @first_month AND @last_month
"""

CUSTOMER_ROWS_SQL = " UNION ALL ".join(
    f"SELECT '{t.name}' AS table_name, COUNT(*) AS n FROM {{{t.name}}} WHERE customer_id = @customer_id" for t in TABLES
)
"""How many rows each table holds of one customer: what an erasure deletes, and what is left after it."""
ERASE_CUSTOMER_SQL = tuple(f"DELETE FROM {{{t.name}}} WHERE customer_id = @customer_id" for t in TABLES)
"""Every row of one customer, table by table (``python -m worker.erase_customer``): each table carries the customer."""

MONTHLY_TOTALS_SQL = f"""
SELECT utility_account_id, month, currency, {", ".join(_MEASURES)}
FROM {{monthly_account_rollup}}
WHERE customer_id = @customer_id AND month >= @since
ORDER BY month DESC, utility_account_id, currency
"""


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


def plain_decimal(value: Any) -> Decimal:
    """``value`` without the trailing zeros a NUMERIC column's scale adds ("236.5000" -> 236.5), never as an
    exponent ("100" stays 100, where ``normalize`` gives 1E+2)."""
    number = Decimal(value or 0)
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


def monthly_total_of(record: Mapping[str, Any]) -> MonthlyTotal:
    """A row of MONTHLY_TOTALS_SQL, from either engine, as the dashboard's record."""
    return MonthlyTotal.model_validate(
        {
            "utility_account_id": record["utility_account_id"],
            "month": record["month"],
            "currency": record["currency"],
            "total_cost": Decimal(record["total_cost"]).quantize(CENT),
            **{column: plain_decimal(record[column]) for column in USAGE_COLUMNS.values()},
            "bills": record["bills"],
            "bills_with_usage": record.get("bills_with_usage"),
        }
    )


def render_sql(sql: str, ref: Callable[[str], str]) -> str:
    """``sql`` with each ``{table}`` and ``{view}`` replaced by ``ref(name)``, the engine's reference to it."""
    names = [t.name for t in TABLES] + list(VIEWS)
    return sql.format(**{name: ref(name) for name in names})
