"""``bench.api_alone --floor`` serves ``bench.floor_app`` on the API's picked port, started as the API is."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from bench.harness import BenchStack
from tests.stack.test_picked_ports import bound


def test_the_floor_api_moves_off_a_picked_port_taken_before_it_binds(tmp_path: Path) -> None:
    """Spawned on the port and merely waited for, it died on the bind and the wait ran out a minute
    later (or found another process's listener there, and measured that)."""
    bench = BenchStack(tmp_path, run_id=uuid.uuid4().hex[:8], env={}, temporal_in_memory=True)
    try:
        bench.start_services()
        taken = bench.local.api_port
        with bound(taken):
            bench.start_floor_api()
            assert bench.local.api_port != taken
        answer = httpx.post(f"{bench.api_url}/jobs", json={"utility_account_id": 1}, headers={"Authorization": "x"})
        assert answer.status_code == 401, "the floor app answers there"
    finally:
        bench.close()
