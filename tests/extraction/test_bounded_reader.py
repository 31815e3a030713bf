"""PDF parsing runs under a hard deadline in a child process; an overrun is refused, not waited for."""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import psutil
import pytest
from fpdf import FPDF

from extraction.bounded import BoundedReader
from extraction.document import DocumentRejected, read_document

BILLS = Path(__file__).parents[2] / "eval" / "bills"


def test_same_document_as_in_process() -> None:
    data = (BILLS / "pge_classic_0.pdf").read_bytes()
    reader = BoundedReader(workers=1, timeout_seconds=30)
    try:
        assert reader.read(data, max_pages=50) == read_document(data, max_pages=50)
    finally:
        reader.close()


def test_a_parser_loads_no_models_nor_rules() -> None:
    """A parser imports what reading a PDF needs (``extraction.document``, stdlib-only ``extraction.pages``, pypdf),
    not pydantic, our models or the rules: each parser stays ~11 MB smaller."""
    reader = BoundedReader(workers=1, timeout_seconds=30)
    try:
        reader.read((BILLS / "pge_classic_0.pdf").read_bytes(), max_pages=50)
        assert reader._pool is not None
        loaded = reader._pool.submit(eval, "sorted(__import__('sys').modules)").result(timeout=30)  # the parser's own
        assert {"extraction.document", "extraction.pages", "pypdf"} <= set(loaded)
        heavy = (
            "pydantic",
            "shared.",
            "extraction.rules",
            "extraction.evidence",
            "extraction.values",
            "extraction.checks",
        )
        assert [name for name in loaded if name.startswith(heavy) or name == "shared"] == []
    finally:
        reader.close()


def test_overrun_is_refused_by_killing_its_parser_and_the_pool_recovers() -> None:
    """Refused at the deadline with the parse killed mid-way: not waited for, no child left burning CPU."""
    slow = (BILLS / "adv_too_many_pages.pdf").read_bytes()
    reader = BoundedReader(workers=1, timeout_seconds=30)
    try:
        reader.read((BILLS / "duke_classic_0.pdf").read_bytes(), max_pages=50)  # starts the pool's one child
        assert reader._pool is not None
        [parser] = reader._pool._processes.values()
        # The one thread that reaps the pool's children (typeshed has its type wrong).
        manager = cast(threading.Thread, reader._pool._executor_manager_thread)
        # Far below any parse of 51 pages, even in a warm child on a fast machine (~0.1 s here).
        reader._timeout = 0.001
        with pytest.raises(DocumentRejected) as rejected:
            reader.read(slow, max_pages=500)
        assert rejected.value.reason == "corrupt_file"
        assert rejected.value.detail == "parsing took longer than 0.001s"
        manager.join(timeout=60)  # only keeps a broken test from hanging; read its exit code after it, not beside it
        assert not manager.is_alive()
        # SIGKILLed: a child merely shut down would have finished the parse first, then exited 0.
        assert parser.exitcode == -signal.SIGKILL, parser.exitcode
        assert reader._pool is None  # the next file gets a fresh pool
        reader._timeout = 30
        assert reader.read((BILLS / "duke_classic_0.pdf").read_bytes(), max_pages=50).pages
    finally:
        reader.close()


def test_text_stays_in_process() -> None:
    reader = BoundedReader(workers=1, timeout_seconds=0.0001)
    assert reader.read(b"Amount Due $12.00 on your electric bill", max_pages=5).content_type == "text/plain"
    assert reader._pool is None


def long_statement(pages: int) -> bytes:
    """A healthy PDF that takes a while to parse: many pages of charges."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=9)
    for page in range(pages):
        pdf.add_page()
        for line in range(60):
            pdf.text(15, 15 + 4 * line, f"Page {page} line {line}  Electric delivery charge  ${line}.{page % 100:02d}")
    return bytes(pdf.output())


def wait_until_parsing(reader: BoundedReader) -> None:
    """Until a child of the reader's pool has spent a little CPU on the file."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pool = reader._pool
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            try:
                if psutil.Process(process.pid).cpu_times().user > 0.2:
                    return
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.01)
    raise AssertionError("no parser child got busy")


def test_a_file_caught_in_another_files_overrun_is_parsed_again_not_rejected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    long_bill = long_statement(pages=80)  # ~190,000 non-blank characters: within the text limit
    reader = BoundedReader(workers=2, timeout_seconds=120)
    try:
        with ThreadPoolExecutor(1) as thread, caplog.at_level(logging.WARNING, logger="extraction.bounded"):
            parsing = thread.submit(reader.read, long_bill, max_pages=500)
            wait_until_parsing(reader)
            assert reader._pool is not None
            reader._reset(reader._pool)  # what an overrunning file parsed beside it does
            document = parsing.result(timeout=300)
        assert document == read_document(long_bill, max_pages=500)
        assert "parsing the file again on its own" in caplog.text
    finally:
        reader.close()


_WORKER = """
import sys, time
from extraction.bounded import BoundedReader
from extraction.document import DocumentRejected
reader = BoundedReader(workers=1, timeout_seconds=30)
for path in sys.argv[2:]:
    try:
        reader.read(open(path, "rb").read(), max_pages=50)
    except DocumentRejected:
        pass
print(*reader._pool._processes, flush=True)
if sys.argv[1] == "stay":
    time.sleep(600)
reader.close()
"""
"""A worker of its own: reads each file given, prints its parsers' pids, then waits to be killed or ends."""


def _start_worker(*bills: str, stay: bool = True) -> tuple[subprocess.Popen[str], list[psutil.Process]]:
    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER, "stay" if stay else "end", *(str(BILLS / bill) for bill in bills)],
        cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    pids = [int(pid) for pid in worker.stdout.readline().split()]
    assert pids, "the worker parsed its PDF in a child"
    if not stay:  # its parsers end with it, as soon as it has printed them: none may be there to look at
        return worker, []
    return worker, [psutil.Process(pid) for pid in pids]


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_worker_killed_outright_takes_its_parsers_with_it() -> None:
    """SIGKILL (the OOM killer's) gave the worker no chance to shut its pool: its parsers, the forkserver and the
    resource tracker ran on for good, ~100 MB a kill."""
    worker, parsers = _start_worker("pge_classic_0.pdf")
    try:
        forkserver = parsers[0].parent()
        assert forkserver is not None and forkserver.pid != worker.pid
        worker.kill()
        worker.wait(timeout=30)
        deadline = time.monotonic() + 20
        while not all(_gone(p) for p in (*parsers, forkserver)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p.pid for p in (*parsers, forkserver) if not _gone(p)] == []
    finally:
        worker.kill()
        for process in parsers:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


def test_a_parsers_complaints_about_a_malformed_file_are_not_bare_lines_in_the_workers_log() -> None:
    """pypdf's "EOF marker not found" went to stderr as bare text among the worker's JSON lines."""
    worker, _ = _start_worker("adv_corrupt.pdf", "pge_classic_0.pdf", stay=False)
    _, stderr = worker.communicate(timeout=30)
    assert (worker.returncode, stderr) == (0, "")


def test_a_file_that_needs_more_memory_than_a_parser_may_use_is_refused_and_the_pool_recovers() -> None:
    """A few kilobytes of compressed text operators made pypdf build a million objects: four such uploads took a
    worker's parsers past 2 GB, each tried again for half an hour. Bounded here at 256 MB (``PARSER_MEMORY_BYTES`` is
    512), the file is refused for good (a ``DocumentRejected``), and the next bill reads."""
    from tests.extraction.test_document import _pdf_of_content

    bomb = _pdf_of_content(b"BT /F1 10 Tf 40 700 Td " + b"(A) Tj " * 1_500_000 + b" ET")
    assert len(bomb) < 100_000
    reader = BoundedReader(workers=1, timeout_seconds=120, memory_bytes=256 * 2**20)
    try:
        with pytest.raises(DocumentRejected, match="needs over 256 MB of memory") as refused:
            reader.read(bomb, max_pages=50)
        assert refused.value.reason == "corrupt_file"
        bill = (BILLS / "pge_classic_0.pdf").read_bytes()
        assert reader.read(bill, max_pages=50) == read_document(bill, max_pages=50)
    finally:
        reader.close()


KILLED_AFTER_A_PARSE = """
import os, signal, sys
from pathlib import Path

if __name__ == "__main__":
    from extraction.bounded import BoundedReader

    BoundedReader(workers=1, timeout_seconds=30).read(Path(sys.argv[1]).read_bytes(), max_pages=5)
    print("parsed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_worker_killed_outright_leaves_no_bare_lines_in_its_log(tmp_path: Path) -> None:
    """Its resource tracker printed "resource_tracker: There appear to be 5 leaked semaphore objects" to the worker's
    stderr, two bare lines among its JSON log lines (an operator's probe, 69C): each SIGKILL, one more pair."""
    script = tmp_path / "killed.py"
    script.write_text(KILLED_AFTER_A_PARSE)
    done = subprocess.run(
        [sys.executable, str(script), str(BILLS / "pge_classic_0.pdf")],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,  # the pipes close once the tracker, the forkserver and the parser have ended too
    )
    assert done.returncode == -signal.SIGKILL and done.stdout == "parsed\n", done
    assert done.stderr == "", done.stderr
