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
    description: str = ""
    """What an analyst reads beside the column (BigQuery's console, a DuckDB comment): what it counts, and the trap
    its name hides (``total_amount`` is no cost)."""


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    partition_by: str | None = None  # a TIMESTAMP or DATE column
    partition_type: str = "DAY"
    cluster_by: tuple[str, ...] = ()
    description: str = ""


def _c(name: str, type_: str, required: bool = False, description: str = "") -> Column:
    return Column(name, type_, required, description=description)


_KEYS = (
    _c(
        "bill_id",
        "STRING",
        True,
        "The bill, the same in each of its versions (a re-issued statement replaces it under this id): join its line"
        " items and intervals on bill_id and revision.",
    ),
    _c(
        "revision",
        "STRING",
        True,
        "The version's content hash: each version of a bill has its own; a version published again has the same one"
        " (count versions by distinct revision).",
    ),
    _c("job_id", "STRING", True, "The ingestion job that stored this version (GET /jobs/{job_id} in the API)."),
    _c("customer_id", "INT64", True, "The MiniMeter customer whose bill it is."),
    _c(
        "utility_account_id",
        "INT64",
        True,
        "The customer's utility account (GET /utility-accounts/{id}): join on it, never on an account number, which the"
        " warehouse holds masked.",
    ),
)
_STAMPS = (
    _c(
        "created_at",
        "TIMESTAMP",
        True,
        "When this version of the bill was stored (UTC): of a bill's versions, the latest is the bill.",
    ),
    _c(
        "published_at",
        "TIMESTAMP",
        True,
        "When this row was streamed to the warehouse (UTC); a version published again is a second row, dated later.",
    ),
)
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


def _usage_totals(whose: str, none: str) -> tuple[Column, ...]:
    """A usage total column per commodity and unit, described as ``whose`` readings added up, ``none`` saying what
    stands where there is no such reading."""
    return tuple(
        _c(name, "NUMERIC", description=f"{whose} {commodity} readings in {unit}, added up; {none}")
        for (commodity, unit), name in USAGE_COLUMNS.items()
    )


_CURRENCY = (
    "The ISO 4217 code (USD, CAD...) of the bill's amounts: group by it; amounts in two currencies are never added."
)
_MONTH = (
    "The month a bill counts in, whole: its period's end's (else its statement date's, else the day it was stored)."
)
NORMALIZED_BILLS = TableSpec(
    "normalized_bills",
    (
        *_KEYS,
        _c(
            "provider",
            "STRING",
            description="A known provider's code (pge, coned, duke, sfpuc) or, for one no template knows, the name read"
            " off the bill (an e-mail's sender, else the letterhead's); NULL where none was read.",
        ),
        _c("statement_date", "DATE", description="The day the bill was issued, as printed."),
        _c("bill_period_start", "DATE", description="The service period's first day, as printed."),
        _c("bill_period_end", "DATE", description="The service period's last day, as printed (both ends count)."),
        _c("due_date", "DATE", description="The day payment is due, as printed; NULL where the bill states none."),
        _c(
            "total_amount",
            "NUMERIC",
            description="The amount due: what the bill asks to be paid, earlier balances and credits included. Not"
            " what the period cost (current_charges): summed, it counts an unpaid balance twice.",
        ),
        _c("currency", "STRING", True, _CURRENCY),
        *_usage_totals("The bill's", "NULL where it has none."),
        _c(
            "current_charges",
            "NUMERIC",
            description="What the period cost: the bill's own charges (its line items' sum where it states none; NULL"
            " where it has neither, a reviewer's override: the rollup counts its total_amount then). Sum this for"
            " spend, by currency.",
        ),
        Column(
            "usage",
            "RECORD",
            fields=(
                _c("commodity", "STRING", description="electricity, gas or water."),
                _c("quantity", "NUMERIC", description="The reading's quantity in its unit, as printed."),
                _c("unit", "STRING", description="kWh, therm, CCF, gal, m3 or GJ."),
                _c("meter_number", "STRING", description="The meter's number as printed; NULL where none is."),
            ),
            description="The bill's readings as printed, one per meter and unit (the usage totals add them up).",
        ),
        _c(
            "json_payload",
            "JSON",
            description="The bill as validated, less the customer's name and service address, its account number"
            " masked (****3210) and its line items' descriptions masked alike.",
        ),
        *_STAMPS,
    ),
    partition_by="created_at",
    cluster_by=("customer_id", "utility_account_id"),
    description="Every version of every bill stored, one row each (a version published again: two). Read"
    " normalized_bills_latest, which holds each bill once, in its last version.",
)
BILL_LINE_ITEMS = TableSpec(
    "bill_line_items",
    (
        *_KEYS,
        _c("line_no", "INT64", True, "The item's place among the bill's line items, from 1."),
        _c(
            "description",
            "STRING",
            description="The item as printed, account numbers and long runs of digits masked.",
        ),
        _c("category", "STRING", description="supply, delivery, tax, fee or other."),
        _c("commodity", "STRING", description="electricity, gas or water, where the item names one."),
        _c("amount", "NUMERIC", description="The item's amount in the bill's currency; a credit is negative."),
        *_STAMPS,
        # the bill's: summed alone, CAD was added to USD (NULL in rows of earlier releases)
        _c(
            "currency",
            "STRING",
            description=f"{_CURRENCY} NULL in rows published before it was added: join the bill on bill_id and"
            " revision for those.",
        ),
    ),
    partition_by="created_at",
    cluster_by=("customer_id", "utility_account_id"),
    description="The line items of every version of every bill. Read bill_line_items_latest.",
)
INTERVAL_USAGE = TableSpec(
    # A new name, not interval_usage: releases before created that one partitioned by ts, which BigQuery
    # cannot change in place, and a table dropped and created again under its old name may go on taking
    # streamed rows into the dropped one for minutes, insertAll answering success. Read interval_usage_latest.
    "interval_usage_v2",
    (
        *_KEYS,
        _c("ts", "TIMESTAMP", True, "Midnight (UTC) of one day of the bill's period, both ends included."),
        _c("kwh", "NUMERIC", True, "The day's share of the bill's kWh, spread evenly over the period's days."),
        *_STAMPS,
    ),
    # Not by ts, the days of the bill's period: BigQuery streams only into partitions from 5 years back
    # to 1 year ahead, so a bill for an older period would never reach the warehouse. published_at is
    # always today; clustering by ts still serves reads of a date range.
    partition_by="published_at",
    cluster_by=("customer_id", "utility_account_id", "ts"),
    description="Each electricity bill's kWh as daily rows over its period (an even spread, not metered intervals)."
    " Read interval_usage_latest.",
)
MONTHLY_ACCOUNT_ROLLUP = TableSpec(
    "monthly_account_rollup",
    (
        _c("customer_id", "INT64", True, "The MiniMeter customer."),
        _c("utility_account_id", "INT64", True, "The customer's utility account."),
        _c("month", "DATE", True, f"{_MONTH} Its first day."),
        _c(
            "total_cost",
            "NUMERIC",
            True,
            "The month's charges: each bill's current_charges (its total_amount where it states none).",
        ),
        *_usage_totals(
            "The month's bills'", "a bill with none counts 0, so compare bills_with_usage with bills before reading 0."
        ),
        _c("bills", "INT64", True, "The bills counted in the month."),
        _c("computed_at", "TIMESTAMP", True, "When the rollup last computed this row (UTC)."),
        _c("currency", "STRING", description=_CURRENCY),
        _c(
            "bills_with_usage",
            "INT64",
            description="Of bills, those with a reading in some usage column; NULL in rows from before it was"
            " counted, until the next rollup.",
        ),
    ),
    partition_by="month",
    partition_type="MONTH",
    cluster_by=("customer_id",),
    description=f"Each account's cost and usage by month and currency, rebuilt by the hourly rollup. {_MONTH}",
)
TABLES = (NORMALIZED_BILLS, BILL_LINE_ITEMS, INTERVAL_USAGE, MONTHLY_ACCOUNT_ROLLUP)

VIEW_OF = {
    "normalized_bills_latest": NORMALIZED_BILLS,
    "bill_line_items_latest": BILL_LINE_ITEMS,
    "interval_usage_latest": INTERVAL_USAGE,
}
"""The table each view shows the rows of, column for column: its columns' descriptions are the view's."""
VIEW_DESCRIPTIONS = {
    "normalized_bills_latest": "Each bill once, in its last version (a re-issued statement replaces the first). A"
    " bill's cost is current_charges, not total_amount (earlier balances included) save where current_charges is"
    " NULL; group amounts by currency.",
    "bill_line_items_latest": "The line items of each bill's last version.",
    "interval_usage_latest": "The daily kWh rows of each bill's last version.",
}

# BigQuery SQL; {name} is replaced by each backend's reference to that table or view. A bill's rows are all of one
# account, so ranking them within customer and account too ranks them alike, and lets BigQuery apply an analyst's
# ``WHERE customer_id = ...`` before the ranking, pruning by each table's clustering, where it read every row (72B).
VIEWS = {
    "normalized_bills_latest": """
        SELECT * FROM {normalized_bills} WHERE TRUE
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY customer_id, utility_account_id, bill_id ORDER BY created_at DESC, published_at DESC) = 1""",
    "bill_line_items_latest": """
        SELECT li.* FROM {bill_line_items} AS li
        JOIN {normalized_bills_latest} AS b ON li.bill_id = b.bill_id AND li.revision = b.revision
        WHERE TRUE QUALIFY ROW_NUMBER() OVER (
            PARTITION BY li.customer_id, li.utility_account_id, li.bill_id, li.line_no ORDER BY li.published_at DESC
        ) = 1""",
    "interval_usage_latest": """
        SELECT iu.* FROM {interval_usage_v2} AS iu
        JOIN {normalized_bills_latest} AS b ON iu.bill_id = b.bill_id AND iu.revision = b.revision
        WHERE TRUE QUALIFY ROW_NUMBER() OVER (
            PARTITION BY iu.customer_id, iu.utility_account_id, iu.bill_id, iu.ts ORDER BY iu.published_at DESC
        ) = 1""",
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
