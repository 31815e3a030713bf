"""A worker or API finding no Google credentials refuses to start in one line naming the remedy (72C)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.client import Client

from shared.analytics.bigquery import BigQuerySink
from shared.artifacts import GcsArtifactStore
from shared.google_credentials import GoogleCredentialsMissing
from tests.helpers import run_entry_point

MISSING_KEY_FILE = "/nonexistent/minimeter-sa-key.json"


@pytest.mark.parametrize(
    ("build", "said"),
    [
        (lambda: GcsArtifactStore(bucket="raw-bills", project="p"), "object storage (GCS) has no Google credentials"),
        (lambda: BigQuerySink(project="p", dataset="d"), "the warehouse (BigQuery) has no Google credentials"),
    ],
    ids=["gcs", "bigquery"],
)
def test_a_client_without_credentials_is_a_refusal_naming_the_remedy(
    monkeypatch: pytest.MonkeyPatch, build: Callable[[], object], said: str
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", MISSING_KEY_FILE)
    with pytest.raises(GoogleCredentialsMissing) as refused:
        build()
    message = str(refused.value)
    assert said in message and f"{MISSING_KEY_FILE} was not found" in message, message
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message and "\n" not in message


def test_a_worker_without_credentials_says_so_in_one_line(
    client: Client, pg_url: str, payload_keys: str, tmp_path: Path
) -> None:
    """It was "worker failed" and forty lines of ``google.auth``: a first production start's likeliest refusal."""
    done = run_entry_point(
        "worker",
        ENV="test",
        TEMPORAL_ADDRESS=client.service_client.config.target_host,
        TEMPORAL_TASK_QUEUE="no-credentials",
        DATABASE_URL=pg_url,
        PAYLOAD_KEYS=payload_keys,
        DATA_DIR=str(tmp_path / "data"),
        ANALYTICS="disabled",
        LOG_FORMAT="json",
        GOOGLE_APPLICATION_CREDENTIALS=MISSING_KEY_FILE,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout, done.stdout[-2000:]
    [failure] = [entry for entry in map(json.loads, done.stdout.splitlines()) if entry["level"] == "CRITICAL"]
    assert failure["message"].startswith("worker refused to start: object storage (GCS) has no Google credentials")
    assert "exc_info" not in failure
