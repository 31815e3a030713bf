"""Temporal Schedules MiniMeter keeps: created on startup, updated in place when their spec changes."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from shared.models import RollupInput
from workflows.rollup import AnalyticsRollupWorkflow

ROLLUP_SCHEDULE_ID = "analytics-rollup"


def rollup_schedule(*, task_queue: str, every: timedelta, window_days: int = 62) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AnalyticsRollupWorkflow.run,
            RollupInput(window_days=window_days),
            # The server appends the scheduled time, so each run has its own id.
            id=ROLLUP_SCHEDULE_ID,
            task_queue=task_queue,
            execution_timeout=timedelta(hours=1),
            static_summary="Recompute monthly cost and usage per account",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A slow rollup must not pile up runs; the next one covers the same window anyway.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_rollup_schedule(
    client: Client, *, task_queue: str, every: timedelta = timedelta(hours=1), window_days: int = 62
) -> None:
    """Create the ``analytics-rollup`` schedule, or replace its spec, action and policy if it exists (idempotent).

    Its state stays as an operator left it: every worker start calls this, and a schedule paused
    (with a note saying why) must stay paused through a deploy."""
    schedule = rollup_schedule(task_queue=task_queue, every=every, window_days=window_days)
    try:
        await client.create_schedule(ROLLUP_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:

        def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
            kept = current.description.schedule
            kept.spec, kept.action, kept.policy = schedule.spec, schedule.action, schedule.policy
            return ScheduleUpdate(schedule=kept)

        await client.get_schedule_handle(ROLLUP_SCHEDULE_ID).update(replace)
