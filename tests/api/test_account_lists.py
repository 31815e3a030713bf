"""``GET /customers`` and ``GET /utility-accounts``: a client finds what it registered, page by page, and a key bound
to a customer finds only its own."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from api.auth import Role, create_key
from tests.security.conftest import caller
from worker.resources import Resources


async def _pages(http: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a list, following ``next_cursor`` with the same filters."""
    pages = [(await http.get(path, params=params)).json()]
    while pages[-1]["next_cursor"] is not None:
        response = await http.get(path, params={**params, "cursor": pages[-1]["next_cursor"]})
        assert response.status_code == 200, response.text
        pages.append(response.json())
    return pages


async def _account(http: httpx.AsyncClient, customer_id: int, provider: str | None) -> dict[str, Any]:
    number = f"LIST-{uuid.uuid4().int % 10**10:010d}"
    created = await http.post(
        "/utility-accounts", json={"customer_id": customer_id, "provider": provider, "account_number": number}
    )
    assert created.status_code == 201, created.text
    return {**created.json(), "number": number}


async def test_a_customers_accounts_come_page_by_page_masked_and_filtered(http: httpx.AsyncClient) -> None:
    customer = (await http.post("/customers", json={"name": "Three accounts"})).json()
    accounts = [await _account(http, customer["id"], provider) for provider in ("pge", "duke", "pge")]

    first = await http.get("/utility-accounts", params={"customer_id": customer["id"], "limit": 2})
    assert first.status_code == 200, first.text
    assert [a["id"] for a in first.json()["items"]] == [accounts[0]["id"], accounts[1]["id"]]
    assert first.json()["total"] == 3 and first.json()["next_cursor"] is not None
    # One registered while the client pages comes on a later page; none is skipped or shown twice.
    late = await _account(http, customer["id"], None)
    rest = await http.get(
        "/utility-accounts", params={"customer_id": customer["id"], "limit": 2, "cursor": first.json()["next_cursor"]}
    )
    assert rest.status_code == 200, rest.text
    assert [a["id"] for a in rest.json()["items"]] == [accounts[2]["id"], late["id"]]
    assert rest.json()["next_cursor"] is None, "a full last page offers no next one"
    for item in first.json()["items"] + rest.json()["items"]:
        assert item["customer_id"] == customer["id"] and item["account_number_masked"].startswith("****")
    for account in [*accounts, late]:
        assert account["number"][5:] not in first.text + rest.text, "account numbers are masked"

    pge = await http.get("/utility-accounts", params={"customer_id": customer["id"], "provider": "pge"})
    assert [a["id"] for a in pge.json()["items"]] == [accounts[0]["id"], accounts[2]["id"]]
    assert pge.json()["total"] == 2


async def test_a_cursor_pages_only_the_list_and_filters_it_came_from(http: httpx.AsyncClient) -> None:
    customer = (await http.post("/customers", json={"name": "Cursor scope"})).json()
    for provider in ("pge", "pge"):
        await _account(http, customer["id"], provider)
    cursor = (await http.get("/utility-accounts", params={"customer_id": customer["id"], "limit": 1})).json()[
        "next_cursor"
    ]
    for path, params in (
        ("/utility-accounts", {"customer_id": customer["id"], "provider": "pge"}),
        ("/utility-accounts", {}),
        ("/customers", {}),
    ):
        refused = await http.get(path, params={**params, "cursor": cursor})
        assert refused.status_code == 422, (path, params, refused.text)
        assert refused.json()["code"] == "invalid_cursor" and "other filters" in refused.json()["detail"]
    forged = [
        "not base64!",
        base64.urlsafe_b64encode(b"12").decode(),
        base64.urlsafe_b64encode(b"0|x").decode(),
        base64.urlsafe_b64encode(f"{2**63}|x".encode()).decode(),
    ]
    for bad in forged:
        for path in ("/utility-accounts", "/customers"):
            refused = await http.get(path, params={"cursor": bad})
            assert refused.status_code == 422, (path, bad, refused.text)
            assert refused.json()["code"] == "invalid_cursor", refused.text
    unknown = await http.get("/utility-accounts", params={"provider": "acme"})
    assert unknown.status_code == 422, "a provider the service does not know is no filter to ignore"


async def test_the_customer_list_pages_by_id_to_the_end(http: httpx.AsyncClient, resources: Resources) -> None:
    made = [(await http.post("/customers", json={"name": f"Listed {n}"})).json()["id"] for n in range(3)]
    pages = await _pages(http, "/customers", limit=2)
    ids = [c["id"] for page in pages for c in page["items"]]
    assert ids == sorted(set(ids)), "oldest first, none twice"
    assert set(made) <= set(ids)
    assert pages[0]["total"] == len(ids) == await resources.pool.fetchval("SELECT count(*) FROM customers")
    assert all(len(page["items"]) == 2 for page in pages[:-1])


@pytest.mark.parametrize("role", [role for role in Role if role is not Role.ADMIN])
async def test_a_key_bound_to_a_customer_lists_its_own_alone(
    role: Role, http: httpx.AsyncClient, api_url: str, resources: Resources
) -> None:
    mine = (await http.post("/customers", json={"name": "Mine"})).json()
    theirs = (await http.post("/customers", json={"name": "Theirs"})).json()
    my_account = await _account(http, mine["id"], "pge")
    await _account(http, theirs["id"], "pge")
    key = (await create_key(resources.pool, name=f"lists-{role}", role=role, customer_id=mine["id"])).key
    async with caller(api_url, key) as scoped:
        customers = await scoped.get("/customers")
        assert customers.status_code == 200, customers.text
        assert [c["id"] for c in customers.json()["items"]] == [mine["id"]] and customers.json()["total"] == 1
        accounts = await scoped.get("/utility-accounts")
        assert [a["id"] for a in accounts.json()["items"]] == [my_account["id"]]
        asked = await scoped.get("/utility-accounts", params={"customer_id": theirs["id"]})
        assert asked.status_code == 200 and asked.json() == {
            "items": [],
            "total": 0,
            "limit": 50,
            "next_cursor": None,
        }, "another customer's accounts are not there for this key"
