"""Start bqemulator offline: ``python -m stack.bq_offline start --rest-port 9050 ...``.

Why this wrapper exists (bqemulator 1.4.0, duckdb 2.0.0):

* At startup ``DuckDBEngine._load_spatial`` runs ``INSTALL spatial`` and refuses to
  start when DuckDB's extension repository is unreachable. MiniMeter stores no
  GEOGRAPHY, so the wrapper skips that load; ``ST_*`` queries would fail, which we
  never issue.
* Its upload route whitelists media content types, but google-cloud-bigquery sends
  the media part of a multipart load job as ``*/*``; the wrapper adds that type.

Both patches are applied at import time and touch nothing else; every argument is
passed to bqemulator's own CLI unchanged.
"""

from __future__ import annotations

import logging

from bqemulator import cli
from bqemulator.api.routes import upload
from bqemulator.storage.engine import DuckDBEngine

logger = logging.getLogger(__name__)

CLIENT_MEDIA_TYPE = "*/*"


def _skip_spatial(self: DuckDBEngine) -> None:
    logger.info("bq_offline: DuckDB spatial extension not loaded (no GEOGRAPHY support)")


def apply_patches() -> None:
    """Make bqemulator start without network and accept the official client's load uploads."""
    DuckDBEngine._load_spatial = _skip_spatial  # type: ignore[method-assign]
    if CLIENT_MEDIA_TYPE not in upload._PERMITTED_MEDIA_CONTENT_TYPES:
        upload._PERMITTED_MEDIA_CONTENT_TYPES = (  # type: ignore[assignment]
            *upload._PERMITTED_MEDIA_CONTENT_TYPES,
            CLIENT_MEDIA_TYPE,
        )


apply_patches()


def main() -> None:
    """Run bqemulator's CLI (``start``, ``version``, ...) with the patches in place."""
    cli.main()


if __name__ == "__main__":
    main()
