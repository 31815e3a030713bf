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


class FailsThrice(SaysWhenIdle):
    """A dispatcher whose first three rounds fail as they do while Postgres is down."""

    failures = 0

    async def dispatch_once(self) -> tuple[int, bool]:
        if self.failures < 3:
            self.failures += 1
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        return await super().dispatch_once()


async def test_a_dispatcher_failing_round_after_round_logs_one_traceback_and_its_recovery(
    own_db: asyncpg.Pool, client: Client, app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """During a Postgres outage it logged a traceback each second (61 over two short outages, an operator's probe,
    69C), burying whatever else the API logged: now the streak's first, and that it works again."""
    dispatcher = FailsThrice(own_db, client, idle_queue(app_settings))
    with caplog.at_level(logging.INFO, logger="api.services.background"):
        dispatcher.start()
        try:
            async with asyncio.timeout(30):
                await dispatcher.round_over.wait()
        finally:
            await dispatcher.stop()
    said = [(r.getMessage(), r.exc_info is not None) for r in caplog.records if "job dispatch" in r.getMessage()]
    assert said == [("job dispatch failed; retrying", True), ("job dispatch works again", False)], said
    (recovered,) = [r for r in caplog.records if r.getMessage() == "job dispatch works again"]
    assert recovered.__dict__["failures"] == 3
