"""What the warehouse holds, for both sinks: the bill it receives, its tables and views, the
month it gives back. Kept apart from either engine so both create the same tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.bill import Commodity, NormalizedBill, UsageUnit


class AnalyticsBill(BaseModel):
    """One persisted bill as the warehouse receives it."""

    bill_id: str
    job_id: str
    customer_id: int
    utility_account_id: int
    bill: NormalizedBill
    created_at: AwareDatetime
    """When this revision of the bill was written; the latest revision wins."""
    account_number: str | None = None
    """The job's account's number, which masks the line items' descriptions where the bill's own was not read
    (an approved photo's): such a bill may still print it in an item. Never written to the warehouse."""


class MonthlyTotal(BaseModel):
    """One account-month of the rollup, as the dashboard shows it."""

    model_config = ConfigDict(use_attribute_docstrings=True)  # total_cost's in the API's /openapi.json

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
    gas_m3: Decimal
    gas_gj: Decimal
    water_m3: Decimal
    bills: int
    bills_with_usage: int | None = None
    """Of ``bills``, those with a reading in some usage column: a month's usage totals count the others as 0, so a
    month whose bills were not read reads as one that used nothing, and its cost per unit is off. None in rollup
    rows from before it was counted, until the next rollup."""


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
    (Commodity.GAS, UsageUnit.M3): "gas_m3",
    (Commodity.GAS, UsageUnit.GJ): "gas_gj",
    (Commodity.WATER, UsageUnit.M3): "water_m3",
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
        _c("currency", "STRING"),  # the bill's: summed alone, CAD was added to USD (NULL in rows of earlier releases)
    ),
    partition_by="created_at",
    cluster_by=("customer_id", "utility_account_id"),
)
INTERVAL_USAGE = TableSpec(
    # A new name, not interval_usage: releases before created that one partitioned by ts, which BigQuery
    # cannot change in place, and a table dropped and created again under its old name may go on taking
    # streamed rows into the dropped one for minutes, insertAll answering success. Read interval_usage_latest.
    "interval_usage_v2",
    (*_KEYS, _c("ts", "TIMESTAMP", True), _c("kwh", "NUMERIC", True), *_STAMPS),
    # Not by ts, the days of the bill's period: BigQuery streams only into partitions from 5 years back
    # to 1 year ahead, so a bill for an older period would never reach the warehouse. published_at is
    # always today; clustering by ts still serves reads of a date range.
    partition_by="published_at",
    cluster_by=("customer_id", "utility_account_id", "ts"),
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
        _c("bills_with_usage", "INT64"),
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
        SELECT iu.* FROM {interval_usage_v2} AS iu
        JOIN {normalized_bills_latest} AS b ON iu.bill_id = b.bill_id AND iu.revision = b.revision
        WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY iu.bill_id, iu.ts ORDER BY iu.published_at DESC) = 1""",
}


def added_columns(spec: TableSpec, existing: set[str]) -> tuple[Column, ...]:
    """The columns ``spec`` has and a table created by an earlier release lacks."""
    return added_fields(spec.name, spec.columns, existing)


def added_fields(where: str, columns: tuple[Column, ...], existing: set[str]) -> tuple[Column, ...]:
    """The ``columns`` (of a table, or of a record column at ``where``) missing from ``existing``.

    Rows already stored have no value for a new column, so it must be NULLABLE: a REQUIRED one
    stops the start-up here with its name, before any row is written to a half-changed table."""
    missing = tuple(c for c in columns if c.name not in existing)
    required = [c.name for c in missing if c.required]
    if required:
        raise ValueError(f"{where}: a column added to an existing table must be nullable: {', '.join(required)}")
    return missing
