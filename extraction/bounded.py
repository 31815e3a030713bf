"""PDF parsing with a hard time limit, in a separate process.

A crafted PDF can make a parser spin for minutes; a thread cannot be stopped, so
an activity timeout alone would leave the worker's CPU burning. Parsing PDFs in a
small process pool lets us kill a parse that overruns, refuse the file, and keep
the worker healthy. Text and images are cheap and stay in-process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import resource
import select
import sys
import threading
import time
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from extraction.document import PDF, Document, DocumentRejected, read_document, sniff_content_type

logger = logging.getLogger(__name__)


class _PoolBroken(Exception):
    """A child died while parsing: this file crashed it, or another parse overran and its pool was reset."""


class ParseTimedOut(DocumentRejected):
    """The parse outlived its time limit. A hostile file does, but so can a readable bill on a worker
    busy with other work: callers that can try again later should (extract_bill does, a few times)."""


class ParseOutOfMemory(DocumentRejected):
    """The parse needed more than ``PARSER_MEMORY_BYTES``: a file of a few kilobytes can make pypdf build millions of
    objects (text operators, a font's character map), and four such uploads took a worker's parsers past 2 GB."""


PARSER_MEMORY_BYTES = 512 * 1024 * 1024
"""The memory a parser may hold (``RLIMIT_DATA``: its heap and other private writable mappings; not ``RLIMIT_AS``,
which counts what malloc only reserves for each thread). A parser starts at about 22 MB, and parsing all of the eval
set's PDFs in one took it to 60 MB."""


class BoundedReader:
    """``read_document`` with a deadline for PDFs; one pool per process, rebuilt after a kill.

    At most ``workers`` parses are handed to the pool at once, so the deadline measures
    parsing, never time spent queued behind a slow file. Killing an overrunning parse
    kills the pool's other children too; a file whose parse dies that way is parsed
    again in a child of its own, and only a crash there is held against it.
    """

    def __init__(
        self, *, workers: int = 2, timeout_seconds: float = 20.0, memory_bytes: int = PARSER_MEMORY_BYTES
    ) -> None:
        self._workers = workers
        self._timeout = timeout_seconds
        self._memory = memory_bytes
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(workers)

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = _new_pool(self._workers, self._memory)
            return self._pool

    def _reset(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        for process in list((getattr(pool, "_processes", None) or {}).values()):  # None once shut down
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def read(self, data: bytes, *, max_pages: int) -> Document:
        if sniff_content_type(data) != PDF:
            return read_document(data, max_pages=max_pages)
        with self._slots:
            pool = self._executor()
            try:
                return self._parse(pool, data, max_pages)
            except _PoolBroken:
                self._reset(pool)
            logger.warning("PDF parser died mid-parse; parsing the file again on its own")
            alone = _new_pool(1, self._memory)
            try:
                return self._parse(alone, data, max_pages)
            except _PoolBroken:
                raise DocumentRejected("corrupt_file", "the parser crashed on this file") from None
            finally:
                self._reset(alone)

    def _parse(self, pool: ProcessPoolExecutor, data: bytes, max_pages: int) -> Document:
        try:
            future = pool.submit(_read_within_memory, data, max_pages=max_pages, memory_bytes=self._memory)
        except RuntimeError as shut:  # shut down a moment ago for another file (BrokenProcessPool is one too)
            raise _PoolBroken from shut
        try:
            return future.result(timeout=self._timeout)
        except FutureTimeout:
            logger.warning("PDF parse exceeded its time limit; parser killed", extra={"seconds": self._timeout})
            self._reset(pool)
            raise ParseTimedOut("corrupt_file", f"parsing took longer than {self._timeout:g}s") from None
        except ParseOutOfMemory:
            self._reset(pool)  # a fresh parser: this one's heap may keep what the failed parse grew
            raise
        except (BrokenProcessPool, CancelledError) as broken:
            raise _PoolBroken from broken

    def close(self) -> None:
        """Waits for the pool's manager thread: left running, it could close its wake-up pipe just as the
        interpreter's exit wrote to it, and CPython 3.11 printed the ``OSError`` (Bad file descriptor) to stderr
        among the worker's log lines. An idle parser ends at once; a running parse ends within its time limit."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_QUIET_RESOURCE_TRACKER = "ignore:resource_tracker:UserWarning"
"""A ``-W`` option for the processes multiprocessing starts (its resource tracker and forkserver take the worker's
``sys.warnoptions``): a worker killed outright (SIGKILL, the OOM killer) left its tracker to print "resource_tracker:
There appear to be 5 leaked semaphore objects" as two bare lines among the worker's JSON log lines (an operator's
probe, 69C). The tracker cleans them up all the same."""


def _new_pool(workers: int, memory_bytes: int) -> ProcessPoolExecutor:
    if _QUIET_RESOURCE_TRACKER not in sys.warnoptions:  # before the pool starts the tracker
        sys.warnoptions.append(_QUIET_RESOURCE_TRACKER)
    # forkserver: never fork a process that runs threads (the worker does).
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=_start_parser,
        initargs=(os.getpid(), memory_bytes),
    )


_POLL_SECONDS = 1.0
"""How often a parser looks for its worker where the OS cannot wake it when the worker exits (no pidfd)."""


def _read_within_memory(data: bytes, *, max_pages: int, memory_bytes: int) -> Document:
    """``read_document`` in a parser: a file that needs more memory than it may use is refused, not retried (the
    same bytes need as much every time)."""
    try:
        return read_document(data, max_pages=max_pages)
    except MemoryError:
        pass  # raised after the block: the error's frames (and all they built) are freed by then
    raise ParseOutOfMemory("corrupt_file", f"reading it needs over {memory_bytes // 2**20} MB of memory")


def _start_parser(worker_pid: int, memory_bytes: int) -> None:
    """Each parser's start: quiet, bound in memory (``PARSER_MEMORY_BYTES``), and bound to its worker's life.

    Its libraries' complaints about a malformed file (pypdf's "EOF marker not found") went to stderr as bare text
    among the worker's JSON lines; the worker logs what became of the file. And a worker killed outright (SIGKILL,
    the OOM killer) left its parsers running for good, with the forkserver and resource tracker they keep alive
    (~100 MB a worker): forked by the forkserver, they hold both ends of their work queue and never see it close."""
    logging.getLogger().addHandler(logging.NullHandler())  # no handler found would print to stderr
    logging.captureWarnings(True)
    with contextlib.suppress(ValueError, OSError):  # a hard limit set lower already stands
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    threading.Thread(target=_exit_with, args=(worker_pid,), name="exit-with-worker", daemon=True).start()


def _exit_with(worker_pid: int) -> None:
    """Exit this process once ``worker_pid`` has: woken by the OS where it can (a pidfd), else by looking."""
    try:
        gone = os.pidfd_open(worker_pid)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # no pidfd_open here (not Linux, an old kernel)
        while _alive(worker_pid):
            time.sleep(_POLL_SECONDS)
    else:
        select.select([gone], [], [])
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: the pid was taken again, so the worker is gone
        return False
    return True
