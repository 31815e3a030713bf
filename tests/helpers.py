"""Small helpers the HTTP tests share."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

TERMINAL = {"SUCCEEDED", "DUPLICATE", "FAILED", "REJECTED", "REVIEW_EXPIRED"}


async def create_account(http: httpx.AsyncClient, *, provider: str | None, account_number: str) -> dict[str, Any]:
    customer = (await http.post("/customers", json={"name": f"Customer {account_number}"})).json()
    response = await http.post(
        "/utility-accounts",
        json={"customer_id": customer["id"], "provider": provider, "account_number": account_number},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def wait_for_status(
    http: httpx.AsyncClient, job_id: str, statuses: set[str] = TERMINAL, *, within: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        job = (await http.get(f"/jobs/{job_id}")).json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stuck in {job['status']}: {job}")
        await asyncio.sleep(0.2)
