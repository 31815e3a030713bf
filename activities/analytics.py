"""Publish: stream the persisted bill to the analytics warehouse."""

from __future__ import annotations

import logging

from temporalio import activity

from shared.analytics import AnalyticsBill, AnalyticsSink
from shared.models import PublishRequest

logger = logging.getLogger(__name__)


class AnalyticsActivities:
    def __init__(self, sink: AnalyticsSink | None) -> None:
        self._sink = sink

    @activity.defn
    def publish_analytics(self, request: PublishRequest) -> None:
        """Safe to rerun: rows are keyed by the bill id and read through a deduplicating view."""
        if self._sink is None:
            logger.info("analytics disabled", extra={"job_id": request.job_id, "step": "publish_analytics"})
            return
        self._sink.publish_bill(
            AnalyticsBill(
                bill_id=request.bill_id,
                job_id=request.job_id,
                customer_id=request.customer_id,
                utility_account_id=request.utility_account_id,
                bill=request.bill,
                created_at=activity.info().started_time,
            )
        )
        logger.info("bill published", extra={"job_id": request.job_id, "step": "publish_analytics"})
