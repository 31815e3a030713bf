"""``python -m worker.sweep_raw_bills``: raw bills no job references are found and removed, nothing else."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from activities.storage import record_artifact
from shared.artifacts import GcsArtifactStore, LocalArtifactStore
from shared.models import ArtifactRef
from tests.helpers import create_account, insert_job
from worker.resources import Resources
from worker.sweep_raw_bills import parse_age, sweep

Store = GcsArtifactStore | LocalArtifactStore


@pytest.fixture(params=["gcs", "local"])
def store(request: pytest.FixtureRequest) -> Store:
    """The GCS emulator's bucket and the local store in turn."""
    return request.getfixturevalue("gcs_store" if request.param == "gcs" else "local_store")


def put(store: Store, job_id: str, text: str) -> ArtifactRef:
    return store.put_once(
        job_id=job_id, data=text.encode(), content_type="text/plain", ext="txt", metadata={"job_id": job_id}
    )


async def test_only_unreferenced_bills_of_ended_jobs_past_the_grace_period_are_deleted(
    http: httpx.AsyncClient, resources: Resources, store: Store
) -> None:
    pool = resources.pool
    account: dict[str, Any] = await create_account(http, provider="pge", account_number=f"SW-{uuid.uuid4().hex[:8]}")
    ended = await insert_job(pool, account, job_type="fetch", status="FAILED")
    recorded = put(store, ended, "the bill store_raw_bill recorded")
    await record_artifact(pool, ended, recorded)
    lost = put(store, ended, "a portal's rendering whose fetch result was lost")

    running = await insert_job(pool, account, job_type="fetch", status="RUNNING")
    in_flight = put(store, running, "fetched, store_raw_bill not run yet")

    uploaded = await insert_job(pool, account, status="CANCELED")
    upload = put(store, uploaded, "uploaded; the job ended before store_raw_bill")
    await pool.execute(
        "UPDATE ingestion_jobs SET start_request = $2 WHERE id = $1",
        uuid.UUID(uploaded),
        {"upload": json.loads(upload.model_dump_json())},
    )

    reviewed = await insert_job(pool, account, status="REJECTED")
    under_review = put(store, reviewed, "the bill a reviewer saw")
    await pool.execute(
        "INSERT INTO review_tasks (job_id, status, reasons, artifact_uri, revision) VALUES ($1, 'CLOSED', $2, $3, 'r')",
        uuid.UUID(reviewed),
        [],
        under_review.uri,
    )

    jobless = put(store, str(uuid.uuid4()), "an upload whose job was never created")
    kept = [recorded, in_flight, upload, under_review]
    orphans = sorted([lost.uri, jobless.uri])
    later = datetime.now(UTC) + timedelta(days=2)

    young = await sweep(pool, store, older_than=timedelta(days=7), delete=True, now=later)
    assert (young.checked, young.orphans, young.deleted) == (6, [], []), "bills inside the grace period were taken"

    dry = await sweep(pool, store, older_than=timedelta(days=1), delete=False, now=later)
    assert sorted(dry.orphans) == orphans and dry.deleted == []
    assert all(store.exists(uri) for uri in orphans), "a dry run deleted"

    swept = await sweep(pool, store, older_than=timedelta(days=1), delete=True, now=later)
    assert sorted(swept.deleted) == orphans
    assert not any(store.exists(uri) for uri in orphans)
    assert all(store.read(ref.uri) for ref in kept), "a referenced bill was deleted"

    again = await sweep(pool, store, older_than=timedelta(days=1), delete=True, now=later)
    assert (again.checked, again.orphans, again.deleted) == (4, [], [])


def test_the_local_store_deletes_a_bills_metadata_with_it(local_store: LocalArtifactStore) -> None:
    ref = put(local_store, str(uuid.uuid4()), "orphan")
    (listed,) = local_store.list_raw()
    assert local_store.delete(listed) and not local_store.delete(listed)
    assert list((local_store.root / "raw" / "bills" / listed.job_id).iterdir()) == [], ref.uri


async def test_a_grace_period_shorter_than_an_hour_is_refused(resources: Resources, local_store: Store) -> None:
    with pytest.raises(ValueError, match="at least"):
        await sweep(resources.pool, local_store, older_than=timedelta(minutes=5), delete=True)
    assert parse_age("36h") == timedelta(hours=36) and parse_age("7d") == timedelta(days=7)
