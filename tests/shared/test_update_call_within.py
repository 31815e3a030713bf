"""An update's start and result waited for within a bound, however long the server's long poll: a review decision
answers 503 when no worker takes it in time, and 202 when its job stays RUNNING (a warehouse outage), not when the
update finally moves on."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from shared.temporal import update_call_within
from tests.helpers import start_dev_server

LONG_POLL = json.dumps("1s")  # the flag takes JSON
"""The server's long-poll interval (``history.longPollExpirationInterval``, 20 s by default) made shorter than
the wait, as a wait of 25 s is on a default server: the server answers an update's call with neither acceptance
nor outcome once it passes, and the SDK asks again."""
WAIT = timedelta(seconds=2)
WATCHED = 6.0
"""How long the test watches both calls: three times ``WAIT``, so a loaded machine is not what fails it."""


@workflow.defn
class HeldUpdateWorkflow:
    """An update accepted at once that completes only when released: a job whose publish an outage holds."""

    def __init__(self) -> None:
        self._released = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._released)

    @workflow.update
    async def decide(self) -> str:
        await workflow.wait_condition(lambda: self._released)
        return "applied"

    @workflow.signal
    def release(self) -> None:
        self._released = True


@pytest.fixture(scope="module")
async def short_long_poll(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    log = tmp_path_factory.mktemp("short-long-poll") / "temporal.log"
    long_poll = {"history.longPollExpirationInterval": LONG_POLL}
    async with await start_dev_server(log_file=log, dynamic_config=long_poll) as env:
        yield env


async def assert_bounded(call: Callable[[], Awaitable[Any]]) -> None:
    """``call()`` alone (its ``rpc_timeout`` ``WAIT``) still waits ``WATCHED`` s in (the premise), while the same call
    through ``update_call_within`` has given up with the SDK's own timeout error."""
    alone, within = asyncio.ensure_future(call()), asyncio.ensure_future(update_call_within(call(), WAIT))
    await asyncio.wait([alone, within], timeout=WATCHED)
    try:
        assert not alone.done(), "the server answered no call before its deadline: the premise is gone"
        assert within.done(), f"still waiting {WATCHED} s into a {WAIT.total_seconds()} s wait"
        with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
            within.result()
    finally:
        alone.cancel()
        await asyncio.gather(alone, return_exceptions=True)


async def start_held(client: Client, task_queue: str) -> Any:
    return await client.start_workflow(HeldUpdateWorkflow.run, id=f"held-update-{uuid.uuid4()}", task_queue=task_queue)


async def test_a_result_waited_for_past_the_servers_long_poll_ends_on_time_and_a_later_one_reads_it(
    short_long_poll: WorkflowEnvironment,
) -> None:
    client, task_queue = short_long_poll.client, f"tq-{uuid.uuid4()}"
    # A workflow defined in a test module: run it unsandboxed rather than re-import pytest in the sandbox.
    runner = UnsandboxedWorkflowRunner()
    async with Worker(client, task_queue=task_queue, workflows=[HeldUpdateWorkflow], workflow_runner=runner):
        handle = await start_held(client, task_queue)
        update = await handle.start_update(HeldUpdateWorkflow.decide, wait_for_stage=WorkflowUpdateStage.ACCEPTED)

        await assert_bounded(lambda: update.result(rpc_timeout=WAIT))

        await handle.signal(HeldUpdateWorkflow.release)
        assert await update_call_within(update.result(), timedelta(seconds=30)) == "applied"
        await handle.result()


async def test_a_start_no_worker_accepts_ends_on_time(short_long_poll: WorkflowEnvironment) -> None:
    """No worker polls the run's queue (all down, or a deploy): the start is never accepted."""
    client = short_long_poll.client
    handle = await start_held(client, f"nobody-{uuid.uuid4()}")
    try:
        await assert_bounded(
            lambda: handle.start_update(
                HeldUpdateWorkflow.decide, wait_for_stage=WorkflowUpdateStage.ACCEPTED, rpc_timeout=WAIT
            )
        )
    finally:
        await handle.terminate(reason="test cleanup")
