"""Which of Temporal's errors say a call went unanswered: the reconciler's and the dispatcher's rounds stop
asking once one did, so a batch waits for one timeout, not one each."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from shared.temporal import went_unanswered


async def run_nobody_polls(client: Client) -> WorkflowHandle[object, object]:
    """A run whose task queue no worker polls: a query to it waits for an answer that never comes."""
    return await client.start_workflow(
        "NoWorkerHasThis", id=f"unanswered-{uuid.uuid4()}", task_queue=f"nobody-{uuid.uuid4().hex[:8]}"
    )


async def test_a_query_whose_own_rpc_timeout_runs_out_went_unanswered(client: Client) -> None:
    """Whichever deadline passes first, the server's or the client's, it is a timeout: the client's reached the
    reconciler as CANCELLED ("Timeout expired"), and a batch of ends waited 2 s a job again."""
    handle = await run_nobody_polls(client)
    for _ in range(3):
        with pytest.raises(RPCError) as raised:
            await handle.query("progress", rpc_timeout=timedelta(milliseconds=300))
        assert raised.value.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
        assert went_unanswered(raised.value), raised.value
    await handle.terminate(reason="test cleanup")


async def test_a_query_cut_short_by_asyncio_went_unanswered(client: Client) -> None:
    handle = await run_nobody_polls(client)
    with pytest.raises(TimeoutError) as raised:
        await asyncio.wait_for(handle.query("progress", rpc_timeout=timedelta(seconds=10)), 0.3)
    assert went_unanswered(raised.value)
    await handle.terminate(reason="test cleanup")


async def test_a_call_temporal_answered_with_an_error_was_answered(client: Client) -> None:
    with pytest.raises(RPCError) as raised:
        await client.get_workflow_handle(f"unanswered-{uuid.uuid4()}").describe()
    assert raised.value.status is RPCStatusCode.NOT_FOUND
    assert not went_unanswered(raised.value)
