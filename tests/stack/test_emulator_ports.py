"""An emulator whose port was taken before it could bind: a first start moves, a restart does not."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stack.emulators import BigQueryEmulator, GcsEmulator
from stack.services import StackError, free_port


@contextmanager
def holding(port: int) -> Iterator[None]:
    """Another process's listener on ``port``, as in the race with ``free_port()``."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may linger in TIME_WAIT
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield


def test_a_first_start_moves_to_a_free_port(tmp_path: Path) -> None:
    emulator = GcsEmulator(data_dir=tmp_path / "gcs")
    taken = emulator.port
    with holding(taken), emulator:
        assert emulator.port != taken
        assert emulator.running


def test_a_restart_keeps_its_address_or_fails(tmp_path: Path) -> None:
    emulator = GcsEmulator(data_dir=tmp_path / "gcs")
    with emulator:
        port = emulator.port
    with holding(port), pytest.raises(RuntimeError, match="exited during startup"):
        emulator.start()
    assert emulator.port == port


def test_a_port_the_caller_chose_is_never_moved(tmp_path: Path) -> None:
    """make run's 9023 taken (an emulator left by a killed run): refused by name, not served elsewhere
    while the README, the tools and that stray emulator all point at 9023."""
    port = free_port()
    emulator = GcsEmulator(data_dir=tmp_path / "gcs", port=port)
    with holding(port), pytest.raises(StackError, match=f"127.0.0.1:{port} is already in use"):
        emulator.start()
    assert (emulator.port, emulator.running) == (port, False)


def test_the_bigquery_emulator_starts_without_reaching_for_the_network(tmp_path: Path) -> None:
    """bqemulator downloads DuckDB's Avro extension at start unless told not to; MiniMeter loads no Avro."""
    with BigQueryEmulator(data_dir=tmp_path / "bq", ephemeral=True) as emulator:
        assert emulator.running
    log = emulator.log_file.read_text()
    assert "avro" not in log, log[-2000:]
