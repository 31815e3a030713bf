"""MiniMeter's own metrics, recorded by the ingestion workflow through the SDK's meter.

The workflow's meter records nothing while a run is replayed, so a worker that replays a run (a restart, an
evicted cache) counts no job twice; with no metrics configured (``WORKER_METRICS_ADDRESS`` unset) it records
nothing at all. Called from workflow code: no I/O here, only the meter. The worker serves them with the SDK's
own (``temporal_workflow_completed``, ``temporal_activity_schedule_to_start_latency``…) at ``/metrics``.

Attributes stay few and bounded (statuses, providers, reasons and actions are enums): never a job id.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from temporalio import workflow

from shared.models import JobStatus
from shared.review import ReviewAction

JOBS_ENDED = "minimeter_jobs_ended"
JOB_DURATION = "minimeter_job_duration_seconds"
REVIEW_TASKS_OPENED = "minimeter_review_tasks_opened"
REVIEW_REASONS = "minimeter_review_reasons"
REVIEWS_ESCALATED = "minimeter_reviews_escalated"
REVIEW_DECISIONS = "minimeter_review_decisions"

HISTOGRAM_BUCKETS: dict[str, list[float]] = {
    # From a bill through in seconds to one a reviewer decided days later (the review expires after a week).
    JOB_DURATION: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600],
}


def job_ended(status: JobStatus, *, provider: str | None, reviewed: bool, took: timedelta) -> None:
    """A run's end: how many jobs end each way (a failure rate, a duplicate rate), and how long they take."""
    meter = workflow.metric_meter()
    reviewed_ = "true" if reviewed else "false"
    meter.create_counter(JOBS_ENDED, "Ingestion runs ended, by status, provider and whether it was sent to review").add(
        1, {"status": status.value, "provider": str(provider) if provider else "unknown", "reviewed": reviewed_}
    )
    meter.create_histogram_timedelta(JOB_DURATION, "From a run's start to its end, review included").record(
        took, {"status": status.value, "reviewed": reviewed_}
    )


def review_opened(reasons: Iterable[str]) -> None:
    """A review task opened: one count, and one for each reason it gives (why bills need a human)."""
    meter = workflow.metric_meter()
    meter.create_counter(REVIEW_TASKS_OPENED, "Review tasks opened").add(1)
    by_reason = meter.create_counter(REVIEW_REASONS, "Reasons review tasks were opened for, one count each")
    for reason in reasons:
        by_reason.add(1, {"reason": reason})


def review_escalated() -> None:
    meter = workflow.metric_meter()
    meter.create_counter(REVIEWS_ESCALATED, "Review tasks still undecided at REVIEW_SLA").add(1)


def review_decided(action: ReviewAction) -> None:
    meter = workflow.metric_meter()
    meter.create_counter(REVIEW_DECISIONS, "Review decisions recorded, by action").add(1, {"action": action.value})
