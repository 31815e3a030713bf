"""The stack's logs stay bounded: ``make run`` left running for weeks filled the disk with them."""

from __future__ import annotations

import time
from pathlib import Path

from stack.local import LocalStack, StackOptions
from stack.log_rotation import LogLimit, backup, rotate_if_full
from stack.services import log_says_port_taken


def rotated(log: Path, *, within: float = 30) -> bool:
    """Whether ``log`` was copied aside and emptied: only then does a child's next line land in it (it is
    created before the copy, so waiting for the copy alone let a line fall between copy and truncation)."""
    deadline = time.monotonic() + within
    done = lambda: backup(log, 1).exists() and log.stat().st_size == 0  # noqa: E731
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    return done()


def test_a_full_log_is_copied_aside_and_its_writer_goes_on_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "worker-0.log"
    with open(log, "ab") as child:  # as a child's stdout is opened: for appending
        child.write(b"x" * 2000)
        child.flush()
        assert rotate_if_full(log, LogLimit(max_bytes=1000, backups=2))
        child.write(b"after\n")
        child.flush()
    assert backup(log, 1).read_bytes() == b"x" * 2000
    assert log.read_bytes() == b"after\n", "no hole of zeros where the old lines were"


def test_a_log_under_its_limit_is_left_alone(tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    log.write_bytes(b"x" * 999)
    assert not rotate_if_full(log, LogLimit(max_bytes=1000, backups=2))
    assert log.read_bytes() == b"x" * 999
    assert not backup(log, 1).exists()


def test_only_the_newest_copies_are_kept(tmp_path: Path) -> None:
    log, limit = tmp_path / "api.log", LogLimit(max_bytes=5, backups=2)
    for generation in (b"first", b"second", b"third"):
        log.write_bytes(generation)
        rotate_if_full(log, limit)
    assert backup(log, 1).read_bytes() == b"third"
    assert backup(log, 2).read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.log", "api.log.1", "api.log.2"]


def test_a_running_stacks_logs_are_rotated_without_being_asked(tmp_path: Path) -> None:
    stack = LocalStack(StackOptions(data_dir=tmp_path, log_limit=LogLimit(max_bytes=1000, backups=1, check_every=0.05)))
    log = stack.logs / "worker-0.log"
    try:
        with open(log, "ab") as child:
            child.write(b"x" * 1500)
            child.flush()
            assert rotated(log)
            child.write(b"after\n")
    finally:
        stack.close()
    assert backup(log, 1).read_bytes() == b"x" * 1500
    assert log.read_bytes() == b"after\n"


def test_the_embedded_postgres_log_is_rotated_too(stack: LocalStack, tmp_path: Path) -> None:
    assert tmp_path / "postgres" / "log" in stack.log_files()
    assert stack.logs / "temporal.log" in stack.log_files()


def test_a_port_taken_is_read_in_a_log_rotated_since(tmp_path: Path) -> None:
    """``start_moving_if_taken`` reads the log from where it ended before the start: after a rotation
    that offset is past the end, and the bind failure was missed."""
    log = tmp_path / "temporal.log"
    log.write_bytes(b"x" * 100)
    since = log.stat().st_size
    log.write_bytes(b"listen tcp 127.0.0.1:7233: bind: address already in use\n")
    assert log_says_port_taken(log, since)


def test_a_log_far_over_its_limit_keeps_only_its_tail(tmp_path: Path) -> None:
    """A log from weeks before rotation was copied whole: as much free disk again, on a disk already full."""
    log, limit = tmp_path / "api.log", LogLimit(max_bytes=100, backups=1)
    log.write_bytes(b"".join(f"line {n:04}\n".encode() for n in range(1000)))  # 10,000 bytes
    assert rotate_if_full(log, limit)
    kept = backup(log, 1).read_bytes()
    assert len(kept) < 300
    assert kept.startswith(b"[rotation: the first ") and kept.endswith(b"line 0999\n")
    assert all(line.startswith(b"line ") for line in kept.splitlines()[1:])
    assert log.read_bytes() == b""
