"""Messages not sealed with our payload keys are not acted on.

Anyone who reaches the Temporal frontend can send plain JSON under any reviewer's name. The codec
opens such payloads (replay must go on), tagged; the workflow refuses an unsealed update in its
validator, drops an unsealed signal and fails an unsealed start. Key holders (the API, the CLI
through the API's codec endpoint) decide as before.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer

from shared.codec import ENCODING, EncryptionCodec, KeyRing, data_converter
from shared.models import IngestionRequest, RollupInput
from shared.review import ReviewAction, ReviewDecision
from shared.settings import Settings
from stack.services import temporal_binary
from tests.helpers import wait_for_refused_run, wait_for_status
from tests.review.support import Review, history, open_review, read_task
from tests.security.test_encrypted_history import keyless_client
from tests.workflows.history_codec import replay_converter
from tests.workflows.scenarios import review_plaintext_signal_across_deploy
from tests.workflows.test_replay import load
from worker.resources import Resources
from workflows.bill_ingestion import (
    FOREIGN_WORKFLOW_ID_PATCH,
    UNSEALED_SIGNAL_PATCH,
    UNSEALED_START_PATCH,
    BillIngestionWorkflow,
)
from workflows.rollup import UNSEALED_ROLLUP_START_PATCH, AnalyticsRollupWorkflow

PLAINTEXT_SIGNAL_RUN = Path(__file__).parents[1] / "histories" / "v9" / "review_plaintext_signal.json"


def patches_in(events: list[HistoryEvent]) -> list[str]:
    """Patch ids of the run's markers (their payloads are never sealed)."""
    ids = []
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            for payload in event.marker_recorded_event_attributes.details["patch-data"].payloads:
                ids.append(json.loads(payload.data)["id"])
    return ids


async def signal_handled(handle: WorkflowHandle[Any, Any], *, signals: int, within: float = 30) -> list[HistoryEvent]:
    """The history once ``signals`` signals are in it and a workflow task has completed after the last."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        events = await history(handle)
        kinds = [e.event_type for e in events]
        if kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) >= signals:
            last = len(kinds) - kinds[::-1].index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
            if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in kinds[last:]:
                return events
        assert asyncio.get_running_loop().time() < deadline, f"{handle.id} never handled signal {signals}"
        await asyncio.sleep(0.1)


async def assert_still_in_review(http: httpx.AsyncClient, client: Client, review: Review) -> None:
    """The workflow awaits a decision under the same revision; the job and its task are as they were."""
    progress = await client.get_workflow_handle(review.workflow_id).query(BillIngestionWorkflow.progress)
    assert progress.current_step == "awaiting_review" and progress.review_revision == review.revision, progress
    job = (await http.get(f"/jobs/{review.job_id}")).json()
    assert job["status"] == "NEEDS_REVIEW", job
    task = await read_task(http, review.job_id)
    assert (task["status"], task["revision"]) == (review.task["status"], review.revision), task


def intruders(review: Review, action: ReviewAction = ReviewAction.APPROVE) -> ReviewDecision:
    return ReviewDecision(action=action, revision=review.revision, reviewer="intruder", note="sent without keys")


async def test_unsealed_update_is_rejected_and_changes_nothing(
    http: httpx.AsyncClient, client: Client, unique: str
) -> None:
    review = await open_review(http, unique)
    keyless = (await keyless_client(client)).get_workflow_handle(review.workflow_id)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await keyless.execute_update(BillIngestionWorkflow.submit_review, intruders(review))

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "UnsealedMessage", cause
    events = await history(client.get_workflow_handle(review.workflow_id))
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in [e.event_type for e in events]
    await assert_still_in_review(http, client, review)

    sealed = await http.post(
        f"/reviews/{review.job_id}", json={"action": "reject", "revision": review.revision, "note": "no"}
    )
    assert sealed.status_code == 200, sealed.text
    assert (await wait_for_status(http, review.job_id, within=60))["status"] == "REJECTED"


async def test_unsealed_signal_is_dropped_and_a_sealed_one_still_decides(
    http: httpx.AsyncClient, client: Client, unique: str
) -> None:
    review = await open_review(http, unique)
    handle = client.get_workflow_handle(review.workflow_id)

    await (
        (await keyless_client(client))
        .get_workflow_handle(review.workflow_id)
        .signal(BillIngestionWorkflow.review_decision, intruders(review, ReviewAction.REJECT))
    )

    events = await signal_handled(handle, signals=1)
    assert UNSEALED_SIGNAL_PATCH in patches_in(events)
    await assert_still_in_review(http, client, review)

    await handle.signal(BillIngestionWorkflow.review_decision, intruders(review, ReviewAction.REJECT))
    done = await wait_for_status(http, review.job_id, within=60)
    assert done["status"] == "REJECTED", done


async def test_a_message_forged_under_our_key_id_costs_only_itself(
    http: httpx.AsyncClient, client: Client, unique: str
) -> None:
    """Sealed under our key id with other key material (forged, or another environment's key of the same name),
    the signal failed the decode of its whole activation, so every workflow task of the run failed for good: no
    decision, timer or query got through. Now the signal is dropped and the update refused, each alone."""
    review = await open_review(http, unique)
    handle = client.get_workflow_handle(review.workflow_id)
    codec = client.data_converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    forger = await Client.connect(
        client.service_client.config.target_host,
        namespace=client.namespace,
        data_converter=data_converter(KeyRing.generate(codec.primary_key_id)),
    )
    forged = forger.get_workflow_handle(review.workflow_id)

    await forged.signal(BillIngestionWorkflow.review_decision, intruders(review, ReviewAction.REJECT))
    events = await signal_handled(handle, signals=1)
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in [e.event_type for e in events]
    await assert_still_in_review(http, client, review)

    with pytest.raises(WorkflowUpdateFailedError):
        await forged.execute_update(BillIngestionWorkflow.submit_review, intruders(review))
    events = await history(handle)
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in [e.event_type for e in events]
    await assert_still_in_review(http, client, review)

    sealed = await http.post(
        f"/reviews/{review.job_id}", json={"action": "reject", "revision": review.revision, "note": "no"}
    )
    assert sealed.status_code == 200, sealed.text
    assert (await wait_for_status(http, review.job_id, within=60))["status"] == "REJECTED"


async def temporal_cli(client: Client, *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        temporal_binary(),
        *args,
        "--address",
        client.service_client.config.target_host,
        "--namespace",
        client.namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode()


async def test_cli_signal_decides_only_through_the_codec_endpoint(
    http: httpx.AsyncClient, client: Client, api_url: str, admin_key: str, unique: str
) -> None:
    """The README's command: without the codec endpoint the signal is dropped, through it the decision stands."""
    review = await open_review(http, unique)
    signal = ["workflow", "signal", "--workflow-id", review.workflow_id, "--name", "review_decision"]
    decision = json.dumps({"action": "reject", "revision": review.revision, "reviewer": "ops"})

    await temporal_cli(client, *signal, "--input", decision)
    await signal_handled(client.get_workflow_handle(review.workflow_id), signals=1)
    await assert_still_in_review(http, client, review)

    codec = ["--codec-endpoint", f"{api_url}/codec", "--codec-auth", f"Bearer {admin_key}"]
    await temporal_cli(client, *signal, "--input", decision, *codec)
    done = await wait_for_status(http, review.job_id, within=60)
    assert done["status"] == "REJECTED", done
    decided = (await http.get(f"/reviews/{review.job_id}")).json()
    assert decided["status"] == "DONE", decided


async def test_unsealed_start_fails_at_once_and_touches_no_job(
    http: httpx.AsyncClient, client: Client, app_settings: Settings, unique: str
) -> None:
    """Started with a real job's id, the run fails before any step: that job and its review stay as they were."""
    review = await open_review(http, unique)
    request = IngestionRequest(job_id=review.job_id, customer_id=review.customer_id, utility_account_id=1)
    handle = await (await keyless_client(client)).start_workflow(
        BillIngestionWorkflow.run,
        request,
        id=f"unsealed-start-{uuid.uuid4().hex[:10]}",
        task_queue=app_settings.temporal_task_queue,
    )

    await wait_for_refused_run(client, handle.id, "UnsealedMessage")
    events = await history(client.get_workflow_handle(handle.id))
    kinds = [e.event_type for e in events]
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1, "failed in its first task, not retried"
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in kinds
    assert UNSEALED_START_PATCH in patches_in(events)
    await assert_still_in_review(http, client, review)


async def test_a_run_that_acted_on_a_plaintext_signal_still_replays() -> None:
    """v9/: recorded before the patch, its plaintext rejection stood. It must replay the same, not get stuck."""
    recorded = load(PLAINTEXT_SIGNAL_RUN)
    [signalled] = [e for e in recorded.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    [payload] = signalled.workflow_execution_signaled_event_attributes.input.payloads
    assert payload.metadata["encoding"] != ENCODING, "the fixture's signal was sent without the codec"
    assert UNSEALED_SIGNAL_PATCH not in patches_in(list(recorded.events))

    replayer = Replayer(workflows=[BillIngestionWorkflow], data_converter=replay_converter())
    await replayer.replay_workflow(recorded)


async def test_a_plaintext_signal_before_the_deploy_lets_no_later_one_through(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """The SDK memoizes a patch's answer per run: had every unsealed signal asked one id, the False answered on
    replay for a junk plaintext signal sent before the deploy would let every later plaintext signal decide.
    The scenario asserts the intruder's approval was dropped and the reviewer's sealed rejection decided."""
    workflow_id = await review_plaintext_signal_across_deploy(
        http, client=client, resources=resources, settings=app_settings
    )

    patches = patches_in(await history(client.get_workflow_handle(workflow_id)))
    assert f"{UNSEALED_SIGNAL_PATCH}-2" in patches and UNSEALED_SIGNAL_PATCH not in patches, patches


async def test_a_null_signal_is_dropped_and_the_run_goes_on(
    http: httpx.AsyncClient, client: Client, unique: str
) -> None:
    """Decoded to None, it failed the workflow task over and over: the run handled nothing after it."""
    review = await open_review(http, unique)
    handle = client.get_workflow_handle(review.workflow_id)

    await (await keyless_client(client)).get_workflow_handle(review.workflow_id).signal("review_decision", None)

    events = await signal_handled(handle, signals=1)
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in [e.event_type for e in events]
    await assert_still_in_review(http, client, review)
    await handle.signal(BillIngestionWorkflow.review_decision, intruders(review, ReviewAction.REJECT))
    assert (await wait_for_status(http, review.job_id, within=60))["status"] == "REJECTED"


async def test_a_null_start_fails_at_once(client: Client, app_settings: Settings) -> None:
    handle = await (await keyless_client(client)).start_workflow(
        "BillIngestionWorkflow",
        None,
        id=f"null-start-{uuid.uuid4().hex[:10]}",
        task_queue=app_settings.temporal_task_queue,
    )

    await wait_for_refused_run(client, handle.id, "UnsealedMessage")


async def test_a_sealed_start_under_another_id_fails_at_once_and_touches_no_job(
    http: httpx.AsyncClient, client: Client, app_settings: Settings, unique: str
) -> None:
    """Anyone who reads history could copy a job's sealed input into a start under a new id: it would run the job
    again (its row, its review task, a second bill)."""
    review = await open_review(http, unique)
    request = IngestionRequest(job_id=review.job_id, customer_id=review.customer_id, utility_account_id=1)
    handle = await client.start_workflow(
        BillIngestionWorkflow.run,
        request,
        id=f"copied-start-{uuid.uuid4().hex[:10]}",
        task_queue=app_settings.temporal_task_queue,
    )

    await wait_for_refused_run(client, handle.id, "WorkflowIdMismatch")
    events = await history(handle)
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in [e.event_type for e in events]
    assert patches_in(events) == [FOREIGN_WORKFLOW_ID_PATCH]
    await assert_still_in_review(http, client, review)


async def test_an_unsealed_rollup_start_fails_at_once(client: Client, app_settings: Settings) -> None:
    handle = await (await keyless_client(client)).start_workflow(
        AnalyticsRollupWorkflow.run,
        RollupInput(window_days=1),
        id=f"unsealed-rollup-{uuid.uuid4().hex[:10]}",
        task_queue=app_settings.temporal_task_queue,
    )

    await wait_for_refused_run(client, handle.id, "UnsealedMessage")
    events = await history(client.get_workflow_handle(handle.id))
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in [e.event_type for e in events]
    assert patches_in(events) == [UNSEALED_ROLLUP_START_PATCH]
