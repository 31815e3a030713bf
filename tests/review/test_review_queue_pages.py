"""GET /reviews pages by cursor: tasks decided on the pages before do not make the next page skip any."""

from __future__ import annotations

import asyncio

import httpx

from shared.models import SETTLED_STATUSES
from tests.helpers import account_digits, bill_text, wait_for_status


async def _queue_of_three(http: httpx.AsyncClient, unique: str) -> tuple[int, list[str]]:
    """One customer with three bills waiting for review, oldest first."""
    customer = (await http.post("/customers", json={"name": f"Queue {unique}"})).json()
    jobs: list[str] = []
    for n in range(3):
        number = account_digits(f"{unique}{n}")
        account = await http.post(
            "/utility-accounts", json={"customer_id": customer["id"], "provider": "pge", "account_number": number}
        )
        uploaded = await http.post(
            "/bills",
            files={"file": ("bill.txt", bill_text(number).encode(), "text/plain")},
            data={"utility_account_id": str(account.json()["id"])},
        )
        job = await wait_for_status(http, uploaded.json()["id"], SETTLED_STATUSES, within=90)
        assert job["status"] == "NEEDS_REVIEW", job
        jobs.append(job["id"])
        await asyncio.sleep(0.01)  # distinct task times, so "oldest first" is this order
    return customer["id"], jobs


async def test_the_next_page_starts_after_the_last_task_seen_whatever_was_decided(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, unique: str
) -> None:
    customer_id, jobs = await _queue_of_three(http, unique)
    first = (await reviewer_http.get("/reviews", params={"customer_id": customer_id, "limit": 1})).json()
    assert [item["job_id"] for item in first["items"]] == jobs[:1] and first["total"] == 3

    # A colleague decides the task on the first page before the reviewer turns it.
    task = (await reviewer_http.get(f"/reviews/{jobs[0]}")).json()
    decided = await reviewer_http.post(
        f"/reviews/{jobs[0]}", json={"action": "reject", "revision": task["revision"], "note": "duplicate scan"}
    )
    assert decided.status_code == 200, decided.text

    by_offset = await reviewer_http.get("/reviews", params={"customer_id": customer_id, "limit": 1, "offset": 1})
    assert [item["job_id"] for item in by_offset.json()["items"]] == jobs[2:], "an offset skips the second task"
    params = {"customer_id": customer_id, "limit": 1, "cursor": first["next_cursor"]}
    second = (await reviewer_http.get("/reviews", params=params)).json()
    assert [item["job_id"] for item in second["items"]] == jobs[1:2]
    third = (await reviewer_http.get("/reviews", params={**params, "cursor": second["next_cursor"]})).json()
    assert [item["job_id"] for item in third["items"]] == jobs[2:]
    assert third["next_cursor"] is None, "a full last page offers no next page to turn to an empty one"


async def test_a_cursor_and_an_offset_together_or_a_forged_cursor_are_refused(reviewer_http: httpx.AsyncClient) -> None:
    both = await reviewer_http.get("/reviews", params={"cursor": "x", "offset": 5})
    assert both.status_code == 422 and "either cursor or offset" in both.json()["detail"]
    forged = await reviewer_http.get("/reviews", params={"cursor": "bm90IGEgY3Vyc29y"})
    assert forged.status_code == 422 and "next_cursor" in forged.json()["detail"]
