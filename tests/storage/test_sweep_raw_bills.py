"""``python -m worker.sweep_raw_bills``: raw bills no job references are found and removed, nothing else."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

import shared.artifacts
from activities.storage import record_artifact
from shared.artifacts import GcsArtifactStore, LocalArtifactStore, StoredObject
from shared.codec import KEY_FILE_NAME
from shared.models import ArtifactRef
from shared.settings import REPO_ROOT, Settings
from stack.emulators import GcsEmulator
from stack.services import free_port
from tests.helpers import create_account, entry_point_env, insert_job
from tests.storage.conftest import PROJECT
from tests.storage.denied_gcs import RETENTION_NOT_MET, deletes_refused
from tests.storage.test_artifacts_local import write_left_halfway
from worker.resources import Resources
from worker.sweep_raw_bills import format_age, parse_age, sweep

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


async def test_a_bill_the_bucket_keeps_is_left_and_the_sweep_goes_on(
    resources: Resources, gcs_store: GcsArtifactStore, gcs_emulator: GcsEmulator
) -> None:
    """A retention policy refusing one delete (403) stopped the whole sweep there, as a missing role."""
    first, second = sorted(str(uuid.uuid4()) for _ in range(2))  # listed in this order: the refusal comes first
    kept = put(gcs_store, first, "an orphan the retention policy still keeps")
    freed = put(gcs_store, second, "an orphan past the retention period")
    held = {listed.name for listed in gcs_store.list_raw() if listed.uri == kept.uri}
    later = datetime.now(UTC) + timedelta(days=2)

    with deletes_refused(gcs_emulator.url, held, RETENTION_NOT_MET) as url:
        store = GcsArtifactStore(bucket=gcs_store.bucket, project=PROJECT, endpoint=url)
        swept = await sweep(resources.pool, store, older_than=timedelta(days=1), delete=True, now=later)

    assert sorted(swept.orphans) == sorted([kept.uri, freed.uri]) and swept.deleted == [freed.uri]
    assert gcs_store.exists(kept.uri) and not gcs_store.exists(freed.uri)


async def test_a_deleting_sweep_clears_what_a_failed_local_write_left(
    resources: Resources, local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long-running worker never starts again, so a write that died in it left its ``.tmp-`` file for good:
    ``--delete`` clears it, as a start does. A dry run leaves it."""
    left = write_left_halfway(local_store, str(uuid.uuid4()))
    monkeypatch.setattr(shared.artifacts, "STALE_TEMP_AGE", timedelta(hours=-1))  # old by now

    await sweep(resources.pool, local_store, older_than=timedelta(days=1), delete=False)
    assert left.exists(), "a dry run deleted"

    swept = await sweep(resources.pool, local_store, older_than=timedelta(days=1), delete=True)
    assert not left.exists() and swept.deleted == []


async def run_sweep(settings: Settings, data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m worker.sweep_raw_bills args`` as an operator runs it: the session's Postgres, Temporal and payload
    keys (``env`` overrides any of them), a local store under ``data_dir``."""
    assert settings.database_url is not None and settings.payload_keys is not None
    session = {
        "ENV": "test",
        "DATA_DIR": str(data_dir),
        "ARTIFACT_STORE": "local",
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "PAYLOAD_KEYS": settings.payload_keys.get_secret_value(),
        "TEMPORAL_ADDRESS": settings.temporal_address,
    }
    operator_env = entry_point_env(**session | env)
    command = [sys.executable, "-m", "worker.sweep_raw_bills", *args]
    return await asyncio.to_thread(
        subprocess.run, command, env=operator_env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


async def history_retention_of(settings: Settings) -> timedelta:
    """The session's namespace's history retention (the dev server's: a day), asked on a connection of its own, as
    the sweep asks: the session client's long-lived one was once found closed by the server mid-call (CI: RPCError
    CANCELLED "operation was canceled", a known transport blip, temporalio/sdk-core#807)."""
    client = await Client.connect(settings.temporal_address)
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
    return described.config.workflow_execution_retention_ttl.ToTimedelta()


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("minimeter: warning")]


def orphan_in(data_dir: Path, age: timedelta) -> ArtifactRef:
    """An upload whose job was never created, last touched ``age`` ago, in the local store under ``data_dir``."""
    store = LocalArtifactStore(data_dir / "artifacts")
    store.ensure_bucket()
    ref = put(store, str(uuid.uuid4()), "an upload whose job was never created")
    (listed,) = store.list_raw()
    then = (datetime.now(UTC) - age).timestamp()
    os.utime(store.root / listed.name, (then, then))
    return ref


async def test_a_grace_shorter_than_temporals_history_retention_is_refused(
    resources: Resources, app_settings: Settings, tmp_path: Path
) -> None:
    """A run reset within the namespace's retention re-fetches its copies: a grace below it could delete a copy the
    reset then needs. Refused naming both figures, nothing deleted; the retention itself, or more, is accepted."""
    retention = await history_retention_of(app_settings)
    below = retention - timedelta(hours=1)
    orphan = orphan_in(tmp_path, age=retention + timedelta(days=1))

    # Several times: exiting right after asking Temporal aborted one run in three (exit 134, "Fatal Python error").
    refusals = await asyncio.gather(
        *(run_sweep(app_settings, tmp_path, "--delete", "--older-than", format_age(below)) for _ in range(8))
    )
    for refused in refusals:
        assert (refused.returncode, refused.stdout) == (1, ""), refused.stderr
        assert "Fatal Python error" not in refused.stderr, refused.stderr
        assert f"--older-than {format_age(below)} is shorter than the history retention" in refused.stderr
        assert f"'default' at {app_settings.temporal_address}, {format_age(retention)}:" in refused.stderr
    assert LocalArtifactStore(tmp_path / "artifacts").exists(orphan.uri), "a refused sweep deleted"

    accepted = await run_sweep(app_settings, tmp_path, "--delete", "--older-than", format_age(retention))
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.splitlines() == [orphan.uri]
    assert warnings_in(accepted.stderr) == []
    assert f"of those older than {format_age(retention)}, deleted 1" in accepted.stderr  # not "7 days, 0:00:00"


async def test_a_grace_below_the_retention_runs_when_the_operator_says_so(
    resources: Resources, app_settings: Settings, tmp_path: Path
) -> None:
    """``--ignore-retention``: neither Temporal's retention asked for (nothing listens at its address) nor held to."""
    orphan = orphan_in(tmp_path, age=timedelta(hours=3))
    nowhere = f"127.0.0.1:{free_port()}"

    swept = await run_sweep(
        app_settings, tmp_path, "--delete", "--older-than", "2h", "--ignore-retention", TEMPORAL_ADDRESS=nowhere
    )
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.splitlines() == [orphan.uri]


async def test_a_sweep_refuses_rather_than_guess_the_retention_when_temporal_does_not_answer(
    resources: Resources, app_settings: Settings, tmp_path: Path
) -> None:
    """A namespace may keep histories longer than the 30-day default: with nothing to ask, no grace is safe."""
    orphan = orphan_in(tmp_path, age=timedelta(days=60))
    nowhere = f"127.0.0.1:{free_port()}"

    refused = await run_sweep(app_settings, tmp_path, "--delete", TEMPORAL_ADDRESS=nowhere)
    assert refused.returncode != 0 and refused.stdout == ""
    assert f"Temporal (namespace 'default' at {nowhere}) did not say how long it keeps histories" in refused.stderr
    assert "--ignore-retention" in refused.stderr, refused.stderr
    assert LocalArtifactStore(tmp_path / "artifacts").exists(orphan.uri)


async def test_a_dry_run_below_the_retention_lists_with_a_warning(
    resources: Resources, app_settings: Settings, tmp_path: Path
) -> None:
    """A dry run deletes nothing, so a grace below the retention only warns (one line, both figures): an operator
    may look at what a shorter grace would find. Only ``--delete`` refuses it."""
    retention = await history_retention_of(app_settings)
    below = retention - timedelta(hours=1)
    orphan = orphan_in(tmp_path, age=retention)  # past the shorter grace, within the retention

    listed = await run_sweep(app_settings, tmp_path, "--older-than", format_age(below))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [orphan.uri]
    [warning] = warnings_in(listed.stderr)
    assert f"--older-than {format_age(below)} is shorter than the history retention" in warning, warning
    assert f"'default' at {app_settings.temporal_address}, {format_age(retention)}:" in warning
    assert "--delete" in warning
    assert LocalArtifactStore(tmp_path / "artifacts").exists(orphan.uri)


async def test_a_dry_run_lists_with_a_warning_when_temporal_does_not_answer(
    resources: Resources, app_settings: Settings, tmp_path: Path
) -> None:
    """With nothing to ask, a dry run says it could not check the grace, and lists all the same."""
    orphan = orphan_in(tmp_path, age=timedelta(days=60))
    nowhere = f"127.0.0.1:{free_port()}"

    listed = await run_sweep(app_settings, tmp_path, "--dry-run", TEMPORAL_ADDRESS=nowhere)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [orphan.uri]
    [warning] = warnings_in(listed.stderr)
    assert f"Temporal (namespace 'default' at {nowhere}) did not say how long it keeps histories" in warning, warning
    assert LocalArtifactStore(tmp_path / "artifacts").exists(orphan.uri)


async def test_asking_temporal_its_retention_needs_no_payload_keys(
    resources: Resources, app_settings: Settings, tmp_path: Path
) -> None:
    """A namespace's description carries no payloads: the sweep neither reads the payload keys for it nor, with none
    set, makes a key file of its own under ``DATA_DIR`` (as connecting with the workers' codec does)."""
    orphan = orphan_in(tmp_path, age=timedelta(days=60))

    swept = await run_sweep(app_settings, tmp_path, "--delete", PAYLOAD_KEYS="")
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.splitlines() == [orphan.uri]
    assert warnings_in(swept.stderr) == []
    assert not (tmp_path / KEY_FILE_NAME).exists(), "the sweep made a payload key file"


def test_a_grace_is_written_as_the_command_takes_it() -> None:
    assert [format_age(parse_age(text)) for text in ("30d", "36h", "90m", "24h")] == ["30d", "36h", "90m", "1d"]
    assert format_age(timedelta(hours=23, seconds=1)) == "1381m"
