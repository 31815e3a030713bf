"""BillIngestionWorkflow as releases before a patch ran it: before UNSEALED_SIGNAL_PATCH, every signal acted on,
sealed or not; before DECIDED_AS_TIME_RAN_OUT_PATCH, a decision lost to a review timer firing in its workflow task;
before SIGNALLED_WHILE_ESCALATING_PATCH, a signal read before the escalation committed dropped as stale; before
RESET_WAKES_PATCH, a reset that brought a waiting run nothing else left it asleep.

Registered under the real workflow's name, each lets a test run a job on the old code, then deploy the current
code under it (a new worker on the same queue replays the run), as v9/ was recorded.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from shared.models import IngestionRequest, IngestionResult
    from shared.review import ReviewDecision
    from workflows.bill_ingestion import BillIngestionWorkflow


@workflow.defn(name="BillIngestionWorkflow")
class PreDeployBillIngestionWorkflow(BillIngestionWorkflow):
    @workflow.run
    async def run(self, request: IngestionRequest) -> IngestionResult:
        return await super().run(request)

    @workflow.signal
    def review_decision(self, decision: ReviewDecision) -> None:
        # A fresh copy reads sealed: the handler takes it as the old one did, asking no unsealed-signal patch.
        super().review_decision(ReviewDecision.model_validate(decision.model_dump()))


@workflow.defn(name="BillIngestionWorkflow")
class PreRaceBillIngestionWorkflow(BillIngestionWorkflow):
    """As releases before DECIDED_AS_TIME_RAN_OUT_PATCH ran it: a review timer's firing won over a decision that
    reached the run in the same workflow task (asking no patch, so recording no marker)."""

    @workflow.run
    async def run(self, request: IngestionRequest) -> IngestionResult:
        return await super().run(request)

    def _decided_as_time_ran_out(self, race_patch: str) -> bool:
        return False


@workflow.defn(name="BillIngestionWorkflow")
class PreWindowBillIngestionWorkflow(BillIngestionWorkflow):
    """As releases before SIGNALLED_WHILE_ESCALATING_PATCH ran it: a decision signalled with the revision the task
    showed while escalate_review wrote the new one was dropped as stale (asking no patch, so recording no marker)."""

    @workflow.run
    async def run(self, request: IngestionRequest) -> IngestionResult:
        return await super().run(request)

    def _takes_signal_read_before_escalation(self, patch_id: str) -> bool:
        return False


@workflow.defn(name="BillIngestionWorkflow")
class PreWakeBillIngestionWorkflow(BillIngestionWorkflow):
    """As releases before RESET_WAKES_PATCH ran it: a reset alone did not wake the run (asking no patch, so recording
    no marker), and one reset to a point where nothing else reached it took its review task back only at its next
    event."""

    @workflow.run
    async def run(self, request: IngestionRequest) -> IngestionResult:
        return await super().run(request)

    def _asks_reset_wakes(self) -> bool:
        return False
