"""``python -m worker.sweep_raw_bills``: raw bills no job references are found and removed, nothing else."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.storage import record_artifact
from shared.artifacts import GcsArtifactStore, LocalArtifactStore, StoredObject
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
    ended = await insert_job(pool, account, job_type="connector", status="FAILED")
    recorded = put(store, ended, "the bill store_raw_bill recorded")
    await record_artifact(pool, ended, recorded)
    lost = put(store, ended, "a portal's rendering whose fetch result was lost")

    running = await insert_job(pool, account, job_type="connector", status="RUNNING")
    in_flight = put(store, running, "fetched, store_raw_bill not run yet")

    uploaded = await insert_job(pool, account, status="CANCELED")
    upload = put(store, uploaded, "uploaded; the job ended before store_raw_bill")
    await pool.execute(
        # Dispatched, as every job that ended was: an undispatched row would be retried by every API's
        # dispatcher on this database (and its warnings land in other tests' logs).
        "UPDATE ingestion_jobs SET start_request = $2, dispatched_at = now() WHERE id = $1",
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


class RetriedWhileSwept:
    """The store, where a request takes one bill up again (a client retrying its upload under the same
    Idempotency-Key, a reset run fetching the same bytes) right after the sweep listed it."""

    def __init__(self, store: Store, job_id: str, text: str) -> None:
        self.store, self.job_id, self.text = store, job_id, text

    def list_raw(self) -> Iterator[StoredObject]:
        yield from self.store.list_raw()
        put(self.store, self.job_id, self.text)  # the sweep has the page; Postgres is asked next

    def delete(self, listed: StoredObject) -> bool:
        return self.store.delete(listed)


async def test_a_bill_taken_up_again_after_the_sweep_listed_it_is_not_deleted(
    resources: Resources, store: Store
) -> None:
    job_id = str(uuid.uuid4())  # the first upload's job insert failed: no job row
    ref = put(store, job_id, "a bill uploaded again under the same Idempotency-Key")
    later = datetime.now(UTC) + timedelta(days=2)

    swept = await sweep(
        resources.pool,
        RetriedWhileSwept(store, job_id, "a bill uploaded again under the same Idempotency-Key"),
        older_than=timedelta(days=1),
        delete=True,
        now=later,
    )

    assert swept.deleted == [], "the bill a request had just taken up again was deleted"
    assert store.read(ref.uri) and store.exists(ref.uri)
    if isinstance(store, LocalArtifactStore):
        (listed,) = store.list_raw()
        path = store.root / listed.name
        assert path.with_name(path.name + ".meta.json").exists(), "the kept bill's metadata was deleted"


async def test_age_is_from_the_last_time_a_write_took_the_bill_up(
    resources: Resources, local_store: LocalArtifactStore
) -> None:
    ref = put(local_store, str(uuid.uuid4()), "an upload retried after 40 days")
    (listed,) = local_store.list_raw()
    path = local_store.root / listed.name
    forty_days_ago = (datetime.now(UTC) - timedelta(days=40)).timestamp()
    os.utime(path, (forty_days_ago, forty_days_ago))
    put(local_store, listed.job_id, "an upload retried after 40 days")

    swept = await sweep(resources.pool, local_store, older_than=timedelta(days=30), delete=True)

    assert swept.deleted == [] and local_store.exists(ref.uri), "age was taken from the first write"


async def test_a_jobs_copies_wait_out_the_grace_after_the_job_ended(
    http: httpx.AsyncClient, resources: Resources, store: Store
) -> None:
    """A run reset past its start leaves the job's old ended status until the run ends again: a copy it may
    fetch again is no orphan until the job has ended longer ago than the grace."""
    account: dict[str, Any] = await create_account(http, provider="pge", account_number=f"SW-{uuid.uuid4().hex[:8]}")
    job_id = await insert_job(resources.pool, account, job_type="connector", status="FAILED")
    copy = put(store, job_id, "fetched by an attempt whose result was lost")
    later = datetime.now(UTC) + timedelta(days=2)
    await resources.pool.execute(
        "UPDATE ingestion_jobs SET updated_at = $2 WHERE id = $1", uuid.UUID(job_id), later - timedelta(hours=1)
    )

    kept = await sweep(resources.pool, store, older_than=timedelta(days=1), delete=True, now=later)
    assert kept.orphans == [] and store.exists(copy.uri), "a copy of a job that ended an hour ago was taken"

    swept = await sweep(resources.pool, store, older_than=timedelta(days=1), delete=True, now=later + timedelta(days=1))
    assert swept.deleted == [copy.uri]


def test_a_write_landing_while_the_local_store_deletes_the_bill_writes_it_again(
    local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """put_once found the name taken, then the sweep deleted the bill before put_once read it: a 500 at upload."""
    job_id = str(uuid.uuid4())
    put(local_store, job_id, "a bill")
    (listed,) = local_store.list_raw()
    link = os.link

    def swept_in_the_gap(src: str, dst: Path) -> None:
        try:
            link(src, dst)
        except FileExistsError:
            assert local_store.delete(listed)
            raise

    with monkeypatch.context() as gap:
        gap.setattr("shared.artifacts.os.link", swept_in_the_gap)
        ref = put(local_store, job_id, "a bill")
    assert local_store.read(ref.uri) == b"a bill"


async def test_each_orphan_is_reported_as_it_is_deleted(resources: Resources, store: Store) -> None:
    """The URIs were printed once the run had ended: a run that failed partway left no record of its deletes."""
    orphan = put(store, str(uuid.uuid4()), "an upload whose job was never created")
    reported: list[str] = []

    swept = await sweep(
        resources.pool,
        store,
        older_than=timedelta(days=1),
        delete=True,
        now=datetime.now(UTC) + timedelta(days=2),
        report=reported.append,
    )
    assert reported == swept.deleted == [orphan.uri]
