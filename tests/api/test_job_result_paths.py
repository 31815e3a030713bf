"""A job's result as ``GET /jobs/{id}`` shows it: never a directory of the server's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.auth import Principal, Role
from api.services.jobs import job_public
from api.services.reviewer_names import STAFF_REVIEWER
from shared.artifacts import LocalArtifactStore
from shared.settings import Settings

OPERATOR = Principal(key_id=1, name="ops", role=Role.VIEWER, customer_id=None)
CUSTOMERS = Principal(key_id=2, name="customer", role=Role.VIEWER, customer_id=1)
CUSTOMERS_INGEST = Principal(key_id=3, name="customer-ingest", role=Role.INGEST, customer_id=1)


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

    shown = job_public(finished_row(ref.uri), Settings(), principal=OPERATOR).result

    assert shown is not None and str(tmp_path) not in str(shown)
    assert shown.artifact is not None and shown.artifact.uri == "local:" + ref.uri[ref.uri.index("raw/bills/") :]
    assert shown.artifact.sha256 == "ab" * 32


@pytest.mark.parametrize("uri", ["gs://minimeter-raw-bills/raw/bills/j/ab.pdf", "mock://pge/123?job=j"])
def test_a_bill_in_a_bucket_is_shown_as_stored(uri: str) -> None:
    shown = job_public(finished_row(uri), Settings(), principal=OPERATOR).result
    assert shown is not None and shown.artifact is not None and shown.artifact.uri == uri


def test_an_error_naming_a_bill_on_the_servers_disk_names_its_object_not_the_directory(tmp_path: Path) -> None:
    """A raw bill deleted from the local store failed its job saying where the server keeps its data."""
    uri = (tmp_path / "data" / "raw" / "bills" / "j1" / ("ab" * 32 + ".pdf")).as_uri()
    error = f"store_raw_bill failed: ArtifactNotFound: the raw bill {uri} is not in object storage: deleted since"
    row = finished_row(uri) | {"status": "FAILED", "error": error}
    row["result"] = row["result"] | {"status": "FAILED", "error": error}
    row["steps"] = [{"name": "store_raw_bill", "started_at": row["created_at"], "attempt_error": error}]

    shown = job_public(row, Settings(), principal=OPERATOR)

    assert shown.error is not None and str(tmp_path) not in shown.error and str(tmp_path) not in str(shown.result)
    assert f"the raw bill local:raw/bills/j1/{'ab' * 32}.pdf is not in object storage" in shown.error
    assert shown.result is not None and shown.result.error == shown.error
    assert [step.attempt_error for step in shown.steps] == [shown.error]  # the step's error, as the job's


def test_a_customers_key_reads_what_failed_but_no_internal_address() -> None:
    """A step's error is a client library's text: the storage endpoint's host and port, the service account a 403
    names. README promises a customer's key no more than what failed; an operator's key reads the whole (the CLI
    cannot decode it)."""
    error = (
        "ArtifactStoreMisconfigured: object storage denied MiniMeter's identity permission on gs://raw-bills/raw/x"
        " (403: ops-sa@proj.iam.gserviceaccount.com may not storage.objects.create); retried after"
        " HTTPConnectionPool(host='10.0.0.7', port=4443): Read timed out, https://storage.internal:4443/upload: 503,"
        " gcs.internal.example:4443 and 192.168.1.20:9000"
    )
    row = finished_row("gs://raw-bills/raw/bills/j/ab.pdf") | {"status": "FAILED", "error": error}
    row["result"] = row["result"] | {"status": "FAILED", "error": error}
    row["steps"] = [{"name": "store_raw_bill", "started_at": row["created_at"], "attempt_error": error}]

    customers = job_public(row, Settings(), principal=CUSTOMERS)
    operators = job_public(row, Settings(), principal=OPERATOR)

    assert customers.error == (
        "ArtifactStoreMisconfigured: object storage denied MiniMeter's identity permission on <internal>"
        " (403: <internal> may not storage.objects.create); retried after"
        " HTTPConnectionPool(host=<internal>, port=<internal>): Read timed out, <internal>: 503,"
        " <internal> and <internal>"
    )
    assert customers.result is not None and customers.result.error == customers.error
    assert [step.attempt_error for step in customers.steps] == [customers.error]
    assert operators.error == error and [step.attempt_error for step in operators.steps] == [error]


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            "NameResolutionError: Failed to resolve 'gcs.internal' ([Errno -2] Name or service not known)",
            "NameResolutionError: Failed to resolve <internal> ([Errno -2] Name or service not known)",
        ),
        ("Cannot connect to host fake-gcs:4443 ssl:default", "Cannot connect to host <internal> ssl:default"),
        ("Errno 111 Connection refused: postgres:5432", "Errno 111 Connection refused: <internal>"),
        ("connection to [fd00::5]:7233 refused", "connection to <internal> refused"),
        ("Connect call failed ('::1', 4443, 0, 0)", "Connect call failed (<internal>, 4443, 0, 0)"),
    ],
)
def test_a_customers_key_reads_no_service_name_nor_ipv6_address(error: str, shown: str) -> None:
    """A compose or Kubernetes service's name has no dot, an address may be IPv6, and urllib3 names the host it could
    not resolve in quotes: each reached a customer's key (a review of session 70's change, 70C)."""
    row = finished_row("gs://raw-bills/raw/bills/j/ab.pdf") | {"status": "FAILED", "error": error}
    assert job_public(row, Settings(), principal=CUSTOMERS).error == shown


@pytest.mark.parametrize(
    "harmless",
    [
        "InvalidPdf: the total 1,234.56 on 2026-11-03 at 10:30 does not match the charges (1.2.3)",
        "TimeoutError (START_TO_CLOSE): activity StartToClose timeout",
        "NoBill: the portal has no bill for the period 2026-10 (account ****1234)",
        "ExtractionFailed: page 2 of bill.pdf:12 did not add up",
    ],
)
def test_an_error_of_ours_reads_the_same_to_a_customer(harmless: str) -> None:
    row = finished_row("gs://raw-bills/raw/bills/j/ab.pdf") | {"status": "FAILED", "error": harmless}
    assert job_public(row, Settings(), principal=CUSTOMERS).error == harmless


def test_a_customers_key_reads_account_numbers_masked_and_the_rest_of_an_error_as_it_is() -> None:
    """A rejection's note is the job's error: a reviewer's named a third party's account in full (76A). Masked as the
    logs mask it; the dates, amounts, ids and hashes beside it read the same."""
    job_id, sha256 = uuid.uuid4(), "1234567890" + "ab" * 27
    said = (
        "account {} belongs to Bob Other: the total 75.00 (1,234.56 due 2026-11-03, 11/03/2026) of job {job_id},"
        " bill {sha256}, is theirs"
    )
    error = said.format("1111-2222-3333-4444", job_id=job_id, sha256=sha256)
    row = finished_row("gs://raw-bills/raw/bills/j/ab.pdf") | {"status": "REJECTED", "error": error}
    row["result"] = row["result"] | {"status": "REJECTED", "error": error, "note": error}
    row["steps"] = [{"name": "store_raw_bill", "started_at": row["created_at"], "attempt_error": error}]

    customers = job_public(row, Settings(), principal=CUSTOMERS)
    operators = job_public(row, Settings(), principal=OPERATOR)

    masked = said.format("****4444", job_id=job_id, sha256=sha256)
    assert customers.result is not None and operators.result is not None
    assert (customers.error, customers.result.error, customers.result.note) == (masked, masked, masked)
    assert [step.attempt_error for step in customers.steps] == [masked]
    assert (operators.error, operators.result.note) == (error, error)


def test_a_customers_key_reads_no_bucket_nor_web_ui_link() -> None:
    """README says the Web UI is reachable from the host or behind SSO alone; the bucket's name and layout are
    MiniMeter's. A customer's key is given the API's own link to the raw bill."""
    row = finished_row("gs://minimeter-raw-bills/raw/bills/j/ab.pdf")

    customers = job_public(row, Settings(), principal=CUSTOMERS_INGEST)
    operators = job_public(row, Settings(), principal=OPERATOR)

    assert customers.web_ui_url is None and operators.web_ui_url is not None
    assert customers.result is not None and customers.result.artifact is not None
    assert customers.result.artifact.uri == f"/jobs/{row['id']}/artifact?sha256={'ab' * 32}"
    assert operators.result is not None and operators.result.artifact is not None
    assert operators.result.artifact.uri == "gs://minimeter-raw-bills/raw/bills/j/ab.pdf"


def test_a_customers_viewer_key_is_given_no_link_its_role_may_not_open() -> None:
    """A viewer may not open raw bills (they print the full account number): the link it was given answered 403."""
    row = finished_row("gs://minimeter-raw-bills/raw/bills/j/ab.pdf")

    shown = job_public(row, Settings(), principal=CUSTOMERS).result

    assert shown is not None and shown.artifact is not None
    assert shown.artifact.uri is None and shown.artifact.sha256 == "ab" * 32


def test_without_a_lookup_a_customers_key_reads_any_reviewer_as_minimeter_s() -> None:
    row = finished_row("gs://raw-bills/raw/bills/j/ab.pdf")
    row["result"] = row["result"] | {"reviewer": "staff-r2-bob.smith@corp (key 6)"}

    customers = job_public(row, Settings(), principal=CUSTOMERS).result
    operators = job_public(row, Settings(), principal=OPERATOR).result

    assert customers is not None and customers.reviewer == STAFF_REVIEWER
    assert operators is not None and operators.reviewer == "staff-r2-bob.smith@corp (key 6)"
