"""Session-scoped GCS and BigQuery emulators: started once, on free ports, with tmp data dirs.

Registered by ``tests/conftest.py`` (``pytest_plugins``). Tests isolate themselves by
bucket or dataset name, never by restarting these.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stack.emulators import BigQueryEmulator, GcsEmulator


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    with GcsEmulator(data_dir=tmp_path_factory.mktemp("gcs-emulator")) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator]:
    with BigQueryEmulator(data_dir=tmp_path_factory.mktemp("bq-emulator")) as emulator:
        yield emulator
