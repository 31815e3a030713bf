"""Keep MiniMeter's long-running processes lean: no unused heavy modules, no GC over start-up objects."""

from __future__ import annotations

import gc
import sys

UNUSED_OPTIONAL_MODULES = ("pyarrow", "google.cloud.bigquery_storage_v1")
"""google-cloud-bigquery imports these when installed (bqemulator brings both into local
installs), about 85 MB per process. MiniMeter streams rows with insertAll and reads small
query results as rows; it never uses Arrow or the Storage Read API."""


def skip_unused_optional_imports() -> None:
    """Make importing the modules above fail as if they were absent; libraries then take
    their documented fallback. Call first thing in an entry point, never in a library or
    a test process (bqemulator, run in-process, needs pyarrow)."""
    for name in UNUSED_OPTIONAL_MODULES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]


def freeze_startup_heap() -> None:
    """Move every object alive after start-up out of the garbage collector's sight.

    Call once the process is ready to serve. What start-up builds (FastAPI's and
    Pydantic's schemas, Temporal's SDK, the Google clients: a few hundred thousand
    objects) lives as long as the process, yet every full collection walked it again:
    that pause was the API's p99 (``python -m bench.api_alone``: ~70 ms, ~30 ms frozen).
    """
    gc.collect()
    gc.freeze()
