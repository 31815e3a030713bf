"""The reconciler: a job whose workflow was ended from outside MiniMeter is recorded as ended.

Jobs start on a task queue no worker polls, so their workflows stay open until the test
terminates or cancels them, as an operator would in the Web UI.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    DescribeWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.testing import ActivityEnvironment

from activities.jobs import JobActivities
from api.services import reconcile
from api.services.reconcile import JobReconciler, Reconciled
from shared.models import JobRef, JobStatus
from shared.review import ReviewStatus
from shared.settings import Settings
from tests.api.idle_jobs import idle_queue, start_jobs
from tests.helpers import records_of, reset_to_first_workflow_task
from tests.review.support import Review, open_review, result_of
from worker.main import build_worker
from worker.resources import Resources


async def open_jobs(pool: asyncpg.Pool, client: Client, settings: Settings, n: int) -> list[str]:
    """``n`` jobs started (PENDING, workflow open), their rows last changed an hour ago."""
    jobs = await start_jobs(pool, client, settings, n)
    await pool.execute(
        "UPDATE ingestion_jobs SET updated_at = now() - interval '1 hour', dispatched_at = now() - interval '1 hour'"
    )
    return [str(job["id"]) for job in jobs]


async def job(pool: asyncpg.Pool, job_id: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT status, error, finished_at, ended_run_id FROM ingestion_jobs WHERE id = $1", job_id
    )
    assert row is not None
    return row


def reconciler(pool: asyncpg.Pool, client: Client, app_settings: Settings) -> tuple[JobReconciler, Settings]:
    settings = idle_queue(app_settings).model_copy(update={"job_reconcile_after": timedelta(minutes=10)})
    return JobReconciler(pool, client, settings), settings


async def test_a_terminated_job_is_recorded_failed_with_the_operators_reason(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    checker, settings = reconciler(own_db, client, app_settings)
    terminated, running = await open_jobs(own_db, client, settings, 2)
    await client.get_workflow_handle(f"bill-ingestion-{terminated}").terminate(reason="bad bill loops")

    assert await checker.reconcile_once() == Reconciled(checked=2, ended=1, unknown=0)

    ended = await job(own_db, terminated)
    assert ended["status"] == JobStatus.FAILED
    assert "terminated outside MiniMeter: bad bill loops" in ended["error"]
    assert ended["finished_at"] is not None
    # That run's own late first step must not open the job again: the row names the run that ended.
    described = await client.get_workflow_handle(f"bill-ingestion-{terminated}").describe()
    assert ended["ended_run_id"] == described.run_id
    assert (await job(own_db, running))["status"] == JobStatus.PENDING  # still running: left alone


async def test_an_open_review_task_closes_with_its_job(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    checker, settings = reconciler(own_db, client, app_settings)
    (waiting,) = await open_jobs(own_db, client, settings, 1)
    await own_db.execute("UPDATE ingestion_jobs SET status = 'NEEDS_REVIEW' WHERE id = $1", waiting)
    await own_db.execute(
        "INSERT INTO review_tasks (job_id, status, reasons, artifact_uri, revision)"
        " VALUES ($1, $2, '[]', 'gs://b/o', 'r1')",
        waiting,
        ReviewStatus.PENDING,
    )
    await client.get_workflow_handle(f"bill-ingestion-{waiting}").cancel()
    # A cancel request reaches a workflow through a task; with no worker it is still open.
    assert await checker.reconcile_once() == Reconciled(checked=1, ended=0, unknown=0)
    await client.get_workflow_handle(f"bill-ingestion-{waiting}").terminate(reason="queue cleanup")
    await own_db.execute("UPDATE ingestion_jobs SET checked_at = now() - interval '1 hour' WHERE id = $1", waiting)

    assert await checker.reconcile_once() == Reconciled(checked=1, ended=1, unknown=0)

    assert (await job(own_db, waiting))["status"] == JobStatus.FAILED
    task = await own_db.fetchrow("SELECT status, closed_at FROM review_tasks WHERE job_id = $1", waiting)
    assert task["status"] == ReviewStatus.CANCELED and task["closed_at"] is not None


async def test_each_job_is_checked_once_per_period_and_recent_ones_not_at_all(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    checker, settings = reconciler(own_db, client, app_settings)
    old = await open_jobs(own_db, client, settings, 2)
    recent, just_dispatched = await open_jobs(own_db, client, settings, 2)  # open_jobs ages every row
    await own_db.execute("UPDATE ingestion_jobs SET updated_at = now() WHERE id = $1", recent)
    # Waited an hour in the queue, started now: not checked the moment it starts.
    await own_db.execute("UPDATE ingestion_jobs SET dispatched_at = now() WHERE id = $1", just_dispatched)

    assert (await checker.reconcile_once()).checked == 2
    assert (await checker.reconcile_once()).checked == 0  # checked now: not again within the period

    checked = await own_db.fetch("SELECT id FROM ingestion_jobs WHERE checked_at IS NOT NULL")
    assert sorted(str(r["id"]) for r in checked) == sorted(old)


async def test_a_job_temporal_does_not_know_is_never_failed(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    checker, settings = reconciler(own_db, client, app_settings)
    (lost,) = await open_jobs(own_db, client, settings, 1)
    await own_db.execute("UPDATE ingestion_jobs SET workflow_id = 'bill-ingestion-nowhere' WHERE id = $1", lost)

    assert await checker.reconcile_once() == Reconciled(checked=1, ended=0, unknown=1)
    assert (await job(own_db, lost))["status"] == JobStatus.PENDING


async def test_a_finished_job_is_not_rewritten(own_db: asyncpg.Pool, client: Client, app_settings: Settings) -> None:
    checker, settings = reconciler(own_db, client, app_settings)
    (done,) = await open_jobs(own_db, client, settings, 1)
    await client.get_workflow_handle(f"bill-ingestion-{done}").terminate(reason="after the fact")
    await own_db.execute("UPDATE ingestion_jobs SET status = 'SUCCEEDED' WHERE id = $1", done)

    assert (await checker.reconcile_once()).checked == 0
    assert (await job(own_db, done))["status"] == JobStatus.SUCCEEDED


async def test_two_api_processes_never_check_the_same_job(
    own_db: asyncpg.Pool, own_db_other_process: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    checker, settings = reconciler(own_db, client, app_settings)
    due = await open_jobs(own_db, client, settings, 6)
    other = JobReconciler(own_db_other_process, client, settings)

    first, second = await asyncio.gather(checker.reconcile_once(), other.reconcile_once())

    # Each due job described once between them, none twice, none left out.
    assert first.checked + second.checked == len(due)
    checked = await own_db.fetchval("SELECT count(*) FROM ingestion_jobs WHERE checked_at IS NOT NULL")
    assert checked == len(due)


async def test_a_job_no_worker_takes_is_named_for_the_operator(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Started a period ago and still PENDING: no worker polls its queue, and only this says so."""
    checker, settings = reconciler(own_db, client, app_settings)
    (waiting, started) = await open_jobs(own_db, client, settings, 2)
    await own_db.execute("UPDATE ingestion_jobs SET status = 'RUNNING' WHERE id = $1", started)

    with caplog.at_level(logging.WARNING, logger="api.services.reconcile"):
        assert await checker.reconcile_once() == Reconciled(checked=2, ended=0, unknown=0)

    # Only this test's jobs: the session API's reconciler logs through the same logger, about other tests' jobs.
    named = [r for r in records_of(caplog, [waiting, started]) if "waits for a worker" in r.getMessage()]
    assert [(r.job_id, r.task_queue) for r in named] == [(waiting, settings.temporal_task_queue)]  # type: ignore[attr-defined]
    assert (await job(own_db, waiting))["status"] == JobStatus.PENDING  # told about, never changed
    for job_id in (waiting, started):
        await client.get_workflow_handle(f"bill-ingestion-{job_id}").terminate(reason="test over")


@pytest.mark.parametrize(
    ("first_read", "reads_ended"), [("/jobs/{}", JobStatus.FAILED), ("/reviews/{}", ReviewStatus.CANCELED)]
)
async def test_reading_a_job_terminated_from_outside_records_its_end_at_once(
    first_read: str, reads_ended: str, http: httpx.AsyncClient, client: Client, unique: str
) -> None:
    """Not a reconcile period later: until then it read NEEDS_REVIEW, its task PENDING and in the queue,
    and a reviewer opening it could correct a bill no decision would reach."""
    review = await open_review(http, unique)
    waiting = (await http.get(f"/jobs/{review.job_id}")).json()
    assert (waiting["status"], waiting["current_step"]) == ("NEEDS_REVIEW", "awaiting_review")  # live, as before
    assert (await http.get(f"/reviews/{review.job_id}")).json()["status"] == ReviewStatus.PENDING
    await client.get_workflow_handle(review.workflow_id).terminate(reason="operator cleanup")

    assert (await http.get(first_read.format(review.job_id))).json()["status"] == reads_ended

    task = (await http.get(f"/reviews/{review.job_id}")).json()
    assert (task["status"], task["decision"]) == (ReviewStatus.CANCELED, None), task
    ended = (await http.get(f"/jobs/{review.job_id}")).json()
    assert ended["status"] == JobStatus.FAILED, ended
    assert "terminated outside MiniMeter: operator cleanup" in ended["error"]
    queue = (await http.get("/reviews", params={"customer_id": review.customer_id})).json()
    assert queue["items"] == []
    # Where the run was when it was ended: its steps were stored only as a run records its own end, so a
    # terminated job read steps [] however far it had got.
    assert ended["error"].endswith("(at step awaiting_review)"), ended["error"]
    assert [s["name"] for s in ended["steps"]] == [s["name"] for s in waiting["steps"]] != []


async def listed_as(
    client: Client, workflow_id: str, wanted: Callable[[list[WorkflowExecutionStatus | None]], bool]
) -> None:
    """Wait until Temporal's visibility lists the workflow's runs as ``wanted`` (it trails a change slightly)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        statuses = [e.status async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        if wanted(statuses):
            return
        assert asyncio.get_running_loop().time() < deadline, f"{workflow_id} still listed as {statuses}"
        await asyncio.sleep(0.2)


async def listed_closed(client: Client, workflow_id: str) -> None:
    await listed_as(client, workflow_id, lambda runs: bool(runs) and WorkflowExecutionStatus.RUNNING not in runs)


async def test_the_job_list_shows_a_job_terminated_from_outside_as_ended_without_asking_temporal(
    http: httpx.AsyncClient, client: Client, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It listed NEEDS_REVIEW (and under ?status=NEEDS_REVIEW) for a reconcile period, while GET /jobs/{id}
    read FAILED. Nor may the list ask Temporal's visibility about its page: a dashboard polling it spent the
    namespace's visibility calls (~10/s by default, the Web UI's too) and waited up to 2 s for each; the
    reconciler's scan records the end instead, within seconds."""
    review = await open_review(http, unique)
    query = {"customer_id": review.customer_id}
    assert [j["status"] for j in (await http.get("/jobs", params=query)).json()["items"]] == ["NEEDS_REVIEW"]
    asked: list[str] = []
    listing = Client.list_workflows

    def recorded(self: Client, query: str | None = None, **kwargs: Any) -> Any:
        asked.append(query or "")
        return listing(self, query, **kwargs)

    monkeypatch.setattr(Client, "list_workflows", recorded)
    await client.get_workflow_handle(review.workflow_id).terminate(reason="operator cleanup")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (listed := (await http.get("/jobs", params=query)).json())["items"][0]["status"] != JobStatus.FAILED:
        assert loop.time() < deadline, listed  # a safety net: the scan runs every few seconds
        await asyncio.sleep(0.2)
    waiting = (await http.get("/jobs", params={**query, "status": JobStatus.NEEDS_REVIEW})).json()

    assert (waiting["items"], waiting["total"]) == ([], 0), waiting
    [ended] = listed["items"]
    assert "terminated outside MiniMeter: operator cleanup" in ended["error"]
    assert (await http.get(f"/reviews/{review.job_id}")).json()["status"] == ReviewStatus.CANCELED
    assert not [q for q in asked if review.workflow_id in q], f"a list request asked Temporal about its page: {asked}"


async def test_a_decision_on_a_job_terminated_from_outside_takes_its_task_out_of_the_queue(
    http: httpx.AsyncClient, client: Client, unique: str
) -> None:
    review = await open_review(http, unique)
    await client.get_workflow_handle(review.workflow_id).terminate(reason="operator cleanup")

    refused = await http.post(
        f"/reviews/{review.job_id}", json={"action": "approve", "revision": review.task["revision"]}
    )

    assert refused.status_code == 409, refused.text
    assert "status FAILED" in refused.json()["detail"], refused.text
    queue = (await http.get("/reviews", params={"customer_id": review.customer_id})).json()
    assert queue["items"] == [], "the task the reviewer was refused is still offered"
    assert (await http.get(f"/reviews/{review.job_id}")).json()["status"] == ReviewStatus.CANCELED


async def scheduled_first_step(handle: WorkflowHandle[Any, Any]) -> datetime:
    """When the run scheduled its first activity (``mark_job_running``): waits for a workflow worker to do so."""
    while True:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                return event.event_time.ToDatetime(tzinfo=UTC)
        await asyncio.sleep(0.1)


async def test_a_late_first_step_of_the_run_a_reset_replaced_leaves_the_recorded_end_alone(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, resources: Resources
) -> None:
    """The first run's mark_job_running hangs (its worker lost); the operator resets that run and terminates
    the reset one, whose end the reconciler records. The first run's try, committing only now, is of a run
    older than the one recorded: the job stays FAILED, not RUNNING for a run that is gone."""
    checker, settings = reconciler(own_db, client, app_settings)
    (started,) = await start_jobs(own_db, client, settings, 1)
    first = client.get_workflow_handle(started["workflow_id"])
    async with build_worker(client, resources, settings, activities=[]):  # workflow tasks only: the step hangs
        scheduled = await asyncio.wait_for(scheduled_first_step(first), timeout=30)
    first_run = (await first.describe()).run_id
    reset_run = await reset_to_first_workflow_task(client, first.id, first_run)
    await client.get_workflow_handle(first.id, run_id=reset_run).terminate(reason="reset by mistake")
    row = await own_db.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", started["id"])
    assert await checker.record_if_ended(row)

    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_run_id=first_run, scheduled_time=scheduled)
    await env.run(JobActivities(own_db).mark_job_running, JobRef(job_id=str(started["id"])))

    ended = await job(own_db, str(started["id"]))
    assert (ended["status"], ended["ended_run_id"]) == (JobStatus.FAILED, reset_run)


async def test_a_scan_records_the_jobs_whose_workflow_closed_not_those_a_reset_replaced(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, resources: Resources
) -> None:
    """Visibility lists every run of a workflow id: the run an operator's reset replaced is closed
    (terminated by the reset) while its successor runs on, and that job is not ended."""
    checker, settings = reconciler(own_db, client, app_settings)
    reset, terminated = await start_jobs(own_db, client, settings, 2)
    first = client.get_workflow_handle(reset["workflow_id"])
    async with build_worker(client, resources, settings, activities=[]):  # a workflow task to reset to
        await asyncio.wait_for(scheduled_first_step(first), timeout=30)
    first_run = (await first.describe()).run_id
    await reset_to_first_workflow_task(client, first.id, first_run)
    await client.get_workflow_handle(terminated["workflow_id"]).terminate(reason="queue cleanup")
    await listed_closed(client, terminated["workflow_id"])
    replaced = {WorkflowExecutionStatus.TERMINATED, WorkflowExecutionStatus.RUNNING}
    await listed_as(client, first.id, lambda runs: set(runs) == replaced)  # the reset's run, and the one it replaced
    outcomes: dict[str, bool | None] = {}
    check = checker._check

    async def recorded(job_id: str, workflow_id: str, *args: Any, **kwargs: Any) -> bool | None:
        outcomes[workflow_id] = outcome = await check(job_id, workflow_id, *args, **kwargs)
        return outcome

    checker._check = recorded  # type: ignore[method-assign]

    assert await checker.record_recently_closed() == 1

    # The replaced run was listed, and its job described by its latest run: running, so not ended.
    assert outcomes == {reset["workflow_id"]: False, terminated["workflow_id"]: True}
    assert (await job(own_db, str(terminated["id"])))["status"] == JobStatus.FAILED
    assert (await job(own_db, str(reset["id"])))["status"] == JobStatus.PENDING
    outcomes.clear()
    assert await checker.record_recently_closed() == 0
    assert outcomes == {}, "a run already settled was described again"


class EdgeOfTemporal(Interceptor):
    """The reconciler's client as Temporal's edge sees it: the progress queries it sends and, while
    ``describes_hang``, describe calls that never answer (a Temporal too slow to)."""

    def __init__(self) -> None:
        self.queried: list[str] = []
        self.described: list[str] = []
        self.describes_hang = False
        self.hung = asyncio.Semaphore(0)
        """Released once a describe hangs."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        edge = self

        class Outbound(OutboundInterceptor):
            async def query_workflow(self, input: QueryWorkflowInput) -> Any:
                edge.queried.append(input.id)
                return await super().query_workflow(input)

            async def describe_workflow(self, input: DescribeWorkflowInput) -> WorkflowExecutionDescription:
                edge.described.append(input.id)
                if edge.describes_hang:
                    edge.hung.release()
                    await asyncio.Event().wait()
                return await super().describe_workflow(input)

        return Outbound(next)


class ResetAfterDescribe(Interceptor):
    """Temporal's edge, where ``then`` runs once a describe has answered: an operator's reset lands while the
    reconciler reads the run it described."""

    def __init__(self, then: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.then = then

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        then = self.then

        class Outbound(OutboundInterceptor):
            async def describe_workflow(self, input: DescribeWorkflowInput) -> WorkflowExecutionDescription:
                described = await super().describe_workflow(input)
                await then()
                return described

        return Outbound(next)


async def test_a_run_that_took_the_job_over_while_its_old_runs_end_was_read_keeps_it(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """The reconciler found the first run terminated; the operator's reset run took the job over (its first step)
    before the reconciler wrote the end: FAILED went over the new run's RUNNING, and as an ended job its review
    was never offered."""
    _, settings = reconciler(own_db, client, app_settings)
    (started,) = await open_jobs(own_db, client, settings, 1)
    handle = client.get_workflow_handle(f"bill-ingestion-{started}")
    env = ActivityEnvironment()

    async def claimed_by(run_id: str) -> None:
        env.info = dataclasses.replace(env.info, workflow_run_id=run_id, scheduled_time=datetime.now(UTC))
        await env.run(JobActivities(own_db).mark_job_running, JobRef(job_id=started))

    await claimed_by((await handle.describe()).run_id)
    await handle.terminate(reason="stuck")
    raced = JobReconciler(own_db, through(client, ResetAfterDescribe(lambda: claimed_by("the-reset-run"))), settings)
    row = await own_db.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", started)

    assert not await raced.record_if_ended(row)
    taken = await own_db.fetchrow(
        "SELECT status, error, last_run_id, ended_run_id FROM ingestion_jobs WHERE id = $1", started
    )
    assert tuple(taken) == (JobStatus.RUNNING, None, "the-reset-run", None)


def through(client: Client, edge: Interceptor) -> Client:
    config = client.config()
    config["interceptors"] = [edge]
    return Client(**config)


async def test_a_batch_of_ends_with_no_worker_waits_for_one_replay_not_one_each(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each end asks a worker to replay its run for the run's steps, and waits 2 s when none answers: a round
    of 100 jobs terminated while no worker ran stalled for minutes, one row after another."""
    monkeypatch.setattr(reconcile, "CHECKS_AT_ONCE", 2)
    edge = EdgeOfTemporal()
    checker, settings = reconciler(own_db, through(client, edge), app_settings)
    jobs = await start_jobs(own_db, client, settings, 6)
    async with build_worker(client, resources, settings, activities=[]):  # runs a replay could be asked of
        for started in jobs:
            await asyncio.wait_for(scheduled_first_step(client.get_workflow_handle(started["workflow_id"])), 30)
    for started in jobs:  # the worker gone: a query waits for one that never comes
        await client.get_workflow_handle(started["workflow_id"]).terminate(reason="queue cleanup")
    await own_db.execute(
        "UPDATE ingestion_jobs SET updated_at = now() - interval '1 hour', dispatched_at = now() - interval '1 hour'"
    )

    assert await checker.reconcile_once() == Reconciled(checked=6, ended=6, unknown=0)

    assert len(edge.queried) <= 2, f"a query per job, each waiting for no worker: {edge.queried}"
    for started in jobs:
        assert (await job(own_db, str(started["id"])))["status"] == JobStatus.FAILED


async def test_a_round_cut_short_by_its_deadline_leaves_its_rest_due_at_once(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Temporal that does not answer held the round (and every job behind it) for as long as it did not."""
    edge = EdgeOfTemporal()
    checker, settings = reconciler(own_db, through(client, edge), app_settings)
    ended = await open_jobs(own_db, client, settings, 3)
    for job_id in ended:
        await client.get_workflow_handle(f"bill-ingestion-{job_id}").terminate(reason="queue cleanup")
    edge.describes_hang = True
    monkeypatch.setattr(reconcile, "ROUND_DEADLINE", timedelta(seconds=0.5))

    cut_short = await asyncio.wait_for(checker.reconcile_once(), 60)  # a safety net, never what is asserted

    assert cut_short == Reconciled(checked=3, ended=0, unknown=0)
    edge.describes_hang = False
    monkeypatch.setattr(reconcile, "ROUND_DEADLINE", timedelta(seconds=30))
    # Not claimed for a period: the next round takes them.
    assert await checker.reconcile_once() == Reconciled(checked=3, ended=3, unknown=0)


async def test_api_processes_scanning_the_same_closed_runs_describe_each_job_once(
    own_db: asyncpg.Pool, own_db_other_process: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """Every API process's scan lists the same closed runs: with API_PROCESSES=N each described every job of
    them N times (one UPDATE won), N times the describes, history reads and progress queries."""
    edge = EdgeOfTemporal()
    checker, settings = reconciler(own_db, through(client, edge), app_settings)
    other = JobReconciler(own_db_other_process, through(client, edge), settings)
    jobs = await start_jobs(own_db, client, settings, 4)
    for started in jobs:
        await client.get_workflow_handle(started["workflow_id"]).terminate(reason="queue cleanup")
    for started in jobs:
        await listed_closed(client, started["workflow_id"])

    first, second = await asyncio.gather(checker.record_recently_closed(), other.record_recently_closed())

    assert first + second == len(jobs)
    assert sorted(edge.described) == sorted(started["workflow_id"] for started in jobs), edge.described
    for started in jobs:
        assert (await job(own_db, str(started["id"])))["status"] == JobStatus.FAILED


async def test_a_scan_cut_short_leaves_its_jobs_to_the_next_scan(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan's claim is given back when its check did not finish: the next scan, seconds later, takes the job."""
    edge = EdgeOfTemporal()
    checker, settings = reconciler(own_db, through(client, edge), app_settings)
    (started,) = await start_jobs(own_db, client, settings, 1)
    await client.get_workflow_handle(started["workflow_id"]).terminate(reason="queue cleanup")
    await listed_closed(client, started["workflow_id"])
    edge.describes_hang = True
    monkeypatch.setattr(reconcile, "ROUND_DEADLINE", timedelta(seconds=0.5))

    assert await asyncio.wait_for(checker.record_recently_closed(), 60) == 0  # a safety net, never asserted

    edge.describes_hang = False
    assert await checker.record_recently_closed() == 1
    assert (await job(own_db, str(started["id"])))["status"] == JobStatus.FAILED


@pytest.mark.parametrize(
    ("check", "cut_short"),
    [
        (JobReconciler.record_recently_closed, 0),
        (JobReconciler.reconcile_once, Reconciled(checked=1, ended=0, unknown=0)),
    ],
    ids=["scan", "round"],
)
async def test_a_check_cut_short_gives_back_only_a_claim_still_its_own(
    own_db: asyncpg.Pool,
    own_db_other_process: asyncpg.Pool,
    client: Client,
    app_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    check: Callable[[JobReconciler], Coroutine[Any, Any, object]],
    cut_short: object,
) -> None:
    """A process paused past ``SCAN_CLAIM`` (here: a claim that lapses at once) has its job claimed by another
    process's scan; giving its own claim back then wiped the other's, leaving the job to a third describe."""
    edge = EdgeOfTemporal()
    edge.describes_hang = True
    checker, settings = reconciler(own_db, through(client, edge), app_settings)
    other = JobReconciler(own_db_other_process, through(client, edge), settings)
    (job_id,) = await open_jobs(own_db, client, settings, 1)
    await client.get_workflow_handle(f"bill-ingestion-{job_id}").terminate(reason="queue cleanup")
    await listed_closed(client, f"bill-ingestion-{job_id}")
    monkeypatch.setattr(reconcile, "SCAN_CLAIM", timedelta(0))
    monkeypatch.setattr(reconcile, "ROUND_DEADLINE", timedelta(seconds=3))  # the other claims it meanwhile

    ours = asyncio.create_task(check(checker))
    await asyncio.wait_for(edge.hung.acquire(), 60)  # a safety net, never asserted
    monkeypatch.setattr(reconcile, "ROUND_DEADLINE", timedelta(seconds=60))  # the other's check outlives ours
    theirs = asyncio.create_task(other.record_recently_closed())
    try:
        await asyncio.wait_for(edge.hung.acquire(), 60)
        their_claim = await own_db.fetchval("SELECT checked_at FROM ingestion_jobs WHERE id = $1", job_id)

        assert await ours == cut_short
        assert await own_db.fetchval("SELECT checked_at FROM ingestion_jobs WHERE id = $1", job_id) == their_claim
    finally:
        theirs.cancel()
        await asyncio.gather(ours, theirs, return_exceptions=True)


@dataclasses.dataclass
class Restored:
    """A job that went to review, was approved and completed, then had Postgres set back as a backup taken while
    it waited would leave it: its row NEEDS_REVIEW, its task PENDING, no decision; Temporal keeps the run."""

    review: Review
    recorded: dict[str, Any]
    """The row as the run's ``mark_job_finished`` wrote it, before the restore."""
    restored: dict[str, Any]


async def set_back(pool: asyncpg.Pool, table: str, key: str, row: dict[str, Any]) -> None:
    """Write ``row`` back over the table's row of the same ``key``, as a restore does."""
    columns = [column for column in row if column != key]
    assigned = ", ".join(f"{column} = ${i}" for i, column in enumerate(columns, start=2))
    await pool.execute(f"UPDATE {table} SET {assigned} WHERE {key} = $1", row[key], *(row[c] for c in columns))


async def completed_behind_its_run(
    http: httpx.AsyncClient, pool: asyncpg.Pool, client: Client, unique: str
) -> Restored:
    review = await open_review(http, unique)
    job_before = dict(await pool.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", review.job_id))
    task_before = dict(await pool.fetchrow("SELECT * FROM review_tasks WHERE job_id = $1", review.job_id))
    approved = await http.post(f"/reviews/{review.job_id}", json={"action": "approve", "revision": review.revision})
    assert approved.status_code == 200, approved.text
    assert (await result_of(client, review.workflow_id)).status == JobStatus.SUCCEEDED
    recorded = dict(await pool.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", review.job_id))
    assert recorded["status"] == JobStatus.SUCCEEDED

    await set_back(pool, "ingestion_jobs", "id", job_before)
    await set_back(pool, "review_tasks", "job_id", task_before)
    await pool.execute("DELETE FROM review_decisions WHERE job_id = $1", review.job_id)
    restored = dict(await pool.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", review.job_id))
    assert restored["status"] == JobStatus.NEEDS_REVIEW
    return Restored(review, recorded, restored)


async def review_task(pool: asyncpg.Pool, job_id: str) -> asyncpg.Record:
    task = await pool.fetchrow("SELECT status, closed_at FROM review_tasks WHERE job_id = $1", job_id)
    assert task is not None
    return task


async def test_a_job_whose_run_completed_after_the_backup_is_recorded_from_the_runs_result(
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    unique: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its row stayed NEEDS_REVIEW, its task PENDING in the queue, for good: the reconciler acted only on runs
    ended from outside, and a completed run with an open row read as fine."""
    pool = resources.pool
    behind = await completed_behind_its_run(http, pool, client, unique)
    job_id = behind.review.job_id
    checker = JobReconciler(pool, client, app_settings)

    with caplog.at_level(logging.WARNING, logger="api.services.reconcile"):
        assert await checker.record_if_ended(behind.restored)

    ended = dict(await pool.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", job_id))
    kept = ("status", "error", "result", "steps", "reasons", "last_run_id", "ended_run_id", "first_run_id", "attempts")
    assert {c: ended[c] for c in kept} == {c: behind.recorded[c] for c in kept}
    assert ended["steps"] != []
    closed = (await client.get_workflow_handle(behind.review.workflow_id).describe()).close_time
    assert ended["finished_at"] == closed, "when the run ended, not when its end was repaired (77F)"
    task = await review_task(pool, job_id)
    assert task["status"] == ReviewStatus.CANCELED and task["closed_at"] is not None  # as mark_job_finished closes it
    queue = (await http.get("/reviews", params={"customer_id": behind.review.customer_id})).json()
    assert queue["items"] == []
    [logged] = [r for r in records_of(caplog, [job_id]) if "restored from a backup" in r.getMessage()]
    assert logged.levelno == logging.WARNING
    assert logged.workflow_id == behind.review.workflow_id  # type: ignore[attr-defined]

    # A row already ended is left alone: the same check again (another process's, from its stale read) writes nothing.
    assert not await checker.record_if_ended(behind.restored)
    assert dict(await pool.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", job_id)) == ended


async def test_a_decision_sent_again_after_the_restore_answers_only_an_end_the_database_holds(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temporal answers the same decision (its update id) with the run's old outcome: it was answered 200
    SUCCEEDED while the job read NEEDS_REVIEW, its task PENDING, and nothing changed in Postgres."""
    pool = resources.pool
    behind = await completed_behind_its_run(http, pool, client, unique)
    job_id = behind.review.job_id
    decision = {"action": "approve", "revision": behind.review.revision}

    async def temporal_silent(self: JobReconciler, job: Any) -> bool:
        return False

    with monkeypatch.context() as patched:  # the API's reconciler (in this process) cannot tell Temporal's answer
        patched.setattr(JobReconciler, "record_if_ended", temporal_silent)
        unrecorded = await http.post(f"/reviews/{job_id}", json=decision)
    assert unrecorded.status_code == 503, unrecorded.text
    assert unrecorded.json()["code"] == "temporal_unavailable", unrecorded.text
    assert (await pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", job_id)) == JobStatus.NEEDS_REVIEW

    again = await http.post(f"/reviews/{job_id}", json=decision)

    assert again.status_code == 200, again.text
    assert again.json()["status"] == JobStatus.SUCCEEDED
    ended = await pool.fetchrow("SELECT status, result FROM ingestion_jobs WHERE id = $1", job_id)
    assert (ended["status"], ended["result"]) == (JobStatus.SUCCEEDED, behind.recorded["result"])
    assert (await review_task(pool, job_id))["status"] == ReviewStatus.CANCELED


async def test_a_completed_run_whose_result_cannot_be_read_leaves_the_row_open_and_says_so(
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    unique: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A result sealed with a key rotated in on the workers first (a PayloadDecryptionError, a ValueError) failed the
    request that asked: GET /jobs/{id}, the review task, a decision, each a 500 (77F)."""
    behind = await completed_behind_its_run(http, resources.pool, client, unique)

    async def unreadable(*_: Any, **__: Any) -> Any:
        raise ValueError("payload sealed with a key this process does not hold")

    monkeypatch.setattr(WorkflowHandle, "result", unreadable)
    with caplog.at_level(logging.WARNING, logger="api.services.reconcile"):
        assert not await JobReconciler(resources.pool, client, app_settings).record_if_ended(behind.restored)

    status = await resources.pool.fetchval("SELECT status FROM ingestion_jobs WHERE id = $1", behind.review.job_id)
    assert status == JobStatus.NEEDS_REVIEW
    [logged] = [r for r in records_of(caplog, [behind.review.job_id]) if "could not be read" in r.getMessage()]
    assert logged.levelno == logging.WARNING
