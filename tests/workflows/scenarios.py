"""Real runs of BillIngestionWorkflow, one per path through it, and of AnalyticsRollupWorkflow: recorded as replay
fixtures."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

import httpx
import temporalio
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from api.auth import Principal, Role
from api.services.jobs import start_job
from shared.models import (
    ENDED_STATUSES,
    SETTLED_STATUSES,
    IngestionRequest,
    JobStatus,
    JobType,
    PublishRequest,
    RollupInput,
)
from shared.review import ReviewAck, ReviewAction, ReviewDecision
from shared.settings import Settings
from tests.durability.test_foreign_runs import start_copied_from_history
from tests.helpers import (
    account_digits,
    bill_needing_review,
    bill_of_another_account,
    bill_text,
    create_account,
    reissue_text,
    reset_to_before_the_decision,
    reset_to_last_workflow_task,
    upload_and_wait,
    wait_for_refused_run,
    wait_for_status,
    wait_until,
)
from tests.review.support import (
    Held,
    awaiting_review,
    held,
    job_id_of,
    open_review,
    real_activity,
    refusing,
    replacing,
    start_upload_on_queue,
)
from tests.review.test_copies_read_otherwise import COPY_READ_OTHERWISE
from tests.review.test_overlapping_periods import REREAD, with_period
from tests.review.test_reopened_bills import reopened, stored
from tests.review.test_review_stored_period import JANUARY, raced_by_january
from tests.security.test_encrypted_history import keyless_client
from tests.workflows.predeploy import PreDeployBillIngestionWorkflow, PreRaceBillIngestionWorkflow
from worker.main import build_worker, pipeline_activities
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow
from workflows.rollup import AnalyticsRollupWorkflow

Scenario = Callable[..., Awaitable[str]]
SCENARIO_PRINCIPAL = Principal(key_id=0, name="history-recorder", role=Role.ADMIN, customer_id=None)


async def accepted(http: httpx.AsyncClient, **_: Any) -> str:
    account = await create_account(http, provider="pge", account_number=f"ACC-{uuid.uuid4().hex[:8]}")
    job = (await http.post("/jobs", json={"utility_account_id": account["id"]})).json()
    done = await wait_for_status(http, job["id"])
    assert done["status"] == "SUCCEEDED", done
    return str(job["workflow_id"])


async def _decided(http: httpx.AsyncClient, action: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A bill needing review, decided by ``action`` (a correction of its total to 60.00): its job and task."""
    job = await bill_needing_review(http, uuid.uuid4().hex[:10])
    task = (await http.get(f"/reviews/{job['id']}")).json()
    body: dict[str, Any] = {"action": action, "revision": task["revision"], "note": f"{action} by scenario"}
    if action == "correct":
        body["bill"] = {**task["bill"], "total_amount": "60.00"}
    response = await http.post(f"/reviews/{job['id']}", json=body)
    assert response.status_code == 200, response.text
    return job, task


async def _decide(http: httpx.AsyncClient, action: str) -> str:
    job, _task = await _decided(http, action)
    return str(job["workflow_id"])


async def review_corrected(http: httpx.AsyncClient, **_: Any) -> str:
    return await _decide(http, "correct")


async def reopened_corrected(http: httpx.AsyncClient, **_: Any) -> str:
    """A stored bill reopened for review (``POST /bills/{id}/reopen``) and corrected: a new version of it."""
    _, first = await stored(http, uuid.uuid4().hex[:10])
    job = await reopened(http, http, first["result"]["bill_id"])
    task = (await http.get(f"/reviews/{job['id']}")).json()
    bill = {**task["bill"], "due_date": "2026-03-27"}
    decided = await http.post(
        f"/reviews/{job['id']}", json={"action": "correct", "revision": task["revision"], "bill": bill}
    )
    assert decided.json()["status"] == "SUCCEEDED", decided.text
    return str(job["workflow_id"])


async def _corrected_bill(http: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    """A bill a reviewer corrected and stored: its job, and the account number the bill reads."""
    first, task = await _decided(http, "correct")
    return first, str(task["bill"]["account_number"])


async def reissue_held_over_correction(http: httpx.AsyncClient, **_: Any) -> str:
    """A re-issue read without doubt, of a bill a reviewer corrected: persist holds it, writing nothing; reviewed, it
    is approved and stored over the correction."""
    first, number = await _corrected_bill(http)
    started = await http.post(
        "/bills",
        files={"file": ("reissue.txt", reissue_text(number).encode(), "text/plain")},
        data={"utility_account_id": str(first["utility_account_id"])},
    )
    job = await wait_for_status(http, started.json()["id"], SETTLED_STATUSES, within=90)
    assert job["reasons"] == ["replaces_corrected_bill"], job
    revision = (await http.get(f"/reviews/{job['id']}")).json()["revision"]
    approved = await http.post(f"/reviews/{job['id']}", json={"action": "approve", "revision": revision})
    assert approved.json()["status"] == "SUCCEEDED", approved.text
    return str(job["workflow_id"])


async def copy_read_otherwise_held(http: httpx.AsyncClient, **_: Any) -> str:
    """Another copy of a stored statement, read without doubt with other figures: persist holds it, writing nothing;
    reviewed, it is approved and ends a duplicate, the stored bill standing."""
    number = account_digits(uuid.uuid4().hex[:10])
    account = await create_account(http, provider="pge", account_number=number)
    assert (await upload_and_wait(http, account, bill_text(number, total="60.00")))["status"] == "SUCCEEDED"
    copy = await upload_and_wait(http, account, COPY_READ_OTHERWISE.format(number=number), SETTLED_STATUSES)
    assert copy["reasons"] == ["reads_otherwise_than_stored"], copy
    revision = (await http.get(f"/reviews/{copy['id']}")).json()["revision"]
    approved = await http.post(f"/reviews/{copy['id']}", json={"action": "approve", "revision": revision})
    assert approved.json()["status"] == "DUPLICATE", approved.text
    return str(copy["workflow_id"])


async def overlap_held(http: httpx.AsyncClient, **_: Any) -> str:
    """A bill whose period overlaps a stored bill's, read without doubt: persist holds it, writing nothing; reviewed,
    it is approved and stored beside it."""
    number = account_digits(uuid.uuid4().hex[:10])
    account = await create_account(http, provider="pge", account_number=number)
    assert (await upload_and_wait(http, account, bill_text(number, total="60.00")))["status"] == "SUCCEEDED"
    reread = with_period(bill_text(number, total="60.00"), *REREAD)
    held = await upload_and_wait(http, account, reread, SETTLED_STATUSES)
    assert held["reasons"] == ["overlaps_stored_bill"], held
    revision = (await http.get(f"/reviews/{held['id']}")).json()["revision"]
    approved = await http.post(f"/reviews/{held['id']}", json={"action": "approve", "revision": revision})
    assert approved.json()["status"] == "SUCCEEDED", approved.text
    return str(held["workflow_id"])


async def correction_met_a_period_stored_since(http: httpx.AsyncClient, *, resources: Resources, **_: Any) -> str:
    """A correction meeting a bill stored for its period after the API's check: persist holds it, the task opens
    again, the update fails; sent again, confirmed, it replaces that bill."""
    review = await open_review(http, uuid.uuid4().hex[:10])
    correction = review.corrected(total_amount="60.00", **JANUARY)
    refused, _january = await raced_by_january(http, resources, review, correction)
    assert refused.status_code == 409, refused.text
    again = {"action": "correct", "revision": refused.json()["revision"], "bill": correction}
    confirmed = await http.post(f"/reviews/{review.job_id}", json=again | {"onto_stored_period": True})
    assert confirmed.json()["status"] == "SUCCEEDED", confirmed.text
    return review.workflow_id


async def reissue_held_then_cancelled(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """An operator cancels the re-issue's job while persist_bill runs, and persist holds the bill: declined while
    storing, the cancel is taken once nothing was stored (CANCELED, the corrected bill as it was). On a worker of its
    own, persist_bill held until the workflow has seen the cancel request."""
    first, number = await _corrected_bill(http)
    persisting = held(real_activity(resources, settings, "persist_bill"))
    own_worker = _job_on_own_worker(
        http,
        client=client,
        resources=resources,
        settings=settings,
        provider="pge",
        stand_in=persisting.activity,
        upload=(first["utility_account_id"], reissue_text(number)),
    )
    async with own_worker as job:
        done = await _cancel_while_held(http, client=client, job=job, hold=persisting)
    assert done["status"] == "CANCELED", done
    stored = await resources.pool.fetchrow("SELECT job_id, total_amount FROM bills WHERE job_id = $1", first["id"])
    assert stored is not None and str(stored["total_amount"]) == "60.00", "the corrected bill stands"
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job["id"]) == 0
    return str(job["workflow_id"])


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


def predeploy_worker(
    client: Client, resources: Resources, settings: Settings, *, old_code: type = PreDeployBillIngestionWorkflow
) -> Worker:
    """A worker on ``settings``' queue running the workflow as releases before a patch did (``old_code``: before
    UNSEALED_SIGNAL_PATCH unless told)."""
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[old_code],
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
    upload: tuple[int, str] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """A connector job of a new account started on a worker of its own, where ``stand_in`` replaces its namesake
    activity; with ``upload`` (an account's id, the text of its bill), that bill uploaded to that account instead.

    The API starts jobs on its own queue; this job goes through the service layer onto ours.
    """
    name = stand_in.__name__
    own = settings.model_copy(update={"temporal_task_queue": f"{name}-{uuid.uuid4().hex[:8]}"})
    activities = [fn for fn in pipeline_activities(resources, settings) if fn.__name__ != name] + [stand_in]
    if upload is None:
        account_id = (await create_account(http, provider=provider, account_number=f"OWN-{uuid.uuid4().hex[:8]}"))["id"]
    else:
        account_id = upload[0]
    row = await resources.pool.fetchrow("SELECT * FROM utility_accounts WHERE id = $1", account_id)
    job_id = str(uuid.uuid4())
    ref = None
    if upload is not None:
        data = upload[1].encode()
        meta = {"job_id": job_id}
        ref = await asyncio.to_thread(
            resources.store.put_once, job_id=job_id, data=data, content_type="text/plain", ext="txt", metadata=meta
        )
    async with build_worker(client, resources, own, activities=activities):
        job, _created = await start_job(
            pool=resources.pool,
            client=client,
            settings=own,
            principal=SCENARIO_PRINCIPAL,
            account=dict(row),
            job_type=JobType.CONNECTOR if ref is None else JobType.UPLOAD,
            idempotency_key=None,
            job_id=job_id,
            upload=ref,
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


async def end_recorded_again(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """A bill stored and published, then mark_job_finished fails for good recording SUCCEEDED: the end is
    recorded again. On a worker of its own; before END_RECORDED_AGAIN_PATCH the job read FAILED ("unknown
    failed: ..."), without its bill (v10/ has such a run)."""
    finishing = refusing(real_activity(resources, settings, "mark_job_finished"), times=1)
    own_worker = _job_on_own_worker(
        http, client=client, resources=resources, settings=settings, provider="pge", stand_in=finishing
    )
    async with own_worker as job:
        with suppress(WorkflowFailureError):  # the ending is the caller's to judge
            await asyncio.wait_for(client.get_workflow_handle(job["workflow_id"]).result(), timeout=90)
    return str(job["workflow_id"])


async def review_decided_as_it_expired(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """A reviewer's rejection through the API's update reaches the run in the workflow task that fires the review's
    expiry: it stands. Before DECIDED_AS_REVIEW_EXPIRED_PATCH the review expired, and the accepted update answered
    REVIEW_EXPIRED (v10/ has such a run)."""
    return await _decided_as_it_expired(http, client=client, resources=resources, settings=settings, by_signal=False)


async def review_signalled_as_it_expired(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """As ``review_decided_as_it_expired``, the rejection signalled by a script."""
    return await _decided_as_it_expired(http, client=client, resources=resources, settings=settings, by_signal=True)


async def _decided_as_it_expired(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, by_signal: bool
) -> str:
    """The run's worker stops once the review has escalated (SLA 1 s); the expiry timer fires and the rejection
    comes while no worker runs, so the next worker (``single_batch_worker``) takes both in one workflow task."""
    own = settings.model_copy(
        update={
            "temporal_task_queue": f"decided-as-it-expired-{uuid.uuid4().hex[:8]}",
            "review_sla": timedelta(seconds=1),
            # 11 s after the escalation: room for the worker to stop on a loaded machine (it takes about one)
            # before the expiry fires; if it did not, _expiry_taken_in_one_batch fails the scenario loudly.
            "review_timeout": timedelta(seconds=12),
        }
    )
    async with build_worker(client, resources, own):
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=own, unique=uuid.uuid4().hex
        )
        revision = await review_escalated(handle)
    await _timers_fired(handle, 2)
    decision = ReviewDecision(action=ReviewAction.REJECT, revision=revision, reviewer="script", note="by scenario")
    answer: asyncio.Task[ReviewAck] | None = None
    if by_signal:
        await handle.signal(BillIngestionWorkflow.review_decision, decision)
    else:
        update_id = f"reject-{uuid.uuid4().hex[:8]}"
        answer = asyncio.create_task(handle.execute_update(BillIngestionWorkflow.submit_review, decision, id=update_id))
        await _update_admitted(client, handle.id, update_id)
    async with single_batch_worker(client, resources, own):
        if answer is not None:
            await asyncio.wait_for(answer, timeout=60)  # the job's status at its end, whichever end it was
        with suppress(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), timeout=60)
    await _expiry_taken_in_one_batch(handle)
    return handle.id


async def review_decided_as_it_expired_across_deploy(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """On the old code, a correction failing the checks is signalled as the SLA timer fires: the review escalates,
    then the correction is dropped. On the current code, a rejection is signalled as the expiry timer fires: it
    stands. Asked under the SLA's patch id, the old code's memoized answer (False) expired it."""
    own = settings.model_copy(
        update={
            "temporal_task_queue": f"decided-across-deploy-{uuid.uuid4().hex[:8]}",
            # 12 s for each timer: room for a worker to stop on a loaded machine before the timer fires.
            "review_sla": timedelta(seconds=12),
            "review_timeout": timedelta(seconds=24),
        }
    )
    old_code = single_batch(predeploy_worker(client, resources, own, old_code=PreRaceBillIngestionWorkflow))
    async with old_code:
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=own, unique=uuid.uuid4().hex
        )
        revision = await awaiting_review(handle)
    await _timers_fired(handle, 1)
    task = (await http.get(f"/reviews/{job_id_of(handle)}")).json()
    failing = {**task["bill"], "due_date": None}  # out of balance, as in review_sealed_between_plaintext
    correction = ReviewDecision(action=ReviewAction.CORRECT, revision=revision, reviewer="script", bill=failing)
    await handle.signal(BillIngestionWorkflow.review_decision, correction)
    async with single_batch(predeploy_worker(client, resources, own, old_code=PreRaceBillIngestionWorkflow)):
        revision = await review_escalated(handle)
    await _timers_fired(handle, 2)
    decision = ReviewDecision(action=ReviewAction.REJECT, revision=revision, reviewer="script", note="by scenario")
    await handle.signal(BillIngestionWorkflow.review_decision, decision)
    async with single_batch_worker(client, resources, own):
        with suppress(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), timeout=60)
    await _expiry_taken_in_one_batch(handle)
    return handle.id


SINGLE_BATCH_FLAG = 2
"""The SDK's flag number for applying an activation's jobs all at once, as history's ``lang_used_flags`` keep it."""


def single_batch_worker(client: Client, resources: Resources, settings: Settings) -> Worker:
    """The current code's worker in single-batch mode (``single_batch``)."""
    return single_batch(build_worker(client, resources, settings))


def single_batch(worker: Worker) -> Worker:
    """``worker`` applying every job of an activation before workflow code runs: temporalio 1.35 knows the mode
    (flag 2, kept in history) and leaves it off; its source says a later release turns it on by default. Only in
    that mode do a decision and a timer's firing in one workflow task meet in one turn of the workflow's loop.

    The SDK's private names are imported here, not at the module's top: a temporalio that renamed them fails the
    scenarios that need them, not the collection of every module importing scenarios."""
    try:
        from temporalio.worker._workflow_instance import _WorkflowLogicFlag
    except ImportError as err:
        raise AssertionError(f"temporalio {temporalio.__version__} has no _WorkflowLogicFlag: {err}") from None
    flag = getattr(_WorkflowLogicFlag, "PROCESS_WORKFLOW_ACTIVATION_JOBS_AS_SINGLE_BATCH", None)
    setting = getattr(worker, "_set_default_workflow_logic_flag", None)
    if flag != SINGLE_BATCH_FLAG or setting is None:
        raise AssertionError(f"temporalio {temporalio.__version__} sets no single-batch flag {SINGLE_BATCH_FLAG}")
    setting(flag, enabled=True)
    return worker


async def _expiry_taken_in_one_batch(handle: WorkflowHandle[Any, Any]) -> None:
    """The workflow task that took the expiry's firing ran in single-batch mode (``_timer_taken_in_one_batch``)."""
    await _timer_taken_in_one_batch(handle, 2)


async def _timer_taken_in_one_batch(handle: WorkflowHandle[Any, Any], nth: int) -> None:
    """The workflow task that took the ``nth`` timer's firing (the SLA's 1, the expiry's 2) ran in single-batch
    mode: it, or an earlier task of the run (the SDK then keeps the mode), recorded the flag. Without it the
    scenario meets no race, and its test would pass with the fix or without."""
    events = list((await handle.fetch_history()).events)
    fired = [i for i, e in enumerate(events) if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
    taking = next(
        i
        for i in range(fired[nth - 1], len(events))
        if events[i].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    used = {
        flag
        for e in events[: taking + 1]
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        for flag in e.workflow_task_completed_event_attributes.sdk_metadata.lang_used_flags
    }
    assert SINGLE_BATCH_FLAG in used, f"timer {nth}'s workflow task ran without the single-batch flag (used: {used})"


async def _update_admitted(client: Client, workflow_id: str, update_id: str, *, within: float = 30) -> None:
    """Wait until the server holds the update for the run's next workflow task (NOT_FOUND until then)."""
    request = PollWorkflowExecutionUpdateRequest(
        namespace=client.namespace,
        update_ref=UpdateRef(workflow_execution=WorkflowExecution(workflow_id=workflow_id), update_id=update_id),
        identity="scenario",
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
        ),
    )

    async def admitted() -> bool:
        try:
            return bool((await client.workflow_service.poll_workflow_execution_update(request)).stage)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return False

    await wait_until(admitted, within=within, what=f"update {update_id} admitted")


async def review_escalated(handle: WorkflowHandle[Any, Any], *, within: float = 30) -> str:
    """Wait until the run has escalated its review and waits again for a decision; returns the new revision."""

    async def revision() -> str | None:
        events = [e.event_type for e in (await handle.fetch_history()).events]
        if events.count(EventType.EVENT_TYPE_TIMER_STARTED) < 2:  # the expiry's, started after the escalation
            return None
        progress = await handle.query(BillIngestionWorkflow.progress)
        return progress.review_revision if progress.current_step == "awaiting_review" else None

    return await wait_until(revision, within=within, what=f"{handle.id}'s review escalated")


async def _timers_fired(handle: WorkflowHandle[Any, Any], count: int, *, within: float = 60) -> None:
    """Wait until ``count`` timers have fired, none of them yet seen by a worker after the last."""

    async def fired() -> list[EventType.ValueType] | None:
        events = [e.event_type for e in (await handle.fetch_history()).events]
        return events if events.count(EventType.EVENT_TYPE_TIMER_FIRED) >= count else None

    events = await wait_until(fired, within=within, what=f"{count} timers of {handle.id} fired")
    last_fired = len(events) - events[::-1].index(EventType.EVENT_TYPE_TIMER_FIRED)
    # The worker stopped before the timer fired, so no workflow task has taken it yet.
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED not in events[last_fired:], events


async def started_anew_under_its_id(http: httpx.AsyncClient, *, client: Client, settings: Settings, **_: Any) -> str:
    """A job's sealed input started again under its own workflow id: mark_job_running refuses it (ForeignRun)."""
    workflow_id = await accepted(http)
    await start_copied_from_history(client, client.get_workflow_handle(workflow_id), settings.temporal_task_queue)
    await wait_for_refused_run(client, workflow_id, "ForeignRun", within=60)
    return workflow_id


async def started_under_another_jobs_id(
    http: httpx.AsyncClient, *, client: Client, settings: Settings, **_: Any
) -> str:
    """A job's sealed input started under a new workflow id: it fails at once (WorkflowIdMismatch), touching nothing."""
    account = await create_account(http, provider="pge", account_number=f"COPY-{uuid.uuid4().hex[:8]}")
    job = (await http.post("/jobs", json={"utility_account_id": account["id"]})).json()
    assert (await wait_for_status(http, job["id"]))["status"] == "SUCCEEDED"
    request = IngestionRequest(job_id=job["id"], customer_id=account["customer_id"], utility_account_id=account["id"])
    handle = await client.start_workflow(
        BillIngestionWorkflow.run,
        request,
        id=f"copied-start-{uuid.uuid4().hex[:10]}",
        task_queue=settings.temporal_task_queue,
    )
    await wait_for_refused_run(client, handle.id, "WorkflowIdMismatch", within=60)
    return handle.id


async def review_decided_as_it_escalated(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """A rejection is signalled as the SLA timer fires, taken in one workflow task: it stands, and the review is
    not escalated. Before DECIDED_AS_TIME_RAN_OUT_PATCH the review escalated (the old code's side of
    ``review_decided_as_it_expired_across_deploy``).

    The run's worker stops once it awaits review (SLA 12 s: room for it to stop on a loaded machine); the SLA timer
    fires and the rejection comes while no worker runs, so the next worker takes both in one workflow task."""
    own = settings.model_copy(
        update={
            "temporal_task_queue": f"decided-as-it-escalated-{uuid.uuid4().hex[:8]}",
            "review_sla": timedelta(seconds=12),
            "review_timeout": timedelta(hours=1),
        }
    )
    async with build_worker(client, resources, own):
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=own, unique=uuid.uuid4().hex
        )
        revision = await awaiting_review(handle)
    await _timers_fired(handle, 1)
    decision = ReviewDecision(action=ReviewAction.REJECT, revision=revision, reviewer="script", note="by scenario")
    await handle.signal(BillIngestionWorkflow.review_decision, decision)
    async with single_batch_worker(client, resources, own):
        with suppress(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), timeout=60)
    await _timer_taken_in_one_batch(handle, 1)
    done = await wait_for_status(http, job_id_of(handle), ENDED_STATUSES, within=60)
    assert done["status"] == "REJECTED", done
    return handle.id


async def review_reset_past_its_escalation(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """An operator terminates a job whose review has escalated (its end recorded, its task closed), then resets it
    to its last workflow task, past the escalation: the new run takes its review task back (RESET_REVIEW_PATCH),
    and an approval ends the job SUCCEEDED. Before the patch the task stayed closed until the review expired
    (v11/ has such a run: the approval was sent straight to the workflow)."""
    own = settings.model_copy(
        update={
            "temporal_task_queue": f"reset-past-escalation-{uuid.uuid4().hex[:8]}",
            "review_sla": timedelta(seconds=1),
            "review_timeout": timedelta(hours=1),
        }
    )
    async with build_worker(client, resources, own):
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=own, unique=uuid.uuid4().hex
        )
        revision = await review_escalated(handle)
        await handle.terminate(reason="operator cleanup")
        reset = client.get_workflow_handle(handle.id, run_id=await reset_to_last_workflow_task(client, handle.id))
        await _settled_in_review(reset)
        decision = ReviewDecision(action=ReviewAction.APPROVE, revision=revision, reviewer="script", note="by scenario")
        ack = await reset.execute_update(BillIngestionWorkflow.submit_review, decision)
        assert ack.status is JobStatus.SUCCEEDED, ack
    return handle.id


async def review_retaken_after_reset(http: httpx.AsyncClient, *, client: Client, **_: Any) -> str:
    """A reviewer rejects; an operator resets the run to the workflow task that took the decision, leaving it out
    (``--reapply-exclude All``) to have it taken again: the new run takes its review task back at once
    (RESET_WAKES_PATCH: that task brought it nothing but the reset), and an approval ends the job SUCCEEDED. Before
    the patch the take-back waited for the run's next event (v13/ has such a run: the approval was sent straight to
    the workflow)."""
    workflow_id = await _decide(http, "reject")
    reset = client.get_workflow_handle(
        workflow_id, run_id=await reset_to_before_the_decision(client, workflow_id, retake=True)
    )
    await _settled_in_review(reset)
    revision = (await reset.query(BillIngestionWorkflow.progress)).review_revision
    assert revision is not None
    decision = ReviewDecision(action=ReviewAction.APPROVE, revision=revision, reviewer="script", note="by scenario")
    ack = await reset.execute_update(BillIngestionWorkflow.submit_review, decision)
    assert ack.status is JobStatus.SUCCEEDED, ack
    return workflow_id


async def review_signalled_while_escalating(
    http: httpx.AsyncClient, *, client: Client, resources: Resources, settings: Settings, **_: Any
) -> str:
    """A script signals a rejection with the revision the task shows while escalate_review (held open) writes the
    new one: it stands, the escalation commits, the job ends REJECTED (SIGNALLED_WHILE_ESCALATING_PATCH). Before
    the patch it was dropped as stale (v12/ has such a run: a second rejection, with the new revision, decided)."""
    own = settings.model_copy(
        update={
            "temporal_task_queue": f"signalled-while-escalating-{uuid.uuid4().hex[:8]}",
            "review_sla": timedelta(seconds=1),
            "review_timeout": timedelta(hours=1),
        }
    )
    escalation = held(real_activity(resources, own, "escalate_review"))
    activities = replacing(resources, own, {"escalate_review": escalation.activity})
    async with build_worker(client, resources, own, activities=activities):
        handle = await start_upload_on_queue(
            http=http, pool=resources.pool, store=resources.store, client=client, settings=own, unique=uuid.uuid4().hex
        )
        shown = await awaiting_review(handle)
        await asyncio.wait_for(escalation.reached.wait(), timeout=60)  # the task still shows ``shown``
        decision = ReviewDecision(action=ReviewAction.REJECT, revision=shown, reviewer="script", note="by scenario")
        await handle.signal(BillIngestionWorkflow.review_decision, decision)
        await signal_taken(handle)
        escalation.release.set()
        escalated = await decided_or_escalated(handle, shown)
        if escalated:  # the code before the patch dropped it: decide with what the task shows now
            again = decision.model_copy(update={"revision": escalated})
            await handle.signal(BillIngestionWorkflow.review_decision, again)
        with suppress(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), timeout=60)
    done = await wait_for_status(http, job_id_of(handle), ENDED_STATUSES, within=60)
    assert done["status"] == "REJECTED", done
    return handle.id


async def signal_taken(handle: WorkflowHandle[Any, Any], *, within: float = 30) -> None:
    """Wait until a workflow task has completed after the run's last signal: its handler has run."""

    async def taken() -> bool:
        events = [e.event_type for e in (await handle.fetch_history()).events]
        signalled = len(events) - events[::-1].index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
        return EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in events[signalled:]

    await wait_until(taken, within=within, what=f"{handle.id}'s last signal handled")


async def decided_or_escalated(handle: WorkflowHandle[Any, Any], shown: str, *, within: float = 30) -> str:
    """After an escalation: "" once the run took a decision, else the new revision it awaits one under."""

    async def settled() -> tuple[str] | None:
        progress = await handle.query(BillIngestionWorkflow.progress)
        if progress.status is not JobStatus.NEEDS_REVIEW:
            return ("",)
        waiting = progress.current_step == "awaiting_review" and progress.review_revision not in (None, shown)
        return (progress.review_revision,) if waiting and progress.review_revision else None

    return (await wait_until(settled, within=within, what=f"{handle.id} decided or escalated"))[0]


async def _settled_in_review(handle: WorkflowHandle[Any, Any], *, within: float = 30) -> None:
    """Wait until a reset run has taken a workflow task of its own and awaits a decision, no step running."""

    async def settled() -> bool:
        events = [e.event_type for e in (await handle.fetch_history()).events]
        reset_at = events.index(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
        if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED not in events[reset_at:]:
            return False
        progress = await handle.query(BillIngestionWorkflow.progress)
        return progress.current_step == "awaiting_review" and all(s.finished_at for s in progress.steps)

    await wait_until(settled, within=within, what=f"{handle.id}'s reset run awaiting review")


async def rollup_ran(http: httpx.AsyncClient, *, client: Client, settings: Settings, **_: Any) -> str:
    """AnalyticsRollupWorkflow as its schedule starts it: the monthly rollup of the recent window."""
    handle = await client.start_workflow(
        AnalyticsRollupWorkflow.run,
        RollupInput(window_days=31),
        id=f"rollup-{uuid.uuid4().hex[:10]}",
        task_queue=settings.temporal_task_queue,
    )
    await asyncio.wait_for(handle.result(), timeout=60)
    return handle.id


async def rollup_started_unsealed(http: httpx.AsyncClient, *, client: Client, settings: Settings, **_: Any) -> str:
    """Someone without the payload keys starts a rollup in plain JSON: it fails at once, rolling nothing up."""
    handle = await (await keyless_client(client)).start_workflow(
        AnalyticsRollupWorkflow.run,
        RollupInput(window_days=1),
        id=f"unsealed-rollup-{uuid.uuid4().hex[:10]}",
        task_queue=settings.temporal_task_queue,
    )
    await wait_for_refused_run(client, handle.id, "UnsealedMessage", within=60)
    return handle.id


SCENARIOS: dict[str, Scenario] = {
    "accepted": accepted,
    "review_corrected": review_corrected,
    "review_rejected": review_rejected,
    "reopened_corrected": reopened_corrected,
    "reissue_held_over_correction": reissue_held_over_correction,
    "reissue_held_then_cancelled": reissue_held_then_cancelled,
    "copy_read_otherwise_held": copy_read_otherwise_held,
    "overlap_held": overlap_held,
    "correction_met_a_period_stored_since": correction_met_a_period_stored_since,
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
    "end_recorded_again": end_recorded_again,
    "review_decided_as_it_expired": review_decided_as_it_expired,
    "review_signalled_as_it_expired": review_signalled_as_it_expired,
    "review_decided_as_it_expired_across_deploy": review_decided_as_it_expired_across_deploy,
    "started_under_another_jobs_id": started_under_another_jobs_id,
    "review_decided_as_it_escalated": review_decided_as_it_escalated,
    "review_reset_past_its_escalation": review_reset_past_its_escalation,
    "review_signalled_while_escalating": review_signalled_while_escalating,
    "review_retaken_after_reset": review_retaken_after_reset,
    "rollup_ran": rollup_ran,
    "rollup_started_unsealed": rollup_started_unsealed,
}
