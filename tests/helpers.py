"""Small helpers the HTTP tests share."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Set
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import AliasChoices
from pydantic_settings import BaseSettings
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyExcludeType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from shared.artifacts import ArtifactStore
from shared.models import ENDED_STATUSES, SETTLED_STATUSES, ArtifactRef
from shared.secrets import SecretManagerConfig
from shared.settings import REPO_ROOT, Settings
from shared.startup import when_reachable
from stack.services import start_temporal_dev_server_on_free_ports

SERVER_KEEPALIVE_SECONDS = 3 * (httpx.Limits().keepalive_expiry or 5.0)
"""How long ``serve``'s server keeps an idle connection: longer than an httpx client does (5 s by default)."""


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve an app with uvicorn on a free port (real HTTP, real lifespan); yields its URL.

    The socket is bound here and handed over: a port only picked free could be taken before
    uvicorn bound it. Idle connections are kept longer than a test's client keeps them (httpx: 5 s), so the
    client always drops one first: at uvicorn's default, also 5 s, a request sent on a connection idle for just
    under 5 s could meet the server closing it (``httpx.ReadError``; CI, twice in one run, on a loop made slow
    by the load)."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        port = int(listening.getsockname()[1])
        config = uvicorn.Config(app, log_config=None, lifespan="on", timeout_keep_alive=int(SERVER_KEEPALIVE_SECONDS))
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[listening]))
        while not server.started:
            await asyncio.sleep(0.05)
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it served (its log says why)")
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task


class DevServerEnvironment(WorkflowEnvironment):
    """A dev server this process started (``stack.services``) and a client of it; ``shutdown()`` stops it, as
    leaving ``async with`` does (a test failing half-way included)."""

    def __init__(self, client: Client, server: subprocess.Popen[bytes]) -> None:
        super().__init__(client)
        self.server = server

    async def __aenter__(self) -> DevServerEnvironment:
        return self

    async def shutdown(self) -> None:
        kill_server(self.server)


def kill_server(server: subprocess.Popen[bytes]) -> None:
    """SIGKILL: an in-memory server has nothing to save, and stopping it gracefully took 1.8 s (this, 0.03 s:
    short enough to wait for in the event loop, where no second cancellation can cut the wait short)."""
    if server.poll() is None:
        server.kill()
        server.wait()


DEV_SERVER_STARTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dev-server-start")
"""The thread starting the suite's dev servers: the kernel kills one when the thread that started it ends
(``stack.services.bind_to_this_process``), and this one lives as long as the process (a loop's default executor
ends with the loop)."""


def _kill_once_started(starting: Future[tuple[subprocess.Popen[bytes], int]]) -> None:
    if not starting.cancelled() and starting.exception() is None:
        kill_server(starting.result()[0])


async def start_dev_server(
    *,
    log_file: Path,
    data_converter: DataConverter = DataConverter.default,
    with_search_attributes: bool = True,
    port: int | None = None,
    dynamic_config: Mapping[str, str] | None = None,
) -> DevServerEnvironment:
    """A Temporal dev server (in memory, our search attributes registered unless told not, its output in
    ``log_file``) and a client of it; ``async with await start_dev_server(...) as env:`` stops it on the way out.

    ``WorkflowEnvironment.start_local`` without its port race (it picks a port free and never tries again when
    another process takes it first, failing every test that needed the server)."""
    starting = DEV_SERVER_STARTER.submit(
        lambda: start_temporal_dev_server_on_free_ports(
            log_file=log_file, with_search_attributes=with_search_attributes, port=port, dynamic_config=dynamic_config
        )
    )
    try:
        server, bound = await asyncio.wrap_future(starting)
    except asyncio.CancelledError:
        # A cancelled wait (a timeout, Ctrl-C) does not stop the thread: once it has started the server, it kills it.
        starting.add_done_callback(_kill_once_started)
        raise
    try:
        client = await when_reachable(  # listening, its frontend may not serve for a moment yet
            "Temporal",
            lambda: Client.connect(f"127.0.0.1:{bound}", data_converter=data_converter),
            within=60,
        )
    except BaseException:
        kill_server(server)
        raise
    return DevServerEnvironment(client, server)


def run_stopping_on_timeout(
    args: list[str], *, timeout: float, grace: float, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(args, capture_output=True, text=True, timeout=timeout)``, but past ``timeout`` SIGTERM,
    and SIGKILL only ``grace`` seconds later: a program owning a stack (``bench.chaos``) stops it on SIGTERM,
    and SIGKILLed at once left it running. Raises ``subprocess.TimeoutExpired`` with the output so far."""
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                out, err = proc.communicate(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            raise subprocess.TimeoutExpired(args, timeout, output=out, stderr=err) from None
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


async def create_account(http: httpx.AsyncClient, *, provider: str | None, account_number: str) -> dict[str, Any]:
    customer = (await http.post("/customers", json={"name": f"Customer {account_number}"})).json()
    response = await http.post(
        "/utility-accounts",
        json={"customer_id": customer["id"], "provider": provider, "account_number": account_number},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def wait_for_status(
    http: httpx.AsyncClient, job_id: str, statuses: Set[str] = ENDED_STATUSES, *, within: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        job = (await http.get(f"/jobs/{job_id}")).json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stuck in {job['status']}: {job}")
        await asyncio.sleep(0.2)


async def someone_waits_for_a_lock_held_by(
    pool: asyncpg.Pool, holder: asyncpg.Connection, *, at_least: int = 1, within: float = 60
) -> None:
    """Until ``at_least`` other sessions wait for an advisory lock ``holder`` holds (a race's order is the queue's: a
    step scheduled, its ``current_step``, need not have joined it yet); ``within`` only keeps a broken test from
    hanging."""
    holder_pid = holder.get_server_pid()
    deadline = asyncio.get_running_loop().time() + within
    query = """
        SELECT count(*) FROM pg_locks waiting JOIN pg_locks held USING (locktype, database, classid, objid, objsubid)
         WHERE waiting.locktype = 'advisory' AND NOT waiting.granted AND held.granted AND held.pid = $1
    """
    while await pool.fetchval(query, holder_pid) < at_least:
        assert asyncio.get_running_loop().time() < deadline, f"fewer than {at_least} waited for the lock"
        await asyncio.sleep(0.05)


async def upload_and_wait(
    http: httpx.AsyncClient, account: dict[str, Any], text: str, statuses: Set[str] = ENDED_STATUSES
) -> dict[str, Any]:
    """``POST /bills`` with ``text`` as the account's bill, then the job once its status is one of ``statuses`` (once
    it has ended, by default; ``SETTLED_STATUSES`` for one waiting for review too)."""
    started = await http.post(
        "/bills",
        files={"file": ("bill.txt", text.encode(), "text/plain")},
        data={"utility_account_id": str(account["id"])},
    )
    assert started.status_code == 201, started.text
    return await wait_for_status(http, started.json()["id"], statuses, within=90)


def bill_text(
    account_number: str, *, total: str = "75.00", customer: str = "Jane Reviewer", extra_line: str | None = None
) -> str:
    """A plain-text PG&E bill; at the default total it disagrees with its charges (``balance_mismatch``)."""
    extra = f"{extra_line}\n" if extra_line else ""
    return f"""Pacific Gas and Electric Company
Account Number: {account_number}
Customer: {customer}
{extra}Statement Date: 03/05/2026
Billing Period: 02/01/2026 - 02/28/2026
Due Date: 03/25/2026

Previous Balance          $0.00
Payments Received         $0.00
Total Amount Due         ${total}

Electric Charges
Electric Supply           $40.00
Electric Delivery         $20.00
Current Charges          $60.00

Total Usage               350 kWh
"""


def reissue_text(account_number: str) -> str:
    """The utility's re-issue of ``bill_text(account_number, total="60.00")``: dated later, charges 50.00."""
    return (
        bill_text(account_number, total="60.00")
        .replace("Statement Date: 03/05/2026", "Statement Date: 03/12/2026")
        .replace("Electric Supply           $40.00", "Electric Supply           $30.00")
        .replace("Current Charges          $60.00", "Current Charges          $50.00")
        .replace("Total Amount Due         $60.00", "Total Amount Due         $50.00")
    )


def january_text(account_number: str) -> str:
    """``bill_text(account_number, total="60.00")`` for the month before: January, stated 02/05/2026."""
    return (
        bill_text(account_number, total="60.00")
        .replace("Statement Date: 03/05/2026", "Statement Date: 02/05/2026")
        .replace("Billing Period: 02/01/2026 - 02/28/2026", "Billing Period: 01/01/2026 - 01/31/2026")
        .replace("Due Date: 03/25/2026", "Due Date: 02/25/2026")
    )


def account_digits(unique: str) -> str:
    digits = str(int(unique, 16))[-10:].rjust(10, "7")
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"


async def bill_needing_review(http: httpx.AsyncClient, unique: str) -> dict[str, Any]:
    """Upload a bill whose total is wrong and wait until its workflow asks for a review."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    response = await http.post(
        "/bills",
        files={"file": ("bill.txt", bill_text(number).encode(), "text/plain")},
        data={"utility_account_id": str(account["id"])},
    )
    assert response.status_code == 201, response.text
    job = await wait_for_status(http, response.json()["id"], SETTLED_STATUSES, within=90)
    assert job["status"] == "NEEDS_REVIEW", job
    assert "balance_mismatch" in job["reasons"], job
    return job


async def bill_of_another_account(http: httpx.AsyncClient, unique: str) -> dict[str, Any]:
    """Upload another account's bill to a new account and wait until its workflow asks for a review."""
    account = await create_account(http, provider="pge", account_number=account_digits(unique))
    response = await http.post(
        "/bills",
        files={"file": ("bill.txt", bill_text("5555-1234-99").encode(), "text/plain")},
        data={"utility_account_id": str(account["id"])},
    )
    assert response.status_code == 201, response.text
    job = await wait_for_status(http, response.json()["id"], SETTLED_STATUSES, within=90)
    assert job["status"] == "NEEDS_REVIEW" and "account_mismatch" in job["reasons"], job
    return job


async def store_text_bill(store: ArtifactStore, job_id: str, text: str) -> ArtifactRef:
    """``text`` put in object storage as one of the job's plain-text bills (not yet recorded as the job's)."""
    return await asyncio.to_thread(
        store.put_once, job_id=job_id, data=text.encode(), content_type="text/plain", ext="txt", metadata={}
    )


async def insert_job(pool: asyncpg.Pool, account: dict[str, Any], *, job_type: str = "upload", status: str) -> str:
    """A job row written by hand (no workflow behind it), for tests of what reads or updates jobs."""
    job_id = str(uuid.uuid4())
    await pool.execute(
        "INSERT INTO ingestion_jobs (id, customer_id, utility_account_id, workflow_id, job_type, status)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        job_id,
        account["customer_id"],
        account["id"],
        f"manual-{job_id}",
        job_type,
        status,
    )
    return job_id


async def wait_for_failed_run(client: Client, workflow_id: str, *, within: float = 60) -> WorkflowFailureError:
    """The run's failure once it has failed: a job row turns FAILED one workflow task before that.

    Read a failed job's history only after this, or its last events may not be there yet."""
    try:
        await asyncio.wait_for(client.get_workflow_handle(workflow_id).result(), timeout=within)
    except WorkflowFailureError as failure:
        return failure
    raise AssertionError(f"{workflow_id} completed; it was expected to fail")


async def wait_for_refused_run(client: Client, workflow_id: str, error_type: str, *, within: float = 30) -> None:
    """Wait for a run to fail, and check it failed with a non-retryable ``ApplicationError`` of ``error_type``
    (a refusal, not an error its steps met)."""
    cause = (await wait_for_failed_run(client, workflow_id, within=within)).cause
    assert isinstance(cause, ApplicationError) and cause.type == error_type and cause.non_retryable, cause


async def reset_to_first_workflow_task(client: Client, workflow_id: str, run_id: str) -> str:
    """``temporal workflow reset --type FirstWorkflowTask`` of one run: the new run's id."""
    return await _reset_to_workflow_task(client, workflow_id, run_id, min)


async def reset_to_last_workflow_task(client: Client, workflow_id: str) -> str:
    """``temporal workflow reset --type LastWorkflowTask`` of the workflow's latest run: the new run's id."""
    run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
    return await _reset_to_workflow_task(client, workflow_id, run_id, max)


async def reset_to_before_the_decision(client: Client, workflow_id: str, *, retake: bool) -> str:
    """An operator's reset of the workflow's latest run to the workflow task that accepted its first decision (an
    update): the new run's id. It waits for a decision again; ``retake`` leaves the decision out (signals and updates:
    ``--reapply-exclude All``) for a reviewer to take again, else the new run receives it again."""
    handle = client.get_workflow_handle(workflow_id)
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    decided = min([e.event_id async for e in handle.fetch_history_events() if e.event_type == accepted])
    excluded = [
        ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL,
        ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE,
    ]
    return await _reset_to_workflow_task(
        client,
        workflow_id,
        (await handle.describe()).run_id,
        lambda completed: max(i for i in completed if i < decided),  # the task that accepted it completes just before
        reapply_exclude=excluded if retake else None,
    )


async def _reset_to_workflow_task(
    client: Client,
    workflow_id: str,
    run_id: str,
    pick: Callable[[list[int]], int],
    *,
    reapply_exclude: list[ResetReapplyExcludeType.ValueType] | None = None,
) -> str:
    """An operator's reset of the run to the completed workflow task ``pick`` chooses: the new run's id.

    The signals and updates the run received after that point are sent to the new run again, except those
    ``reapply_exclude`` names (``temporal workflow reset --reapply-exclude``)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    task = pick([e.event_id async for e in handle.fetch_history_events() if e.event_type == completed])
    request = ResetWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
        reason="operator reset",
        workflow_task_finish_event_id=task,
        request_id=str(uuid.uuid4()),
        reset_reapply_exclude_types=reapply_exclude or [],
    )
    for attempt in range(RESET_TRIES):
        try:
            response = await client.workflow_service.reset_workflow_execution(request)
        except RPCError as err:  # the same request id again, as an operator's repeat: one reset, however many sent
            if err.status not in RESET_RETRYABLE or attempt == RESET_TRIES - 1:
                raise
            await asyncio.sleep(0.5)
        else:
            return response.run_id
    raise AssertionError("unreachable: the last try returns or raises")


RESET_TRIES = 3
RESET_RETRYABLE = {RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE}
"""A reset the dev server gave up on under a loaded CI machine ("operation was canceled", once in session 75's CI
run): sent again under its request id, as an operator would."""


def database_of_worker(url: str, worker: str) -> str:
    """``url`` with the database renamed ``<database>_<worker>``, on the same server: pytest-xdist's workers shared
    TEST_DATABASE_URL's, and any worker's API dispatcher started the other's waiting jobs on its own Temporal."""
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/")) or "minimeter_test"
    return parts._replace(path="/" + quote(f"{database}_{worker}")).geturl()


def worker_database_url(url: str, worker: str | None) -> str:
    """TEST_DATABASE_URL for this pytest process: as given in one process, else this xdist worker's own database,
    created on that server the first time."""
    if worker is None:
        return url
    own = database_of_worker(url, worker)
    asyncio.run(create_missing_database(url, unquote(urlsplit(own).path.lstrip("/"))))
    return own


async def create_missing_database(url: str, name: str) -> None:
    """Postgres has no CREATE DATABASE IF NOT EXISTS: look first, and take a concurrent creation as done."""
    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name):
            return
        identifier = '"' + name.replace('"', '""') + '"'
        with suppress(asyncpg.DuplicateDatabaseError):
            await conn.execute(f"CREATE DATABASE {identifier}")
    finally:
        await conn.close()


def env_names(model: type[BaseSettings]) -> set[str]:
    """The variables (lower case: read in any case) ``model`` reads its fields from: prefix and name, or aliases."""
    prefix = str(model.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(prefix + name)
        for alias in (field.alias, field.validation_alias):
            choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
            names.update(choice for choice in choices if isinstance(choice, str))
    return {name.lower() for name in names}


SETTING_VARIABLES = frozenset(env_names(Settings) | env_names(SecretManagerConfig))
"""Every variable MiniMeter's settings read, the Secret Manager's (where secret ones may come from) included."""


def is_setting_variable(name: str) -> bool:
    return name.lower() in SETTING_VARIABLES


def entry_point_env(**settings: str) -> dict[str, str]:
    """The environment an operator starts an entry point with: none of MiniMeter's settings but ``settings``."""
    return {k: v for k, v in os.environ.items() if not is_setting_variable(k)} | settings


def run_entry_point(module: str, *arguments: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """``python -m module`` as an operator starts it, with none of the settings set but ``settings``, to its end."""
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        env=entry_point_env(**settings),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def spawn_entry_point(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m module`` with ``env``, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", module], env=env, cwd=REPO_ROOT, stdout=out, stderr=out)


@asynccontextmanager
async def entry_point_running(module: str, env: dict[str, str], log: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``spawn_entry_point`` (off the loop's thread); killed on the way out if it has not exited by then."""
    process = await asyncio.to_thread(spawn_entry_point, module, env, log)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def until_logged(log: Path, message: str, process: subprocess.Popen[bytes], *, within: float = 90) -> None:
    """Wait until ``process`` writes a JSON log line whose message is ``message``; failing if it exits first."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        text = await asyncio.to_thread(log.read_text)
        if any(json.loads(line).get("message") == message for line in text.splitlines() if line.startswith("{")):
            return
        assert process.poll() is None, f"the process exited ({process.returncode}) before logging {message!r}"
        assert asyncio.get_running_loop().time() < deadline, f"no {message!r} in {text[-2000:]}"
        await asyncio.sleep(0.2)


def worker_env(settings: Settings, *, queue: str, gemini_url: str) -> dict[str, str]:
    """The environment a deployed worker would get, pointing at the test session's services."""
    assert settings.database_url is not None and settings.payload_keys is not None
    return {
        **os.environ,
        "ENV": "test",
        "DATA_DIR": str(settings.data_dir),
        "LOG_FORMAT": "json",
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": queue,
        "PAYLOAD_KEYS": settings.payload_keys.get_secret_value(),
        "ARTIFACT_STORE": "gcs",
        "STORAGE_EMULATOR_HOST": settings.storage_emulator_host or "",
        "GCS_BUCKET": settings.gcs_bucket,
        # Analytics off in the child only: it would otherwise re-point the session's rollup schedule.
        "ANALYTICS": "disabled",
        "BIGQUERY_EMULATOR_HOST": settings.bigquery_emulator_host or "",
        "BQ_DATASET": settings.bq_dataset,
        "EXTRACTOR": "gemini",
        "GEMINI_API_KEY": "fake",
        "GEMINI_BASE_URL": gemini_url,
        "WORKER_GRACEFUL_SHUTDOWN_SECONDS": "30",
    }


def records_of(caplog: pytest.LogCaptureFixture, jobs: list[str]) -> list[logging.LogRecord]:
    """The records about these jobs: the API app other tests share runs its own dispatcher and reconciler in
    this process, on its own database, and logs through the same loggers."""
    return [
        r for r in caplog.records if getattr(r, "job_id", None) in jobs or set(getattr(r, "job_ids", ())) & set(jobs)
    ]


class ManualClock:
    """A clock the test moves by hand (``clock.now += 60``), for code that takes one (``clock=``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


T = TypeVar("T")


async def wait_until(
    predicate: Callable[[], Awaitable[T | None]], *, within: float, every: float = 0.1, what: str = "condition"
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:.0f}s")
        await asyncio.sleep(every)


async def answered_once_the_key_is_forgotten(
    request: Callable[[], Awaitable[httpx.Response]], status: int, settings: Settings
) -> httpx.Response:
    """The first answer of ``status`` to ``request``, asked every 0.1 s: a key revoked, expired or changed in Postgres
    is answered so within ``API_KEY_CACHE_SECONDS``, each API process trusting a key it found that long
    (``api.recent_keys``); two seconds' slack beyond it for a busy machine."""

    async def answered() -> httpx.Response | None:
        response = await request()
        return response if response.status_code == status else None

    return await wait_until(answered, within=settings.api_key_cache_seconds + 2, what=f"a {status}")
