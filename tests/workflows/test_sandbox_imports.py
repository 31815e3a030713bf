"""The sandbox runs each workflow's own module afresh per run; what it imports must be passed through.

A module the sandbox re-imports is executed again for every workflow run the worker
starts (``from workflows import policies`` did that: its dataclasses were rebuilt for
every bill). Policies, models and activity stubs are safe to share, so they are passed
through; this guards that they stay so.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
import temporalio.workflow
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from worker.main import WORKFLOWS

OWN_PACKAGES = ("activities", "extraction", "shared", "workflows")


class _KeepsLastInstance(SandboxedWorkflowRunner):
    last: Any = None

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        self.last = super().create_instance(det)
        return self.last


@pytest.mark.parametrize("workflow_class", WORKFLOWS, ids=lambda cls: cls.__name__)
async def test_only_the_workflow_module_runs_again(workflow_class: type) -> None:
    runner = _KeepsLastInstance()
    runner.prepare_workflow(temporalio.workflow._Definition.must_from_class(workflow_class))

    sandbox_modules = runner.last.importer.new_modules  # the sandbox's sys.modules (SDK internals)
    run_again = {
        name
        for name, module in sandbox_modules.items()
        if name.split(".")[0] in OWN_PACKAGES and module is not sys.modules.get(name)
    }
    assert run_again == {"workflows", workflow_class.__module__}
