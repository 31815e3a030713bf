"""Which of a running job's steps Temporal is retrying, and why: read from the server, not the workflow.

A step's activity is retried by the server, attempt after attempt, and the workflow hears of it only when the
retries are spent: a job stuck retrying its warehouse insert read, through ``GET /jobs/{id}``, as one merely slow.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import PendingActivityState, PendingWorkflowTaskState
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse
from temporalio.client import Client
from temporalio.service import RPCError

from shared.models import StepRecord

logger = logging.getLogger(__name__)

DESCRIBE_TIMEOUT = timedelta(seconds=2)
"""As the progress query's: an unanswered describe leaves the steps as the workflow gave them."""
ERROR_LENGTH = 500
"""As long as a failed step's ``attempt_error`` may be."""
UNCLAIMED_AFTER = timedelta(seconds=10)
"""How long a step's activity may wait for a worker to take it before the job says so: a worker polling an idle
queue takes it at once, and a busy one within seconds."""


WAITING_FOR_A_WORKER = "waiting_for_worker"
"""The step a job reads while the server holds its workflow's next task and no worker has taken it (none up): a job
handed to Temporal before any worker ran it read ``PENDING`` with no step at all, as if the API held it."""


@dataclass(frozen=True)
class Retrying:
    attempt: int
    last_error: str | None
    since: datetime | None = None
    """When the activity was scheduled: a pending step's start, where the workflow cannot be asked."""
    unclaimed_since: datetime | None = None
    """When its attempt was due, where no worker has taken it for ``UNCLAIMED_AFTER`` since."""

    @property
    def shown(self) -> bool:
        """Whether a step shows it: a second attempt or later, or one no worker takes."""
        return self.attempt >= 2 or self.unclaimed_since is not None

    @property
    def error(self) -> str | None:
        """The step's ``attempt_error``: its last attempt's failure, after the wait for a worker where it waits. A
        step waiting for a worker that died showed its last failure alone, "ArtifactStoreUnavailable ...", long
        after the store was back (an operator's drill)."""
        if self.unclaimed_since is None:
            return self.last_error
        waiting = (
            f"no worker has taken it since {self.unclaimed_since:%Y-%m-%d %H:%M:%S} UTC (none running, or all busy)"
        )
        return f"{waiting}; its last attempt failed: {self.last_error}"[:ERROR_LENGTH] if self.last_error else waiting


@dataclass(frozen=True)
class Pending:
    """What the server holds pending for a run: its activities by name, and since when its next workflow task has
    waited for a worker to take it (None: none waits, or one has it)."""

    activities: dict[str, Retrying]
    task_waiting_since: datetime | None = None


async def pending_on_server(client: Client, workflow_id: str) -> Pending:
    """The activities of ``workflow_id`` the server holds pending, by name: the attempt and, from the second
    on, the last one's failure, decoded as the workflow would read it; and its workflow task waiting for a worker.
    Nothing where the server does not answer in time; a failure that cannot be read (sealed with a key this process
    lacks) is left out."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        description = await asyncio.wait_for(
            handle.describe(rpc_timeout=DESCRIBE_TIMEOUT), DESCRIBE_TIMEOUT.total_seconds()
        )
    except (RPCError, TimeoutError):
        return Pending({})
    found: dict[str, Retrying] = {}
    now = datetime.now(UTC)
    for pending in description.raw_description.pending_activities:
        since = pending.scheduled_time.ToDatetime(tzinfo=UTC) if pending.HasField("scheduled_time") else None
        scheduled = pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
        unclaimed = since if scheduled and since is not None and now - since >= UNCLAIMED_AFTER else None
        error = None
        if pending.attempt >= 2 and pending.HasField("last_failure"):
            try:
                error = str(await client.data_converter.decode_failure(pending.last_failure))[:ERROR_LENGTH]
            except Exception:  # noqa: BLE001 - an unreadable failure must not fail the read
                logger.warning("a retried step's failure could not be read", extra={"workflow_id": workflow_id})
                continue
        found[pending.activity_type.name] = Retrying(pending.attempt, error, since, unclaimed)
    return Pending(found, _task_waiting_since(description.raw_description))


def _task_waiting_since(description: DescribeWorkflowExecutionResponse) -> datetime | None:
    """When the run's next workflow task was first scheduled, if no worker has started it."""
    if not description.HasField("pending_workflow_task"):
        return None
    task = description.pending_workflow_task
    if task.state != PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED:
        return None
    first = task.original_scheduled_time if task.HasField("original_scheduled_time") else task.scheduled_time
    return first.ToDatetime(tzinfo=UTC)


def pending_steps(pending: Pending) -> list[StepRecord]:
    """The steps the server holds pending, where the workflow did not answer the progress query (no worker up, say):
    a running job read with no step at all, as if nothing were happening. With no activity pending, its workflow task
    waiting for a worker is one (``WAITING_FOR_A_WORKER``)."""
    steps = [
        StepRecord(
            name=activity,
            started_at=retry.since or datetime.now(UTC),
            attempt=retry.attempt if retry.attempt >= 2 else None,
            attempt_error=retry.error,
        )
        for activity, retry in pending.activities.items()
    ]
    if not steps and pending.task_waiting_since is not None:
        steps.append(StepRecord(name=WAITING_FOR_A_WORKER, started_at=pending.task_waiting_since))
    return steps


STEP_ACTIVITIES = {
    "expire_review": "close_review_task",
    "cancel_review": "close_review_task",
    "take_back_review": "open_review_task",
    "confirm_stored_bill": "load_stored_bill",
}
"""The steps ``BillIngestionWorkflow`` names otherwise than the activity they run; every other step is its
activity's name."""


def with_retries(steps: list[StepRecord], retrying: dict[str, Retrying]) -> list[StepRecord]:
    """``steps`` with each running step that the server is retrying given its attempt and last error. Not where two
    running steps run one activity (a review taken back beside its first opening): which one is retried is unknown."""
    running = [STEP_ACTIVITIES.get(step.name, step.name) for step in steps if step.finished_at is None]
    shown = []
    for step in steps:
        activity = STEP_ACTIVITIES.get(step.name, step.name)
        retry = retrying.get(activity) if step.finished_at is None and running.count(activity) == 1 else None
        if retry is not None and not retry.shown:
            retry = None
        updated = (
            {"attempt": retry.attempt if retry.attempt >= 2 else None, "attempt_error": retry.error}
            if retry is not None
            else None
        )
        shown.append(step if updated is None else step.model_copy(update=updated))
    return shown
