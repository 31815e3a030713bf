"""``python -m worker`` with ``WORKER_METRICS_ADDRESS`` serves Prometheus metrics: the SDK's, the jobs' own
(``shared.job_metrics``) and the backlog in Postgres (``worker.backlog_metrics``), counting no job twice when a
restarted worker replays its run."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from shared.models import JobStatus
from shared.settings import Settings
from stack.services import free_port
from tests.durability.conftest import stored_upload
from tests.helpers import wait_until, worker_env
from worker.alive import tick_age
from worker.backlog_metrics import read_backlog
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow

Samples = list[tuple[str, dict[str, str], float]]


async def test_a_worker_serves_metrics_of_its_jobs_and_the_backlog_and_a_replay_counts_nothing_again(
    client: Client, resources: Resources, app_settings: Settings, tmp_path: Path
) -> None:
    queue = f"metrics-{uuid.uuid4().hex[:10]}"
    address = f"127.0.0.1:{free_port()}"
    succeeding = await stored_upload(resources, uuid.uuid4().hex, total="60.00")
    reviewed = await stored_upload(resources, uuid.uuid4().hex)  # its total is wrong: a review task
    async with metrics_worker(app_settings, queue=queue, address=address, log=tmp_path / "first.log"):
        done = await succeeding.start(client=client, settings=app_settings, queue=queue)
        waiting = await reviewed.start(client=client, settings=app_settings, queue=queue)
        try:
            assert (await done.handle.result()).status is JobStatus.SUCCEEDED

            async def in_review() -> bool:
                progress = await waiting.handle.query(BillIngestionWorkflow.progress)
                return progress.status == JobStatus.NEEDS_REVIEW.value

            await wait_until(in_review, within=60, what="the second job's review task")
            reasons = await resources.pool.fetchval(
                "SELECT reasons FROM review_tasks WHERE job_id = $1", uuid.UUID(waiting.id)
            )

            async def review_counted() -> Samples | None:
                samples = await scrape(address)
                counted = [value for _, value in of(samples, "minimeter_review_tasks", status="PENDING")]
                return samples if counted and counted[0] >= 1 else None

            samples = await wait_until(review_counted, within=30, what="a backlog reading after the review opened")
            ours = [(name, labels, value) for name, labels, value in samples if labels.get("task_queue") == queue]
            assert of(ours, "minimeter_jobs_ended_total") == [
                ({"status": "SUCCEEDED", "provider": "pge", "reviewed": "false"}, 1.0)
            ]
            [(labels, count)] = of(ours, "minimeter_job_duration_seconds_count")
            assert labels == {"status": "SUCCEEDED", "reviewed": "false"} and count == 1.0
            [(_, seconds)] = of(ours, "minimeter_job_duration_seconds_sum")
            assert 0 < seconds < 120
            assert of(ours, "minimeter_review_tasks_opened_total") == [({}, 1.0)]
            assert sorted(of(ours, "minimeter_review_reasons_total"), key=str) == sorted(
                (({"reason": reason}, 1.0) for reason in reasons), key=str
            )
            completed = of(ours, "temporal_workflow_completed_total", workflow_type="BillIngestionWorkflow")
            assert [value for _, value in completed] == [1.0]
            # The backlog is the database's (other tests' jobs too): ours is in it, and it has waited.
            [(_, pending)] = of(samples, "minimeter_review_tasks", status="PENDING")
            [(_, oldest)] = of(samples, "minimeter_oldest_review_task_age_seconds", status="PENDING")
            assert pending >= 1 and oldest > 0
            assert {labels["status"] for labels, _ in of(samples, "minimeter_jobs")} == {
                "PENDING",
                "RUNNING",
                "NEEDS_REVIEW",
            }
            # Of the PENDING ones, those the API's dispatcher holds (the rest wait in Temporal for a worker).
            assert len(of(samples, "minimeter_jobs_undispatched")) == 1, "served (its reading: the backlog test below)"
            assert len(of(samples, "minimeter_oldest_undispatched_job_age_seconds")) == 1
            # The compose healthcheck: the loop's tick is recent; against a bound of 0 s it is not.
            alive = await asyncio.to_thread(healthcheck, address, "120")
            assert (alive.returncode, alive.stderr) == (0, ""), alive.stderr
            stale = await asyncio.to_thread(healthcheck, address, "0")
            assert stale.returncode == 1 and "its event loop last ticked" in stale.stderr, stale.stderr
        except BaseException:
            await waiting.handle.terminate("test failed")
            raise

    # A new worker replays the waiting job's run from its history (a query needs its state): nothing is counted.
    try:
        async with metrics_worker(app_settings, queue=queue, address=address, log=tmp_path / "second.log"):
            assert (await waiting.handle.query(BillIngestionWorkflow.progress)).status == JobStatus.NEEDS_REVIEW.value
            samples = await scrape(address)
            ours = [(name, labels, value) for name, labels, value in samples if labels.get("task_queue") == queue]
            assert of(ours, "minimeter_review_tasks_opened_total") == []
            assert of(ours, "minimeter_jobs_ended_total") == []
    finally:
        await waiting.handle.terminate("test over")


async def test_the_backlog_counts_an_unended_job_and_its_age(resources: Resources) -> None:
    account = (await stored_upload(resources, uuid.uuid4().hex)).account
    # In a transaction rolled back: no dispatcher or reconciler of the session's API ever sees the job.
    async with resources.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            before = await read_backlog(conn)
            job_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO ingestion_jobs (id, customer_id, utility_account_id, job_type, status, workflow_id,"
                " created_at) VALUES ($1, $2, $3, 'upload', 'PENDING', $4, now() - interval '2 hours')",
                job_id,
                account["customer_id"],
                account["id"],
                f"metrics-test-{job_id}",
            )
            after = await read_backlog(conn)
            # Handed to Temporal: PENDING still (no worker ran it), no longer the dispatcher's (an operator's probe:
            # jobs waiting for a worker read as held by the API).
            await conn.execute("UPDATE ingestion_jobs SET dispatched_at = now() WHERE id = $1", job_id)
            dispatched = await read_backlog(conn)
        finally:
            await transaction.rollback()
    assert after.jobs["PENDING"].count == before.jobs["PENDING"].count + 1
    assert after.jobs["PENDING"].oldest_seconds >= 7200
    assert after.undispatched.count == before.undispatched.count + 1 and after.undispatched.oldest_seconds >= 7200
    assert dispatched.jobs["PENDING"].count == after.jobs["PENDING"].count
    assert dispatched.undispatched.count == before.undispatched.count
    assert set(after.jobs) == {"PENDING", "RUNNING", "NEEDS_REVIEW"}
    assert set(after.review_tasks) == {"PENDING", "ESCALATED"}


async def test_a_worker_whose_metrics_address_is_taken_exits_naming_the_setting(
    app_settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {**worker_env(app_settings, queue="metrics-refused", gemini_url="http://127.0.0.1:9")}
        with log.open("wb") as out:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "worker",
                env={**env, "WORKER_METRICS_ADDRESS": address},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            code = await asyncio.wait_for(child.wait(), timeout=90)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
    assert code == 1
    assert f"WORKER_METRICS_ADDRESS={address} cannot be listened on" in log.read_text()


def test_a_metrics_address_must_be_an_ip_and_port() -> None:
    for good in ("0.0.0.0:9464", "127.0.0.1:1", "[::]:9464"):
        assert Settings(worker_metrics_address=good).worker_metrics_address == good
    for bad in ("localhost:9464", "9464", "http://0.0.0.0:9464", "0.0.0.0:99999", "0.0.0.0:9464/metrics"):
        with pytest.raises(ValueError, match="needs an IP address and a port"):
            Settings(worker_metrics_address=bad)


@asynccontextmanager
async def metrics_worker(settings: Settings, *, queue: str, address: str, log: Path) -> AsyncIterator[None]:
    """``python -m worker`` on ``queue``, serving metrics at ``address``; stopped with SIGTERM on the way out."""
    env = {
        **worker_env(settings, queue=queue, gemini_url="http://127.0.0.1:9"),
        "EXTRACTOR": "rules",
        "GEMINI_API_KEY": "",
        "WORKER_GRACEFUL_SHUTDOWN_SECONDS": "1",
        "WORKER_METRICS_ADDRESS": address,
        "WORKER_METRICS_BACKLOG_SECONDS": "0.5",
    }
    with log.open("wb") as out:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        async def serving() -> bool:
            if child.returncode is not None:
                raise AssertionError(f"the worker exited: see {log}")
            try:
                return bool(await scrape(address))
            except httpx.TransportError:
                return False

        await wait_until(serving, within=90, every=0.3, what="the worker's metrics")
        yield
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.wait(), timeout=60)
            except TimeoutError:
                child.kill()
                await child.wait()


def healthcheck(address: str, max_age: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "worker.alive", f"http://{address}/metrics", max_age]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_the_healthcheck_says_a_worker_without_metrics_or_a_tick_is_not_alive() -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    refused = healthcheck(nowhere, "120")
    assert refused.returncode == 1 and f"http://{nowhere}/metrics did not answer" in refused.stderr
    assert tick_age('temporal_num_pollers{poller_type="activity_task"} 5\n', now=100.0) is None
    assert tick_age('minimeter_worker_loop_tick_seconds{service_name="x"} 90.5\n', now=100.0) == 9.5
    # Run every 30 s in each worker's container: the standard library alone.
    loaded = "import sys, worker.alive; print(sorted({'pydantic', 'asyncpg', 'temporalio'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True, check=True).stdout == "[]\n"


async def scrape(address: str) -> Samples:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"http://{address}/metrics")
    answer.raise_for_status()
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    ]


def of(samples: Samples, name: str, **wanted: str) -> list[tuple[dict[str, str], float]]:
    """``name``'s samples whose labels include ``wanted``, with only the labels MiniMeter sets (the SDK's namespace,
    task queue, workflow type and service name left out)."""
    sdk = {"namespace", "task_queue", "workflow_type", "service_name", "activity_type"}
    return [
        ({key: value for key, value in labels.items() if key not in sdk}, value)
        for sample, labels, value in samples
        if sample == name and all(labels.get(key) == value_ for key, value_ in wanted.items())
    ]
