"""Publish: stream the persisted bill to the analytics warehouse, batched per worker."""

from __future__ import annotations

import logging

from temporalio import activity

from activities.analytics_batch import PublishBatcher
from shared.analytics import AnalyticsBill, AnalyticsSink
from shared.models import PublishRequest

logger = logging.getLogger(__name__)


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
        """Safe to rerun: rows are keyed by the bill id and read through a deduplicating view."""
        if self._batcher is None:
            logger.info("analytics disabled", extra={"job_id": request.job_id, "step": "publish_analytics"})
            return
        await self._batcher.publish(
            AnalyticsBill(
                bill_id=request.bill_id,
                job_id=request.job_id,
                customer_id=request.customer_id,
                utility_account_id=request.utility_account_id,
                bill=request.bill,
                created_at=request.stored_at or activity.info().started_time,
            )
        )
        logger.info("bill published", extra={"job_id": request.job_id, "step": "publish_analytics"})
