"""``make run``'s demo ends with a rollup, which must not outwait a worker that died meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError

import stack.demo
from shared.settings import Settings


async def test_the_demos_rollup_gives_up_when_no_worker_runs_it(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waited for without a limit, ``make run`` hung there, never naming the worker that had exited."""
    monkeypatch.setattr(stack.demo, "DEMO_ROLLUP_TIMEOUT", timedelta(seconds=1))
    nobody_polls = app_settings.model_copy(update={"temporal_task_queue": f"no-worker-{uuid.uuid4().hex[:8]}"})
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(stack.demo._refresh_rollup(nobody_polls), timeout=60)
