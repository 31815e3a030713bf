"""A step's limit on one kind of failure counts that kind alone, across attempts (``activities.failure_counts``):
attempts an outage failed spent "no bill yet"'s four asks and the parse's three tries."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities import failure_counts
from activities.connectors.base import AccountInfo, BillNotAvailable, ConnectorRegistry, SourceDocument
from activities.fetching import MAX_NO_BILL_ATTEMPTS, FetchActivities
from shared.models import FetchRequest
from tests.activities.test_connector_documents import a_job
from worker.resources import Resources


class NoBillYet:
    scheme = "portal"

    def locate(self, account: AccountInfo, *, job_id: str) -> str:
        return f"portal://{account.account_number}?job={job_id}"

    def read(self, source_uri: str) -> SourceDocument:
        raise BillNotAvailable("the portal has no bill for this period yet")


@pytest.mark.parametrize(
    ("attempt", "asked_before", "given_up"),
    [(1, 0, False), (3, 2, False), (4, 3, True), (4, 0, False), (7, 2, False), (9, 3, True)],
    ids=["first", "third", "fourth", "fourth-after-outages", "seventh-after-outages", "ninth-fourth-ask"],
)
async def test_no_bill_yet_gives_up_on_the_fourth_answer_not_the_fourth_attempt(
    http: httpx.AsyncClient, resources: Resources, attempt: int, asked_before: int, given_up: bool
) -> None:
    """Three attempts a database failover failed, then the portal's first "no bill yet": the job ended FAILED."""
    account, job_id = await a_job(http, resources)
    fetch = FetchActivities(resources.pool, ConnectorRegistry(default=NoBillYet()))
    env = ActivityEnvironment()
    carried = [{"no_bill": asked_before}] if asked_before else []
    env.info = dataclasses.replace(env.info, attempt=attempt, heartbeat_details=carried)
    beats: list[tuple[Any, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)

    with pytest.raises((ApplicationError, BillNotAvailable)) as raised:
        await env.run(fetch.fetch_bill, FetchRequest(job_id=job_id, utility_account_id=account["id"], provider="pge"))

    if given_up:
        assert isinstance(raised.value, ApplicationError) and raised.value.non_retryable
        assert raised.value.type == "BillNotAvailable"
    else:
        assert isinstance(raised.value, BillNotAvailable)  # retried
    assert beats == [({"no_bill": asked_before + 1},)]
    assert asked_before + 1 <= MAX_NO_BILL_ATTEMPTS


@activity.defn
async def outage_then_no_bill() -> int:
    """Even attempts fail as an outage would (no heartbeat); odd ones count a "no bill", the third succeeding."""
    if activity.info().attempt % 2 == 0:
        raise ConnectionRefusedError("the database is failing over")
    asked = failure_counts.count("no_bill")
    if asked < 3:
        raise ApplicationError("no bill yet")
    return asked


@workflow.defn(sandboxed=False)
class CountingWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            outage_then_no_bill,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50), backoff_coefficient=1),
        )


async def test_temporal_carries_the_counts_across_attempts_that_failed_without_counting(client: Client) -> None:
    """The counts ride on the step's last heartbeat details, which the server keeps through the outage's attempts."""
    queue = f"counts-{uuid.uuid4().hex[:10]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[CountingWorkflow],
        activities=[outage_then_no_bill],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(CountingWorkflow.run, id=queue, task_queue=queue)
        try:
            assert await handle.result() == 3
        except WorkflowFailureError:
            await handle.terminate("test failed")
            raise
    history = await handle.fetch_history()
    started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    attempts = [e.activity_task_started_event_attributes.attempt for e in started]
    assert attempts == [5]  # the third count came on the fifth attempt, two outages between
