"""SQL injection strings through every text input: refused (4xx) or stored literally, never a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest

from tests.helpers import create_account
from worker.resources import Resources

PAYLOADS = [
    "' OR '1'='1",
    "'; DROP TABLE customers; --",
    '"; DROP TABLE api_keys; --',
    "Robert'); DELETE FROM ingestion_jobs; --",
    "1 -- DROP TABLE customers",
    "' UNION SELECT key_hash, prefix FROM api_keys --",
    "1; SELECT pg_sleep(10) --",
    "%' OR 1=1 --",
    "$1) OR ($2",
    "\\'; TRUNCATE bills; --",
    "' OR 1=1\x00",
]
HEADER_SAFE = [p for p in PAYLOADS if p.isprintable()]
TABLES = ["customers", "utility_accounts", "ingestion_jobs", "artifacts", "bills", "review_tasks", "api_keys"]


async def table_counts(resources: Resources) -> dict[str, int]:
    counts = {}
    for table in TABLES:
        assert await resources.pool.fetchval("SELECT to_regclass($1)", table) is not None, f"{table} is gone"
        counts[table] = await resources.pool.fetchval(f"SELECT count(*) FROM {table}")
    return counts


@pytest.fixture()
async def intact(resources: Resources, http: httpx.AsyncClient) -> AsyncIterator[None]:
    """Every table still exists afterwards, has lost no rows, and the admin key still works."""
    before = await table_counts(resources)
    yield
    after = await table_counts(resources)
    assert all(after[t] >= before[t] for t in TABLES), (before, after)
    assert (await http.get("/jobs", params={"limit": 1})).status_code == 200


def server_errors(results: list[tuple[str, str, httpx.Response]]) -> list[str]:
    return [
        f"{where} <- {payload!r}: {r.status_code} {r.text[:200]}"
        for where, payload, r in results
        if r.status_code >= 500
    ]


@pytest.mark.usefixtures("intact")
async def test_customer_fields(http: httpx.AsyncClient, resources: Resources) -> None:
    results = []
    for payload in PAYLOADS:
        for field, body in (
            ("name", {"name": payload}),
            ("email", {"name": "x", "email": payload}),
            ("email@", {"name": "x", "email": f"{payload}@example.com"}),
        ):
            response = await http.post("/customers", json=body)
            results.append((f"POST /customers {field}", payload, response))
            if response.status_code == 201:
                created_id = response.json()["id"]
                stored = await resources.pool.fetchrow("SELECT name, email FROM customers WHERE id = $1", created_id)
                assert dict(stored) == {"name": body["name"], "email": body.get("email")}
                assert (await http.get(f"/customers/{response.json()['id']}")).json()["name"] == body["name"]
    assert not server_errors(results), "\n".join(server_errors(results))


@pytest.mark.usefixtures("intact")
async def test_account_fields(http: httpx.AsyncClient, resources: Resources) -> None:
    customer_id = (await http.post("/customers", json={"name": "injection target"})).json()["id"]
    results = []
    for payload in PAYLOADS:
        for field, extra in (
            ("account_number", {"account_number": payload}),
            ("label", {"account_number": f"INJ-{uuid.uuid4().hex[:8]}", "label": payload}),
            ("provider", {"account_number": f"INJ-{uuid.uuid4().hex[:8]}", "provider": payload}),
        ):
            response = await http.post("/utility-accounts", json={"customer_id": customer_id, **extra})
            results.append((f"POST /utility-accounts {field}", payload, response))
            if response.status_code == 201:
                row = await resources.pool.fetchrow(
                    "SELECT account_number, label FROM utility_accounts WHERE id = $1", response.json()["id"]
                )
                assert row["account_number"] == extra["account_number"]
                assert row["label"] == extra.get("label")
    assert not server_errors(results), "\n".join(server_errors(results))


@pytest.mark.usefixtures("intact")
async def test_idempotency_key_header(http: httpx.AsyncClient, resources: Resources) -> None:
    account = await create_account(http, provider="pge", account_number=f"INJ-{uuid.uuid4().hex[:8]}")
    results = []
    for payload in HEADER_SAFE:
        response = await http.post(
            "/jobs", json={"utility_account_id": account["id"]}, headers={"Idempotency-Key": payload}
        )
        results.append(("POST /jobs Idempotency-Key", payload, response))
        if response.status_code in {200, 201}:
            stored = await resources.pool.fetchval(
                "SELECT idempotency_key FROM ingestion_jobs WHERE id = $1", response.json()["id"]
            )
            assert stored == payload
    assert not server_errors(results), "\n".join(server_errors(results))


@pytest.mark.usefixtures("intact")
async def test_path_and_query_parameters(http: httpx.AsyncClient) -> None:
    results = []
    for payload in PAYLOADS:
        quoted = quote(payload, safe="")
        for method, path in (
            ("GET", "/jobs/{}"),
            ("GET", "/agent/result/{}"),
            ("GET", "/jobs/{}/artifact"),
            ("GET", "/reviews/{}"),
            ("GET", "/customers/{}"),
            ("GET", "/utility-accounts/{}"),
            ("GET", "/customers/{}/dashboard"),
        ):
            response = await http.request(method, path.format(quoted))
            results.append((f"{method} {path}", payload, response))
            assert response.status_code in {404, 422} or response.status_code >= 500, (path, payload, response.text)
        response = await http.post(f"/reviews/{quoted}", json={"action": "approve", "revision": payload[:64] or "r"})
        results.append(("POST /reviews/{job_id}", payload, response))
        for path, param in (
            ("/jobs", "status"),
            ("/jobs", "customer_id"),
            ("/jobs", "limit"),
            ("/jobs", "offset"),
            ("/reviews", "provider"),
            ("/reviews", "customer_id"),
        ):
            response = await http.get(path, params={param: payload})
            results.append((f"GET {path}?{param}", payload, response))
            assert response.status_code != 200 or response.json()["items"] == [], "an injected filter matched rows"
        response = await http.post("/agent/run", params={"utility_account_id": payload})
        results.append(("POST /agent/run?utility_account_id", payload, response))
    assert not server_errors(results), "\n".join(server_errors(results))
