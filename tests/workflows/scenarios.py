"""Real runs of BillIngestionWorkflow, one per path through it: recorded as replay fixtures."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.worker import Worker

from api.auth import Principal, Role
from api.services.jobs import start_job
from shared.models import ENDED_STATUSES, IngestionRequest, JobStatus, JobType, PublishRequest
from shared.review import ReviewAction, ReviewDecision
from shared.settings import Settings
from tests.durability.test_foreign_runs import start_copied_from_history
from tests.helpers import (
    bill_needing_review,
    bill_of_another_account,
    create_account,
    wait_for_refused_run,
    wait_for_status,
)
from tests.review.support import (
    Held,
    awaiting_review,
    held,
    job_id_of,
    real_activity,
    refusing,
    replacing,
    start_upload_on_queue,
)
from tests.security.test_encrypted_history import keyless_client
from tests.workflows.predeploy import PreDeployBillIngestionWorkflow
from worker.main import build_worker, pipeline_activities
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow

Scenario = Callable[..., Awaitable[str]]
SCENARIO_PRINCIPAL = Principal(key_id=0, name="history-recorder", role=Role.ADMIN, customer_id=None)


async def accepted(http: httpx.AsyncClient, **_: Any) -> str:
    account = await create_account(http, provider="pge", account_number=f"ACC-{uuid.uuid4().hex[:8]}")
    job = (await http.post("/jobs", json={"utility_account_id": account["id"]})).json()
    done = await wait_for_status(http, job["id"])
    assert done["status"] == "SUCCEEDED", done
    return str(job["workflow_id"])


async def _decide(http: httpx.AsyncClient, action: str) -> str:
    job = await bill_needing_review(http, uuid.uuid4().hex[:10])
    task = (await http.get(f"/reviews/{job['id']}")).json()
    body: dict[str, Any] = {"action": action, "revision": task["revision"], "note": f"{action} by scenario"}
    if action == "correct":
        body["bill"] = {**task["bill"], "total_amount": "60.00"}
    response = await http.post(f"/reviews/{job['id']}", json=body)
    assert response.status_code == 200, response.text
    return str(job["workflow_id"])


async def review_corrected(http: httpx.AsyncClient, **_: Any) -> str:
    return await _decide(http, "correct")


async def review_rejected(http: httpx.AsyncClient, **_: Any) -> str:
    return await _decide(http, "reject")


async def review_corrected_by_signal(http: httpx.AsyncClient, *, client: Client, **_: Any) -> str:
    """A script signals a correction that fails the checks (dropped), then a fixed one under the same revision."""
    job = await bill_needing_review(http, uuid.uuid4().hex[:10])
    task = (await http.get(f"/reviews/{job['id']}")).json()
    handle = client.get_workflow_handle(job["workflow_id"])

    async def correct(**changes: Any) -> None:
        bill = {**task["bill"], **changes}
        decision = ReviewDecision(action=ReviewAction.CORRECT, revision=task["revision"], bill=bill, reviewer="script")
        await handle.signal(BillIngestionWorkflow.review_decision, decision)

    await correct(due_date=None)  # still out of balance, and now without a due date
    await _awaiting_review_again(handle, task["revision"])
    await correct(total_amount="60.00")
    done = await wait_for_status(http, job["id"], within=60)
    assert done["status"] == "SUCCEEDED", done
    return str(job["workflow_id"])


async def review_approved_by_signal(http: httpx.AsyncClient, *, client: Client, **_: Any) -> str:
    """A script approves another account's bill as read (dropped: it is checked first), then rejects it.

    Before SIGNALLED_APPROVAL_PATCH the approval stood (v7/ has such a run: the bill was stored)."""
    job = await bill_of_another_account(http, uuid.uuid4().hex[:10])
    task = (await http.get(f"/reviews/{job['id']}")).json()
    handle = client.get_workflow_handle(job["workflow_id"])
    for action in (ReviewAction.APPROVE, ReviewAction.REJECT):
        decision = ReviewDecision(action=action, revision=task["revision"], reviewer="script", note="by scenario")
        await handle.signal(BillIngestionWorkflow.review_decision, decision)
        if action is ReviewAction.APPROVE:
            await _awaiting_review_again(handle, task["revision"])
    done = await wait_for_status(http, job["id"], within=60)
    assert done["status"] == "REJECTED", done
    return str(job["workflow_id"])


async def review_plaintext_signal(http: httpx.AsyncClient, *, client: Client, **_: Any) -> str:
    """Someone without the payload keys signals a rejection in plain JSON (dropped), then a reviewer approves.

    Before UNSEALED_SIGNAL_PATCH the plaintext rejection stood (v9/ has such a run: the job ended REJECTED).
    The approval comes through the API (an update): committed histories are stored decrypted, so on replay
    every payload reads unsealed, and a signal after the patch's marker would be dropped there too."""
    job = await bill_needing_review(http, uuid.uuid4().hex[:10])
    task = (await http.get(f"/reviews/{job['id']}")).json()
    plaintext = ReviewDecision(action=ReviewAction.REJECT, revision=task["revision"], reviewer="intruder")
    await (
        (await keyless_client(client))
        .get_workflow_handle(job["workflow_id"])
        .signal(BillIngestionWorkflow.review_decision, plaintext)
    )
    await _awaiting_review_again(client.get_workflow_handle(job["workflow_id"]), task["revision"])
    body = {"action": "approve", "revision": task["revision"], "note": "approve by scenario"}
    response = await http.post(f"/reviews/{job['id']}", json=body)
    assert response.status_code == 200, response.text
    done = await wait_for_status(http, job["id"], within=60)
    assert done["status"] == "SUCCEEDED", done
    return str(job["workflow_id"])


async def review_plaintext_signal_across_deploy(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """A junk plaintext signal reaches the run before UNSEALED_SIGNAL_PATCH is deployed (acted on: dropped as
    stale), then after the deploy a plaintext approval (dropped: a patch id of its own, so the first signal's
    memoized False does not let it through) and a sealed rejection, which decides.

    The run starts on a queue of its own served by the old code; the current code's worker replaces it there
    (no cache: it replays the run for every task)."""
    own = settings.model_copy(update={"temporal_task_queue": f"deploy-{uuid.uuid4().hex[:10]}"})
    keyless = await keyless_client(client)

    async def plaintext(revision: str, action: ReviewAction) -> None:
        decision = ReviewDecision(action=action, revision=revision, reviewer="intruder")
        await keyless.get_workflow_handle(handle.id).signal(BillIngestionWorkflow.review_decision, decision)

    async with predeploy_worker(client, resources, own):
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=own, unique=uuid.uuid4().hex
        )
        revision = await awaiting_review(handle)
        await plaintext("probe", ReviewAction.REJECT)
        await _awaiting_review_again(handle, revision)
    async with build_worker(client, resources, own, max_cached_workflows=0):
        await plaintext(revision, ReviewAction.APPROVE)
        await _awaiting_review_again(handle, revision)
        sealed = ReviewDecision(action=ReviewAction.REJECT, revision=revision, reviewer="reviewer", note="by scenario")
        await handle.signal(BillIngestionWorkflow.review_decision, sealed)
        done = await wait_for_status(http, job_id_of(handle), within=60)
    assert done["status"] == "REJECTED", done
    return handle.id


def predeploy_worker(client: Client, resources: Resources, settings: Settings) -> Worker:
    """A worker on ``settings``' queue running the workflow as releases before UNSEALED_SIGNAL_PATCH did."""
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[PreDeployBillIngestionWorkflow],
        activities=pipeline_activities(resources, settings),
        activity_executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="predeploy"),
    )


async def review_sealed_between_plaintext(http: httpx.AsyncClient, *, client: Client, **_: Any) -> str:
    """A plaintext rejection (dropped), a sealed correction failing the checks (judged by check_corrected_bill,
    dropped), a plaintext approval (dropped), then a sealed rejection decides.

    The sealed signals replay sealed only because the recorder marks what was sealed (history_codec): read
    unsealed, they would be dropped on replay, without the activity the run scheduled."""
    job = await bill_needing_review(http, uuid.uuid4().hex[:10])
    task = (await http.get(f"/reviews/{job['id']}")).json()
    handle = client.get_workflow_handle(job["workflow_id"])
    keyless = (await keyless_client(client)).get_workflow_handle(job["workflow_id"])

    def decision(action: ReviewAction, **fields: Any) -> ReviewDecision:
        return ReviewDecision(action=action, revision=task["revision"], reviewer="script", **fields)

    await keyless.signal(BillIngestionWorkflow.review_decision, decision(ReviewAction.REJECT))
    await _awaiting_review_again(handle, task["revision"])
    failing = decision(ReviewAction.CORRECT, bill={**task["bill"], "due_date": None})  # still out of balance
    await handle.signal(BillIngestionWorkflow.review_decision, failing)
    await _awaiting_review_again(handle, task["revision"])
    await keyless.signal(BillIngestionWorkflow.review_decision, decision(ReviewAction.APPROVE))
    await _awaiting_review_again(handle, task["revision"])
    await handle.signal(BillIngestionWorkflow.review_decision, decision(ReviewAction.REJECT, note="by scenario"))
    done = await wait_for_status(http, job["id"], within=60)
    assert done["status"] == "REJECTED", done
    return str(job["workflow_id"])


async def started_unsealed(http: httpx.AsyncClient, *, client: Client, settings: Settings, **_: Any) -> str:
    """Someone without the payload keys starts the workflow in plain JSON: it fails at once, touching nothing."""
    account = await create_account(http, provider="pge", account_number=f"RAW-{uuid.uuid4().hex[:8]}")
    request = IngestionRequest(
        job_id=str(uuid.uuid4()), customer_id=account["customer_id"], utility_account_id=account["id"]
    )
    handle = await (await keyless_client(client)).start_workflow(
        BillIngestionWorkflow.run,
        request,
        id=f"unsealed-start-{uuid.uuid4().hex[:10]}",
        task_queue=settings.temporal_task_queue,
    )
    await wait_for_refused_run(client, handle.id, "UnsealedMessage", within=60)
    return handle.id


async def _awaiting_review_again(handle: WorkflowHandle[Any, Any], revision: str, *, within: float = 30) -> None:
    """Wait until the workflow has handled the last signal and awaits a decision again, under ``revision``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        events = [e.event_type for e in (await handle.fetch_history()).events]
        signalled = len(events) - events[::-1].index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
        if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in events[signalled:]:
            progress = await handle.query(BillIngestionWorkflow.progress)
            if progress.current_step == "awaiting_review" and progress.review_revision == revision:
                return
            assert progress.status is JobStatus.NEEDS_REVIEW, progress
        assert asyncio.get_running_loop().time() < deadline, "the workflow never went back to awaiting review"
        await asyncio.sleep(0.1)


async def cancelled_in_review(http: httpx.AsyncClient, *, client: Client, **_: Any) -> str:
    """An operator cancels a job while it waits for a reviewer: the review task closes, the job ends CANCELED."""
    job = await bill_needing_review(http, uuid.uuid4().hex[:10])
    await client.get_workflow_handle(job["workflow_id"]).cancel()
    done = await wait_for_status(http, job["id"], ENDED_STATUSES, within=60)
    assert done["status"] == "CANCELED", done
    review = (await http.get(f"/reviews/{job['id']}")).json()
    assert review["status"] == "CANCELED", review
    return str(job["workflow_id"])


async def failed_job(http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings) -> str:
    """A connector job for an account no connector serves (the API refuses it; the service layer does not)."""
    account = await create_account(http, provider=None, account_number=f"NONE-{uuid.uuid4().hex[:8]}")
    job, _created = await start_job(
        pool=resources.pool,
        client=client,
        settings=settings,
        principal=SCENARIO_PRINCIPAL,
        account=account,
        job_type=JobType.CONNECTOR,
        idempotency_key=None,
    )
    done = await wait_for_status(http, str(job["id"]), within=90)
    assert done["status"] == "FAILED", done
    return str(job["workflow_id"])


@asynccontextmanager
async def _job_on_own_worker(
    http: httpx.AsyncClient,
    *,
    client: Client,
    resources: Resources,
    settings: Settings,
    provider: str | None,
    stand_in: Callable[..., Any],
) -> AsyncIterator[dict[str, Any]]:
    """A connector job started on a worker of its own, where ``stand_in`` replaces its namesake activity.

    The API starts jobs on its own queue; this job goes through the service layer onto ours.
    """
    name = stand_in.__name__
    own = settings.model_copy(update={"temporal_task_queue": f"{name}-{uuid.uuid4().hex[:8]}"})
    activities = [fn for fn in pipeline_activities(resources, settings) if fn.__name__ != name] + [stand_in]
    account = await create_account(http, provider=provider, account_number=f"OWN-{uuid.uuid4().hex[:8]}")
    row = await resources.pool.fetchrow("SELECT * FROM utility_accounts WHERE id = $1", account["id"])
    async with build_worker(client, resources, own, activities=activities):
        job, _created = await start_job(
            pool=resources.pool,
            client=client,
            settings=own,
            principal=SCENARIO_PRINCIPAL,
            account=dict(row),
            job_type=JobType.CONNECTOR,
            idempotency_key=None,
        )
        yield job


async def step_retried(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """publish_analytics fails twice (a flaky warehouse), then succeeds: on a worker of its own."""
    real = {fn.__name__: fn for fn in pipeline_activities(resources, settings)}

    @activity.defn
    async def publish_analytics(request: PublishRequest) -> None:
        if activity.info().attempt <= 2:
            raise RuntimeError("analytics sink unavailable (injected)")
        await real["publish_analytics"](request)

    own_worker = _job_on_own_worker(
        http, client=client, resources=resources, settings=settings, provider="duke", stand_in=publish_analytics
    )
    async with own_worker as job:
        done = await wait_for_status(http, str(job["id"]), within=90)
    assert done["status"] == "SUCCEEDED", done
    return str(job["workflow_id"])


async def _cancel_handled(handle: WorkflowHandle[Any, Any], *, within: float = 30) -> None:
    """Wait until a workflow task has completed after the cancel request (the workflow has seen it)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        events = [e.event_type for e in (await handle.fetch_history()).events]
        requested = events.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED)
        if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in events[requested:]:
            return
        assert asyncio.get_running_loop().time() < deadline, "the workflow never handled the cancel request"
        await asyncio.sleep(0.1)


async def _cancel_while_held(
    http: httpx.AsyncClient, *, client: Client, job: dict[str, Any], hold: Held
) -> dict[str, Any]:
    """Cancel ``job`` once its held activity is reached; release it once the workflow has seen the cancel.

    Returns the job as the API shows it at its end, once its run has closed (before its worker stops).
    """
    await asyncio.wait_for(hold.reached.wait(), timeout=60)
    handle = client.get_workflow_handle(job["workflow_id"])
    await handle.cancel()
    await _cancel_handled(handle)
    hold.release.set()
    with suppress(WorkflowFailureError):  # failed or cancelled: the caller judges the ending
        await asyncio.wait_for(handle.result(), timeout=60)
    return await wait_for_status(http, str(job["id"]), ENDED_STATUSES, within=60)


async def cancelled_while_persisting(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """An operator cancels a job while its bill is being stored: the job still ends SUCCEEDED and published.

    persist_bill is held until the workflow has seen the cancel request, on a worker of its own.
    """
    persisting = held(real_activity(resources, settings, "persist_bill"))
    own_worker = _job_on_own_worker(
        http, client=client, resources=resources, settings=settings, provider="pge", stand_in=persisting.activity
    )
    async with own_worker as job:
        done = await _cancel_while_held(http, client=client, job=job, hold=persisting)
    assert done["status"] == "SUCCEEDED", done
    return str(job["workflow_id"])


async def job_cancelled_while_finishing(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, provider: str | None
) -> dict[str, Any]:
    """A connector job whose mark_job_finished is held until the workflow has seen a cancel request.

    Returns the job as the API shows it at its end.
    """
    finishing = held(real_activity(resources, settings, "mark_job_finished"))
    own_worker = _job_on_own_worker(
        http, client=client, resources=resources, settings=settings, provider=provider, stand_in=finishing.activity
    )
    async with own_worker as job:
        return await _cancel_while_held(http, client=client, job=job, hold=finishing)


async def cancelled_while_finishing(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """An operator cancels a job while its failure is being recorded: the job still ends FAILED, with its cause.

    The account has no provider, so fetch_bill fails for good before anything is stored.
    """
    done = await job_cancelled_while_finishing(
        http, client=client, resources=resources, settings=settings, provider=None
    )
    assert done["status"] == "FAILED", done
    return str(done["workflow_id"])


async def failed_in_review(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """An approval whose record_review_decision fails for good: the job ends FAILED, its task closed (CANCELED).

    On a worker of its own; an upload, as every bill needing review is here."""
    own = settings.model_copy(update={"temporal_task_queue": f"failed-in-review-{uuid.uuid4().hex[:8]}"})
    record = real_activity(resources, own, "record_review_decision")
    activities = replacing(resources, own, {record.__name__: refusing(record)})
    async with build_worker(client, resources, own, activities=activities):
        handle = await start_upload_on_queue(
            http=http,
            pool=resources.pool,
            store=resources.store,
            client=client,
            settings=own,
            unique=uuid.uuid4().hex[:10],
        )
        revision = await awaiting_review(handle)
        decision = ReviewDecision(action=ReviewAction.APPROVE, revision=revision, reviewer="script")
        await handle.signal(BillIngestionWorkflow.review_decision, decision)
        with suppress(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), timeout=60)
    done = await wait_for_status(http, job_id_of(handle), ENDED_STATUSES, within=60)
    assert done["status"] == "FAILED", done
    return handle.id


async def started_anew_under_its_id(http: httpx.AsyncClient, *, client: Client, settings: Settings, **_: Any) -> str:
    """A job's sealed input started again under its own workflow id: mark_job_running refuses it (ForeignRun)."""
    workflow_id = await accepted(http)
    await start_copied_from_history(client, client.get_workflow_handle(workflow_id), settings.temporal_task_queue)
    await wait_for_refused_run(client, workflow_id, "ForeignRun", within=60)
    return workflow_id


SCENARIOS: dict[str, Scenario] = {
    "accepted": accepted,
    "review_corrected": review_corrected,
    "review_rejected": review_rejected,
    "review_corrected_by_signal": review_corrected_by_signal,
    "review_approved_by_signal": review_approved_by_signal,
    "step_retried": step_retried,
    "failed_job": failed_job,
    "cancelled_in_review": cancelled_in_review,
    "cancelled_while_persisting": cancelled_while_persisting,
    "cancelled_while_finishing": cancelled_while_finishing,
    "failed_in_review": failed_in_review,
    "review_plaintext_signal": review_plaintext_signal,
    "started_unsealed": started_unsealed,
    "review_plaintext_signal_across_deploy": review_plaintext_signal_across_deploy,
    "review_sealed_between_plaintext": review_sealed_between_plaintext,
    "started_anew_under_its_id": started_anew_under_its_id,
}
