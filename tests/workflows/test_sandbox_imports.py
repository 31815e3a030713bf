"""The sandbox runs each workflow's own module afresh per run; what it imports must be passed through.

A module the sandbox re-imports is executed again for every workflow run the worker
starts (``from workflows import policies`` did that: its dataclasses were rebuilt for
every bill). Policies, models and activity stubs are safe to share, so they are passed
through; this guards that they stay so, and that a workflow's own module defines no class,
model or activity but its workflow, which the sandbox would build again for every run too.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
import temporalio.workflow
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from bench.noop import NoopIngestionWorkflow
from bench.proto_workflow import LocalStepsBillIngestionWorkflow
from worker.main import WORKFLOWS

OWN_PACKAGES = ("activities", "bench", "extraction", "shared", "workflows")
ALL_WORKFLOWS = [*WORKFLOWS, NoopIngestionWorkflow, LocalStepsBillIngestionWorkflow]
"""The worker's and the bench's: the ceiling's no-op workflow costs what orchestration alone costs only if it, too,
runs no more of its module again than its class."""


class _KeepsLastInstance(SandboxedWorkflowRunner):
    last: Any = None

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        self.last = super().create_instance(det)
        return self.last


def _sandbox_modules(workflow_class: type) -> dict[str, Any]:
    """The modules of a fresh sandboxed instance of ``workflow_class``: its ``sys.modules`` (SDK internals)."""
    runner = _KeepsLastInstance()
    runner.prepare_workflow(temporalio.workflow._Definition.must_from_class(workflow_class))
    return dict(runner.last.importer.new_modules)


@pytest.mark.parametrize("workflow_class", ALL_WORKFLOWS, ids=lambda cls: cls.__name__)
async def test_only_the_workflow_module_runs_again(workflow_class: type) -> None:
    sandbox_modules = _sandbox_modules(workflow_class)
    run_again = {
        name
        for name, module in sandbox_modules.items()
        if name.split(".")[0] in OWN_PACKAGES and module is not sys.modules.get(name)
    }
    package = workflow_class.__module__.split(".")[0]
    assert run_again == {package, workflow_class.__module__}


@pytest.mark.parametrize("workflow_class", ALL_WORKFLOWS, ids=lambda cls: cls.__name__)
async def test_the_module_run_again_builds_nothing_but_the_workflow(workflow_class: type) -> None:
    """A class or an activity the module defines is built again per run: a pydantic model's schema, an activity's
    definition (the no-op workflow's models and activities cost it 2.3 ms a run, more than BillIngestionWorkflow's
    whole module)."""
    in_sandbox = vars(_sandbox_modules(workflow_class)[workflow_class.__module__])
    outside = vars(sys.modules[workflow_class.__module__])
    assert in_sandbox[workflow_class.__name__] is not outside[workflow_class.__name__], "the module ran again"
    built_again = {
        name
        for name, value in in_sandbox.items()
        if _built_per_run(value) and value is not outside.get(name) and name != workflow_class.__name__
    }
    assert built_again == set()


def _built_per_run(value: object) -> bool:
    """A class (a model, an activity holder) or an activity function: what costs a run to build again."""
    return isinstance(value, type) or hasattr(value, "__temporal_activity_definition")
