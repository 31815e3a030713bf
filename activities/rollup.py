"""Rollup: recompute monthly cost and usage per account in the analytics warehouse."""

from __future__ import annotations

import logging
from datetime import date

from pydantic import BaseModel
from temporalio import activity

from shared.analytics import AnalyticsSink

logger = logging.getLogger(__name__)


class RollupWindow(BaseModel):
    """The days whose months are recomputed (whole months: see ``shared.analytics.rollup_months``)."""

    window_start: date
    window_end: date


class RollupResult(BaseModel):
    window_start: date
    window_end: date
    rows: int
    """Account-months the window holds after the rollup."""
    skipped: bool = False
    """True when analytics is disabled."""


class RollupActivities:
    def __init__(self, sink: AnalyticsSink | None) -> None:
        self._sink = sink

    @activity.defn
    def rollup_analytics(self, inp: RollupWindow) -> RollupResult:
        """Safe to rerun: one MERGE replaces the window's months, so a retry writes the same rows."""
        if self._sink is None:
            return RollupResult(window_start=inp.window_start, window_end=inp.window_end, rows=0, skipped=True)
        rows = self._sink.rollup(inp.window_start, inp.window_end)
        logger.info("analytics rolled up", extra={"step": "rollup_analytics", "rows": rows})
        return RollupResult(window_start=inp.window_start, window_end=inp.window_end, rows=rows)
