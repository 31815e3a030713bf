"""Keep optional heavy modules that MiniMeter never uses out of its long-running processes."""

from __future__ import annotations

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
