"""A 201 says where to read what it created (``Location``), so a client follows it instead of building the path."""

from __future__ import annotations

import httpx

from tests.helpers import bill_text, create_account


async def _follow(http: httpx.AsyncClient, created: httpx.Response) -> httpx.Response:
    assert created.status_code == 201, created.text
    read = await http.get(created.headers["Location"])
    assert read.status_code == 200, read.text
    assert read.json()["id"] == created.json()["id"]
    return read


async def test_each_create_names_where_to_read_it_and_a_replay_does_not(http: httpx.AsyncClient, unique: str) -> None:
    key = {"Idempotency-Key": f"located-{unique}"}
    customer = await http.post("/customers", json={"name": f"Located {unique}"}, headers=key)
    assert (await _follow(http, customer)).url.path == f"/customers/{customer.json()['id']}"
    replayed = await http.post("/customers", json={"name": f"Located {unique}"}, headers=key)
    assert replayed.status_code == 200 and "Location" not in replayed.headers

    account = await http.post(
        "/utility-accounts",
        json={"customer_id": customer.json()["id"], "provider": "pge", "account_number": f"LOC-{unique}"},
    )
    assert (await _follow(http, account)).url.path == f"/utility-accounts/{account.json()['id']}"

    job = await http.post("/jobs", json={"utility_account_id": account.json()["id"]}, headers=key)
    assert (await _follow(http, job)).url.path == f"/jobs/{job.json()['id']}"
    assert (
        "Location"
        not in (await http.post("/jobs", json={"utility_account_id": account.json()["id"]}, headers=key)).headers
    )


async def test_an_uploads_201_names_its_job(http: httpx.AsyncClient, unique: str) -> None:
    account = await create_account(http, provider="pge", account_number=f"LOCUP-{unique}")
    uploaded = await http.post(
        "/bills",
        files={"file": ("bill.txt", bill_text(account["account_number_masked"]).encode(), "text/plain")},
        data={"utility_account_id": str(account["id"])},
    )
    assert (await _follow(http, uploaded)).url.path == f"/jobs/{uploaded.json()['id']}"


async def test_openapi_declares_the_location_of_every_create(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    for path in ("/customers", "/utility-accounts", "/jobs", "/bills", "/ingest/run", "/agent/run"):
        assert "Location" in paths[path]["post"]["responses"]["201"].get("headers", {}), path
