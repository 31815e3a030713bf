"""``POST /customers``: a create sent again under its Idempotency-Key makes no second customer."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.auth import Role, create_key
from worker.resources import Resources


async def test_a_create_sent_again_under_its_idempotency_key_answers_the_same_customer(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A client whose 201 was lost to a timeout sends the create again, at once or side by side."""
    body = {"name": f"Retried {unique}", "email": "billing@example.com"}
    headers = {"Idempotency-Key": f"customer-{unique}"}

    first, *racing = await asyncio.gather(*(http.post("/customers", json=body, headers=headers) for _ in range(3)))
    again = await http.post("/customers", json=body, headers=headers)

    answers = [first, *racing, again]
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 201], [r.text for r in answers]
    assert {r.json()["id"] for r in answers} == {first.json()["id"]}
    assert await resources.pool.fetchval("SELECT count(*) FROM customers WHERE name = $1", body["name"]) == 1


async def test_an_idempotency_key_reused_for_another_customer_is_a_422(http: httpx.AsyncClient, unique: str) -> None:
    headers = {"Idempotency-Key": f"customer-{unique}"}
    created = await http.post("/customers", json={"name": f"First {unique}"}, headers=headers)
    assert created.status_code == 201, created.text

    reused = await http.post("/customers", json={"name": f"Second {unique}"}, headers=headers)

    assert reused.status_code == 422, reused.text
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key was already used" in reused.json()["detail"]


async def test_idempotency_keys_are_scoped_per_api_key_and_optional(
    http: httpx.AsyncClient, resources: Resources, api_url: str, unique: str
) -> None:
    """Another admin's key of the same name is another create; no key, no deduplication (as before)."""
    body = {"name": f"Scoped {unique}"}
    headers = {"Idempotency-Key": f"shared-{unique}"}
    other = await create_key(resources.pool, name=f"other-admin-{unique}", role=Role.ADMIN)
    mine = await http.post("/customers", json=body, headers=headers)
    async with httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {other.key}"}) as theirs:
        their = await theirs.post("/customers", json=body, headers=headers)
    unkeyed = [await http.post("/customers", json=body) for _ in range(2)]

    assert [r.status_code for r in (mine, their, *unkeyed)] == [201, 201, 201, 201]
    assert len({r.json()["id"] for r in (mine, their, *unkeyed)}) == 4


@pytest.mark.parametrize("spelled", ["{id}.0", "+{id}", "{id}_0", "%20{id}", "abc"])
async def test_a_path_id_is_a_plain_integer_or_a_422(http: httpx.AsyncClient, unique: str, spelled: str) -> None:
    """``/customers/1.0`` read customer 1: a client's float or padded id reached whichever row had its value."""
    customer = (await http.post("/customers", json={"name": f"Plain id {unique}"})).json()
    path = spelled.format(id=customer["id"])

    for route in (f"/customers/{path}", f"/utility-accounts/{path}", f"/customers/{path}/dashboard"):
        response = await http.get(route)
        assert response.status_code == 422, (route, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await http.get(f"/customers/{customer['id']}")).status_code == 200
