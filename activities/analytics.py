"""Publish: stream the persisted bill to the analytics warehouse, batched per worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from temporalio import activity

from activities.analytics_batch import PublishBatcher
from shared.analytics import AnalyticsBill, AnalyticsSink
from shared.models import PublishRequest

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
"""How often a publish still waiting on its batch heartbeats: well inside policies.ANALYTICS's 30 s."""


class AnalyticsActivities:
    def __init__(
        self,
        sink: AnalyticsSink | None,
        *,
        batch_max_bills: int = 1,
        batch_max_wait: float = 0.0,
        batch_quiet: float | None = None,
    ) -> None:
        self._batcher = (
            None
            if sink is None
            else PublishBatcher(sink, max_bills=batch_max_bills, max_wait=batch_max_wait, quiet=batch_quiet)
        )

    @activity.defn
    async def publish_analytics(self, request: PublishRequest) -> None:
        """Safe to rerun: rows are keyed by the bill id and read through a deduplicating view.

        No heartbeat up front (a lone bill waits only the batch's quiet time); one every 5 s
        while the batch is slow, so a lost worker is noticed within the heartbeat timeout
        rather than the whole start-to-close, and a cancellation (the attempt timed out) arrives."""
        if self._batcher is None:
            logger.info("analytics disabled", extra={"job_id": request.job_id, "step": "publish_analytics"})
            return
        bill = AnalyticsBill(
            bill_id=request.bill_id,
            job_id=request.job_id,
            customer_id=request.customer_id,
            utility_account_id=request.utility_account_id,
            bill=request.bill,
            # None only in runs from before persist returned it: each attempt then dates its rows, and names its
            # insertIds, anew (the views still keep one row a bill; BigQuery's best-effort dedupe alone is lost).
            created_at=request.stored_at or activity.info().started_time,
            account_number=request.account_number,
        )
        # A refusal, AnalyticsRowsUnstreamable too, is retried for the policy's day: the bill is stored (the
        # same file again is a DUPLICATE), so failing at once would lose its rows for good, while a table the
        # operator fixes within the day takes them; meanwhile the Web UI's last failure names the remedy.
        await _with_heartbeats(self._batcher.publish(bill))
        logger.info("bill published", extra={"job_id": request.job_id, "step": "publish_analytics"})


async def _with_heartbeats(work: Coroutine[Any, Any, None]) -> None:
    """Await ``work`` beside a heartbeat loop; a cancelled activity cancels it, so a batch not yet written
    leaves its bill out."""
    waiting = asyncio.ensure_future(work)
    try:
        while not waiting.done():
            await asyncio.wait([waiting], timeout=HEARTBEAT_SECONDS)
            if not waiting.done():
                activity.heartbeat()
        await waiting
    finally:
        waiting.cancel()
