"""A bucket or warehouse schema that does not answer at start: the start goes on, the call is tried again."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
from pathlib import Path

import pytest
from google.api_core.exceptions import Forbidden

from shared.ensured import ensure_or_continue
from stack.services import free_port
from tests.helpers import entry_point_env, entry_point_running, start_dev_server, until_logged


class Flaky:
    """A call that is refused a connection ``failures`` times, then succeeds."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionRefusedError(111, "Connection refused")


async def test_a_call_that_succeeds_in_time_leaves_nothing_running() -> None:
    call = Flaky(0)
    assert await ensure_or_continue("the store", call, within=5, meanwhile="-") is None
    assert call.calls == 1


async def test_an_unreachable_service_lets_the_start_go_on_and_is_tried_until_it_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    call = Flaky(2)
    with caplog.at_level(logging.INFO, logger="shared.ensured"):
        task = await ensure_or_continue("the warehouse", call, within=5, meanwhile="bills wait", retry_every=0.05)
        assert task is not None and call.calls == 1, "the start went on after the first refusal"
        await asyncio.wait_for(task, 10)
    assert call.calls == 3
    messages = [record.getMessage() for record in caplog.records]
    assert any("the warehouse is not answering: starting without it" in m and "bills wait" in m for m in messages)
    assert messages[-1] == "the warehouse answered: ready"


async def test_a_call_that_hangs_past_the_wait_lets_the_start_go_on_saying_it_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """BigQuery's client retries an unanswered call for ten minutes: the start waited that long, saying nothing."""
    answered = threading.Event()

    def hangs() -> None:
        answered.wait(30)

    with caplog.at_level(logging.INFO, logger="shared.ensured"):
        started = asyncio.get_running_loop().time()
        task = await ensure_or_continue("the warehouse", hangs, within=0.3, meanwhile="bills wait")
        assert asyncio.get_running_loop().time() - started < 5
        assert task is not None and not task.done()
        answered.set()
        await asyncio.wait_for(task, 10)
    assert "the warehouse answered: ready" in [record.getMessage() for record in caplog.records]


async def test_a_refusal_of_our_credentials_stops_the_start() -> None:
    def refused() -> None:
        raise Forbidden("Access Denied: the service account lacks bigquery.datasets.create")

    with pytest.raises(Forbidden):
        await ensure_or_continue("the warehouse", refused, within=5, meanwhile="-")


async def test_a_refusal_met_in_the_background_is_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    def unreachable_then_refused() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionResetError(104, "Connection reset by peer")
        raise Forbidden("Access Denied")

    task = await ensure_or_continue("the warehouse", unreachable_then_refused, within=5, meanwhile="-", retry_every=0)
    assert task is not None
    await asyncio.wait_for(task, 10)
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert errors == ["the warehouse refused us: fix its configuration and restart"]


async def test_a_worker_starts_while_bigquery_is_not_answering(pg_url: str, payload_keys: str, tmp_path: Path) -> None:
    """A worker started during a warehouse outage said nothing for ten minutes, polled nothing, then exited: every
    job's fetch, extraction, review and persist stopped with it, though only publishing needs BigQuery."""
    temporal_port = free_port()
    log = tmp_path / "worker.log"
    async with await start_dev_server(log_file=tmp_path / "temporal.log", port=temporal_port):
        env = entry_point_env(
            ENV="test",
            TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
            TEMPORAL_TASK_QUEUE=f"bq-down-{temporal_port}",
            DATABASE_URL=pg_url,
            PAYLOAD_KEYS=payload_keys,
            DATA_DIR=str(tmp_path / "data"),
            ARTIFACT_STORE="local",
            ANALYTICS="bigquery",
            BIGQUERY_EMULATOR_HOST=f"http://127.0.0.1:{free_port()}",  # nothing listens there
            STARTUP_WAIT_SECONDS="2",
            LOG_FORMAT="json",
        )
        async with entry_point_running("worker", env, log) as worker:
            await until_logged(log, "worker started", worker, within=60)
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(worker.wait, 60) == 0
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    messages = [record["message"] for record in records]
    outage = next(m for m in messages if m.startswith("the analytics warehouse is not answering"))
    assert messages.index(outage) < messages.index("worker started")
