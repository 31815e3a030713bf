"""A cancelled extraction ends within a second of its cancel, not at its next heartbeat."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.exceptions import CancelledError
from temporalio.testing import ActivityEnvironment

from activities import extraction as extraction_activities
from activities.extraction import ExtractionActivities
from shared.artifacts import LocalArtifactStore
from shared.settings import Settings


def test_a_cancel_no_heartbeat_brought_ends_the_wait_before_the_next_beat(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker shutting down cancels its activities locally and gives them 5 s (worker.main's margin): the
    wait saw the cancel only as it heartbeat, every 5 s, so an extraction could be cut off as "still running".
    Beats far apart here: a beat before the activity ended means it waited for one to see the cancel."""
    monkeypatch.setattr(extraction_activities, "HEARTBEAT_SECONDS", 30.0)
    activities = ExtractionActivities(LocalArtifactStore(tmp_path / "artifacts"), settings)
    released = threading.Event()
    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)

    def call_cancelled_as_it_runs() -> None:
        env.cancel()  # as the worker's shutdown does, from outside the activity's thread
        released.wait()

    @activity.defn(no_thread_cancel_exception=True)  # only the wait can notice the cancellation
    def run_call() -> None:
        activities._with_heartbeats(call_cancelled_as_it_runs)

    try:
        with pytest.raises(CancelledError):
            env.run(run_call)
    finally:
        released.set()
    assert beats == []
