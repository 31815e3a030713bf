"""The worker's sandbox answers payload contexts itself only where no context can change a byte.

``worker.sandbox_runner`` keeps the SDK from entering the sandbox for each payload's serialization context. That
is safe only for a converter that ignores context; any other keeps the SDK's runner, and with it the context the
SDK gives an activity's payloads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from shared.settings import Settings
from shared.temporal import converter_for
from tests.worker.context_probe import ContextProbeWorkflow, shout
from worker import sandbox_runner
from worker.main import build_worker
from worker.resources import Resources
from worker.sandbox_runner import ContextFreeSandboxedWorkflowRunner, ignores_context, workflow_runner_for

INPUT = "probe-input"


class ContextRecordingCodec(PayloadCodec, WithSerializationContext):
    """Passes payloads through, noting each one's data with the context the SDK gave the codec for it."""

    def __init__(self, seen: list[tuple[str, str, bytes]], context: SerializationContext | None = None) -> None:
        self.seen = seen
        self.context = context

    def with_context(self, context: SerializationContext) -> ContextRecordingCodec:
        return ContextRecordingCodec(self.seen, context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.extend(("encode", type(self.context).__name__, p.data) for p in payloads)
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.extend(("decode", type(self.context).__name__, p.data) for p in payloads)
        return list(payloads)


def test_our_converter_ignores_context_and_gets_the_context_free_sandbox(settings: Settings) -> None:
    converter = converter_for(settings)
    assert ignores_context(converter)
    assert isinstance(workflow_runner_for(converter), ContextFreeSandboxedWorkflowRunner)
    assert isinstance(workflow_runner_for(DataConverter.default), ContextFreeSandboxedWorkflowRunner)


def test_a_context_aware_codec_keeps_the_sdks_sandbox() -> None:
    converter = DataConverter(payload_codec=ContextRecordingCodec([]))
    assert not ignores_context(converter)
    assert type(workflow_runner_for(converter)) is SandboxedWorkflowRunner


async def test_the_worker_runs_its_workflows_in_the_runner_its_converter_allows(
    client: Client, resources: Resources, app_settings: Settings
) -> None:
    runner = build_worker(client, resources, app_settings).config()["workflow_runner"]
    assert isinstance(runner, ContextFreeSandboxedWorkflowRunner)


async def test_the_context_free_sandbox_answers_the_sdks_context_questions_and_replays(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our sealed payloads round-trip through a sandboxed workflow and its activity, and the history replays."""
    asked: list[Any] = []
    answer = sandbox_runner._ContextFreeInstance.get_serialization_context

    def counted(self: sandbox_runner._ContextFreeInstance, command_info: object) -> SerializationContext | None:
        asked.append(command_info)
        return answer(self, command_info)

    monkeypatch.setattr(sandbox_runner._ContextFreeInstance, "get_serialization_context", counted)
    runner = workflow_runner_for(client.data_converter)
    task_queue, workflow_id = f"tq-{uuid.uuid4()}", f"wf-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[ContextProbeWorkflow], activities=[shout], workflow_runner=runner
    ):
        result = await client.execute_workflow(ContextProbeWorkflow.run, INPUT, id=workflow_id, task_queue=task_queue)
    history = await client.get_workflow_handle(workflow_id).fetch_history()

    assert result == INPUT.upper()
    assert asked, "the SDK no longer asks the instance for contexts: the wrapper does nothing"
    assert INPUT.encode() not in b"".join(event.SerializeToString() for event in history.events)
    await Replayer(
        workflows=[ContextProbeWorkflow], data_converter=client.data_converter, workflow_runner=runner
    ).replay_workflow(history)


async def test_a_context_aware_codec_still_gets_the_activitys_context_for_its_input(client: Client) -> None:
    """The workflow's side encodes the activity's input: with the SDK's sandbox under the activity's context."""
    seen: list[tuple[str, str, bytes]] = []
    recording = Client(
        client.service_client,
        namespace=client.namespace,
        data_converter=DataConverter(payload_codec=ContextRecordingCodec(seen)),
    )
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        recording,
        task_queue=task_queue,
        workflows=[ContextProbeWorkflow],
        activities=[shout],
        workflow_runner=workflow_runner_for(recording.data_converter),
    ):
        result = await recording.execute_workflow(
            ContextProbeWorkflow.run, INPUT, id=f"wf-{uuid.uuid4()}", task_queue=task_queue
        )

    assert result == INPUT.upper()
    quoted = f'"{INPUT}"'.encode()
    assert ("encode", "WorkflowSerializationContext", quoted) in seen  # the client starting the workflow
    assert ("encode", ActivitySerializationContext.__name__, quoted) in seen  # the workflow scheduling the activity
