"""Extraction against the Gemini fake: a 503 is retried with backoff; a slow answer heartbeats and
can be cancelled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import CancelledError

from eval.generate import sample_bill
from shared.bill import Provider
from shared.settings import ExtractorMode, Settings
from tests.durability.conftest import (
    ActivityRecorder,
    attempts_by_activity,
    create_account,
    history_events,
    job_row,
    last_failure,
    start_on_queue,
    wait_until,
)
from tests.fakes.gemini import FakeGemini, bill_response, error_body, wire_from_bill
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
            "gemini_timeout_seconds": 120.0,
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


async def test_gemini_503_is_retried_with_backoff_then_succeeds(
    client: Client,
    resources: Resources,
    gemini_settings: Settings,
    gemini: FakeGemini,
    gemini_worker: None,
    queue: str,
    unique: str,
) -> None:
    number = f"GEM-{unique}"
    account = await create_account(resources.pool, provider=Provider.PGE, account_number=number)
    job_id = "00000000-0000-4000-8000-" + unique.rjust(12, "0")[:12]
    gemini.push(503, error_body(503, "model overloaded"))
    gemini.push(200, perfect_answer(Provider.PGE, number, job_id))

    job = await start_on_queue(
        pool=resources.pool, client=client, settings=gemini_settings, queue=queue, account=account, job_id=job_id
    )
    result = await asyncio.wait_for(job.handle.result(), timeout=60)

    assert result.status == "SUCCEEDED", result
    assert gemini.request_count == 2
    events = await history_events(job.handle)
    assert attempts_by_activity(events)["extract_bill"] == 2
    assert "503" in last_failure(events, "extract_bill")
    assert (await job_row(resources.pool, job.id))["status"] == "SUCCEEDED"


async def test_slow_gemini_heartbeats_and_cancellation_stops_it(
    client: Client,
    resources: Resources,
    gemini_settings: Settings,
    gemini: FakeGemini,
    gemini_worker: None,
    recorder: ActivityRecorder,
    queue: str,
    unique: str,
) -> None:
    delay = 60.0
    number = f"SLOW-{unique}"
    account = await create_account(resources.pool, provider=Provider.DUKE, account_number=number)
    gemini.push(200, bill_response({"is_utility_bill": False}), delay=delay)
    job = await start_on_queue(
        pool=resources.pool, client=client, settings=gemini_settings, queue=queue, account=account
    )

    async def heartbeating() -> object:
        pending = (await job.handle.describe()).raw_description.pending_activities
        found = [p for p in pending if p.activity_type.name == "extract_bill" and p.HasField("last_heartbeat_time")]
        return found[0] if found else None

    async def asked() -> bool:
        return gemini.request_count == 1

    await wait_until(asked, within=30, what="the Gemini request")
    pending = await wait_until(heartbeating, within=30, what="extract_bill heartbeat")
    cancelled_at = time.monotonic()
    await job.handle.cancel()

    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(job.handle.result(), timeout=45)
    assert isinstance(failure.value.cause, CancelledError)
    assert (await job.handle.describe()).status == WorkflowExecutionStatus.CANCELED

    async def extract_ended() -> bool:
        runs = recorder.of("extract_bill")
        return bool(runs) and runs[-1].ended is not None

    await wait_until(extract_ended, within=40, what="extract_bill ended")
    run = recorder.of("extract_bill")[-1]
    print("pending", pending, "run", run, "cancel->end", run.ended - cancelled_at)
    assert run.error == "CancelledError"
    assert run.ended - run.started < delay
    print(await job_row(resources.pool, job.id))
