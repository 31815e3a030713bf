"""A bill of another provider than its account's is never stored under it by a reviewer's decision.

Its task says ``provider_mismatch``; a reviewer who typed the number on file stored a PG&E statement under a Duke
account, counted in its months (a reviewer's probe). The provider is checked as the account number is: corrected to
the account's when the bill is the account's, misread; rejected otherwise."""

from __future__ import annotations

from typing import Any

import httpx

from shared.models import SETTLED_STATUSES
from tests.helpers import account_digits, bill_text, create_account, wait_for_status
from worker.resources import Resources


async def pge_bill_on_a_duke_account(http: httpx.AsyncClient, unique: str) -> dict[str, Any]:
    """A PG&E statement bearing the number of the Duke account it is uploaded to: its job waits for a reviewer."""
    number = account_digits(unique)
    account = await create_account(http, provider="duke", account_number=number)
    started = await http.post(
        "/bills",
        files={"file": ("bill.txt", bill_text(number, total="60.00").encode(), "text/plain")},
        data={"utility_account_id": str(account["id"])},
    )
    assert started.status_code == 201, started.text
    job = await wait_for_status(http, started.json()["id"], SETTLED_STATUSES, within=90)
    assert job["status"] == "NEEDS_REVIEW" and "provider_mismatch" in job["reasons"], job
    return job


async def test_another_providers_bill_is_neither_approved_nor_corrected_into_the_account(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    job = await pge_bill_on_a_duke_account(http, unique)
    task = (await http.get(f"/reviews/{job['id']}")).json()
    assert task["bill"]["provider"] == "pge"
    decisions = [
        {"action": "approve", "revision": task["revision"]},
        {"action": "correct", "revision": task["revision"], "bill": task["bill"]},
        {"action": "correct", "revision": task["revision"], "bill": task["bill"], "override": True, "note": "sure"},
    ]

    for decision in decisions:
        refused = await http.post(f"/reviews/{job['id']}", json=decision)
        assert refused.status_code == 422, (decision, refused.text)
        assert refused.json()["failing_checks"] == ["provider_mismatch"], refused.text
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job["id"]) == 0

    as_the_accounts = task["bill"] | {"provider": "duke"}
    stored = await http.post(
        f"/reviews/{job['id']}", json={"action": "correct", "revision": task["revision"], "bill": as_the_accounts}
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["status"] == "SUCCEEDED"
    assert await resources.pool.fetchval("SELECT provider FROM bills WHERE job_id = $1", job["id"]) == "duke"
