"""PDF parsing runs under a hard deadline in a child process; an overrun is refused, not waited for."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


def test_overrun_is_refused_promptly_and_the_pool_recovers() -> None:
    slow = (BILLS / "adv_too_many_pages.pdf").read_bytes()
    reader = BoundedReader(workers=1, timeout_seconds=0.05)
    try:
        started = time.monotonic()
        with pytest.raises(DocumentRejected) as rejected:
            reader.read(slow, max_pages=500)
        assert rejected.value.reason == "corrupt_file"
        assert "longer than" in rejected.value.detail
        assert time.monotonic() - started < 5
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
