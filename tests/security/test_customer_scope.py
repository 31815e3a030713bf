"""A key bound to customer A never sees customer B: B's objects answer 404 (not 403), lists hold only A's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from activities.storage import record_artifact
from api.auth import Role, create_key
from tests.helpers import insert_job
from tests.security.conftest import caller
from worker.resources import Resources


@dataclass(frozen=True)
class Tenant:
    customer_id: int
    account_id: int
    job_id: str


@dataclass(frozen=True)
class Tenants:
    a: Tenant
    b: Tenant
    keys_a: dict[Role, str]
    """Keys of every role but admin (never bound to a customer) bound to customer A."""


async def _tenant(http: httpx.AsyncClient, resources: Resources, name: str) -> Tenant:
    """A customer, an account, a job awaiting review with a stored bill and its open review task.

    Rows are written directly: this is about who may read them, not about the pipeline.
    """
    customer = (await http.post("/customers", json={"name": name})).json()
    account = await http.post(
        "/utility-accounts",
        json={"customer_id": customer["id"], "provider": "pge", "account_number": f"SEC-{uuid.uuid4().hex[:12]}"},
    )
    assert account.status_code == 201, account.text
    account_id = account.json()["id"]
    pool = resources.pool
    job_id = await insert_job(pool, account.json(), status="NEEDS_REVIEW")
    ref = await asyncio.to_thread(
        resources.store.put_once,
        job_id=job_id,
        data=f"bill of {name}\n".encode(),
        content_type="text/plain",
        ext="txt",
        metadata={"job_id": job_id},
    )
    await record_artifact(pool, job_id, ref)
    await pool.execute(
        "INSERT INTO review_tasks (job_id, status, reasons, artifact_uri, revision)"
        " VALUES ($1, 'PENDING', $2, $3, 'r1')",
        job_id,
        ["security test"],
        ref.uri,
    )
    return Tenant(customer_id=customer["id"], account_id=account_id, job_id=job_id)


@pytest.fixture()
async def tenants(http: httpx.AsyncClient, resources: Resources) -> AsyncIterator[Tenants]:
    a = await _tenant(http, resources, "Tenant A")
    b = await _tenant(http, resources, "Tenant B")
    keys_a: dict[Role, str] = {
        role: (await create_key(resources.pool, name=f"scoped-{role}", role=role, customer_id=a.customer_id)).key
        for role in Role
        if role is not Role.ADMIN  # an admin key is never bound to a customer (create_key refuses)
    }
    yield Tenants(a=a, b=b, keys_a=keys_a)
    # The open review tasks would otherwise show up in other tests' review queues.
    jobs = [a.job_id, b.job_id]
    await resources.pool.execute("DELETE FROM review_tasks WHERE job_id = ANY($1::uuid[])", jobs)


def bill_upload(account_id: int) -> dict[str, object]:
    return {
        "files": {"file": ("bill.txt", b"Total due $12.00\n", "text/plain")},
        "data": {"utility_account_id": str(account_id)},
    }


async def test_other_customers_objects_answer_404(api_url: str, tenants: Tenants) -> None:
    b, keys = tenants.b, tenants.keys_a
    # (role of A's key, method, path, request kwargs): every one names B's object.
    attempts: list[tuple[Role, str, str, dict[str, object]]] = [
        (Role.VIEWER, "GET", f"/customers/{b.customer_id}", {}),
        (Role.VIEWER, "GET", f"/customers/{b.customer_id}/dashboard", {}),
        (Role.VIEWER, "GET", f"/utility-accounts/{b.account_id}", {}),
        (Role.VIEWER, "GET", f"/jobs/{b.job_id}", {}),
        (Role.VIEWER, "GET", f"/agent/result/{b.job_id}", {}),
        (Role.REVIEWER, "GET", f"/jobs/{b.job_id}/artifact", {}),
        (Role.INGEST, "GET", f"/jobs/{b.job_id}/artifact", {}),
        (Role.REVIEWER, "GET", f"/reviews/{b.job_id}", {}),
        (Role.REVIEWER, "POST", f"/reviews/{b.job_id}", {"json": {"action": "approve", "revision": "r1"}}),
        (
            Role.INGEST,
            "POST",
            "/utility-accounts",
            {"json": {"customer_id": b.customer_id, "provider": "pge", "account_number": "SEC-INTRUDER"}},
        ),
        (Role.INGEST, "POST", "/jobs", {"json": {"utility_account_id": b.account_id}}),
        (Role.INGEST, "POST", "/ingest/run", {"json": {"utility_account_id": b.account_id}}),
        (Role.INGEST, "POST", f"/agent/run?utility_account_id={b.account_id}", {}),
        (Role.INGEST, "POST", "/bills", bill_upload(b.account_id)),
    ]
    leaks = []
    for role, method, path, kwargs in attempts:
        async with caller(api_url, keys[role]) as client:
            response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
        if response.status_code != 404:
            leaks.append(f"{role} key of customer A: {method} {path} -> {response.status_code} {response.text[:200]}")
    assert not leaks, "\n".join(leaks)


async def test_own_objects_stay_visible(api_url: str, http: httpx.AsyncClient, tenants: Tenants) -> None:
    """The control: the same keys read A's objects, and an unscoped key reads B's (so 404 above is scoping)."""
    a, b, keys = tenants.a, tenants.b, tenants.keys_a
    own = [
        (Role.VIEWER, f"/customers/{a.customer_id}"),
        (Role.VIEWER, f"/customers/{a.customer_id}/dashboard"),
        (Role.VIEWER, f"/utility-accounts/{a.account_id}"),
        (Role.VIEWER, f"/jobs/{a.job_id}"),
        (Role.VIEWER, f"/agent/result/{a.job_id}"),
        (Role.REVIEWER, f"/jobs/{a.job_id}/artifact"),
        (Role.REVIEWER, f"/reviews/{a.job_id}"),
    ]
    for role, path in own:
        async with caller(api_url, keys[role]) as client:
            response = await client.get(path)
        assert response.status_code == 200, (role, path, response.status_code, response.text)
    for path in (f"/customers/{b.customer_id}", f"/jobs/{b.job_id}/artifact", f"/reviews/{b.job_id}"):
        assert (await http.get(path)).status_code == 200, path


async def test_lists_hold_only_own_customer(api_url: str, http: httpx.AsyncClient, tenants: Tenants) -> None:
    a, b, keys = tenants.a, tenants.b, tenants.keys_a
    async with caller(api_url, keys[Role.VIEWER]) as viewer:
        jobs = (await viewer.get("/jobs", params={"limit": 200})).json()
        asked_for_b = (await viewer.get("/jobs", params={"customer_id": b.customer_id})).json()
    assert {j["customer_id"] for j in jobs["items"]} == {a.customer_id}
    assert a.job_id in {j["id"] for j in jobs["items"]}
    assert jobs["total"] == len(jobs["items"])
    assert asked_for_b["items"] == [] and asked_for_b["total"] == 0

    async with caller(api_url, keys[Role.REVIEWER]) as reviewer:
        reviews = (await reviewer.get("/reviews", params={"limit": 200})).json()
        reviews_of_b = (await reviewer.get("/reviews", params={"customer_id": b.customer_id})).json()
    assert [r["job_id"] for r in reviews["items"]] == [a.job_id]
    assert reviews_of_b["items"] == [] and reviews_of_b["total"] == 0

    all_jobs = (await http.get("/jobs", params={"limit": 200})).json()
    assert {a.job_id, b.job_id} <= {j["id"] for j in all_jobs["items"]}, "the unscoped admin key sees both"
