"""``GET /jobs/{id}`` says each review reason in words: a customer's key cannot read the review task, and saw codes."""

from __future__ import annotations

import httpx

from api.auth import Role, create_key
from tests.helpers import bill_needing_review
from worker.resources import Resources


async def test_a_customers_key_reads_why_its_job_waits_for_a_reviewer(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """It read ``"reasons": ["balance_mismatch"]`` and nothing more (a support engineer's probe, 75A)."""
    job = await bill_needing_review(http, unique)
    viewer = await create_key(resources.pool, name=f"viewer-{unique}", role=Role.VIEWER, customer_id=job["customer_id"])
    as_customer = {"Authorization": f"Bearer {viewer.key}"}

    read = await http.get(f"/jobs/{job['id']}", headers=as_customer)
    listed = await http.get("/jobs", params={"utility_account_id": job["utility_account_id"]}, headers=as_customer)

    assert read.status_code == 200, read.text
    [detail] = read.json()["reason_details"]
    assert detail["code"] == "balance_mismatch" and "previous balance" in detail["text"], detail
    assert "(0.00 − 0.00 + 60.00 = 60.00; the total is 75.00)" in detail["text"], "the task's bill's sums"
    assert detail["fields"] == ["total_amount", "previous_balance", "payments_received", "current_charges"]
    [item] = listed.json()["items"]
    assert item["reasons"] == ["balance_mismatch"] and item["reason_details"] is None, "a list reads no task"
    assert (await http.get(f"/reviews/{job['id']}", headers=as_customer)).status_code == 403
