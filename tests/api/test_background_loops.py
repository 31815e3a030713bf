"""The API's background loops end when it stops, even when a cancellation is lost on the way."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest
from temporalio.client import Client

from api.services.background import BackgroundLoop
from api.services.dispatch import JobDispatcher
from shared.settings import Settings
from tests.api.idle_jobs import idle_queue

STILL_RUNNING = "background loop still running after it was cancelled; cancelling it again"


class LosesItsFirstCancellation(BackgroundLoop):
    """A loop a cancellation misses once, as CPython 3.11's ``wait_for`` misses one landing with its result."""

    name = "stubborn"
    stop_patience_seconds = 0.2
    cancellations = 0

    async def _run(self) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancellations += 1
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.cancellations += 1
                raise


async def test_a_loop_that_lost_its_cancellation_is_cancelled_again(caplog: pytest.LogCaptureFixture) -> None:
    loop = LosesItsFirstCancellation()
    loop.start()
    await asyncio.sleep(0)

    with caplog.at_level(logging.WARNING, logger="api.services.background"):
        async with asyncio.timeout(30):  # it waited for ever
            await loop.stop()

    assert loop.cancellations == 2
    [warning] = [r for r in caplog.records if r.getMessage() == STILL_RUNNING]
    assert warning.loop == "stubborn"  # type: ignore[attr-defined]
    assert "in _run" in warning.waiting_in  # type: ignore[attr-defined]


class SaysWhenIdle(JobDispatcher):
    """The real dispatcher, saying when a round is over (it then waits for a wake-up, with no await between)."""

    def __init__(self, pool: asyncpg.Pool, client: Client, settings: Settings) -> None:
        super().__init__(pool, client, settings)
        self.round_over = asyncio.Event()

    async def dispatch_once(self) -> tuple[int, bool]:
        outcome = await super().dispatch_once()
        self.round_over.set()
        return outcome


async def test_a_job_accepted_as_the_api_stops_does_not_keep_the_dispatcher_running(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A wake-up landing with the stop's cancellation: ``wait_for`` returned the wake-up and dropped the
    cancellation, and the dispatcher went on with its rounds."""
    dispatcher = SaysWhenIdle(own_db, client, idle_queue(app_settings))
    dispatcher.stop_patience_seconds = 3.0
    dispatcher.start()
    await dispatcher.round_over.wait()
    await asyncio.sleep(0)  # into its wait for a wake-up

    with caplog.at_level(logging.WARNING, logger="api.services.background"):
        dispatcher.wake()
        async with asyncio.timeout(30):
            await dispatcher.stop()

    assert [r for r in caplog.records if r.getMessage() == STILL_RUNNING] == []
