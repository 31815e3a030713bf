"""The job dispatcher: accepted jobs start oldest first, never more than the limit at once, exactly once.

Each test has a database of its own (jobs of other tests would count towards the
limit) and a task queue no worker polls, so started workflows stay open and countable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import TypeVar

import asyncpg
import grpc
import pytest
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client

from api.services import dispatch
from api.services.dispatch import START_TIMEOUT, STARTS_AT_ONCE, JobDispatcher
from api.services.jobs import idempotency_scope
from shared.models import IngestionRequest, JobStatus
from shared.settings import Settings
from tests.api.idle_jobs import PRINCIPAL, account_in, idle_queue, start_jobs, start_one
from tests.helpers import records_of, wait_until


async def accept(
    pool: asyncpg.Pool, client: Client, settings: Settings, dispatcher: JobDispatcher, n: int
) -> list[str]:
    jobs = await start_jobs(pool, client, settings, n, dispatcher=dispatcher)
    assert all(job["status"] == JobStatus.PENDING and job["dispatched_at"] is None for job in jobs)
    return [str(job["id"]) for job in jobs]


async def dispatcher_with_jobs(
    pool: asyncpg.Pool, client: Client, app_settings: Settings, *, limit: int, jobs: int
) -> tuple[JobDispatcher, list[str]]:
    """A dispatcher for an idle queue and ``jobs`` accepted jobs, oldest first, not yet dispatched."""
    settings = idle_queue(app_settings, limit=limit)
    dispatcher = JobDispatcher(pool, client, settings)
    return dispatcher, await accept(pool, client, settings, dispatcher, jobs)


async def dispatched(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT id FROM ingestion_jobs WHERE dispatched_at IS NOT NULL ORDER BY created_at")
    return [str(r["id"]) for r in rows]


async def workflow_runs(client: Client, job_ids: list[str]) -> list[str]:
    runs = []
    for job_id in job_ids:
        description = await client.get_workflow_handle(f"bill-ingestion-{job_id}").describe()
        assert description.raw_description.workflow_execution_info.status == (
            WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
        )
        runs.append(description.run_id)
    return runs


async def test_jobs_start_oldest_first_and_only_while_there_is_room(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    dispatcher, jobs = await dispatcher_with_jobs(own_db, client, app_settings, limit=2, jobs=5)

    assert await dispatcher.dispatch_once() == (2, True)
    assert await dispatched(own_db) == jobs[:2]
    assert await dispatcher.dispatch_once() == (0, True)  # full: two PENDING jobs are running

    await own_db.execute("UPDATE ingestion_jobs SET status = 'SUCCEEDED' WHERE id = $1", jobs[0])
    await own_db.execute("UPDATE ingestion_jobs SET status = 'NEEDS_REVIEW' WHERE id = $1", jobs[1])
    assert await dispatcher.dispatch_once() == (2, True)  # a finished job and one waiting for a human free room
    assert await dispatched(own_db) == jobs[:4]
    assert len(set(await workflow_runs(client, jobs[:4]))) == 4


async def test_api_processes_side_by_side_never_run_more_than_the_limit(
    own_db: asyncpg.Pool, own_db_other_process: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    dispatcher, jobs = await dispatcher_with_jobs(own_db, client, app_settings, limit=3, jobs=8)
    other = JobDispatcher(own_db_other_process, client, idle_queue(app_settings, limit=3))

    rounds = [*await asyncio.gather(dispatcher.dispatch_once(), other.dispatch_once())]
    rounds += await asyncio.gather(dispatcher.dispatch_once(), other.dispatch_once())

    # Both saw room for three at first; one round at a time means three in all, oldest first.
    assert sum(started for started, _ in rounds) == 3
    assert await dispatched(own_db) == jobs[:3]


class CountingDispatcher(JobDispatcher):
    """Records how many starts were in flight together."""

    in_flight = 0
    peak = 0

    async def _start(self, workflow_id: str, request: IngestionRequest) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await super()._start(workflow_id, request)
        finally:
            self.in_flight -= 1


async def test_a_large_round_starts_a_few_at_a_time_and_all_of_them(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """The API answers requests on the dispatcher's event loop: no round may start everything at once."""
    settings = idle_queue(app_settings, limit=3 * STARTS_AT_ONCE)
    dispatcher = CountingDispatcher(own_db, client, settings)
    jobs = await accept(own_db, client, settings, dispatcher, 3 * STARTS_AT_ONCE)

    assert await dispatcher.dispatch_once() == (3 * STARTS_AT_ONCE, False)
    assert dispatcher.peak == STARTS_AT_ONCE
    assert await dispatched(own_db) == jobs
    assert len(set(await workflow_runs(client, jobs))) == len(jobs)


async def test_a_start_repeated_after_a_crash_finds_the_first_run(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    dispatcher, jobs = await dispatcher_with_jobs(own_db, client, app_settings, limit=10, jobs=3)
    assert await dispatcher.dispatch_once() == (3, False)
    first_runs = await workflow_runs(client, jobs)

    # A dispatcher that started the workflows but died before its commit leaves them undispatched.
    await own_db.execute("UPDATE ingestion_jobs SET dispatched_at = NULL")
    assert await dispatcher.dispatch_once() == (3, False)

    assert await workflow_runs(client, jobs) == first_runs
    assert await dispatched(own_db) == jobs


@contextlib.asynccontextmanager
async def running(dispatcher: JobDispatcher) -> AsyncIterator[JobDispatcher]:
    dispatcher.start()
    try:
        yield dispatcher
    finally:
        await dispatcher.stop()


async def when_dispatched(pool: asyncpg.Pool, count: int, within: float = 15.0) -> float:
    """``time.monotonic()`` once ``count`` jobs are dispatched, read every 20 ms (so a little after it happened)."""

    async def enough() -> bool:
        return len(await dispatched(pool)) >= count

    await wait_until(enough, within=within, every=0.02, what=f"{count} jobs dispatched")
    return time.monotonic()


async def test_the_running_dispatcher_starts_what_the_api_accepts(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    settings = idle_queue(app_settings, limit=10)
    async with running(JobDispatcher(own_db, client, settings)) as dispatcher:
        jobs = await accept(own_db, client, settings, dispatcher, 3)
        await when_dispatched(own_db, len(jobs), within=5.0)
        assert await dispatched(own_db) == jobs
        assert len(await workflow_runs(client, jobs)) == 3


def waiting_for_starts_to_pause(app_settings: Settings, *, quiet_ms: int, max_wait_ms: int, **more: int) -> Settings:
    return idle_queue(app_settings, limit=10).model_copy(
        update={"job_dispatch_quiet_ms": quiet_ms, "job_dispatch_max_wait_ms": max_wait_ms, **more}
    )


async def test_a_burst_of_starts_is_answered_before_any_of_it_is_dispatched(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """The first round after the dispatcher was idle waits until its process has accepted no job for
    JOB_DISPATCH_QUIET_MS: its work would share the event loop (and the machine) with the requests still coming."""
    settings = waiting_for_starts_to_pause(app_settings, quiet_ms=1000, max_wait_ms=60_000)
    account = await account_in(own_db)
    dispatcher = JobDispatcher(own_db, client, settings)
    jobs = [str((await start_one(own_db, client, settings, account, dispatcher=dispatcher))[0]["id"])]
    async with running(dispatcher):  # started after the first job: a round already under way would take it
        for _ in range(5):  # 0.6 s of starts, 0.1 s apart
            await asyncio.sleep(0.1)
            before_the_last_start = time.monotonic()
            job, _ = await start_one(own_db, client, settings, account, dispatcher=dispatcher)
            jobs.append(str(job["id"]))
        await asyncio.sleep(0.1)
        assert await dispatched(own_db) == []

        assert await when_dispatched(own_db, len(jobs)) - before_the_last_start >= 1.0
    assert await dispatched(own_db) == jobs


async def test_starts_that_never_pause_hold_the_first_round_only_for_its_bound(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """JOB_DISPATCH_MAX_WAIT_MS: under a stream of starts with no pause, jobs are dispatched once it has passed."""
    settings = waiting_for_starts_to_pause(app_settings, quiet_ms=600_000, max_wait_ms=500)
    account = await account_in(own_db)
    dispatcher = JobDispatcher(own_db, client, settings)
    await start_one(own_db, client, settings, account, dispatcher=dispatcher)
    started_at = time.monotonic()
    async with running(dispatcher):
        while not await dispatched(own_db):
            assert time.monotonic() - started_at < 15, "no job dispatched while starts kept coming"
            await start_one(own_db, client, settings, account, dispatcher=dispatcher)
            await asyncio.sleep(0.05)
        first_dispatch = time.monotonic()

    assert 0.5 <= first_dispatch - started_at < 3.0


async def test_rounds_while_jobs_wait_for_the_next_batch_follow_each_other_at_once(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """Only the first round after the dispatcher was idle waits for the starts to pause: a wait before each would
    cap dispatch at JOB_DISPATCH_BATCH jobs a JOB_DISPATCH_MAX_WAIT_MS for as long as starts come."""
    settings = waiting_for_starts_to_pause(app_settings, quiet_ms=600_000, max_wait_ms=3000, job_dispatch_batch=2)
    dispatcher = JobDispatcher(own_db, client, settings)
    await accept(own_db, client, settings, dispatcher, 6)  # its starts never pause: 600 s
    async with running(dispatcher):
        first_round = await when_dispatched(own_db, 2)
        all_rounds = await when_dispatched(own_db, 6)

    assert all_rounds - first_round < 3.0  # two more rounds, not two more waits of 3 s


async def test_a_place_a_finished_job_frees_is_filled_without_a_wait(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """While jobs wait for room, the rounds only keep the running ones at the limit: a freed place is filled at the
    next poll, not after another wait for the starts to pause (places would stay empty while starts come)."""
    settings = waiting_for_starts_to_pause(app_settings, quiet_ms=600_000, max_wait_ms=3000, job_dispatch_max_running=2)
    dispatcher = JobDispatcher(own_db, client, settings)
    jobs = await accept(own_db, client, settings, dispatcher, 6)  # its starts never pause: 600 s
    async with running(dispatcher):
        first_round = await when_dispatched(own_db, 2)
        for running_now in (2, 4):  # the two running jobs finish; the next two take their places
            await own_db.execute(
                "UPDATE ingestion_jobs SET status = 'SUCCEEDED' WHERE id = ANY($1::uuid[])",
                jobs[running_now - 2 : running_now],
            )
            await when_dispatched(own_db, running_now + 2)
        refilled = time.monotonic()

    assert refilled - first_round < 3.0  # two refills at the next polls, not two more waits of 3 s
    assert await dispatched(own_db) == jobs


async def test_a_job_started_long_ago_stops_holding_a_place(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """A workflow terminated by hand never records its end: its job must not count for ever."""
    dispatcher, jobs = await dispatcher_with_jobs(own_db, client, app_settings, limit=1, jobs=2)
    assert await dispatcher.dispatch_once() == (1, True)
    assert await dispatcher.dispatch_once() == (0, True)

    await own_db.execute("UPDATE ingestion_jobs SET dispatched_at = now() - interval '2 hours' WHERE id = $1", jobs[0])
    assert await dispatcher.dispatch_once() == (1, False)
    assert await dispatched(own_db) == jobs


class CountingWakes(JobDispatcher):
    """The real dispatcher (never started here), counting the wake-ups it is sent."""

    wakes = 0

    def wake(self) -> None:
        self.wakes += 1
        super().wake()


async def test_retries_of_a_start_do_not_wake_the_dispatcher_again(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """The first try woke it for the job it created; a flood of retries under its key must not start a dispatch round
    (a transaction, the dispatch lock and a count of running jobs) each."""
    settings = idle_queue(app_settings, limit=10)
    account = await account_in(own_db)
    dispatcher = CountingWakes(own_db, client, settings)

    created = [
        (await start_one(own_db, client, settings, account, key="retried-key", dispatcher=dispatcher))[1]
        for _ in range(3)
    ]

    assert created == [True, False, False]
    assert dispatcher.wakes == 1


async def test_a_job_from_before_the_dispatcher_restarts_with_its_own_id(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """A PENDING row without stored input, retried with its Idempotency-Key, starts for that row's job."""
    settings = idle_queue(app_settings, limit=10)
    account = await account_in(own_db)
    old_job = str(uuid.uuid4())
    await own_db.execute(
        "INSERT INTO ingestion_jobs (id, customer_id, utility_account_id, workflow_id, job_type, status,"
        " idempotency_scope, idempotency_key, dispatched_at)"
        " VALUES ($1, $2, $3, $4, 'connector', 'PENDING', $5, 'legacy-key', now())",
        old_job,
        account["customer_id"],
        account["id"],
        f"bill-ingestion-{old_job}",
        idempotency_scope(PRINCIPAL),
    )

    job, created = await start_one(own_db, client, settings, account, key="legacy-key")

    assert not created and str(job["id"]) == old_job
    history = await client.get_workflow_handle(f"bill-ingestion-{old_job}").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [request] = await client.data_converter.decode(started.input.payloads, [IngestionRequest])
    assert request.job_id == old_job


async def test_a_job_whose_stored_start_cannot_be_read_fails_instead_of_blocking_the_queue(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The oldest row heads every round: unreadable for longer than a rollout takes, it is failed with
    the reason, and the jobs behind it start."""
    dispatcher, jobs = await dispatcher_with_jobs(own_db, client, app_settings, limit=1, jobs=2)
    await own_db.execute("UPDATE ingestion_jobs SET start_request = '{\"job_id\": 1}' WHERE id = $1", jobs[0])

    with caplog.at_level(logging.WARNING, logger="api.services.dispatch"):
        assert await dispatcher.dispatch_once() == (0, True)  # a newer release's row, perhaps: left for a while
    [waiting] = [r for r in records_of(caplog, jobs) if r.getMessage() == "jobs not started yet"]
    assert waiting.job_ids == [jobs[0]] and waiting.workflow_ids == [f"bill-ingestion-{jobs[0]}"]  # type: ignore[attr-defined]
    assert await dispatched(own_db) == []
    await own_db.execute("UPDATE ingestion_jobs SET created_at = now() - interval '2 hours' WHERE id = $1", jobs[0])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="api.services.dispatch"):
        assert await dispatcher.dispatch_once() == (0, True)  # unreadable for longer than JOB_DISPATCH_STALE_AFTER
    # Failed for good, it is not also among the jobs "not started yet" that the next round would retry.
    assert [r.getMessage() for r in records_of(caplog, jobs)] == ["job failed before it started"]
    assert await dispatcher.dispatch_once() == (1, False)

    broken = await own_db.fetchrow("SELECT status, error, dispatched_at FROM ingestion_jobs WHERE id = $1", jobs[0])
    assert broken["status"] == JobStatus.FAILED and "unreadable" in broken["error"]
    assert await dispatched(own_db) == jobs
    assert len(await workflow_runs(client, jobs[1:])) == 1


async def test_a_job_whose_bill_is_stored_no_longer_holds_a_place(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """Stored over a minute ago, it is only publishing (a warehouse outage retries for hours): new bills
    keep coming in. A bill stored just now still holds its place (its publish takes seconds)."""
    dispatcher, jobs = await dispatcher_with_jobs(own_db, client, app_settings, limit=1, jobs=2)
    assert await dispatcher.dispatch_once() == (1, True)
    assert await dispatcher.dispatch_once() == (0, True)

    job = await own_db.fetchrow("SELECT * FROM ingestion_jobs WHERE id = $1", jobs[0])
    await own_db.execute(
        "INSERT INTO bills (id, job_id, customer_id, utility_account_id, currency, content_sha256, source, payload)"
        " VALUES ($1, $2, $3, $4, 'USD', $5, 'extraction', '{}')",
        uuid.uuid4(),
        job["id"],
        job["customer_id"],
        job["utility_account_id"],
        uuid.uuid4().hex,
    )
    assert await dispatcher.dispatch_once() == (0, True)

    await own_db.execute("UPDATE bills SET created_at = now() - interval '2 minutes' WHERE job_id = $1", job["id"])
    assert await dispatcher.dispatch_once() == (1, False)
    assert await dispatched(own_db) == jobs


ROUND_GIVEN_UP = 4 * START_TIMEOUT.total_seconds()
"""A round still waiting on Temporal this long after it began (20 s) is not bounded by ``START_TIMEOUT``: without
``rpc_timeout`` the SDK gives a start 30 s (its core's ``OTHER_CALL_TIMEOUT``), and each 8 starts more another 30.
The test fails there rather than wait for the SDK."""

SLOW_START = 0.8
"""How long the slow frontend takes to answer each start: far under ``START_TIMEOUT``, a healthy if distant one."""


class Frontend(grpc.GenericRpcHandler):  # type: ignore[misc]  # grpcio has no type hints
    """A Temporal frontend in front of the dev server that passes every call on, and workflow starts as
    ``take_start`` says."""

    START = "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution"

    def __init__(self, upstream: grpc.aio.Channel) -> None:
        self.upstream = upstream
        self.starts_taken = 0

    async def pass_on(self, method: str, request: bytes) -> bytes:
        return bytes(await self.upstream.unary_unary(method)(request))

    async def take_start(self, request: bytes) -> bytes:
        return await self.pass_on(self.START, request)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method

        async def answer(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            try:
                if method == self.START:
                    self.starts_taken += 1
                    return await self.take_start(request)
                return await self.pass_on(method, request)
            except grpc.aio.AioRpcError as refused:  # passed on whole: the SDK reads its details' trailer
                await context.abort(refused.code(), refused.details() or "", tuple(refused.trailing_metadata() or ()))
                raise AssertionError("unreachable") from None

        return grpc.unary_unary_rpc_method_handler(answer)


class UnansweringFrontend(Frontend):
    """Takes workflow starts and never answers them (a frontend stuck behind its persistence, say). With ``forward``
    it passes each start on first: the workflow starts, only its answer goes missing. ``answering`` lets starts
    through again."""

    def __init__(self, upstream: grpc.aio.Channel, *, forward: bool) -> None:
        super().__init__(upstream)
        self.forward = forward
        self.answering = False
        self.forwarded: list[asyncio.Task[bytes]] = []

    async def take_start(self, request: bytes) -> bytes:
        if self.answering:
            return await super().take_start(request)
        if self.forward:  # a task of its own: the caller giving up must not take the start back
            self.forwarded.append(asyncio.create_task(self.pass_on(self.START, request)))
        await asyncio.Event().wait()  # never answered
        raise AssertionError("unreachable")


class SlowFrontend(Frontend):
    """Carries out every start and answers it ``SLOW_START`` after it came (a frontend far away, or busy)."""

    async def take_start(self, request: bytes) -> bytes:
        answer, _ = await asyncio.gather(super().take_start(request), asyncio.sleep(SLOW_START))
        return answer


F = TypeVar("F", bound=Frontend)


@contextlib.asynccontextmanager
async def client_through(
    client: Client, make_frontend: Callable[[grpc.aio.Channel], F]
) -> AsyncIterator[tuple[F, Client]]:
    """The frontend, listening, and a client connected through it (as an API process's is)."""
    async with grpc.aio.insecure_channel(client.service_client.config.target_host) as upstream:
        frontend = make_frontend(upstream)
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((frontend,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            yield frontend, await Client.connect(f"127.0.0.1:{port}", data_converter=client.data_converter)
        finally:
            await server.stop(None)


def unanswering_frontend(
    client: Client, *, forward: bool
) -> contextlib.AbstractAsyncContextManager[tuple[UnansweringFrontend, Client]]:
    return client_through(client, lambda upstream: UnansweringFrontend(upstream, forward=forward))


async def test_a_frontend_that_never_answers_holds_a_round_only_for_its_bound(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A round holds the dispatch lock, its rows and a connection while it starts workflows: without a bound, a
    frontend that took the starts and never answered held every API's dispatcher for the SDK's 30 s a start, 8 at a
    time. Once a start has waited START_TIMEOUT, the round gives up on it and sends none of the starts queued
    behind it (each would wait as long again), and leaves the jobs to the next round."""
    settings = idle_queue(app_settings, limit=2 * STARTS_AT_ONCE)
    async with unanswering_frontend(client, forward=False) as (frontend, hung_client):
        dispatcher = JobDispatcher(own_db, hung_client, settings)
        jobs = await accept(own_db, client, settings, dispatcher, 2 * STARTS_AT_ONCE)
        began = asyncio.get_running_loop().time()
        with caplog.at_level(logging.WARNING, logger="api.services.dispatch"):
            async with asyncio.timeout(ROUND_GIVEN_UP):
                assert await dispatcher.dispatch_once() == (0, True)
        took = asyncio.get_running_loop().time() - began

    # One START_TIMEOUT and the round's backoff (1 s): a round that waited for each batch of starts in turn took two.
    assert took < 2 * START_TIMEOUT.total_seconds(), f"the round took {took:.1f} s"
    assert 0 < frontend.starts_taken <= STARTS_AT_ONCE, "the starts behind the first ones were sent all the same"
    assert await dispatched(own_db) == []
    [waiting] = [r for r in records_of(caplog, jobs) if r.getMessage() == "jobs not started yet"]
    assert waiting.jobs == len(jobs) and "START_TIMEOUT" in waiting.error, waiting.error  # type: ignore[attr-defined]
    assert (waiting.timed_out, waiting.skipped) == (frontend.starts_taken, len(jobs) - frontend.starts_taken)  # type: ignore[attr-defined]
    # The lock and the rows are free: a round that Temporal answers starts them all.
    assert await JobDispatcher(own_db, client, settings).dispatch_once() == (len(jobs), False)
    assert len(set(await workflow_runs(client, jobs))) == len(jobs)


async def test_a_start_whose_answer_never_came_is_found_by_the_next_round(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings
) -> None:
    """The round stopped waiting for the starts, but Temporal carried them out: the next round's start finds each
    workflow, the one still running and the one ended since, and starts no second run of either."""
    settings = idle_queue(app_settings, limit=10)
    async with unanswering_frontend(client, forward=True) as (frontend, hung_client):
        dispatcher = JobDispatcher(own_db, hung_client, settings)
        jobs = await accept(own_db, client, settings, dispatcher, 2)
        async with asyncio.timeout(ROUND_GIVEN_UP):
            assert await dispatcher.dispatch_once() == (0, True)
        assert await dispatched(own_db) == []
        assert len(frontend.forwarded) == len(jobs)
        await asyncio.gather(*frontend.forwarded)  # both workflows started, their answers lost
        handles = [client.get_workflow_handle(f"bill-ingestion-{job}") for job in jobs]
        first_runs = [(await handle.describe()).run_id for handle in handles]
        await handles[1].terminate("ended before the next round")

        frontend.answering = True
        assert await dispatcher.dispatch_once() == (2, False)

    assert await dispatched(own_db) == jobs
    described = [await handle.describe() for handle in handles]
    assert [d.run_id for d in described] == first_runs, "a second run was started"
    assert [d.raw_description.workflow_execution_info.status for d in described] == [
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED,
    ]


async def test_a_frontend_slow_to_answer_has_every_start_of_a_long_round_waited_for(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Each start gets ``START_TIMEOUT`` of its own, from when it is sent: a frontend answering every start in 0.8 s
    takes a round of 8 batches past 5 s, and all its starts are waited for, with no warning of a Temporal that did
    not answer (one bound for the whole round cut its last batches short)."""
    batches = int(START_TIMEOUT.total_seconds() // SLOW_START) + 2  # past START_TIMEOUT, whatever the machine
    settings = idle_queue(app_settings, limit=batches * STARTS_AT_ONCE)
    assert settings.job_dispatch_batch >= settings.job_dispatch_max_running, "one round must claim them all"
    async with client_through(client, SlowFrontend) as (frontend, slow_client):
        dispatcher = JobDispatcher(own_db, slow_client, settings)
        jobs = await accept(own_db, client, settings, dispatcher, batches * STARTS_AT_ONCE)
        caplog.clear()  # their creation's lines: only the round's are asked about
        began = asyncio.get_running_loop().time()
        with caplog.at_level(logging.WARNING, logger="api.services.dispatch"):
            assert await dispatcher.dispatch_once() == (len(jobs), False)
        took = asyncio.get_running_loop().time() - began

    assert took > START_TIMEOUT.total_seconds(), f"the round took {took:.1f} s: the frontend was not slow enough"
    assert frontend.starts_taken == len(jobs)
    assert [r.getMessage() for r in records_of(caplog, jobs)] == []
    assert await dispatched(own_db) == jobs
    assert len(set(await workflow_runs(client, jobs))) == len(jobs)


async def test_a_round_lets_no_start_through_past_its_ceiling(
    own_db: asyncpg.Pool,
    client: Client,
    app_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A frontend answering every start, each a while after it came, never times one out: without ROUND_CEILING a
    round of 64 held the lock and its rows a batch's answer at a time (up to 8 x START_TIMEOUT). Past the ceiling the
    starts still queued are left, unsent, to the next round, which starts them."""
    ceiling = 1.2  # the second batch is let through (at ~0.8 s), the third (at ~1.6 s) is not
    monkeypatch.setattr(dispatch, "ROUND_CEILING", timedelta(seconds=ceiling))
    settings = idle_queue(app_settings, limit=3 * STARTS_AT_ONCE)
    async with client_through(client, SlowFrontend) as (frontend, slow_client):
        dispatcher = JobDispatcher(own_db, slow_client, settings)
        jobs = await accept(own_db, client, settings, dispatcher, 3 * STARTS_AT_ONCE)
        with caplog.at_level(logging.WARNING, logger="api.services.dispatch"):
            started, still_waiting = await dispatcher.dispatch_once()

    assert STARTS_AT_ONCE <= started < len(jobs) and still_waiting, started
    assert frontend.starts_taken == started, "a start queued past the ceiling was sent all the same"
    assert await dispatched(own_db) == jobs[:started]
    [waiting] = [r for r in records_of(caplog, jobs) if r.getMessage() == "jobs not started yet"]
    assert (waiting.timed_out, waiting.skipped) == (0, len(jobs) - started)  # type: ignore[attr-defined]
    assert "ROUND_CEILING" in waiting.error, waiting.error  # type: ignore[attr-defined]
    assert await JobDispatcher(own_db, client, settings).dispatch_once() == (len(jobs) - started, False)
    assert len(set(await workflow_runs(client, jobs))) == len(jobs)
