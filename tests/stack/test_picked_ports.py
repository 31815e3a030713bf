"""A port picked free can be taken before its service binds it: a first start moves, a restart does not.

CI lost a chaos run to this: the dev server exited 1 ("bind: address already in use") on the
port ``free_port()`` had picked for it while the emulators and Postgres started."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest
from temporalio.converter import DataConverter

from stack import services
from stack.local import LocalStack, StackOptions
from stack.services import (
    PORT_ATTEMPTS,
    PortTaken,
    StackError,
    port_in_use,
    start_moving_if_taken,
    wait_for_port,
)
from tests.helpers import start_dev_server


@contextmanager
def bound(port: int) -> Iterator[None]:
    """Another socket bound to ``port`` but not listening: ``ensure_port_free`` finds it free, the
    service's own bind fails, as when the race is lost between the check and the bind."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        yield


@contextmanager
def listening(port: int) -> Iterator[None]:
    """Another server already listening on ``port`` when the service starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield


@pytest.fixture()
def temporal_only(tmp_path: Path) -> Iterator[LocalStack]:
    local = LocalStack(StackOptions(data_dir=tmp_path, temporal_port=None, ui_port=None, reuse_services=False))
    try:
        yield local
    finally:
        local.close()


def test_a_first_dev_server_start_moves_off_a_taken_port(temporal_only: LocalStack) -> None:
    taken = temporal_only.temporal_port
    with bound(taken):
        temporal_only.start_temporal()
        assert temporal_only.temporal_port != taken
        assert port_in_use("127.0.0.1", temporal_only.temporal_port)
    assert "address already in use" in (temporal_only.logs / "temporal.log").read_text()


@pytest.mark.parametrize("taken_by", [bound, listening])
async def test_the_suites_dev_server_moves_off_the_port_it_picked_when_another_process_took_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken_by: Callable[[int], AbstractContextManager[None]]
) -> None:
    """The SDK's ``start_local`` lost the session's dev server to this race, and with it every test needing it."""
    pick = services.free_port
    taken = pick()
    picks = iter([taken])
    monkeypatch.setattr(services, "free_port", lambda: next(picks, None) or pick())
    with taken_by(taken):
        env = await start_dev_server(log_file=tmp_path / "temporal.log", data_converter=DataConverter.default)
        try:
            assert env.client.service_client.config.target_host != f"127.0.0.1:{taken}"
            assert (await env.client.count_workflows()).count == 0  # a server that answers, not a listener
        finally:
            await env.shutdown()
    assert env.server.returncode is not None
    if taken_by is bound:  # the race itself: free when checked, taken when the server bound it
        assert "address already in use" in (tmp_path / "temporal.log").read_text()


def test_a_dev_server_restart_keeps_its_address_or_fails(temporal_only: LocalStack) -> None:
    """The worker and the API know the address: the chaos run's Temporal restart must come back there."""
    temporal_only.start_temporal()
    port = temporal_only.temporal_port
    temporal_only.stop_temporal()
    with bound(port), pytest.raises(StackError, match=f"127.0.0.1:{port} exited"):
        temporal_only.start_temporal()
    assert temporal_only.temporal_port == port


def test_a_chosen_dev_server_port_is_never_moved(tmp_path: Path) -> None:
    """``make run``'s 7233 is the one the README, the CLI and the worker name."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        port = other.getsockname()[1]
        local = LocalStack(StackOptions(data_dir=tmp_path, temporal_port=port, ui_port=None, reuse_services=False))
        try:
            with pytest.raises(StackError, match=f"127.0.0.1:{port} exited"):
                local.start_temporal()
        finally:
            local.close()
    assert local.temporal_port == port


async def test_a_first_api_start_moves_off_a_taken_port(stack: LocalStack) -> None:
    taken = stack.api_port
    with bound(taken):
        stack.start_api()
        assert stack.api_port != taken
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        assert (await client.get("/openapi.json")).status_code == 200


def failing_on_a_port_of_its_own(log: Path, failures: int) -> tuple[list[int], Callable[[], None]]:
    """A server whose first ``failures`` starts die on a port it picked itself, as the dev server's internal ones."""
    calls: list[int] = []

    def start() -> None:
        calls.append(1)
        if len(calls) <= failures:
            with open(log, "ab") as out:
                out.write(b"listen tcp 127.0.0.1:41234: bind: address already in use\n")
            raise StackError("the process meant to listen on 127.0.0.1:7233 exited (1)")

    return calls, start


def test_a_start_that_must_keep_its_ports_is_tried_again_when_one_of_the_servers_own_was_taken(
    tmp_path: Path,
) -> None:
    """A restart (the chaos run's) or ``make run``'s 7233 failed for good on one of the seven ports the
    dev server picks for its internal services, none of which anyone else had asked for."""
    log = tmp_path / "temporal.log"
    calls, start = failing_on_a_port_of_its_own(log, failures=1)
    start_moving_if_taken(start, move=None, log=log, what="the Temporal dev server")
    assert len(calls) == 2


def test_a_start_that_keeps_failing_on_a_taken_port_gives_up(tmp_path: Path) -> None:
    log = tmp_path / "temporal.log"
    calls, start = failing_on_a_port_of_its_own(log, failures=PORT_ATTEMPTS)
    with pytest.raises(StackError, match="exited"):
        start_moving_if_taken(start, move=None, log=log, what="the Temporal dev server")
    assert len(calls) == PORT_ATTEMPTS


def test_a_chosen_port_someone_listens_on_is_refused_at_once(tmp_path: Path) -> None:
    calls: list[int] = []

    def start() -> None:
        calls.append(1)
        raise PortTaken("127.0.0.1:7233 is already in use by pid 1 (temporal server start-dev)")

    with pytest.raises(PortTaken):
        start_moving_if_taken(start, move=None, log=tmp_path / "temporal.log", what="the Temporal dev server")
    assert len(calls) == 1


def test_a_listener_that_is_not_the_process_started_is_not_taken_for_it() -> None:
    """Another process listening on the port while ours imports passed for ours: the stack went on,
    and ours then exited on "address already in use" with nothing to move it."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        starting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            with pytest.raises(TimeoutError):
                wait_for_port("127.0.0.1", port, timeout=1, process=starting)
        finally:
            starting.kill()
            starting.wait()


def test_the_process_started_is_recognised_as_the_listener() -> None:
    program = "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
    program += "print(s.getsockname()[1], flush=True); time.sleep(30)"
    listening = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE)
    try:
        assert listening.stdout is not None
        port = int(listening.stdout.readline())
        wait_for_port("127.0.0.1", port, timeout=10, process=listening)
    finally:
        listening.kill()
        listening.wait()


def test_a_picked_port_is_outside_the_range_clients_connect_from() -> None:
    """``bind(0)`` picks an ephemeral port: another process's connection could take it before the service bound
    it, and a worker connecting to it before Temporal listened could be given it as its own source port (a TCP
    self-connect)."""
    low, high = (int(part) for part in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    picked = [services.free_port() for _ in range(200)]

    assert [port for port in picked if low <= port <= high] == []
    for port in picked[:20]:  # free when picked
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_ports_are_picked_apart_from_a_seeded_random() -> None:
    """Hypothesis, or a plugin seeding ``random`` per test, seeds every xdist worker alike: drawn from ``random``,
    two workers picked the same ports in the same order, and each start lost its race to the other."""
    random.seed(7)
    first = [services.free_port() for _ in range(5)]
    random.seed(7)
    second = [services.free_port() for _ in range(5)]

    assert first != second


def test_where_the_ephemeral_range_leaves_no_room_the_kernels_pick_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = tmp_path / "ip_local_port_range"
    everything.write_text("1024\t65535\n")
    monkeypatch.setattr(services, "EPHEMERAL_RANGE_FILE", everything)

    port = services.free_port()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
