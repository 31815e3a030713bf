"""The worker's sandbox answers payload contexts itself only where no context can change a byte.

``worker.sandbox_runner`` keeps the SDK from entering the sandbox for each payload's serialization context. That
is safe only for a converter that ignores context; any other keeps the SDK's runner, and with it the context the
SDK gives an activity's payloads."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1.command_type_pb2 import COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.client import Client
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    DefaultFailureConverter,
    ExternalStorage,
    NexusSerializationContext,
    PayloadCodec,
    SerializationContext,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.worker import Replayer, Worker, WorkflowInstance
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import Info

from shared.codec import KeyRing, data_converter
from shared.settings import Settings
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


@pytest.mark.parametrize("compress", [True, False])
def test_our_converter_ignores_context_and_gets_the_context_free_sandbox(compress: bool) -> None:
    converter = data_converter(KeyRing.generate(), compress=compress)  # what converter_for builds from settings
    assert ignores_context(converter)
    assert isinstance(workflow_runner_for(converter), ContextFreeSandboxedWorkflowRunner)
    assert isinstance(workflow_runner_for(DataConverter.default), ContextFreeSandboxedWorkflowRunner)


class UnusedDriver(StorageDriver):
    """External storage is keyed by the workflow it stores for: configuring it is enough to need the SDK's sandbox."""

    def name(self) -> str:
        return "unused"

    async def store(self, context: StorageDriverStoreContext, payloads: Sequence[Payload]) -> list[StorageDriverClaim]:
        raise NotImplementedError

    async def retrieve(
        self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]
    ) -> list[Payload]:
        raise NotImplementedError


class NexusOnlyCodec(ContextRecordingCodec):
    """Uses a context only for Nexus operations' payloads."""

    def with_context(self, context: SerializationContext) -> NexusOnlyCodec:
        return NexusOnlyCodec(self.seen, context) if isinstance(context, NexusSerializationContext) else self


class ContextFailureConverter(DefaultFailureConverter, WithSerializationContext):
    def with_context(self, context: SerializationContext) -> ContextFailureConverter:
        return ContextFailureConverter()


@pytest.mark.parametrize(
    "converter",
    [
        DataConverter(payload_codec=ContextRecordingCodec([])),
        DataConverter(payload_codec=NexusOnlyCodec([])),
        dataclasses.replace(DataConverter.default, failure_converter_class=ContextFailureConverter),
        DataConverter(external_storage=ExternalStorage(drivers=[UnusedDriver()])),
    ],
    ids=["codec", "codec-for-nexus-only", "failure-converter", "external-storage"],
)
def test_a_converter_that_takes_context_keeps_the_sdks_sandbox(converter: DataConverter) -> None:
    assert not ignores_context(converter)
    assert type(workflow_runner_for(converter)) is SandboxedWorkflowRunner


class StubInstance(WorkflowInstance):
    """Stands for the SDK's sandboxed instance: what the wrapper must hand on."""

    def __init__(self, info: Any) -> None:
        self.info = info
        self.activations: list[WorkflowActivation] = []

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        self.activations.append(act)
        return WorkflowActivationCompletion(run_id=act.run_id)

    def get_info(self) -> Any:
        return self.info

    def get_thread_id(self) -> int | None:
        return 4242  # the deadlock detector reads the running workflow's thread through this

    def get_serialization_context(self, command_info: object) -> SerializationContext | None:
        raise AssertionError("the wrapper answers contexts itself")

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        raise AssertionError("the wrapper answers contexts itself")


def test_the_wrapper_hands_on_activations_info_and_thread_and_answers_the_workflows_own_context() -> None:
    info = cast(Info, SimpleNamespace(namespace="ns", workflow_id="wf-1", run_id="run-1", workflow_type="Probe"))
    stub = StubInstance(info)
    wrapped = sandbox_runner._ContextFreeInstance(stub, info)

    completion = wrapped.activate(WorkflowActivation(run_id="run-1"))

    assert [a.run_id for a in stub.activations] == ["run-1"] and completion.run_id == "run-1"
    assert wrapped.get_info() is info
    assert wrapped.get_thread_id() == 4242
    assert wrapped.get_serialization_context(None) == WorkflowSerializationContext(namespace="ns", workflow_id="wf-1")
    target = wrapped.get_external_store_context(None).target
    assert target == StorageDriverWorkflowInfo(id="wf-1", run_id="run-1", type="Probe", namespace="ns")


async def test_the_worker_runs_its_workflows_in_the_runner_its_converter_allows(
    client: Client, resources: Resources, app_settings: Settings
) -> None:
    # A queue of its own: the core refuses a second worker on the session worker's.
    async with build_worker(client, resources, app_settings, task_queue=f"tq-{uuid.uuid4()}") as worker:
        assert isinstance(worker.config()["workflow_runner"], ContextFreeSandboxedWorkflowRunner)


async def test_the_context_free_sandbox_answers_the_sdks_context_questions_and_replays(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our sealed payloads round-trip through a sandboxed workflow and its activity, and the history replays."""
    task_queue, workflow_id = f"tq-{uuid.uuid4()}", f"wf-{uuid.uuid4()}"
    asked: list[tuple[Any, SerializationContext | None]] = []
    answer = sandbox_runner._ContextFreeInstance.get_serialization_context

    def noted(self: sandbox_runner._ContextFreeInstance, command_info: Any) -> SerializationContext | None:
        context = answer(self, command_info)
        if self.get_info().workflow_id == workflow_id:  # not the session worker's runs
            asked.append((command_info, context))
        return context

    monkeypatch.setattr(sandbox_runner._ContextFreeInstance, "get_serialization_context", noted)
    runner = workflow_runner_for(client.data_converter)
    async with Worker(
        client, task_queue=task_queue, workflows=[ContextProbeWorkflow], activities=[shout], workflow_runner=runner
    ):
        result = await client.execute_workflow(ContextProbeWorkflow.run, INPUT, id=workflow_id, task_queue=task_queue)
    history = await client.get_workflow_handle(workflow_id).fetch_history()

    assert result == INPUT.upper()
    # The SDK asked about the activity's command (its input), and heard the workflow's own context every time.
    assert COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK in {info.command_type for info, _ in asked if info is not None}
    assert {context for _, context in asked} == {
        WorkflowSerializationContext(namespace=client.namespace, workflow_id=workflow_id)
    }
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
