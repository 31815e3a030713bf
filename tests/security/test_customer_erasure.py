"""``python -m worker.erase_customer``: a customer's right to erasure, run as an operator runs it, against the session's
Postgres, object store, warehouse and Temporal. Nothing erased it before, and Postgres refused its row deleted by hand
(a privacy probe, 76A)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Role, create_key
from shared.artifacts import GcsArtifactStore, StoredObject, build_artifact_store
from shared.settings import Settings
from tests.helpers import account_digits, bill_text, create_account, run_entry_point, upload_and_wait
from worker.erase_customer import _run
from worker.resources import Resources

SETTLED = {"SUCCEEDED", "NEEDS_REVIEW", "FAILED"}


def operator_env(settings: Settings) -> dict[str, str]:
    """The settings an operator's shell holds: the deployment's, as the worker has them."""
    assert settings.database_url is not None and settings.payload_keys is not None
    return {
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "PAYLOAD_KEYS": settings.payload_keys.get_secret_value(),
        "DATA_DIR": str(settings.data_dir),
        "ARTIFACT_STORE": "gcs",
        "STORAGE_EMULATOR_HOST": settings.storage_emulator_host or "",
        "GCS_BUCKET": settings.gcs_bucket,
        "ANALYTICS": "bigquery",
        "BIGQUERY_EMULATOR_HOST": settings.bigquery_emulator_host or "",
        "BQ_DATASET": settings.bq_dataset,
        "ENV": "test",
        "LOG_FORMAT": "json",
    }


async def customer_with_bills(http: httpx.AsyncClient, resources: Resources, unique: str) -> dict[str, Any]:
    """A customer with a stored bill, one waiting for review (its run still open) and a key of its own."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    stored = await upload_and_wait(http, account, bill_text(number, total="60.00"), SETTLED)
    assert stored["status"] == "SUCCEEDED", stored
    rejected = await upload_and_wait(http, account, bill_text(number).replace("03/05/2026", "03/07/2026"), SETTLED)
    task = (await http.get(f"/reviews/{rejected['id']}")).json()
    decided = await http.post(
        f"/reviews/{rejected['id']}", json={"action": "reject", "revision": task["revision"], "note": NOTE}
    )
    assert decided.status_code == 200, decided.text
    waiting = await upload_and_wait(http, account, bill_text(number).replace("03/05/2026", "03/06/2026"), SETTLED)
    assert waiting["status"] == "NEEDS_REVIEW", waiting
    key = await create_key(
        resources.pool, name=f"erased-{unique}", role=Role.VIEWER, customer_id=account["customer_id"]
    )
    return {"account": account, "number": number, "jobs": [stored, rejected, waiting], "key": key.key}


NOTE = "Rejected: Jane Reviewer's copy, not this account's"


async def held_in_postgres(resources: Resources, customer_id: int, job_ids: list[str]) -> dict[str, int]:
    jobs = [uuid.UUID(job_id) for job_id in job_ids]
    counts = {
        "customers": "SELECT count(*) FROM customers WHERE id = $1",
        "utility_accounts": "SELECT count(*) FROM utility_accounts WHERE customer_id = $1",
        "ingestion_jobs": "SELECT count(*) FROM ingestion_jobs WHERE customer_id = $1",
        "bills": "SELECT count(*) FROM bills WHERE customer_id = $1",
        "api_keys": "SELECT count(*) FROM api_keys WHERE customer_id = $1",
    }
    found = {table: await resources.pool.fetchval(sql, customer_id) for table, sql in counts.items()}
    for table in ("review_tasks", "review_decisions", "artifacts"):
        found[table] = await resources.pool.fetchval(f"SELECT count(*) FROM {table} WHERE job_id = ANY($1)", jobs)
    found["bill_usage"] = await resources.pool.fetchval(
        "SELECT count(*) FROM bill_usage u JOIN bills b ON b.id = u.bill_id WHERE b.customer_id = $1", customer_id
    )
    return found


async def runs_left(client: Client, jobs: list[dict[str, Any]]) -> list[str]:
    left = []
    for job in jobs:
        try:
            await client.get_workflow_handle(job["workflow_id"]).describe()
        except RPCError as error:
            assert error.status is RPCStatusCode.NOT_FOUND, error
            continue
        left.append(job["workflow_id"])
    return left


def raw_bills(store: GcsArtifactStore, jobs: list[dict[str, Any]]) -> list[str]:
    return [listed.name for job in jobs for listed in store.list_raw(job["id"])]


@pytest.fixture()
def store(app_settings: Settings) -> GcsArtifactStore:
    built = build_artifact_store(app_settings)
    assert isinstance(built, GcsArtifactStore)
    return built


async def test_erasing_a_customer_leaves_nothing_of_it_and_everything_of_the_others(
    http: httpx.AsyncClient,
    anon_http: httpx.AsyncClient,
    resources: Resources,
    client: Client,
    app_settings: Settings,
    store: GcsArtifactStore,
) -> None:
    sink = resources.sink
    assert sink is not None
    erased = await customer_with_bills(http, resources, uuid.uuid4().hex[:10])
    kept = await customer_with_bills(http, resources, uuid.uuid4().hex[:10])
    customer_id = erased["account"]["customer_id"]
    job_ids = [job["id"] for job in erased["jobs"]]
    before = await held_in_postgres(resources, customer_id, job_ids)
    assert all(before.values()), before
    assert raw_bills(store, erased["jobs"]) and sum(sink.customer_rows(customer_id).values())
    env = operator_env(app_settings)

    listed = await asyncio.to_thread(run_entry_point, "worker.erase_customer", "--customer-id", str(customer_id), **env)
    assert listed.returncode == 0, listed.stderr
    assert "postgres bills: 1" in listed.stdout and "temporal runs: 3 (1 running)" in listed.stdout, listed.stdout
    assert await held_in_postgres(resources, customer_id, job_ids) == before, "a listing deletes nothing"

    done = await asyncio.to_thread(
        run_entry_point, "worker.erase_customer", "--customer-id", str(customer_id), "--erase", **env
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert f"customer {customer_id} erased" in done.stdout
    assert NOTE not in done.stdout + done.stderr and erased["number"] not in done.stdout

    assert await held_in_postgres(resources, customer_id, job_ids) == dict.fromkeys(before, 0)
    assert raw_bills(store, erased["jobs"]) == []
    assert set(sink.customer_rows(customer_id).values()) == {0}
    assert await runs_left(client, erased["jobs"]) == []
    assert (await anon_http.get("/jobs", headers={"X-API-Key": erased["key"]})).status_code == 401
    assert (await http.get(f"/jobs/{job_ids[0]}")).status_code == 404

    # The other customer keeps all it had.
    others = [job["id"] for job in kept["jobs"]]
    assert all((await held_in_postgres(resources, kept["account"]["customer_id"], others)).values())
    assert len(raw_bills(store, kept["jobs"])) == 3
    assert sum(sink.customer_rows(kept["account"]["customer_id"]).values())
    assert await runs_left(client, kept["jobs"]) == [job["workflow_id"] for job in kept["jobs"]]
    assert (await anon_http.get("/jobs", headers={"X-API-Key": kept["key"]})).status_code == 200

    again = await asyncio.to_thread(run_entry_point, "worker.erase_customer", "--customer-id", str(customer_id), **env)
    assert again.returncode == 0 and "nothing to erase" in again.stdout, again.stdout


class KeepingStore(GcsArtifactStore):
    """A bucket whose retention policy keeps every object: each delete is refused (False), as GCS's is."""

    def delete(self, listed: StoredObject) -> bool:
        return False


async def test_a_raw_bill_the_bucket_keeps_keeps_the_rows_that_find_it(
    http: httpx.AsyncClient, resources: Resources, client: Client, app_settings: Settings, store: GcsArtifactStore
) -> None:
    """Postgres went first, and a raw bill the bucket kept was then found by nothing: the run said "erased" (76D)."""
    assert resources.sink is not None
    customer = await customer_with_bills(http, resources, uuid.uuid4().hex[:10])
    customer_id = customer["account"]["customer_id"]
    keeping = KeepingStore(
        bucket=app_settings.gcs_bucket, project=app_settings.gcp_project, endpoint=app_settings.storage_emulator_host
    )

    kept = await _run(resources.pool, keeping, resources.sink, client, customer_id=customer_id, erasing=True)

    assert kept == 1
    assert len(raw_bills(store, customer["jobs"])) == 3
    ids = [job["id"] for job in customer["jobs"]]
    assert (await held_in_postgres(resources, customer_id, ids))["ingestion_jobs"] == 3, "the index of what is left"
    assert await runs_left(client, customer["jobs"]) == [], "every other store erased"
    erased = await _run(resources.pool, store, resources.sink, client, customer_id=customer_id, erasing=True)
    assert erased == 0 and raw_bills(store, customer["jobs"]) == []
    assert set((await held_in_postgres(resources, customer_id, ids)).values()) == {0}
