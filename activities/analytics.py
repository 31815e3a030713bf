"""Publish: stream the persisted bill to the analytics warehouse, batched per worker."""

from __future__ import annotations

import logging

import asyncpg
from pydantic import AwareDatetime, ValidationError
from temporalio import activity

from activities.analytics_batch import PublishBatcher
from activities.bills import STORED_BY_JOB
from shared.analytics import AnalyticsBill, AnalyticsSink
from shared.bill import NormalizedBill
from shared.models import PublishRequest

logger = logging.getLogger(__name__)


class AnalyticsActivities:
    def __init__(
        self,
        sink: AnalyticsSink | None,
        *,
        pool: asyncpg.Pool | None = None,
        batch_max_bills: int = 1,
        batch_max_wait: float = 0.0,
        batch_quiet: float | None = None,
    ) -> None:
        """``pool``: publish the version Postgres stored for the job (without it, the request's bill)."""
        self._pool = pool
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
        bill, stored_at = await self._stored_version(request)
        await self._batcher.publish(
            AnalyticsBill(
                bill_id=request.bill_id,
                job_id=request.job_id,
                customer_id=request.customer_id,
                utility_account_id=request.utility_account_id,
                bill=bill,
                created_at=stored_at or activity.info().started_time,
            )
        )
        logger.info("bill published", extra={"job_id": request.job_id, "step": "publish_analytics"})

    async def _stored_version(self, request: PublishRequest) -> tuple[NormalizedBill, AwareDatetime | None]:
        """The bill as Postgres stored it for this job, and when.

        ``persist_bill`` answers a job that already stored its bill with that row and writes nothing:
        a run an operator reset, which a reviewer decided otherwise or Gemini read otherwise, holds a
        bill Postgres never stored, and the warehouse would show it as the job's version."""
        if self._pool is None:
            return request.bill, request.stored_at
        stored = await self._pool.fetchrow(STORED_BY_JOB, request.job_id)
        if stored is None or str(stored["bill_id"]) != request.bill_id:
            return request.bill, request.stored_at
        try:
            return NormalizedBill.model_validate(stored["payload"]), stored["stored_at"]
        except ValidationError:
            logger.warning(
                "stored bill does not read as a bill: publishing the run's",
                extra={"job_id": request.job_id, "step": "publish_analytics", "bill_id": request.bill_id},
            )
            return request.bill, request.stored_at
