"""The SDK core's own warnings reach Python logging (and so the JSON log lines), not raw stderr."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.worker import Worker

from shared.logs import JsonFormatter
from shared.settings import Settings
from shared.temporal import CORE_LOGGER, connect_client
from tests.helpers import start_dev_server


@activity.defn
def idle() -> None:
    """Never called: the worker only needs something to poll for."""


async def test_a_worker_whose_server_went_away_logs_its_retries_through_python_logging(
    settings: Settings, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    async with await start_dev_server(log_file=tmp_path / "temporal.log") as server:  # stopped however it ends
        client = await connect_client(
            settings.model_copy(update={"temporal_address": server.client.service_client.config.target_host})
        )
        caplog.set_level(logging.WARNING, logger=CORE_LOGGER)
        with ThreadPoolExecutor(1) as threads:
            worker = Worker(client, task_queue="core-logs", activities=[idle], activity_executor=threads)
            running = asyncio.create_task(worker.run())
            await asyncio.sleep(1.5)  # polling by now
            await server.shutdown()  # every poll fails from here on, and the core retries it
            for _ in range(300):
                if any(r.name == CORE_LOGGER for r in caplog.records):
                    break
                await asyncio.sleep(0.1)
            running.cancel()
            with contextlib.suppress(BaseException):  # a worker cut off from its server ends in error
                await running
    retried = [r for r in caplog.records if r.name == CORE_LOGGER]
    assert retried, "the core's retry warnings never reached the temporalio.core logger"
    assert "retried" in retried[0].getMessage() and retried[0].levelno == logging.WARNING
    line = json.loads(JsonFormatter().format(retried[0]))  # as the worker's log shows it
    assert line["logger"] == CORE_LOGGER and "retried" in line["message"]
    assert "temporal_log" not in line, "the core's own record object is no field for a log pipeline"
