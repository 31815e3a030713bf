"""A deliberately broken copy of BillIngestionWorkflow: it fetches before marking the job running.

Registered under the real workflow's name, it must fail replay of real histories.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.fetching import FetchActivities
    from shared.models import FetchRequest, IngestionRequest, IngestionResult
    from workflows import policies
    from workflows.bill_ingestion import BillIngestionWorkflow


@workflow.defn(name="BillIngestionWorkflow")
class ReorderedBillIngestionWorkflow(BillIngestionWorkflow):
    @workflow.run
    async def run(self, request: IngestionRequest) -> IngestionResult:
        await workflow.execute_activity_method(
            FetchActivities.fetch_bill,
            FetchRequest(
                job_id=request.job_id, utility_account_id=request.utility_account_id, provider=request.provider
            ),
            start_to_close_timeout=policies.FETCH.start_to_close,
        )
        return await super().run(request)
