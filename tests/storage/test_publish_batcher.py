"""PublishBatcher: concurrent publishes share warehouse requests, each caller gets its own bill's outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import date

import pytest

from activities.analytics_batch import PublishBatcher
from shared.analytics import AnalyticsBill, AnalyticsPublishFailed, AnalyticsSink
from shared.logs import ContextFilter, log_context
from tests.storage.test_analytics_sink import electric_bill, published, query


class Recording:
    """The real sink, with a log of the batches it was handed (and optional injected trouble)."""

    def __init__(self, sink: AnalyticsSink) -> None:
        self.sink = sink
        self.batches: list[list[str]] = []
        self.refuse: set[str] = set()
        self.outages = 0

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        self.batches.append([r.bill_id for r in rows])
        if self.outages:
            self.outages -= 1
            raise ConnectionError("warehouse unreachable (injected)")
        accepted = [r for r in rows if r.bill_id not in self.refuse]
        refused = self.sink.publish_bills(accepted)
        return refused | {bill_id: "invalid row (injected)" for bill_id in self.refuse}


def bills(n: int) -> list[AnalyticsBill]:
    return [published(electric_bill(end=date(2024, 1, 1 + i))) for i in range(n)]


def latest_ids(sink: AnalyticsSink) -> set[str]:
    return {r["bill_id"] for r in query(sink, "SELECT bill_id FROM {normalized_bills_latest}")}


async def test_concurrent_publishes_share_one_request_per_table(sink: AnalyticsSink) -> None:
    recording = Recording(sink)
    batcher = PublishBatcher(recording, max_bills=100, max_wait=0.2)
    rows = bills(12)

    await asyncio.gather(*(batcher.publish(r) for r in rows))

    assert len(recording.batches) == 1 and sorted(recording.batches[0]) == sorted(r.bill_id for r in rows)
    assert latest_ids(sink) == {r.bill_id for r in rows}
    days = query(sink, "SELECT COUNT(DISTINCT bill_id) AS bills, COUNT(*) AS n FROM {interval_usage_latest}")[0]
    assert days["bills"] == len(rows) and days["n"] > len(rows)  # daily rows of every bill, written once
    await batcher.close()


async def test_a_full_batch_is_written_without_waiting(sink: AnalyticsSink) -> None:
    recording = Recording(sink)
    batcher = PublishBatcher(recording, max_bills=4, max_wait=30)
    rows = bills(8)

    await asyncio.wait_for(asyncio.gather(*(batcher.publish(r) for r in rows)), timeout=20)

    assert [len(b) for b in recording.batches] == [4, 4]
    assert latest_ids(sink) == {r.bill_id for r in rows}
    await batcher.close()


async def test_a_refused_bill_fails_alone(local_sink: AnalyticsSink) -> None:
    recording = Recording(local_sink)
    batcher = PublishBatcher(recording, max_bills=100, max_wait=0.1)
    good, bad = bills(2)
    recording.refuse.add(bad.bill_id)

    results = await asyncio.gather(batcher.publish(good), batcher.publish(bad), return_exceptions=True)

    assert results[0] is None
    assert isinstance(results[1], AnalyticsPublishFailed) and "invalid row" in str(results[1])
    assert latest_ids(local_sink) == {good.bill_id}
    await batcher.close()


async def test_an_outage_fails_every_caller_and_a_retry_writes_each_bill_once(local_sink: AnalyticsSink) -> None:
    recording = Recording(local_sink)
    batcher = PublishBatcher(recording, max_bills=100, max_wait=0.05)
    rows = bills(3)
    recording.outages = 1

    first = await asyncio.gather(*(batcher.publish(r) for r in rows), return_exceptions=True)
    assert all(isinstance(e, ConnectionError) for e in first)
    assert latest_ids(local_sink) == set()

    await asyncio.gather(*(batcher.publish(r) for r in rows))  # what Temporal's retries do
    assert latest_ids(local_sink) == {r.bill_id for r in rows}
    await batcher.close()


async def test_a_failed_batch_is_logged_with_its_own_jobs_not_the_first_callers(
    local_sink: AnalyticsSink, caplog: pytest.LogCaptureFixture
) -> None:
    """The flusher is started inside the first caller's activity; it must not log as that job forever."""
    recording = Recording(local_sink)
    batcher = PublishBatcher(recording, max_bills=100, max_wait=0.05)
    first, second = bills(2)
    with log_context(job_id=first.job_id):
        await batcher.publish(first)
    recording.outages = 1
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.WARNING, logger="activities.analytics_batch"), pytest.raises(ConnectionError):
        await batcher.publish(second)
    [failed] = [r for r in caplog.records if r.getMessage() == "analytics batch failed"]
    assert failed.__dict__["job_ids"] == [second.job_id]
    assert getattr(failed, "job_id", None) is None, "logged as the job that started the flusher"
    assert failed.__dict__["step"] == "publish_analytics"
    assert failed.__dict__["error"] == "ConnectionError: warehouse unreachable (injected)", "its cause, not its type"
    await batcher.close()


async def test_a_cancelled_caller_does_not_disturb_the_batch(local_sink: AnalyticsSink) -> None:
    recording = Recording(local_sink)
    batcher = PublishBatcher(recording, max_bills=100, max_wait=0.3)
    kept, dropped = bills(2)

    keep = asyncio.create_task(batcher.publish(kept))
    drop = asyncio.create_task(batcher.publish(dropped))
    await asyncio.sleep(0.05)
    drop.cancel()
    await keep

    with pytest.raises(asyncio.CancelledError):
        await drop
    assert recording.batches == [[kept.bill_id]]
    assert latest_ids(local_sink) == {kept.bill_id}
    await batcher.close()


async def test_a_lone_bill_waits_only_the_quiet_time(local_sink: AnalyticsSink) -> None:
    recording = Recording(local_sink)
    batcher = PublishBatcher(recording, max_bills=100, max_wait=60, quiet=0.1)
    (row,) = bills(1)

    await asyncio.wait_for(batcher.publish(row), timeout=20)  # not the 60 s a steady stream may wait

    assert recording.batches == [[row.bill_id]]
    await batcher.close()


async def test_bills_that_keep_coming_share_a_batch_until_it_is_max_wait_old(local_sink: AnalyticsSink) -> None:
    recording = Recording(local_sink)
    batcher = PublishBatcher(recording, max_bills=100, max_wait=1.0, quiet=5)
    rows = bills(10)

    async def one_every_200_ms() -> None:
        calls = []
        for row in rows:
            calls.append(asyncio.create_task(batcher.publish(row)))
            await asyncio.sleep(0.2)
        await asyncio.gather(*calls)

    await asyncio.wait_for(one_every_200_ms(), timeout=30)

    # Each gap is far inside the quiet time, so only the age limit splits the stream:
    # ~2 s of bills in batches at most 1 s old, about five bills each.
    assert 2 <= len(recording.batches) < len(rows)
    assert sorted(b for batch in recording.batches for b in batch) == sorted(r.bill_id for r in rows)
    assert latest_ids(local_sink) == {r.bill_id for r in rows}
    await batcher.close()


class Accepting:
    """A warehouse that takes every row."""

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        return {}


async def test_a_bill_arriving_as_the_worker_closes_does_not_keep_the_flusher_running() -> None:
    """Its arrival landed with close()'s cancellation: ``wait_for`` returned it and dropped the cancellation, and
    close() waited for the flusher for ever (the worker's shutdown with it)."""
    batcher = PublishBatcher(Accepting(), max_bills=100, max_wait=60)
    first, second = bills(2)
    waiting = asyncio.create_task(batcher.publish(first))
    await asyncio.sleep(0.05)  # the flusher waits for more bills to join the first
    arriving = asyncio.create_task(batcher.publish(second))
    await asyncio.sleep(0)  # the second arrives: the flusher's wait ends in this turn of the loop, as close() cancels
    async with asyncio.timeout(10):
        await batcher.close()
    outcomes = await asyncio.gather(waiting, arriving, return_exceptions=True)
    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes), outcomes
