"""A local stack whose every service this test started, on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.local import LocalStack, StackOptions


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    """Temporal, embedded Postgres and both emulators, all started here on free ports."""
    options = StackOptions(
        data_dir=tmp_path,
        bigquery_in_memory=True,
        temporal_port=None,
        ui_port=None,
        api_port=None,
        gcs_port=None,
        bq_port=None,
        reuse_services=False,
    )
    local = LocalStack(options)
    try:
        local.start_services()
        yield local
    finally:
        local.close()
