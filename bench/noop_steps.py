"""Everything the ceiling's workflow (``bench.noop``) uses but its class: its models, its no-op activities, the
steps' policies and patches. Passed through the sandbox, so built once per process, as BillIngestionWorkflow's models
and activities are; ``bench.run`` and the tests take the steps and patches from here too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity

from workflows import policies
from workflows.bill_ingestion import DUPLICATE_CHECK_PATCH, HELD_OVER_CORRECTIONS_PATCH, STATUS_AFTER_RECORD_PATCH
from workflows.policies import ActivityPolicy


class NoopRequest(BaseModel):
    job_id: str
    customer_id: int
    provider: str
    steps: list[str]
    local_steps: list[str] = Field(default_factory=list)
    """Steps run as local activities (a prototype of that change; none by default)."""
    upserts: bool = True


class NoopStep(BaseModel):
    job_id: str
    step: str


class NoopResult(BaseModel):
    job_id: str
    steps: int


class NoopActivities:
    """One no-op per pipeline activity; ``def`` where the real one is sync (thread pool)."""

    @activity.defn
    async def mark_job_running(self, step: NoopStep) -> NoopStep:
        return step

    @activity.defn
    async def fetch_bill(self, step: NoopStep) -> NoopStep:
        return step

    @activity.defn
    async def store_raw_bill(self, step: NoopStep) -> NoopStep:
        return step

    @activity.defn
    async def find_duplicate(self, step: NoopStep) -> NoopStep:
        return step

    @activity.defn
    def extract_bill(self, step: NoopStep) -> NoopStep:
        # No heartbeat: the real one beats only when extraction runs past 5 s, which no bench bill does.
        return step

    @activity.defn
    def validate_bill(self, step: NoopStep) -> NoopStep:
        return step

    @activity.defn
    async def persist_bill(self, step: NoopStep) -> NoopStep:
        return step

    @activity.defn
    async def publish_analytics(self, step: NoopStep) -> NoopStep:
        return step

    @activity.defn
    async def mark_job_finished(self, step: NoopStep) -> NoopStep:
        return step

    def all(self) -> list[Callable[..., Any]]:
        return [getattr(self, name) for name in STEP_POLICIES]


STEP_POLICIES: dict[str, ActivityPolicy] = {
    "mark_job_running": policies.DATABASE,
    "fetch_bill": policies.FETCH,
    "store_raw_bill": policies.STORAGE,
    "find_duplicate": policies.DATABASE,
    "extract_bill": policies.EXTRACT,
    "validate_bill": policies.VALIDATE,
    "persist_bill": policies.DATABASE,
    "publish_analytics": policies.ANALYTICS,
    "mark_job_finished": policies.DATABASE,
}
"""The happy path of BillIngestionWorkflow, in order, with each step's policy."""

PATCHED_BEFORE: dict[str, str] = {
    "find_duplicate": DUPLICATE_CHECK_PATCH,
    "persist_bill": HELD_OVER_CORRECTIONS_PATCH,
    "mark_job_finished": STATUS_AFTER_RECORD_PATCH,
}
"""The patches BillIngestionWorkflow checks on every run, by the step each one precedes."""

STEP_ACTIVITIES: dict[str, Callable[..., Any]] = {name: getattr(NoopActivities, name) for name in STEP_POLICIES}
"""Each step's no-op activity, for the workflow to call by name."""


def default_steps() -> list[str]:
    """The steps BillIngestionWorkflow runs for an accepted bill, in order."""
    return list(STEP_POLICIES)
