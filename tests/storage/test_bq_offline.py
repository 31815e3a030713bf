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
    from bqemulator.versioning.snapshots import SnapshotManager

    assert DuckDBEngine._load_spatial is bq_offline._skip_spatial
    assert SnapshotManager.record_change is bq_offline._announce_change_without_snapshot
    assert upload._is_permitted_media_type("*/*")
    bq_offline.apply_patches()  # idempotent
    assert upload._PERMITTED_MEDIA_CONTENT_TYPES.count("*/*") == 1


def test_cli_passes_arguments_through() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stack.bq_offline", "version"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "bqemulator 1.4.0" in done.stdout


def _client(emulator: BigQueryEmulator) -> bigquery.Client:
    return bigquery.Client(
        project="minimeter-local",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=emulator.url),
    )


def test_emulator_started_offline_runs_queries_and_load_jobs(bigquery_emulator: BigQueryEmulator) -> None:
    client = _client(bigquery_emulator)
    assert [tuple(r.values()) for r in client.query("SELECT 1 AS one").result()] == [(1,)]

    client.create_dataset("minimeter-local.offline_check", exists_ok=True)
    table = "minimeter-local.offline_check.loaded"
    config = bigquery.LoadJobConfig(schema=[bigquery.SchemaField("n", "INT64")])
    client.load_table_from_json([{"n": 1}, {"n": 2}], table, job_config=config).result()  # media part is */*

    assert client.get_table(table).num_rows == 2


class _Untouchable:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"a write announcement must not touch the {name!r} of engine or catalog")


def test_a_write_is_announced_without_copying_the_table() -> None:
    from bqemulator.domain.events import DomainEvent, EventBus, TableDataChanged
    from bqemulator.versioning.snapshots import SnapshotManager

    bus = EventBus()
    heard: list[DomainEvent] = []
    bus.subscribe(TableDataChanged, heard.append)
    manager = SnapshotManager(
        _Untouchable(),  # type: ignore[arg-type]
        _Untouchable(),  # type: ignore[arg-type]
        _Untouchable(),  # type: ignore[arg-type]
        bus,
        retention_days=7,
    )

    assert manager.record_change("p", "d", "t") is None
    assert heard == [TableDataChanged("p", "d", "t")]


def test_streamed_rows_are_counted_by_the_next_query(bigquery_emulator: BigQueryEmulator) -> None:
    """Without the per-write snapshot, streamed rows are still read by the next query."""
    client = _client(bigquery_emulator)
    client.create_dataset("minimeter-local.stream_check", exists_ok=True)
    table_id = "minimeter-local.stream_check.rows"
    table = client.create_table(bigquery.Table(table_id, schema=[bigquery.SchemaField("n", "INT64")]), exists_ok=True)
    counted = []
    for n in range(3):
        assert client.insert_rows_json(table, [{"n": n}]) == []
        [row] = client.query(f"SELECT COUNT(*) AS c FROM `{table_id}`").result()
        counted.append(row["c"])
    assert counted == [1, 2, 3]
