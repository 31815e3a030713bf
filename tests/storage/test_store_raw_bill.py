"""store_raw_bill and extract_bill when the raw bill they are to read is gone from object storage; which stored
bill is a job's newest."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.connectors.base import ConnectorRegistry
from activities.extraction import ExtractionActivities
from activities.storage import StorageActivities
from shared.artifacts import ArtifactStoreMisconfigured, GcsArtifactStore
from shared.bill import Provider
from shared.models import ArtifactRef, ExtractRequest, FetchedBill, StoreRequest
from shared.settings import Settings
from tests.helpers import create_account, insert_job, store_text_bill
from tests.storage.denied_gcs import denied_gcs
from worker.resources import Resources
from workflows.policies import EXTRACT, STORAGE, VALIDATE


async def test_a_raw_bill_gone_from_the_bucket_fails_the_step_at_once_naming_it(
    resources: Resources, app_settings: Settings
) -> None:
    """An upload's object removed (a lifecycle rule, a cleanup) or written to another bucket (API and worker
    with different GCS_BUCKET): no retry brings it back, and no connector is to blame."""
    job_id = f"job-{uuid.uuid4().hex[:12]}"
    uri = f"gs://{app_settings.gcs_bucket}/raw/bills/{job_id}/{'a' * 64}.txt"  # never written, or deleted since
    fetched = FetchedBill(source_uri=uri, sha256="a" * 64, size=9, content_type="text/plain", provider=Provider.PGE)
    activities = StorageActivities(resources.pool, resources.store, resources.connectors)

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.store_raw_bill, StoreRequest(job_id=job_id, fetched=fetched))

    assert raised.value.type == "ArtifactNotFound"
    assert raised.value.non_retryable
    assert uri in raised.value.message
    assert "GCS_BUCKET" in raised.value.message


async def test_a_source_no_connector_here_reads_fails_the_step_at_once_without_its_uri(resources: Resources) -> None:
    """A run an earlier release fetched with the mock (its fetch returned a ``mock://`` URI, not an archived one),
    stored by a worker with the mock since off: ``BillNotAvailable`` was retried for the step's hour, then failed.
    The URI is left out of the message: a connector's carries the account number."""
    job_id = f"job-{uuid.uuid4().hex[:12]}"
    uri = f"mock://pge/4402198-001?seed={job_id}"
    fetched = FetchedBill(source_uri=uri, sha256="a" * 64, size=9, content_type="text/plain", provider=Provider.PGE)
    activities = StorageActivities(resources.pool, resources.store, ConnectorRegistry(default=None))

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.store_raw_bill, StoreRequest(job_id=job_id, fetched=fetched))

    assert (raised.value.type, raised.value.non_retryable) == ("BillNotAvailable", True)
    assert "mock:// sources" in raised.value.message and "4402198" not in raised.value.message


async def test_a_bucket_the_worker_may_not_use_fails_the_attempt_as_misconfigured(
    resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GCS's 403 (no role on the bucket) failed each attempt for an hour as google's ``Forbidden``: the job's last
    failure now names the misconfiguration an operator mends, and the step retries until they have."""
    job_id = f"job-{uuid.uuid4().hex[:12]}"
    uri = f"gs://theirs/raw/bills/{job_id}/{'a' * 64}.txt"
    fetched = FetchedBill(source_uri=uri, sha256="a" * 64, size=9, content_type="text/plain", provider=Provider.PGE)
    with denied_gcs(tmp_path, monkeypatch):
        store = GcsArtifactStore(bucket="theirs", project="p")
        activities = StorageActivities(resources.pool, store, resources.connectors)

        with pytest.raises(ArtifactStoreMisconfigured, match="gs://theirs"):
            await ActivityEnvironment().run(activities.store_raw_bill, StoreRequest(job_id=job_id, fetched=fetched))

    assert "ArtifactStoreMisconfigured" not in (STORAGE.retry.non_retryable_error_types or [])


@pytest.mark.parametrize("bucket", ["configured", "another"])
def test_extracting_a_raw_bill_gone_from_the_bucket_is_not_retried(
    resources: Resources, app_settings: Settings, bucket: str
) -> None:
    """Deleted since it was stored (``ArtifactNotFound``; GCS reads are strongly consistent, so never one
    written a moment ago) or in another bucket (``InvalidArtifactName``): EXTRACT retried it for 30 minutes."""
    job_id = f"job-{uuid.uuid4().hex[:12]}"
    name = app_settings.gcs_bucket if bucket == "configured" else "someone-elses-bucket"
    artifact = ArtifactRef(
        uri=f"gs://{name}/raw/bills/{job_id}/{'b' * 64}.txt", sha256="b" * 64, size=9, content_type="text/plain"
    )
    activities = ExtractionActivities(resources.store, app_settings)

    with pytest.raises(Exception) as raised:
        ActivityEnvironment().run(
            activities.extract_bill, ExtractRequest(job_id=job_id, artifact=artifact, provider=Provider.PGE)
        )

    # A worker reports an exception that is no ApplicationError under its class name: the type retry policies match.
    error_type = type(raised.value).__name__
    assert error_type == ("ArtifactNotFound" if bucket == "configured" else "InvalidArtifactName")
    assert error_type in (EXTRACT.retry.non_retryable_error_types or [])
    assert error_type in (VALIDATE.retry.non_retryable_error_types or [])


async def test_a_bill_fetched_again_after_another_is_the_jobs_newest_again(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Operator resets re-fetch: the portal sent A, then B, then A again. The third run read A, so the job's
    bill (``GET /jobs/{id}/artifact``) is A; recording it again kept A's first date, and B was served."""
    account = await create_account(http, provider="pge", account_number=f"AGAIN-{unique}")
    job_id = await insert_job(resources.pool, account, job_type="connector", status="RUNNING")
    texts = {name: f"PG&E statement {name} for AGAIN-{unique}" for name in ("A", "B")}
    refs = {name: await store_text_bill(resources.store, job_id, text) for name, text in texts.items()}
    activities = StorageActivities(resources.pool, resources.store, resources.connectors)

    for name in ("A", "B", "A"):  # each run's fetch archived what it read; store records it
        ref = refs[name]
        fetched = FetchedBill(
            source_uri=ref.uri, sha256=ref.sha256, size=ref.size, content_type=ref.content_type, provider=Provider.PGE
        )
        await ActivityEnvironment().run(activities.store_raw_bill, StoreRequest(job_id=job_id, fetched=fetched))

    raw = await http.get(f"/jobs/{job_id}/artifact")
    assert raw.status_code == 200, raw.text
    assert raw.text == texts["A"]
