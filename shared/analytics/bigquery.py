"""The BigQuery sink, the default (``ANALYTICS=bigquery``): real BigQuery, or bqemulator given its endpoint."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

import requests
from google.api_core.exceptions import Conflict, Forbidden, GoogleAPIError, NotFound, PreconditionFailed, RetryError
from google.cloud import bigquery

from shared.analytics.rows import CHILDREN_FIRST, OUT_OF_BOUNDS, bill_rows, raise_refused
from shared.analytics.schema import (
    TABLES,
    VIEW_DESCRIPTIONS,
    VIEW_OF,
    VIEWS,
    AnalyticsBill,
    Column,
    MonthlyTotal,
    TableSpec,
    added_fields,
)
from shared.analytics.sql import (
    CUSTOMER_ROWS_SQL,
    ERASE_CUSTOMER_SQL,
    HELD_DESCRIPTIONS_SQL,
    HELD_PAYLOADS_SQL,
    LATEST_DATES_SQL,
    MONTHLY_TOTALS_SQL,
    REMASK_PAYLOAD_SQL,
    REMASK_SQL,
    ROLLUP_COUNT_SQL,
    ROLLUP_REACH_SQL,
    ROLLUP_SQL,
    monthly_total_of,
    months_back,
    render_sql,
    rollup_months,
    widened,
)
from shared.emulator import emulator_client_options
from shared.google_credentials import credentials_or_refusal

logger = logging.getLogger(__name__)

BQ_TIMEOUT = 60.0
# Short client-side retries: a blocking call cannot be interrupted, so the client must give up well
# inside publish_analytics' 2-minute start-to-close timeout and leave the rest to Temporal. A batch
# writes three tables, one request per 500 rows (a full batch's daily usage alone is several), so
# the whole batch has a budget too: past it, no further request starts and the batch fails.
INSERT_TIMEOUT = 10.0
INSERT_RETRY_SECONDS = 15.0
INSERT_RETRY = bigquery.DEFAULT_RETRY.with_deadline(INSERT_RETRY_SECONDS)
PUBLISH_BUDGET_SECONDS = 55.0
"""A batch's time for all its requests. A bill that joins while a batch is written waits for it, then
for its own batch to form and be written: twice this plus the forming must fit publish_analytics' 2 minutes."""
READ_BUDGET_SECONDS = 10.0
"""An interactive read's time (the dashboard's monthly figures), retries included: past it the read fails
and the API answers from Postgres. The client's own defaults retry an unreachable warehouse for minutes."""
ROLLUP_BUDGET_SECONDS = 540.0
"""The rollup's time for all its statements, under rollup_analytics' 10-minute start-to-close (ROLLUP in
workflows/policies.py): past it the running query job is cancelled, so a timed-out attempt's MERGE never
goes on beside its retry's."""
ERASE_BUDGET = 300.0
"""An erasure's time for each of its statements (an operator's command, not an activity): a DELETE scans the table's
clustered customer."""
CANCEL_TIMEOUT = 10.0
INSERT_CHUNK_ROWS = 500
"""BigQuery's advice for insertAll: at most about 500 rows per request."""
REMASK_BATCH = 1000
"""Line items one re-masking UPDATE rewrites: its parameters stay far under BigQuery's request size."""
REMASK_PAYLOAD_BATCH = 100
"""Bill rows one re-masking UPDATE rewrites: a payload with its line items is a few kB."""
REMASK_PAGE = 1000
"""Rows a re-masking run reads from BigQuery at a time (it never holds a whole table)."""


@dataclass(frozen=True)
class HeldDescription:
    """A line item's description as the warehouse holds it, by the key its rows share."""

    bill_id: str
    revision: str
    line_no: int
    description: str
    fp: str
    """The description's SHA-256 (hex) as BigQuery computes it: the UPDATE matches on it, never on the text."""


@dataclass(frozen=True)
class HeldPayload:
    """A bill row's ``json_payload`` as the warehouse holds it (JSON text), by the key only that row has."""

    bill_id: str
    revision: str
    published_at: datetime
    payload: str
    fp: str
    """SHA-256 (hex) of the payload's JSON text as BigQuery writes it: the UPDATE matches on it, never the text."""


@dataclass
class Rewritten:
    """What a run of re-masking UPDATEs did: rows changed, and each batch BigQuery refused (the run goes on)."""

    changed: int = 0
    failed: list[str] = dataclasses.field(default_factory=list)


class AnalyticsOutOfTime(TimeoutError):
    """A batch or a query outlived its budget: an outage like any other, retried by Temporal."""


class DatasetNotCreatable(RuntimeError):
    """The dataset is missing and this identity may not create it: a deployment step, not an outage."""


@dataclass(frozen=True)
class _Row:
    """One row for ``insertAll``, with the bill it belongs to and its stable insertId."""

    bill_id: str
    row_id: str
    row: dict[str, Any]


class BigQuerySink:
    """The warehouse in BigQuery (or bqemulator when ``endpoint`` is given)."""

    def __init__(self, *, project: str, dataset: str, endpoint: str | None = None, location: str | None = None) -> None:
        if endpoint is None:
            with credentials_or_refusal("the warehouse (BigQuery)", "BIGQUERY_EMULATOR_HOST"):
                self._client = bigquery.Client(project=project, location=location)
        else:
            self._client = bigquery.Client(project=project, location=location, **emulator_client_options(endpoint))
        self._project = project
        self._dataset = dataset
        self._dataset_location = location
        """Where the dataset is, so where its query jobs run: learned at ``ensure_schema`` (or on a first cancel)."""

    def _ref(self, name: str) -> str:
        return f"`{self._project}.{self._dataset}.{name}`"

    def ensure_schema(self) -> None:
        """Create the dataset, tables (partitioned, clustered) and views if missing; views are replaced.

        A table created by an earlier release gets the columns added since, a record's new fields too
        (``_with_added_fields``), by a schema patch, as BigQuery documents; columns no longer written
        stay, NULL in new rows. Tables, views and their columns carry this release's descriptions, which
        an analyst reads beside them in the console."""
        self._ensure_dataset()
        for spec in TABLES:
            table = bigquery.Table(f"{self._project}.{self._dataset}.{spec.name}", schema=_bq_schema(spec.columns))
            if spec.partition_by:
                table.time_partitioning = bigquery.TimePartitioning(type_=spec.partition_type, field=spec.partition_by)
            table.clustering_fields = list(spec.cluster_by) or None
            table.description = spec.description or None
            existing = self._client.create_table(table, exists_ok=True, timeout=BQ_TIMEOUT)
            _warn_if_partitioned_otherwise(spec, existing)
            self._patch_schema(spec.name, spec.columns, spec.description, existing, add=True)
        for name, body in VIEWS.items():
            self._ensure_view(name, render_sql(body, self._ref))
            self._describe_view(name)

    def _ensure_dataset(self) -> None:
        """Look the dataset up before creating it: an identity with ``roles/bigquery.dataEditor`` on a
        dataset created beforehand may read it, but creating one (even one that exists) needs
        ``bigquery.datasets.create`` on the project, and BigQuery answers 403 there, not 409."""
        dataset = f"{self._project}.{self._dataset}"
        try:
            self._dataset_location = self._client.get_dataset(dataset, timeout=BQ_TIMEOUT).location
            return
        except NotFound:
            pass
        try:
            created = self._client.create_dataset(dataset, exists_ok=True, timeout=BQ_TIMEOUT)  # another may win
            self._dataset_location = created.location
        except Forbidden as refused:
            raise DatasetNotCreatable(
                f"BigQuery dataset {dataset} does not exist and this identity may not create it"
                " (bigquery.datasets.create on the project): create it beforehand, with roles/bigquery.dataEditor"
                " on it for this identity, or set BQ_DATASET to the one that exists"
            ) from refused

    def _patch_schema(
        self, name: str, columns: Sequence[Column], description: str, table: bigquery.Table, *, add: bool
    ) -> None:
        """Patch ``table`` (or a view) to ``columns``' descriptions and its own ``description``, and, with ``add``,
        in the columns added since it was created (a view's come from its query).

        The patch carries the table's etag: when another process (a second worker starting beside
        this one) patched it first, BigQuery answers 412, and the table is read again and compared anew."""
        for _ in range(5):
            schema = _with_added_fields(name, columns, table.schema, add=add)
            if schema == list(table.schema) and (table.description or "") == description:
                return
            table.schema = schema
            table.description = description or None
            try:
                self._client.update_table(table, ["schema", "description"], timeout=BQ_TIMEOUT)
                return
            except PreconditionFailed:
                table = self._client.get_table(table.reference, timeout=BQ_TIMEOUT)
        raise RuntimeError(f"{name}: its schema kept changing while it was patched; start again")

    def _describe_view(self, name: str) -> None:
        """Give a view its description and its table's column descriptions (a view's columns have none of their own,
        and a replaced view loses them). Documentation only: a refusal is logged, and the start goes on."""
        try:
            view = self._client.get_table(f"{self._project}.{self._dataset}.{name}", timeout=BQ_TIMEOUT)
            self._patch_schema(name, VIEW_OF[name].columns, VIEW_DESCRIPTIONS[name], view, add=False)
        except (GoogleAPIError, RuntimeError) as refused:
            logger.warning("view's descriptions not set", extra={"view": name, "error": str(refused)[:300]})

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
        """Raises ``AnalyticsOutOfTime`` (retried: the rows already written have stable insertIds) when the
        warehouse is too slow to take the batch within ``PUBLISH_BUDGET_SECONDS``."""
        deadline = time.monotonic() + PUBLISH_BUDGET_SECONDS
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
            refused |= self._insert(spec.name, table_rows, deadline=deadline)
        return refused

    def _insert(self, table: str, rows: list[_Row], *, deadline: float) -> dict[str, str]:
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
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AnalyticsOutOfTime(f"the warehouse took more than {PUBLISH_BUDGET_SECONDS:g}s for one batch")
                # The client starts no retry past its deadline, but one started just before runs its whole
                # timeout: the retries end one timeout before the budget does, or the batch outran it.
                errors = self._client.insert_rows_json(
                    f"{self._project}.{self._dataset}.{table}",
                    [r.row for r in chunk],
                    row_ids=[r.row_id for r in chunk],
                    timeout=min(INSERT_TIMEOUT, left),
                    retry=INSERT_RETRY.with_deadline(max(0.0, min(INSERT_RETRY_SECONDS, left - INSERT_TIMEOUT))),
                )
                for error in errors:
                    row, reasons = chunk[int(error["index"])], error["errors"]
                    if attempt == 0 and all(e.get("reason") == "stopped" for e in reasons):
                        stopped.append(row)
                    else:
                        refused.setdefault(row.bill_id, _refused_because(table, row.bill_id, reasons))
            rows = [r for r in stopped if r.bill_id not in refused]
            if not rows:
                break
        return refused

    def latest_dates(self) -> dict[str, datetime]:
        rows = self._run(render_sql(LATEST_DATES_SQL, self._ref))
        return {row["bill_id"]: row["created_at"].astimezone(UTC) for row in rows}

    def line_item_descriptions(self, *, before: datetime) -> Iterator[HeldDescription]:
        """The line items published before ``before`` whose description has a digit, as the warehouse holds
        them, read a page at a time."""
        for r in self._held_rows(HELD_DESCRIPTIONS_SQL, before=before):
            yield HeldDescription(r["bill_id"], r["revision"], r["line_no"], r["description"], r["fp"])

    def set_line_item_descriptions(
        self, changes: Sequence[tuple[HeldDescription, str]], *, before: datetime
    ) -> Rewritten:
        """Replace each held description with its new text; a row whose description is no longer the one read
        is left alone."""
        return self._update_in_batches(
            REMASK_SQL,
            [
                (
                    bigquery.ScalarQueryParameter("bill_id", "STRING", held.bill_id),
                    bigquery.ScalarQueryParameter("revision", "STRING", held.revision),
                    bigquery.ScalarQueryParameter("line_no", "INT64", held.line_no),
                    bigquery.ScalarQueryParameter("fp", "STRING", held.fp),
                    bigquery.ScalarQueryParameter("masked", "STRING", masked),
                )
                for held, masked in changes
            ],
            before=before,
            batch=REMASK_BATCH,
        )

    def held_payloads(self, *, before: datetime) -> Iterator[HeldPayload]:
        """The bill rows published before ``before`` that a re-masking may change (``HELD_PAYLOADS_SQL``), with
        their ``json_payload`` as JSON text, read a page at a time."""
        for r in self._held_rows(HELD_PAYLOADS_SQL, before=before):
            yield HeldPayload(r["bill_id"], r["revision"], r["published_at"], r["payload"], r["fp"])

    def set_payloads(self, changes: Sequence[tuple[HeldPayload, str]], *, before: datetime) -> Rewritten:
        """Replace each held row's ``json_payload`` with the new JSON text; a row changed since it was read is
        left alone."""
        return self._update_in_batches(
            REMASK_PAYLOAD_SQL,
            [
                (
                    bigquery.ScalarQueryParameter("bill_id", "STRING", held.bill_id),
                    bigquery.ScalarQueryParameter("revision", "STRING", held.revision),
                    bigquery.ScalarQueryParameter("published_at", "TIMESTAMP", held.published_at),
                    bigquery.ScalarQueryParameter("fp", "STRING", held.fp),
                    bigquery.ScalarQueryParameter("payload", "STRING", payload),
                )
                for held, payload in changes
            ],
            before=before,
            batch=REMASK_PAYLOAD_BATCH,
        )

    def _held_rows(self, sql: str, *, before: datetime) -> Iterator[bigquery.Row]:
        config = bigquery.QueryJobConfig(query_parameters=[_timestamp_param("before", before)])
        job = self._client.query(render_sql(sql, self._ref), job_config=config, timeout=BQ_TIMEOUT)
        yield from job.result(page_size=REMASK_PAGE, timeout=10 * BQ_TIMEOUT)

    def _update_in_batches(
        self, sql: str, rows: Sequence[tuple[bigquery.ScalarQueryParameter, ...]], *, before: datetime, batch: int
    ) -> Rewritten:
        """Run ``sql`` (an UPDATE ... FROM UNNEST(@rows)) once per ``batch`` rows. A batch BigQuery refuses is
        named in the result and the next one still runs (a later run takes the refused rows up again)."""
        done = Rewritten()
        for start in range(0, len(rows), batch):
            structs = [bigquery.StructQueryParameter(None, *fields) for fields in rows[start : start + batch]]
            config = bigquery.QueryJobConfig(
                query_parameters=[
                    bigquery.ArrayQueryParameter("rows", "STRUCT", structs),
                    _timestamp_param("before", before),
                ]
            )
            try:
                job = self._client.query(render_sql(sql, self._ref), job_config=config, timeout=BQ_TIMEOUT)
                job.result(timeout=10 * BQ_TIMEOUT)
            except GoogleAPIError as exc:
                done.failed.append(f"{len(structs)} rows refused: {type(exc).__name__}: {str(exc)[:300]}")
                continue
            done.changed += job.num_dml_affected_rows or 0
        return done

    def rollup(self, window_start: date, window_end: date) -> int:
        """Recompute the account-months the window touches (and ``ROLLUP_REACH_SQL``'s); returns their rows."""
        deadline = time.monotonic() + ROLLUP_BUDGET_SECONDS
        reach = self._run(render_sql(ROLLUP_REACH_SQL, self._ref), {"published_since": window_start}, by=deadline)
        first, last = widened(rollup_months(window_start, window_end), dict(reach[0].items()) if reach else None)
        params = {"first_month": first, "last_month": last}
        self._run(render_sql(ROLLUP_SQL, self._ref), params, by=deadline)
        return int(next(iter(self._run(render_sql(ROLLUP_COUNT_SQL, self._ref), params, by=deadline)))["n"])

    def monthly_totals(self, customer_id: int, *, months: int = 12, as_of: date | None = None) -> list[MonthlyTotal]:
        since = months_back(as_of or datetime.now(UTC).date(), months)
        params: dict[str, int | date] = {"customer_id": customer_id, "since": since}
        rows = self._run(render_sql(MONTHLY_TOTALS_SQL, self._ref), params, budget=READ_BUDGET_SECONDS)
        return [monthly_total_of(dict(r.items())) for r in rows]

    def customer_rows(self, customer_id: int) -> dict[str, int]:
        rows = self._run(render_sql(CUSTOMER_ROWS_SQL, self._ref), {"customer_id": customer_id}, budget=ERASE_BUDGET)
        return {row["table_name"]: int(row["n"]) for row in rows}

    def erase_customer(self, customer_id: int) -> None:
        """One DELETE a table. BigQuery refuses one over rows still in its streaming buffer (published within about
        90 minutes): the error says so, and the command is run again later."""
        for statement in ERASE_CUSTOMER_SQL:
            self._run(render_sql(statement, self._ref), {"customer_id": customer_id}, budget=ERASE_BUDGET)

    def _run(
        self,
        sql: str,
        params: Mapping[str, int | date] | None = None,
        *,
        budget: float | None = None,
        by: float | None = None,
    ) -> list[bigquery.Row]:
        """``budget``: seconds for the whole query, retries included, or ``by``: the ``time.monotonic()`` it
        must end by (neither: the client's long defaults, for the schema statements run at start). A query
        still running then is cancelled and ``AnalyticsOutOfTime`` raised."""
        config = bigquery.QueryJobConfig(query_parameters=[_bq_param(k, v) for k, v in (params or {}).items()])
        if budget is not None:
            by = time.monotonic() + budget
        if by is None:
            return list(self._client.query(sql, job_config=config, timeout=BQ_TIMEOUT).result(timeout=10 * BQ_TIMEOUT))
        # Named here, not by BigQuery: an insert whose answer comes too late still started the job, to be cancelled.
        job_id = f"minimeter_{uuid.uuid4().hex}"
        location = self._client.location or self._dataset_location
        try:
            left = max(0.1, by - time.monotonic())
            retry = bigquery.DEFAULT_RETRY.with_deadline(left)
            try:
                job = self._client.query(
                    sql, job_config=config, job_id=job_id, timeout=left, retry=retry, job_retry=None
                )
            except Conflict:
                # The insert was sent again and BigQuery had taken the first (its answer lost): the id is this
                # call's own, so the job is this query. The client looks it up only for ids it made up itself.
                left = max(0.1, by - time.monotonic())
                job = cast(
                    bigquery.QueryJob,
                    self._client.get_job(
                        job_id, location=location or self._location_of_dataset(), timeout=left, retry=retry
                    ),
                )
            location = job.location
            left = max(0.1, by - time.monotonic())
            return list(job.result(timeout=left, retry=bigquery.DEFAULT_RETRY.with_deadline(left), job_retry=None))
        except (TimeoutError, RetryError, requests.Timeout) as slow:  # out of time: the job runs on without us
            self._cancel(job_id, location or self._location_of_dataset())
            raise AnalyticsOutOfTime(f"query job {job_id} outlived its time and was cancelled") from slow
        except GoogleAPIError:
            # The job may be running all the same (taken, then an error came back): stopped, so the activity's
            # retry does not run its statement beside this one. A job that failed is done, and the cancel a no-op.
            self._cancel(job_id, location or self._location_of_dataset())
            raise

    def _location_of_dataset(self) -> str | None:
        """The dataset's location, asked for once (one short attempt) when ``ensure_schema`` has not run here:
        a job BigQuery placed by its dataset runs there, and a cancel without the location of a job outside
        the US and EU multi-regions is answered 404."""
        if self._dataset_location is None:
            try:
                dataset = f"{self._project}.{self._dataset}"
                # One attempt: the client takes None as no retry, though typed otherwise.
                found = self._client.get_dataset(dataset, timeout=CANCEL_TIMEOUT, retry=None)  # type: ignore[arg-type]
                self._dataset_location = found.location
            except (GoogleAPIError, requests.RequestException):
                return None
        return self._dataset_location

    def _cancel(self, job_id: str, location: str | None) -> None:
        """Ask BigQuery to stop a job no one waits for any more; a job it cannot reach is only logged (under
        ``bq_job_id``: ``job_id`` in the logs is MiniMeter's)."""
        try:
            # One attempt within CANCEL_TIMEOUT: the client takes None as no retry, though typed otherwise.
            self._client.cancel_job(job_id, location=location, timeout=CANCEL_TIMEOUT, retry=None)  # type: ignore[arg-type]
        except (GoogleAPIError, requests.RequestException) as why:
            logger.warning("could not cancel an abandoned query job", extra={"bq_job_id": job_id, "error": str(why)})


def _refused_because(table: str, bill_id: str, reasons: list[dict[str, Any]]) -> str:
    why = f"{table} rejected rows of bill {bill_id}: {reasons[:3]}"
    if any(OUT_OF_BOUNDS in str(reason.get("message", "")) for reason in reasons):
        spec = next((spec for spec in TABLES if spec.name == table), None)
        why += (
            f"; BigQuery streams rows into {table}'s partitions only from 5 years back to 1 year ahead, and this"
            f" release partitions it by {spec.partition_by if spec else 'publish time'}: if a warning at start says"
            " it is partitioned otherwise, recreate it as the README says; this publish is retried meanwhile"
        )
    return why


def _warn_if_partitioned_otherwise(spec: TableSpec, table: bigquery.Table) -> None:
    """A table keeps the partitioning it was created with (BigQuery cannot change it in place): one made by
    hand, or by another tool, partitioned by a bill's dates refuses every bill for a period over 5 years old."""
    field = table.time_partitioning.field if table.time_partitioning is not None else None
    if field is not None and field != spec.partition_by:
        logger.warning(
            "table partitioned by another column than this release creates it with: recreate it (README)",
            extra={"table": spec.name, "partitioned_by": field, "expected": spec.partition_by},
        )


def _timestamp_param(name: str, value: datetime) -> bigquery.ScalarQueryParameter:
    return bigquery.ScalarQueryParameter(name, "TIMESTAMP", value.astimezone(UTC))


def _bq_param(name: str, value: int | date) -> bigquery.ScalarQueryParameter:
    type_ = "INT64" if isinstance(value, int) else "DATE"
    return bigquery.ScalarQueryParameter(name, type_, value)


def _with_added_fields(
    where: str, columns: Sequence[Column], fields: Sequence[bigquery.SchemaField], *, add: bool = True
) -> list[bigquery.SchemaField]:
    """``fields`` with ``columns``' descriptions and, with ``add``, the columns added since, inside record columns too
    (BigQuery refuses every row that has a sub-field its table lacks); a field's name, type and mode are kept
    exactly as they are, and so is the description of one ``columns`` leaves undescribed."""
    wanted = {column.name: column for column in columns}
    merged = []
    for field in fields:
        column = wanted.get(field.name)
        if column is not None:
            described = field.to_api_repr()
            if column.description:
                described["description"] = column.description
            if column.fields and field.fields:
                inner = _with_added_fields(f"{where}.{field.name}", column.fields, field.fields, add=add)
                described["fields"] = [f.to_api_repr() for f in inner]
            field = bigquery.SchemaField.from_api_repr(described)
        merged.append(field)
    added = added_fields(where, tuple(columns), {field.name for field in fields}) if add else ()
    return merged + _bq_schema(added)


def _bq_schema(columns: Sequence[Column]) -> list[bigquery.SchemaField]:
    return [
        bigquery.SchemaField(
            c.name,
            c.type,
            mode="REPEATED" if c.fields else ("REQUIRED" if c.required else "NULLABLE"),
            description=c.description,
            fields=_bq_schema(c.fields),
        )
        for c in columns
    ]
