"""``GET /bills/{id}``: a job's stored bill read back through the API, for whoever may see its customer."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from api.auth import Role, create_key
from tests.helpers import account_digits, bill_text, create_account, upload_and_wait
from worker.resources import Resources


async def test_a_jobs_bill_reads_back_with_its_charges_items_and_usage(http: httpx.AsyncClient, unique: str) -> None:
    """A job's result holds the amount due alone (unpaid balance included), and nothing in the API gave the rest:
    an integrator recorded the amount due as what the month cost, counting the balance twice."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    text = bill_text(number, total="95.50").replace(
        "Previous Balance          $0.00", "Previous Balance         $35.50"
    )
    job = await upload_and_wait(http, account, text)
    assert job["status"] == "SUCCEEDED", job
    bill_id = job["result"]["bill_id"]

    response = await http.get(f"/bills/{bill_id}")
    assert response.status_code == 200, response.text
    bill = response.json()
    assert (bill["id"], bill["job_id"], bill["utility_account_id"]) == (bill_id, job["id"], account["id"])
    assert bill["customer_id"] == account["customer_id"] and bill["provider"] == "pge"
    amounts = {
        name: bill[name] for name in ("total_amount", "previous_balance", "payments_received", "current_charges")
    }
    assert amounts == {
        "total_amount": "95.50",
        "previous_balance": "35.50",
        "payments_received": "0.00",
        "current_charges": "60.00",
    }
    assert Decimal(job["result"]["total_amount"]) == Decimal("95.50"), "the result's figure is the amount due"
    assert (bill["bill_period_start"], bill["bill_period_end"], bill["due_date"], bill["statement_date"]) == (
        "2026-02-01",
        "2026-02-28",
        "2026-03-25",
        "2026-03-05",
    )
    assert [(item["description"], item["amount"]) for item in bill["line_items"]] == [
        ("Electric Supply", "40.00"),
        ("Electric Delivery", "20.00"),
    ]
    assert [(u["commodity"], u["quantity"], u["unit"]) for u in bill["usage"]] == [("electricity", "350", "kWh")]
    assert bill["account_number_masked"] == "****" + number.replace("-", "")[-4:]
    assert number not in response.text and bill["revised_at"] is None


async def test_a_bill_of_a_utility_without_a_connector_reads_back_with_its_name(
    http: httpx.AsyncClient, unique: str
) -> None:
    """The warehouse's ``provider`` is the name the bill gives where no connector knows the utility; the API gave
    ``provider: null`` and no name, and an export reconciled against the warehouse by provider matched nothing
    (74A)."""
    number = account_digits(unique)
    account = await create_account(http, provider=None, account_number=number)
    text = bill_text(number, total="60.00").replace(
        "Pacific Gas and Electric Company", "Riverbend Electric Cooperative"
    )
    job = await upload_and_wait(http, account, text)
    assert job["status"] == "SUCCEEDED", job
    bill = (await http.get(f"/bills/{job['result']['bill_id']}")).json()
    assert (bill["provider"], bill["provider_name"]) == (None, "Riverbend Electric Cooperative")


async def test_a_bill_is_found_only_by_keys_that_may_see_its_customer(
    http: httpx.AsyncClient, anon_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    job = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    bill_id = job["result"]["bill_id"]
    another = (await http.post("/customers", json={"name": f"Another {unique}"})).json()

    async def read(role: Role, customer_id: int, path: str = f"/bills/{bill_id}") -> httpx.Response:
        key = await create_key(
            resources.pool, name=f"{role}-{customer_id}-{unique}", role=role, customer_id=customer_id
        )
        return await anon_http.get(path, headers={"Authorization": f"Bearer {key.key}"})

    for role in (Role.VIEWER, Role.INGEST, Role.REVIEWER):
        assert (await read(role, account["customer_id"])).status_code == 200, role
    hidden = await read(Role.VIEWER, another["id"])
    unknown = await http.get(f"/bills/{uuid.uuid4()}")
    malformed = await http.get("/bills/not-a-bill")
    for response in (hidden, unknown, malformed):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await anon_http.get(f"/bills/{bill_id}")).status_code == 401
