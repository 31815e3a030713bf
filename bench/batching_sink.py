"""Prototype: coalesce concurrent ``publish_bill`` calls of one worker into one insertAll per table.

``publish_analytics`` is a sync activity, so up to ``WORKER_ACTIVITY_THREADS`` of them
run at once. Here the first caller opens a batch, waits ``window`` seconds for others to
join, then writes every row of the batch in three insertAll requests (children first,
as ``BigQuerySink.publish_bill`` does); each caller returns or raises with its batch.

Idempotency is unchanged: every row keeps its own insertId ``{bill_id}:{revision}`` and
the ``*_latest`` views still dedupe, so a batch that fails and is retried bill by bill
(each activity retries on its own) writes nothing the views would count twice. A row the
warehouse rejects fails only the bill it belongs to.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from shared.analytics import (
    BILL_LINE_ITEMS,
    BQ_TIMEOUT,
    INSERT_RETRY,
    INTERVAL_USAGE,
    NORMALIZED_BILLS,
    AnalyticsBill,
    AnalyticsPublishFailed,
    AnalyticsSink,
    BigQuerySink,
    MonthlyTotal,
    bill_rows,
)


@dataclass
class _Batch:
    bills: list[AnalyticsBill] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    errors: dict[str, str] = field(default_factory=dict)
    """bill id → why its rows were refused."""
    failure: BaseException | None = None


class BatchingSink:
    def __init__(self, inner: BigQuerySink, *, window: float, max_bills: int = 100) -> None:
        self._inner = inner
        self._window = window
        self._max_bills = max_bills
        self._lock = threading.Lock()
        self._open: _Batch | None = None
        self._full = threading.Condition(self._lock)

    def ensure_schema(self) -> None:
        self._inner.ensure_schema()

    def rollup(self, window_start: date, window_end: date) -> int:
        return self._inner.rollup(window_start, window_end)

    def monthly_totals(self, customer_id: int, *, months: int = 12, as_of: date | None = None) -> list[MonthlyTotal]:
        return self._inner.monthly_totals(customer_id, months=months, as_of=as_of)

    def publish_bill(self, row: AnalyticsBill) -> None:
        with self._lock:
            leader = self._open is None
            if leader:
                self._open = _Batch()
            batch = self._open
            assert batch is not None
            batch.bills.append(row)
            if len(batch.bills) >= self._max_bills:
                self._full.notify_all()
            if leader:
                self._full.wait_for(lambda: len(batch.bills) >= self._max_bills, timeout=self._window)
                self._open = None
        if leader:
            try:
                self._write(batch)
            except BaseException as err:  # noqa: BLE001 - handed to every caller of the batch
                batch.failure = err
            finally:
                batch.done.set()
        else:
            batch.done.wait()
        if batch.failure is not None:
            raise AnalyticsPublishFailed(f"batch of {len(batch.bills)} bills failed: {batch.failure}")
        if row.bill_id in batch.errors:
            raise AnalyticsPublishFailed(batch.errors[row.bill_id])

    def _write(self, batch: _Batch) -> None:
        published_at = datetime.now(UTC)
        rows = [(bill.bill_id, bill_rows(bill, published_at=published_at)) for bill in batch.bills]
        client = self._inner._client
        for spec, attr in (
            (BILL_LINE_ITEMS, "line_items"),
            (INTERVAL_USAGE, "intervals"),
            (NORMALIZED_BILLS, "normalized"),
        ):
            owners: list[str] = []
            payload: list[dict[str, object]] = []
            ids: list[str] = []
            for bill_id, r in rows:
                if bill_id in batch.errors:
                    continue  # its children were refused: never write the bill row over them
                part = getattr(r, attr)
                payload += part
                ids += r.ids[spec.name]
                owners += [bill_id] * len(part)
            if not payload:
                continue
            errors = client.insert_rows_json(
                f"{self._inner._project}.{self._inner._dataset}.{spec.name}",
                payload,
                row_ids=ids,
                timeout=BQ_TIMEOUT,
                retry=INSERT_RETRY,
            )
            for error in errors:
                bill_id = owners[int(error["index"])]
                batch.errors.setdefault(bill_id, f"{spec.name} rejected rows of bill {bill_id}: {error['errors'][:3]}")


def batching(sink: AnalyticsSink | None, window: float) -> AnalyticsSink | None:
    """Wrap a BigQuery sink; other sinks (local DuckDB, disabled) are returned as they are."""
    if window > 0 and isinstance(sink, BigQuerySink):
        return BatchingSink(sink, window=window)
    return sink
