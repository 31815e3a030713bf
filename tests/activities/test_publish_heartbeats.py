"""publish_analytics heartbeats while its bill waits behind a slow batch, and a cancel takes the
bill out of the batch it was waiting for."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from typing import Any, cast

import pytest
from temporalio.testing import ActivityEnvironment

from activities import analytics as analytics_module
from activities.analytics import AnalyticsActivities
from eval.generate import sample_bill
from shared.analytics import AnalyticsBill, AnalyticsSink
from shared.bill import Provider
from shared.models import PublishRequest
from worker.resources import Resources


class SlowFirstBatch:
    """The session's sink; its first batch write waits until the test releases it."""

    def __init__(self, sink: AnalyticsSink) -> None:
        self._sink = sink
        self.writing = threading.Event()
        self.release = threading.Event()
        self.batches: list[list[str]] = []

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        self.batches.append([row.bill_id for row in rows])
        if len(self.batches) == 1:
            self.writing.set()
            self.release.wait()
        return self._sink.publish_bills(rows)


def publish_request(seed: str) -> PublishRequest:
    _, _, bill = sample_bill(Provider.PGE, seed=seed)
    return PublishRequest(job_id=seed, bill_id=f"hb-{seed}", customer_id=1, utility_account_id=1, bill=bill)


async def test_a_publish_behind_a_slow_batch_heartbeats_and_a_cancel_leaves_the_next_batch(
    resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resources.sink is not None
    # A publish heartbeats only once it has waited this long: 0.2 s here, a worker's 5 s being mere waiting.
    monkeypatch.setattr(analytics_module, "HEARTBEAT_SECONDS", 0.2)
    sink = SlowFirstBatch(resources.sink)
    # A cast: publishing uses publish_bills alone.
    analytics = AnalyticsActivities(
        cast(AnalyticsSink, sink), batch_max_bills=100, batch_max_wait=0.1, batch_quiet=0.05
    )
    ahead, behind, after = (publish_request(uuid.uuid4().hex) for _ in range(3))
    try:
        first = asyncio.create_task(ActivityEnvironment().run(analytics.publish_analytics, ahead))
        await asyncio.to_thread(sink.writing.wait, 30)
        assert sink.writing.is_set(), "the first batch was never written"

        waiting = ActivityEnvironment()
        beat = asyncio.Event()
        waiting.on_heartbeat = lambda *details: beat.set()
        cancelled = asyncio.create_task(waiting.run(analytics.publish_analytics, behind))
        await asyncio.wait_for(beat.wait(), timeout=30)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    finally:
        sink.release.set()
    await first
    await ActivityEnvironment().run(analytics.publish_analytics, after)

    written: list[Any] = [bill_id for batch in sink.batches for bill_id in batch]
    assert written == [ahead.bill_id, after.bill_id], sink.batches
