"""Prototype: BillIngestionWorkflow with its short database bookkeeping steps as local activities.

Registered under the real workflow's name by ``bench.proto_worker`` (``BENCH_LOCAL_STEPS``),
so the API starts it unchanged. A local activity runs in the worker that holds the
workflow task: no activity task goes through the server and history gets one marker
instead of scheduled/started/completed events. Retries, timeouts and at-least-once
execution are as before (``workflows.policies.DATABASE``); what is lost is the
activity's own row in the Web UI until it completes.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from shared.models import IngestionRequest, IngestionResult, StepRecord
    from workflows.bill_ingestion import BillIngestionWorkflow
    from workflows.policies import ActivityPolicy

LOCAL_STEPS = frozenset({"mark_job_running", "find_duplicate"})
"""Idempotent single-statement writes/reads that take milliseconds. ``mark_job_finished`` is
the third such step, but it lives in ``_finish``, which keeps changing: the proposed diff
covers it, the prototype does not (compare with ``--ceiling-local mark_job_running,find_duplicate``)."""


@workflow.defn(name="BillIngestionWorkflow")
class LocalStepsBillIngestionWorkflow(BillIngestionWorkflow):
    @workflow.run
    async def run(self, request: IngestionRequest) -> IngestionResult:
        return await super().run(request)

    async def _step(self, name: str, activity_fn: Any, arg: Any, policy: ActivityPolicy) -> Any:
        if name not in LOCAL_STEPS:
            return await super()._step(name, activity_fn, arg, policy)
        self._current_step = name
        record = StepRecord(name=name, started_at=workflow.now())
        self._steps.append(record)
        result = await workflow.execute_local_activity_method(activity_fn, arg, summary=name, **policy.local_options())
        finished = workflow.now()
        self._steps[-1] = record.model_copy(
            update={"finished_at": finished, "duration_ms": int((finished - record.started_at).total_seconds() * 1000)}
        )
        return result
