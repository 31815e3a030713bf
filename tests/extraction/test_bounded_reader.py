"""PDF parsing runs under a hard deadline in a child process; an overrun is refused, not waited for."""

from __future__ import annotations

import logging
import signal
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
