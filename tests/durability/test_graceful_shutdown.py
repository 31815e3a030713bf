"""SIGTERM to ``python -m worker`` lets the in-flight activity finish, exits 0, and the job goes on
with the next worker."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from pydantic import SecretStr
from temporalio.client import Client

from eval.generate import sample_bill
from shared.bill import Provider
from shared.models import JobStatus
from shared.settings import ExtractorMode, Settings
from tests.durability.conftest import (
    attempts_by_activity,
    create_account,
    history_events,
    job_row,
    start_on_queue,
)
from tests.fakes.gemini import FakeGemini, bill_response, wire_from_bill
from tests.helpers import wait_until, worker_env
from worker.main import build_worker
from worker.resources import Resources

GEMINI_DELAY = 6.0


async def test_sigterm_finishes_the_running_activity_then_the_next_worker_continues(
    client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str, tmp_path: Path
) -> None:
    number = f"TERM-{unique}"
    account = await create_account(resources.pool, provider=Provider.CONED, account_number=number)
    job_id = str(uuid.uuid4())
    _, _, bill = sample_bill(Provider.CONED, seed=job_id, account_number=number)

    with FakeGemini() as gemini:
        gemini.push(200, bill_response(wire_from_bill(bill)), delay=GEMINI_DELAY)
        job = await start_on_queue(
            pool=resources.pool, client=client, settings=app_settings, queue=queue, account=account, job_id=job_id
        )
        with (tmp_path / "worker.log").open("wb") as log:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "worker",
                env=worker_env(app_settings, queue=queue, gemini_url=gemini.url),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:

                async def extraction_in_flight() -> bool:
                    return gemini.request_count == 1

                await wait_until(extraction_in_flight, within=60, what="the child worker calling Gemini")
                asked_at = time.monotonic()
                child.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(child.wait(), timeout=45)
                exited_after = time.monotonic() - asked_at
            finally:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
        output = (tmp_path / "worker.log").read_text()
        assert code == 0, output[-3000:]
        assert exited_after >= GEMINI_DELAY - 1.5, f"exited {exited_after:.1f}s after SIGTERM: did not wait"
        assert "worker shutting down gracefully" in output and "worker stopped" in output

        settings = app_settings.model_copy(
            update={
                "extractor": ExtractorMode.GEMINI,
                "gemini_api_key": SecretStr("fake"),
                "gemini_base_url": gemini.url,
            }
        )
        async with build_worker(client, resources, settings, task_queue=queue):
            result = await asyncio.wait_for(job.handle.result(), timeout=30)

    assert result.status == JobStatus.SUCCEEDED, result
    attempts = attempts_by_activity(await history_events(job.handle))
    assert attempts["extract_bill"] == 1, attempts  # finished by the stopping worker, not retried
    assert gemini.request_count == 1
    assert (await job_row(resources.pool, job.id))["status"] == JobStatus.SUCCEEDED
