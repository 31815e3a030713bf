"""A worker whose warehouse never answers, configured by its environment like ``python -m worker``.

``test_publish_heartbeats`` runs it as a child process and kills it mid-publish: a lost worker."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Sequence
from typing import Any

from shared.analytics import AnalyticsBill, AnalyticsSink
from shared.logs import configure_logging
from shared.settings import Settings
from shared.temporal import connect_client
from worker.main import build_worker
from worker.resources import open_resources

READY = "held publish worker ready"
HOLDING = "holding a batch"
"""Logged (with its number of ``bills``) when a batch write starts, never to end."""

logger = logging.getLogger(__name__)


class NeverAnswers:
    """The real sink, but a batch write waits forever (until the process is killed)."""

    def __init__(self, sink: AnalyticsSink) -> None:
        self._sink = sink

    def publish_bills(self, rows: Sequence[AnalyticsBill]) -> dict[str, str]:
        logger.info(HOLDING, extra={"bills": len(rows)})
        threading.Event().wait()
        raise AssertionError("unreachable")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sink, name)


async def run() -> None:
    settings = Settings()
    client = await connect_client(settings)
    resources = await open_resources(settings)
    assert resources.sink is not None, "the child needs ANALYTICS on"
    held = dataclasses.replace(resources, sink=NeverAnswers(resources.sink))
    async with build_worker(client, held, settings):
        logger.info(READY)
        await asyncio.Event().wait()


if __name__ == "__main__":
    configure_logging(Settings())
    asyncio.run(run())
