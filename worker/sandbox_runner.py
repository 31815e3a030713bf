"""The SDK's workflow sandbox, minus a trip into it for every payload's serialization context.

temporalio 1.35 asks the workflow instance which serialization context (and which external-storage
context) applies to every payload sequence it decodes from an activation or encodes into a completion.
The sandbox answers each question by compiling and running code inside itself, under its importer:
27% of a busy worker's GIL samples in a profile of the benchmark's pipeline (bench/RESULTS.md, session 52).

Those answers only choose a data converter. When the converter gives back itself for a context of each
kind the SDK hands out (none of its parts uses one) and nothing is stored externally, every answer chooses
the same converter object, so the bytes cannot differ. ``workflow_runner_for`` then gives the sandbox a
wrapper that answers with the workflow's own context without entering it; workflow code still runs in the
SDK's sandbox, with its restrictions, unchanged. A converter that does use context (a codec keyed per
activity, external storage) keeps the SDK's runner.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    NexusSerializationContext,
    SerializationContext,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
    WorkflowSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import Info

_PROBES: tuple[SerializationContext, ...] = (
    WorkflowSerializationContext(namespace="probe", workflow_id="probe"),
    ActivitySerializationContext(
        namespace="probe",
        workflow_id="probe",
        workflow_type="probe",
        activity_type="probe",
        activity_id="1",
        activity_task_queue="probe",
        is_local=False,
    ),
    NexusSerializationContext(endpoint="probe", service="probe", operation="probe"),
)
"""A context of each kind the SDK hands a workflow's payloads (a child workflow's is a workflow context)."""


def ignores_context(converter: DataConverter) -> bool:
    """Whether a context of each kind gives back this very converter, and nothing is stored externally.

    ``DataConverter.with_context`` returns itself when none of its parts uses a context: the SDK's own shortcut."""
    return converter.external_storage is None and all(converter.with_context(probe) is converter for probe in _PROBES)


class _ContextFreeInstance(WorkflowInstance):
    """A sandboxed workflow instance whose payload contexts are answered outside the sandbox."""

    def __init__(self, sandboxed: WorkflowInstance, info: Info) -> None:
        self._sandboxed = sandboxed
        self._context = WorkflowSerializationContext(namespace=info.namespace, workflow_id=info.workflow_id)
        self._store_context = StorageDriverStoreContext(
            target=StorageDriverWorkflowInfo(
                id=info.workflow_id, run_id=info.run_id, type=info.workflow_type, namespace=info.namespace
            )
        )

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._sandboxed.activate(act)

    def get_info(self) -> Info:
        return self._sandboxed.get_info()

    def get_thread_id(self) -> int | None:
        return self._sandboxed.get_thread_id()

    def get_serialization_context(self, command_info: object) -> SerializationContext | None:
        return self._context

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return self._store_context


@dataclass(frozen=True)
class ContextFreeSandboxedWorkflowRunner(SandboxedWorkflowRunner):
    """``SandboxedWorkflowRunner`` for a converter that ignores context: only ``workflow_runner_for`` picks it.

    A subclass, so the SDK treats it as its sandbox (debug mode's pass-through modules, ``restrictions``)."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(super().create_instance(det), det.info)


def workflow_runner_for(converter: DataConverter) -> SandboxedWorkflowRunner:
    """The sandbox for workflows whose payloads ``converter`` encodes: context-free when that cannot change a byte."""
    if ignores_context(converter):
        return ContextFreeSandboxedWorkflowRunner()
    return SandboxedWorkflowRunner()
