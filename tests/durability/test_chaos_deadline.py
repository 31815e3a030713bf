"""The chaos run gives up by progress: not while jobs still advance, soon once none does, always at its cap;
and it says where each stuck job is."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from temporalio.api.common.v1 import ActivityType
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse

from bench import chaos
from bench.chaos import ChaosPlan, Deadline, Tally, current_step
from tests.helpers import ManualClock


def test_a_run_that_keeps_advancing_is_given_up_only_at_its_cap() -> None:
    clock = ManualClock()
    deadline = Deadline(cap=300, stall=60, clock=clock)
    for _ in range(9):  # 270 s in all, never 60 s without a job advancing
        clock.now += 30
        deadline.advanced()
        assert not deadline.passed()
    clock.now += 30
    assert deadline.passed() and deadline.at == deadline.cap


def test_a_run_where_nothing_advances_is_given_up_after_the_stall_period() -> None:
    clock = ManualClock()
    deadline = Deadline(cap=300, stall=60, clock=clock)
    clock.now += 100
    deadline.advanced()
    clock.now += 59
    assert not deadline.passed() and deadline.remaining() == 1
    clock.now += 1
    assert deadline.passed()


def test_without_a_stall_period_only_the_cap_counts() -> None:
    clock = ManualClock()
    deadline = Deadline(cap=300, stall=None, clock=clock)
    clock.now += 299
    assert not deadline.passed()
    clock.now += 1
    assert deadline.passed()


async def test_a_wait_lasts_past_the_stall_period_while_jobs_advance_and_ends_once_none_does() -> None:
    room = asyncio.Condition()
    deadline = Deadline(cap=120, stall=1.5)
    settled = False

    async def advancing_then_settling() -> None:
        nonlocal settled
        for _ in range(30):  # 3 s of progress: twice the stall period
            await asyncio.sleep(0.1)
            deadline.advanced()
        async with room:
            settled = True
            room.notify_all()

    advancing = asyncio.create_task(advancing_then_settling())
    async with room:
        assert await deadline.wait_for(room, lambda: settled)
    await advancing

    async with room:
        assert not await deadline.wait_for(room, lambda: False)
    # Given up once the stall period had passed since the last job advanced: not sooner, and not at the cap
    # (two minutes after it was set, a bound no loaded machine comes near in the few seconds this takes).
    assert deadline.passed() and time.monotonic() >= deadline.last_advance + 1.5
    assert time.monotonic() < deadline.cap


def test_a_stuck_job_is_named_with_its_step_attempt_and_last_failure() -> None:
    raw = DescribeWorkflowExecutionResponse(
        pending_activities=[
            PendingActivityInfo(
                activity_type=ActivityType(name="publish_analytics"),
                attempt=2,
                state=PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
                last_failure=Failure(message="activity StartToClose timeout"),
            )
        ]
    )
    description = cast(Any, SimpleNamespace(raw_description=raw, history_length=17))
    assert current_step(description) == (
        "in publish_analytics (attempt 2, started, last failure: activity StartToClose timeout)"
    )
    idle = cast(Any, SimpleNamespace(raw_description=DescribeWorkflowExecutionResponse(), history_length=9))
    assert current_step(idle) == "no activity pending after 9 history events"


def test_every_stuck_job_is_listed_where_other_kinds_show_a_few() -> None:
    tally = Tally()
    for i in range(12):
        tally.bad("stuck", f"job-{i} RUNNING")
        tally.bad("artifact_rows", f"job-{i}")
    assert [p for p in tally.problems if p.startswith("stuck")] == [f"stuck: job-{i} RUNNING" for i in range(12)]
    assert len([p for p in tally.problems if p.startswith("artifact_rows")]) == 6  # five and "... more"


class StackUp(Exception):
    """Raised where the run's load would begin: the stack is up."""


async def test_the_stall_clock_starts_once_the_stack_is_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Else a stack slow to start (a loaded CI machine) ate the stall period before any job could advance."""
    clock = ManualClock()
    deadlines: list[Deadline] = []

    def deadline(*, cap: float, stall: float | None) -> Deadline:
        deadlines.append(Deadline(cap=cap, stall=stall, clock=clock))
        return deadlines[-1]

    def start_services() -> None:
        clock.now += 200  # longer than the stall period

    async def create_accounts(*args: object) -> list[int]:
        raise StackUp

    stack = SimpleNamespace(
        start_services=start_services,
        admin_key=lambda: "key",
        start_worker=lambda: None,
        start_api=lambda: None,
        settings=lambda: None,
        api_url="http://127.0.0.1:9",
    )
    monkeypatch.setattr(chaos, "Deadline", deadline)
    monkeypatch.setattr(chaos, "build_stack", lambda data_dir, run_id: stack)
    monkeypatch.setattr(chaos, "create_accounts", create_accounts)
    monkeypatch.setattr(chaos, "_close", lambda stack: None)
    with pytest.raises(StackUp):
        await chaos.run_chaos(ChaosPlan(bills=4, deadline=300, stall=60), tmp_path)
    [started] = deadlines
    assert not started.passed() and started.remaining() == 60
