"""publish_analytics heartbeats while its batch is held, so a worker killed mid-publish loses the
attempt at the heartbeat timeout (30 s), not the 2-minute start-to-close, and the next worker
publishes the bill."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from shared.models import JobStatus
from shared.settings import Settings
from tests.durability.conftest import (
    attempts_by_activity,
    history_events,
    job_row,
    stored_upload,
)
from tests.durability.held_publish_worker import HOLDING, READY
from tests.helpers import spawn_entry_point, until_logged, wait_until, worker_env
from worker.main import build_worker
from worker.resources import Resources
from workflows import policies


def publish_scheduled(events: Sequence[HistoryEvent]) -> HistoryEvent:
    return next(
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "publish_analytics"
    )


def publish_lost_to(events: Sequence[HistoryEvent]) -> TimeoutType.ValueType:
    """How the attempt before the one that published ended (retries keep it on the started event)."""
    scheduled = publish_scheduled(events).event_id
    started = next(
        e.activity_task_started_event_attributes
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id == scheduled
    )
    return started.last_failure.timeout_failure_info.timeout_type


async def test_a_worker_killed_mid_publish_loses_it_at_the_heartbeat_timeout(
    client: Client, resources: Resources, app_settings: Settings, queue: str, unique: str, tmp_path: Path
) -> None:
    # A text bill already stored, as an upload leaves it: what is under test is its publish, not a PDF's parse.
    stored = await stored_upload(resources, unique, total="60.00")
    # Analytics on in this child (its rollup schedule is never touched: it runs no ``run_worker``).
    env = {
        **worker_env(app_settings, queue=queue, gemini_url="http://127.0.0.1:9"),
        "ANALYTICS": "bigquery",
        "EXTRACTOR": "rules",
    }
    log = tmp_path / "held-worker.log"
    child = await asyncio.to_thread(spawn_entry_point, "tests.durability.held_publish_worker", env, log)
    try:
        await until_logged(log, READY, child, within=60)
        job = await stored.start(client=client, settings=app_settings, queue=queue)
        # Generous: the whole pipeline runs in the fresh child before its publish is held.
        await until_logged(log, HOLDING, child, within=150)
        assert _held_batches(log) == [1]

        async def publish_heartbeat_recorded() -> bool:
            assert child.poll() is None, f"the held worker exited ({child.returncode}): {log}"
            pending = (await job.handle.describe()).raw_description.pending_activities
            return any(
                p.activity_type.name == "publish_analytics" and p.HasField("last_heartbeat_time") for p in pending
            )

        # Bounded: the held publish heartbeats every 5 s.
        await wait_until(publish_heartbeat_recorded, within=30, what="a publish_analytics heartbeat")
        scheduled = publish_scheduled(await history_events(job.handle)).activity_task_scheduled_event_attributes
        assert scheduled.heartbeat_timeout.ToTimedelta() == policies.ANALYTICS.heartbeat
        child.kill()  # SIGKILL: a worker lost mid-publish
        await asyncio.to_thread(child.wait)
    finally:
        if child.poll() is None:
            child.kill()
            await asyncio.to_thread(child.wait)

    async with build_worker(client, resources, app_settings, task_queue=queue):
        # Generous: the retry comes 30 s after the last heartbeat (it would come at 120 s without one).
        result = await asyncio.wait_for(job.handle.result(), timeout=150)

    assert result.status == JobStatus.SUCCEEDED, result
    events = await history_events(job.handle)
    assert attempts_by_activity(events)["publish_analytics"] == 2
    lost_to = publish_lost_to(events)
    assert lost_to == TimeoutType.TIMEOUT_TYPE_HEARTBEAT, TimeoutType.Name(lost_to)
    assert (await job_row(resources.pool, job.id))["status"] == JobStatus.SUCCEEDED


def _held_batches(log: Path) -> list[int]:
    """The size of each batch the held worker started writing."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line["bills"] for line in lines if line.get("message") == HOLDING]
