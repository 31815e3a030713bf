"""Entry points keep pyarrow and the BigQuery Storage client out, and the PDF and image readers until a document needs
them; the BigQuery client still works without them."""

from __future__ import annotations

import gc
import subprocess
import sys

from shared.settings import REPO_ROOT

ENTRY_POINT_START = """
import sys
from shared.lean import skip_unused_optional_imports
skip_unused_optional_imports()
"""
"""How the worker's and the API's ``__main__`` begin (``test_the_worker_and_api_entry_points_call_it_first``)."""


def printed_by_an_entry_point(code: str) -> str:
    """What ``code`` prints run in a fresh interpreter of this checkout, after the entry points' first lines."""
    return subprocess.run(
        [sys.executable, "-c", ENTRY_POINT_START + code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=REPO_ROOT,
    ).stdout


BIGQUERY_PROBE = """
from shared.analytics import BigQuerySink  # imports google.cloud.bigquery
try:
    import pyarrow
except ImportError:
    print("pyarrow: absent")
print("bigquery:", "google.cloud.bigquery.client" in sys.modules)
"""


def test_an_entry_point_runs_without_the_unused_optional_modules() -> None:
    assert printed_by_an_entry_point(BIGQUERY_PROBE).splitlines() == ["pyarrow: absent", "bigquery: True"]


def test_the_worker_and_api_entry_points_call_it_first() -> None:
    for entry in ("worker/__main__.py", "api/__main__.py"):
        source = (REPO_ROOT / entry).read_text().splitlines()
        code = [line for line in source if line and not line.startswith(('"""', "#"))]
        assert code[:2] == ["from shared.lean import skip_unused_optional_imports", "skip_unused_optional_imports()"]


def test_the_api_and_the_worker_load_no_pdf_nor_image_reader() -> None:
    """They import ``extraction.document`` to sniff types and read no PDF themselves (the worker's parsers do, in
    processes of their own): pypdf and Pillow stay out until a document needs one (an image read in the worker,
    Gemini's client), ~11 MB of each."""
    loaded = printed_by_an_entry_point("import api.main, worker.main\nprint(*sorted(sys.modules))").split()
    assert "extraction.document" in loaded
    assert [name for name in loaded if name.split(".")[0] in {"pypdf", "PIL"}] == []


async def test_the_api_freezes_its_start_up_heap(api_url: str) -> None:
    """Once the real lifespan has run (``api_url`` serves it), start-up objects are out of the GC's sight."""
    assert gc.get_freeze_count() > 10_000
