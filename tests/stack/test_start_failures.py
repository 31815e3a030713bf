"""When a piece of ``make run`` cannot start, the one error line says which port, which process, which log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.local import LocalStack, StackOptions
from stack.services import StackError, free_port, port_in_use, start_temporal_dev_server


@pytest.fixture()
def taken_port() -> Iterator[int]:
    """A port this test process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_taken_web_ui_port_is_named_and_nothing_starts(taken_port: int, tmp_path: Path) -> None:
    """The dev server exited at once, and the error named its frontend port, which was free."""
    frontend = free_port()
    with pytest.raises(StackError, match=f"127.0.0.1:{taken_port} is already in use.*the Temporal Web UI"):
        start_temporal_dev_server(db_file=None, port=frontend, ui_port=taken_port, log_file=tmp_path / "t.log")
    assert not port_in_use("127.0.0.1", frontend)


def test_a_taken_port_names_the_process_holding_it(taken_port: int, tmp_path: Path) -> None:
    """After a ``make run`` killed outright, its orphans hold the ports: say which one to stop."""
    stack = LocalStack(StackOptions(data_dir=tmp_path, api_port=taken_port))
    with pytest.raises(StackError, match=f"already in use by pid {os.getpid()} ") as refused:
        stack.start_api()
    assert "the API cannot listen there" in str(refused.value)


def test_an_api_that_exits_at_start_names_its_log(tmp_path: Path) -> None:
    """``make run`` prints where the logs are once everything has started: an API dead at birth came first."""
    stack = LocalStack(StackOptions(data_dir=tmp_path, api_port=None, env={"API_PROCESSES": "0"}))
    try:
        with pytest.raises(StackError, match="exited") as refused:
            stack.start_api()
    finally:
        stack.close()
    log = tmp_path / "logs" / "api.log"
    assert str(refused.value).endswith(f"; see {log}")
    assert "refused configuration: API_PROCESSES" in log.read_text()


def test_the_api_is_awaited_and_linked_where_api_host_binds_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """It was awaited on 127.0.0.1 whatever API_HOST said: bound to another address, ``make run`` gave up."""
    port = free_port()
    stack = LocalStack(StackOptions(data_dir=tmp_path, api_port=port, env={"API_HOST": "127.0.0.2"}))
    listens = "import os, socket, time; s = socket.socket(); s.bind((os.environ['API_HOST'], {port})); s.listen(); "
    stand_in = [sys.executable, "-c", listens.format(port=port) + "time.sleep(60)"]  # the API's socket, no more
    monkeypatch.setattr(stack, "_spawn", lambda *args: subprocess.Popen(stand_in, env=stack.env))
    try:
        stack.start_api()
        assert stack.api_url == f"http://127.0.0.2:{port}"
    finally:
        stack.close()
