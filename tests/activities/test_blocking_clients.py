"""The async activities' blocking calls (asyncio.to_thread) get as many threads as activities run at once."""

from __future__ import annotations

import asyncio
import threading

from shared.settings import Settings
from worker.resources import Resources


async def test_blocking_clients_get_a_thread_per_concurrent_activity(
    resources: Resources, app_settings: Settings
) -> None:
    """store_raw_bill, fetch_bill and the warehouse writer call their clients with asyncio.to_thread, which
    runs on the loop's default pool (6 threads on two cores unless the worker sizes it): every call here
    must be running at once for any of them to get past the barrier."""
    assert resources.pool is not None  # the worker's resources are open on this loop
    parties = app_settings.worker_activity_threads
    barrier = threading.Barrier(parties, timeout=10)
    arrived = await asyncio.gather(*(asyncio.to_thread(barrier.wait) for _ in range(parties)))
    assert sorted(arrived) == list(range(parties))
