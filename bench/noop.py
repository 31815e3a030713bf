"""The ceiling: a workflow shaped like BillIngestionWorkflow whose activities do nothing.

Same steps in the same order, same timeouts and retry policies (``workflows.policies``),
the same sync/async split (sync activities run on the worker's thread pool), the same
search-attribute upserts and the same patch checks (each records a marker and upserts
``TemporalChangeVersion``: two more visibility writes per run). Whatever this reaches per
second on a server and worker is what orchestration alone costs; the pipeline cannot beat
it. Steps can be run as local activities to prototype that change.

This module holds the workflow's class and nothing else: the sandbox runs it again for every
run, so a model or an activity defined here would be built again per workflow (the no-op's
three models and its activities cost 2.3 ms of CPU a run until session 54). They live in
``bench.noop_steps``, passed through, as BillIngestionWorkflow's do.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.noop_steps import (
        PATCHED_BEFORE,
        STEP_ACTIVITIES,
        STEP_POLICIES,
        NoopRequest,
        NoopResult,
        NoopStep,
    )
    from shared import search_attributes as sa
    from shared.models import JobStatus, StepRecord


@workflow.defn
class NoopIngestionWorkflow:
    def __init__(self) -> None:
        self._steps: list[StepRecord] = []

    @workflow.run
    async def run(self, request: NoopRequest) -> NoopResult:
        if request.upserts:
            workflow.upsert_search_attributes(
                [
                    sa.JOB_STATUS.value_set(JobStatus.RUNNING),
                    sa.CUSTOMER_ID.value_set(request.customer_id),
                    sa.PROVIDER.value_set(request.provider),
                ]
            )
        for name in request.steps:
            if name in PATCHED_BEFORE:
                workflow.patched(PATCHED_BEFORE[name])
            await self._step(name, request, local=name in request.local_steps)
        if request.upserts:
            workflow.upsert_search_attributes([sa.JOB_STATUS.value_set(JobStatus.SUCCEEDED)])
        return NoopResult(job_id=request.job_id, steps=len(self._steps))

    async def _step(self, name: str, request: NoopRequest, *, local: bool) -> None:
        """The same bookkeeping as BillIngestionWorkflow._step, around a no-op activity."""
        policy = STEP_POLICIES[name]
        record = StepRecord(name=name, started_at=workflow.now())
        self._steps.append(record)
        arg = NoopStep(job_id=request.job_id, step=name)
        if local:
            # A local activity runs inside the workflow task's worker: no activity task
            # round trip through the server, one marker event instead of three events.
            await workflow.execute_local_activity_method(
                STEP_ACTIVITIES[name], arg, summary=name, **policy.local_options()
            )
        else:
            await workflow.execute_activity_method(STEP_ACTIVITIES[name], arg, summary=name, **policy.options())
        finished = workflow.now()
        self._steps[-1] = record.model_copy(
            update={"finished_at": finished, "duration_ms": int((finished - record.started_at).total_seconds() * 1000)}
        )
