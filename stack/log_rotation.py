"""Bounded log files for the local stack's children (``make run`` left running for weeks).

Each child writes its output straight into a file opened for appending (``O_APPEND``), so
it never depends on the parent to carry its lines. Such a file can be rotated the way
logrotate's ``copytruncate`` does it: copy it to ``name.1`` (older copies shift up, the
oldest is dropped), then truncate it to nothing; the child's next write lands at the new
end, offset 0. A line written between the copy and the truncation is lost: the price of
not restarting a child to rotate its log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogLimit:
    max_bytes: int = 10 * 1024 * 1024
    """A log is rotated once it reaches this size."""
    backups: int = 5
    """Rotated copies kept beside it (``temporal.log.1`` the newest); the oldest beyond them is deleted."""
    check_every: float = 5.0
    """Seconds between checks: a log can overshoot ``max_bytes`` by what its child writes meanwhile."""


def backup(log: Path, number: int) -> Path:
    return log.with_name(f"{log.name}.{number}")


def rotate_if_full(log: Path, limit: LogLimit) -> bool:
    """Rotate ``log`` (copy, then truncate in place) when it has reached ``limit.max_bytes``."""
    try:
        if log.stat().st_size < limit.max_bytes:
            return False
    except FileNotFoundError:
        return False
    backup(log, limit.backups).unlink(missing_ok=True)
    for number in range(limit.backups - 1, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            backup(log, number).replace(backup(log, number + 1))
    if limit.backups > 0:
        try:
            _copy_tail(log, backup(log, 1), keep=2 * limit.max_bytes)
        except OSError:  # the disk full, most likely: its lines are lost rather than the disk
            backup(log, 1).unlink(missing_ok=True)
            os.truncate(log, 0)
            raise
    os.truncate(log, 0)
    return True


def _copy_tail(log: Path, target: Path, *, keep: int) -> None:
    """Copy ``log`` to ``target``; of a log far over its limit, only the last ``keep`` bytes.

    A log from before rotation (weeks of ``make run``) would otherwise be copied whole at the first
    check: as much free disk again, on the disk this is meant to protect, and a longer window for
    lines to fall between the copy and the truncation."""
    with open(log, "rb") as source, open(target, "wb") as copy:
        size = os.fstat(source.fileno()).st_size
        if size > keep:
            source.seek(size - keep)
            source.readline()  # from the next whole line
            copy.write(f"[rotation: the first {source.tell()} bytes of this log were dropped]\n".encode())
        shutil.copyfileobj(source, copy)


class LogRotator:
    """A daemon thread that keeps every log ``logs()`` names within ``limit``, until ``stop()``."""

    def __init__(self, logs: Callable[[], Iterable[Path]], limit: LogLimit) -> None:
        self._logs = logs
        self._limit = limit
        self._stopping = threading.Event()
        self._failing: set[Path] = set()
        """Logs whose last rotation failed: said once, not every few seconds."""
        self._thread = threading.Thread(target=self._run, name="log-rotation", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def rotate(self) -> None:
        for log in self._logs():
            try:
                rotate_if_full(log, self._limit)
            except OSError as error:  # a full disk, a file of another owner: tried again next time
                if log not in self._failing:
                    logger.warning("could not rotate %s: %s", log, error)
                self._failing.add(log)
            else:
                self._failing.discard(log)

    def _run(self) -> None:
        while not self._stopping.wait(self._limit.check_every):
            self.rotate()
