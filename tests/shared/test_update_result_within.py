"""An update's result waited for within a bound, however long the server's long poll: a review decision taken
while its job stays RUNNING (a warehouse outage) answers 202 once the wait is over, not when the job ends."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from shared.temporal import update_result_within
from tests.helpers import start_dev_server

LONG_POLL = json.dumps("1s")  # the flag takes JSON
"""The server's long-poll interval (``history.longPollExpirationInterval``, 20 s by default) made shorter than
the wait, as a wait of 25 s is on a default server: the server answers a poll with no outcome once it passes."""
WAIT = timedelta(seconds=2)
WATCHED = 6.0
"""How long the test watches both waits: three times ``WAIT``, so a loaded machine is not what fails it."""


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


async def test_a_wait_past_the_servers_long_poll_ends_on_time_and_a_later_one_reads_the_result(
    tmp_path: Path,
) -> None:
    task_queue = f"tq-{uuid.uuid4()}"
    long_poll = {"history.longPollExpirationInterval": LONG_POLL}
    async with await start_dev_server(log_file=tmp_path / "temporal.log", dynamic_config=long_poll) as env:
        # A workflow defined in a test module: run it unsandboxed rather than re-import pytest in the sandbox.
        runner = UnsandboxedWorkflowRunner()
        async with Worker(env.client, task_queue=task_queue, workflows=[HeldUpdateWorkflow], workflow_runner=runner):
            handle = await env.client.start_workflow(
                HeldUpdateWorkflow.run, id=f"held-update-{uuid.uuid4()}", task_queue=task_queue
            )
            update = await handle.start_update(HeldUpdateWorkflow.decide, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
            # The premise: the SDK's own rpc_timeout bounds each poll, and past the server's long poll it polls on.
            per_poll = asyncio.create_task(update.result(rpc_timeout=WAIT))
            bounded = asyncio.create_task(update_result_within(update, WAIT))
            await asyncio.wait([per_poll, bounded], timeout=WATCHED)
            try:
                assert not per_poll.done(), "the server answered no poll before its deadline: the premise is gone"
                assert bounded.done(), f"still waiting {WATCHED} s into a {WAIT.total_seconds()} s wait"
                with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
                    bounded.result()
            finally:
                per_poll.cancel()
                await asyncio.gather(per_poll, return_exceptions=True)

            await handle.signal(HeldUpdateWorkflow.release)
            assert await update_result_within(update, timedelta(seconds=30)) == "applied"
            await handle.result()
