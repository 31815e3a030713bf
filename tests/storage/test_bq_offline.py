"""stack.bq_offline: bqemulator starts offline and takes the official client's load jobs."""

from __future__ import annotations

import subprocess
import sys

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from shared.settings import REPO_ROOT
from stack import bq_offline
from stack.emulators import BigQueryEmulator


def test_patches_are_applied_on_import() -> None:
    from bqemulator.api.routes import upload
    from bqemulator.storage.engine import DuckDBEngine

    assert DuckDBEngine._load_spatial is bq_offline._skip_spatial
    assert upload._is_permitted_media_type("*/*")
    bq_offline.apply_patches()  # idempotent
    assert upload._PERMITTED_MEDIA_CONTENT_TYPES.count("*/*") == 1


def test_cli_passes_arguments_through() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stack.bq_offline", "version"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "bqemulator 1.4.0" in done.stdout


def test_emulator_started_offline_runs_queries_and_load_jobs(bigquery_emulator: BigQueryEmulator) -> None:
    client = bigquery.Client(
        project="minimeter-local",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=bigquery_emulator.url),
    )
    assert [tuple(r.values()) for r in client.query("SELECT 1 AS one").result()] == [(1,)]

    client.create_dataset("minimeter-local.offline_check", exists_ok=True)
    table = "minimeter-local.offline_check.loaded"
    config = bigquery.LoadJobConfig(schema=[bigquery.SchemaField("n", "INT64")])
    client.load_table_from_json([{"n": 1}, {"n": 2}], table, job_config=config).result()  # media part is */*

    assert client.get_table(table).num_rows == 2
