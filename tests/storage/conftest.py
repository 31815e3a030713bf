"""Stores and sinks pointed at the session emulators, one bucket or dataset per test."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from shared.analytics import AnalyticsSink, BigQuerySink, LocalAnalyticsSink
from shared.artifacts import GcsArtifactStore, LocalArtifactStore
from stack.emulators import BigQueryEmulator, GcsEmulator

PROJECT = "minimeter-local"


@pytest.fixture()
def gcs_store(gcs_emulator: GcsEmulator) -> GcsArtifactStore:
    store = GcsArtifactStore(bucket=f"raw-{uuid.uuid4().hex[:12]}", project=PROJECT, endpoint=gcs_emulator.url)
    store.ensure_bucket()
    return store


@pytest.fixture()
def local_store(tmp_path: Path) -> LocalArtifactStore:
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.ensure_bucket()
    return store


@pytest.fixture()
def bq_sink(bigquery_emulator: BigQueryEmulator) -> BigQuerySink:
    sink = BigQuerySink(project=PROJECT, dataset=f"t_{uuid.uuid4().hex[:12]}", endpoint=bigquery_emulator.url)
    sink.ensure_schema()
    return sink


@pytest.fixture()
def local_sink(tmp_path: Path) -> LocalAnalyticsSink:
    sink = LocalAnalyticsSink(tmp_path / "analytics.duckdb")
    sink.ensure_schema()
    return sink


@pytest.fixture(params=["bigquery", "local"])
def sink(request: pytest.FixtureRequest) -> AnalyticsSink:
    """Each analytics sink in turn: the BigQuery emulator and the local DuckDB file."""
    return request.getfixturevalue("bq_sink" if request.param == "bigquery" else "local_sink")
