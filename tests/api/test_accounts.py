"""Utility accounts: one account number, however it is written, is one account."""

from __future__ import annotations

import uuid

import httpx

from shared.bill import account_key
from worker.resources import Resources


async def test_an_account_number_written_another_way_is_the_same_account(http: httpx.AsyncClient) -> None:
    """Dashes, spaces and case aside it is a second registration: 409, naming the account to use."""
    customer = (await http.post("/customers", json={"name": "Two spellings"})).json()
    digits = uuid.uuid4().int % 10**12
    first = await http.post(
        "/utility-accounts",
        json={"customer_id": customer["id"], "provider": "pge", "account_number": f"ab-{digits:012d}"},
    )
    assert first.status_code == 201, first.text
    spaced = " ".join(f"{digits:012d}"[i : i + 4] for i in range(0, 12, 4))
    again = await http.post(
        "/utility-accounts",
        json={"customer_id": customer["id"], "provider": "pge", "account_number": f"AB {spaced}"},
    )
    assert again.status_code == 409, again.text
    assert again.json()["utility_account_id"] == first.json()["id"]

    other_provider = await http.post(
        "/utility-accounts",
        json={"customer_id": customer["id"], "provider": "duke", "account_number": f"AB{digits:012d}"},
    )
    assert other_provider.status_code == 201, "the same number at another provider is another account"


async def test_an_account_without_a_provider_and_one_with_it_are_one_account(http: httpx.AsyncClient) -> None:
    """Otherwise a statement uploaded to each is stored twice, and the dashboard counts it twice."""
    customer = (await http.post("/customers", json={"name": "Provider or not"})).json()
    for first, second in ((None, "pge"), ("pge", None)):
        number = f"NP-{uuid.uuid4().int % 10**10:010d}"
        created = await http.post(
            "/utility-accounts", json={"customer_id": customer["id"], "provider": first, "account_number": number}
        )
        assert created.status_code == 201, created.text
        again = await http.post(
            "/utility-accounts", json={"customer_id": customer["id"], "provider": second, "account_number": number}
        )
        assert again.status_code == 409, again.text
        assert again.json()["utility_account_id"] == created.json()["id"]
        assert "one account per number" in again.json()["detail"]


async def test_a_409_says_whether_the_account_it_repeats_has_a_provider(http: httpx.AsyncClient) -> None:
    """Two registrations of one number, neither naming a provider, were told the account was already there "with that
    provider"."""
    customer = (await http.post("/customers", json={"name": "Provider named or not"})).json()
    for provider, words in ((None, "without a provider"), ("pge", "with that provider")):
        number = f"NN-{uuid.uuid4().int % 10**10:010d}"
        body = {"customer_id": customer["id"], "provider": provider}
        created = await http.post("/utility-accounts", json={**body, "account_number": number})
        again = await http.post("/utility-accounts", json={**body, "account_number": number.replace("-", " ")})
        assert (created.status_code, again.status_code) == (201, 409), again.text
        assert again.json()["detail"] == f"this customer already has that account {words}"


async def test_the_database_and_python_agree_on_an_account_key(resources: Resources) -> None:
    """``shared.bill.account_key`` and the SQL function behind the unique keys are one rule."""
    numbers = ["1234-5678 9012", "ab12", "  Ab.12/x ", "NW-0042-7781", "Ünïcode-7", "", "---"]
    in_sql = await resources.pool.fetch("SELECT n, account_key(n) AS k FROM unnest($1::text[]) AS n", numbers)
    assert {r["n"]: r["k"] for r in in_sql} == {n: account_key(n) for n in numbers}
