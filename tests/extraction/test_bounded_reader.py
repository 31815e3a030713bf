"""PDF parsing runs under a hard deadline in a child process; an overrun is refused, not waited for."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

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
