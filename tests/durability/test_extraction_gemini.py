"""Extraction against the Gemini fake: a 503 is retried with backoff; a slow answer heartbeats and
can be cancelled."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import CancelledError

from eval.generate import sample_bill
from shared.bill import Provider
from shared.models import JobStatus
from shared.settings import ExtractorMode, Settings
from tests.durability.conftest import (
    ActivityRecorder,
    attempts_by_activity,
    create_account,
    history_events,
    job_row,
    start_on_queue,
)
from tests.fakes.gemini import FakeGemini, bill_response, error_body, wire_from_bill
from tests.helpers import wait_until
from worker.main import build_worker
from worker.resources import Resources


@pytest.fixture()
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture()
def gemini_settings(app_settings: Settings, gemini: FakeGemini) -> Settings:
    return app_settings.model_copy(
        update={
            "extractor": ExtractorMode.GEMINI,
            "gemini_api_key": SecretStr("fake"),
            "gemini_base_url": gemini.url,
        }
    )


@pytest.fixture()
def recorder() -> ActivityRecorder:
    return ActivityRecorder()


@pytest.fixture()
async def gemini_worker(
    client: Client, resources: Resources, gemini_settings: Settings, queue: str, recorder: ActivityRecorder
) -> AsyncIterator[None]:
    observed = Client(
        client.service_client,
        namespace=client.namespace,
        data_converter=client.data_converter,
        interceptors=[recorder],
    )
    async with build_worker(observed, resources, gemini_settings, task_queue=queue):
        yield


def perfect_answer(provider: Provider, account_number: str, job_id: str) -> dict[str, object]:
    """What a flawless model answers for the mock connector's bill of this job."""
    _, _, bill = sample_bill(provider, seed=job_id, account_number=account_number)
    return bill_response(wire_from_bill(bill))


def _asking_for_5s() -> dict[str, Any]:
    busy = error_body(429, "Resource has been exhausted")
    busy["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "5s"}]
    return busy


@pytest.mark.parametrize(
    ("status", "body", "waited"),
    [(503, error_body(503, "model overloaded"), 1.5), (429, _asking_for_5s(), 4.5)],
    ids=["503-backs-off-by-the-policy", "429-waits-the-delay-it-asked-for"],
)
async def test_gemini_busy_is_retried_after_its_wait_then_succeeds(
    client: Client,
    resources: Resources,
    gemini_settings: Settings,
    gemini: FakeGemini,
    gemini_worker: None,
    recorder: ActivityRecorder,
    queue: str,
    unique: str,
    status: int,
    body: dict[str, Any],
    waited: float,
) -> None:
    """policies.EXTRACT backs off 2 s before the retry; a 429 asking for 5 s waits them, not the policy's 2, which
    spent the attempts inside the quota's window."""
    number = f"GEM-{unique}"
    account = await create_account(resources.pool, provider=Provider.PGE, account_number=number)
    job_id = str(uuid.uuid4())
    gemini.push(status, body)
    gemini.push(200, perfect_answer(Provider.PGE, number, job_id))

    job = await start_on_queue(
        pool=resources.pool, client=client, settings=gemini_settings, queue=queue, account=account, job_id=job_id
    )
    result = await asyncio.wait_for(job.handle.result(), timeout=60)

    assert result.status == JobStatus.SUCCEEDED, result
    assert gemini.request_count == 2
    assert attempts_by_activity(await history_events(job.handle))["extract_bill"] == 2
    first, second = recorder.of("extract_bill")
    assert first.ended is not None
    assert first.error == "GeminiUnavailable" and second.error is None
    assert second.started - first.ended >= waited
    assert (await job_row(resources.pool, job.id))["status"] == JobStatus.SUCCEEDED


async def test_slow_gemini_heartbeats_and_a_cancel_stops_the_activity(
    client: Client,
    resources: Resources,
    gemini_settings: Settings,
    gemini: FakeGemini,
    gemini_worker: None,
    recorder: ActivityRecorder,
    queue: str,
    unique: str,
) -> None:
    delay = 45.0  # longer than a cancel takes to arrive (~25 s), short enough not to linger after the test
    account = await create_account(resources.pool, provider=Provider.DUKE, account_number=f"SLOW-{unique}")
    gemini.push(200, bill_response({"is_utility_bill": False}), delay=delay)
    job = await start_on_queue(
        pool=resources.pool, client=client, settings=gemini_settings, queue=queue, account=account
    )

    async def asked() -> bool:
        return gemini.request_count == 1

    async def heartbeat_recorded() -> bool:
        pending = (await job.handle.describe()).raw_description.pending_activities
        return any(p.activity_type.name == "extract_bill" and p.HasField("last_heartbeat_time") for p in pending)

    await wait_until(asked, within=30, what="the Gemini request")
    await wait_until(heartbeat_recorded, within=10, what="an extract_bill heartbeat")
    cancelled_at = time.monotonic()
    await job.handle.cancel()

    async def extract_ended() -> bool:
        return recorder.of("extract_bill")[-1].ended is not None

    await wait_until(extract_ended, within=45, what="extract_bill to end")
    run = recorder.of("extract_bill")[-1]
    assert run.ended is not None
    print(f"cancel reached the activity after {run.ended - cancelled_at:.1f}s")
    assert run.error == "CancelledError"
    assert run.ended - cancelled_at < 35  # heartbeats throttled to 0.8 x 30 s, plus one 5 s heartbeat tick
    assert gemini.request_count == 1
    row = await wait_until(lambda: _terminal_row(resources, job.id), within=10, what="a terminal job row")
    assert JobStatus(row["status"]).is_terminal, row


async def _terminal_row(resources: Resources, job_id: str) -> dict[str, Any] | None:
    row = await job_row(resources.pool, job_id)
    return row if JobStatus(row["status"]).is_terminal else None


async def test_cancelled_job_ends_canceled_not_failed(
    client: Client,
    resources: Resources,
    gemini_settings: Settings,
    gemini: FakeGemini,
    gemini_worker: None,
    queue: str,
    unique: str,
) -> None:
    account = await create_account(resources.pool, provider=Provider.SFPUC, account_number=f"CANCEL-{unique}")
    gemini.push(200, bill_response({"is_utility_bill": False}), delay=3)
    job = await start_on_queue(
        pool=resources.pool, client=client, settings=gemini_settings, queue=queue, account=account
    )

    async def asked() -> bool:
        return gemini.request_count == 1

    await wait_until(asked, within=30, what="the Gemini request")
    await job.handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(job.handle.result(), timeout=30)
    assert isinstance(failure.value.cause, CancelledError), failure.value.cause
    assert (await job.handle.describe()).status == WorkflowExecutionStatus.CANCELED
