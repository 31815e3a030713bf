"""A job's result as ``GET /jobs/{id}`` shows it: never a directory of the server's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.services.jobs import job_public
from shared.artifacts import LocalArtifactStore
from shared.settings import Settings


def finished_row(uri: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    artifact = {"uri": uri, "sha256": "ab" * 32, "size": 10, "content_type": "application/pdf"}
    return {
        "id": uuid.uuid4(),
        "status": "SUCCEEDED",
        "customer_id": 1,
        "utility_account_id": 2,
        "job_type": "upload",
        "workflow_id": "bill-ingestion-x",
        "attempts": 1,
        "error": None,
        "reasons": [],
        "steps": [],
        "result": {"status": "SUCCEEDED", "artifact": artifact},
        "created_at": now,
        "updated_at": now,
        "duration_ms": 5,
    }


def test_a_bill_stored_on_the_servers_disk_is_shown_by_its_object_name(tmp_path: Path) -> None:
    """With ARTIFACT_STORE=local any key reading a job saw where the server keeps its data ("file:///srv/...")."""
    ref = LocalArtifactStore(tmp_path / "data").put_once(
        job_id=str(uuid.uuid4()), data=b"%PDF-1.4\n", content_type="application/pdf", ext="pdf", metadata={}
    )
    assert ref.uri.startswith("file://") and str(tmp_path) in ref.uri

    shown = job_public(finished_row(ref.uri), Settings()).result

    assert shown is not None and str(tmp_path) not in str(shown)
    assert shown.artifact is not None and shown.artifact.uri == "local:" + ref.uri[ref.uri.index("raw/bills/") :]
    assert shown.artifact.sha256 == "ab" * 32


@pytest.mark.parametrize("uri", ["gs://minimeter-raw-bills/raw/bills/j/ab.pdf", "mock://pge/123?job=j"])
def test_a_bill_in_a_bucket_is_shown_as_stored(uri: str) -> None:
    shown = job_public(finished_row(uri), Settings()).result
    assert shown is not None and shown.artifact is not None and shown.artifact.uri == uri


def test_an_error_naming_a_bill_on_the_servers_disk_names_its_object_not_the_directory(tmp_path: Path) -> None:
    """A raw bill deleted from the local store failed its job saying where the server keeps its data."""
    uri = (tmp_path / "data" / "raw" / "bills" / "j1" / ("ab" * 32 + ".pdf")).as_uri()
    error = f"store_raw_bill failed: ArtifactNotFound: the raw bill {uri} is not in object storage: deleted since"
    row = finished_row(uri) | {"status": "FAILED", "error": error}
    row["result"] = row["result"] | {"status": "FAILED", "error": error}
    row["steps"] = [{"name": "store_raw_bill", "started_at": row["created_at"], "attempt_error": error}]

    shown = job_public(row, Settings())

    assert shown.error is not None and str(tmp_path) not in shown.error and str(tmp_path) not in str(shown.result)
    assert f"the raw bill local:raw/bills/j1/{'ab' * 32}.pdf is not in object storage" in shown.error
    assert shown.result is not None and shown.result.error == shown.error
    assert [step.attempt_error for step in shown.steps] == [shown.error]  # the step's error, as the job's
