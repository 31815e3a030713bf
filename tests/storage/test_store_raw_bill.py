"""store_raw_bill when the raw bill it is to record is gone from object storage."""

from __future__ import annotations

import uuid

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.storage import StorageActivities
from shared.bill import Provider
from shared.models import FetchedBill, StoreRequest
from shared.settings import Settings
from worker.resources import Resources


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
