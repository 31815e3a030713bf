"""AnalyticsRollupWorkflow: refresh the monthly rollup for the recent window.

Started by the ``analytics-rollup`` Temporal Schedule (``shared.schedules``); the
window ends on the day the run started, so a replay computes the same window.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.rollup import RollupActivities, RollupResult, RollupWindow
    from shared.models import RollupInput
    from workflows.policies import ROLLUP

UNSEALED_ROLLUP_START_PATCH = "unsealed-rollup-start-refused"
"""Recorded only by runs started with an input not sealed with our payload keys: they fail at once.
Earlier such runs rolled up as started. The schedule's action is sealed again on every worker start."""


@workflow.defn
class AnalyticsRollupWorkflow:
    @workflow.run
    async def run(self, inp: RollupInput) -> RollupResult:
        if inp.unsealed and workflow.patched(UNSEALED_ROLLUP_START_PATCH):
            # Anyone who reaches the frontend could otherwise start rollups over any window, as often as they like.
            raise ApplicationError(
                "the workflow input was not sealed with the payload keys", type="UnsealedMessage", non_retryable=True
            )
        # workflow.now() is the recorded start time: the same window on every replay.
        today = workflow.now().date()
        window = RollupWindow(window_start=today - timedelta(days=inp.window_days), window_end=today)
        workflow.set_current_details(f"rolling up {window.window_start} .. {window.window_end}")
        return await workflow.execute_activity_method(
            RollupActivities.rollup_analytics,
            window,
            summary=f"rollup {window.window_start}..{window.window_end}",
            **ROLLUP.options(),
        )
