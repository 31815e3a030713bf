"""The task page over real HTTP: the account on file, a crafted queue link, and adding rows without a decision."""

from __future__ import annotations

import re
from typing import Any

import httpx

from shared.models import SETTLED_STATUSES
from tests.helpers import account_digits, bill_needing_review, bill_text, create_account, wait_for_status
from tests.ui.conftest import csrf_of
from tests.ui.test_ui_http import form_fields, post_review_form
from worker.resources import Resources


async def bill_without_its_account_number(http: httpx.AsyncClient, unique: str) -> tuple[dict[str, Any], str]:
    """A bill whose total is right but which prints no account number, waiting for review; and the number."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    text = bill_text(number, total="60.00").replace(f"Account Number: {number}\n", "")
    started = await http.post(
        "/bills",
        files={"file": ("bill.txt", text.encode(), "text/plain")},
        data={"utility_account_id": str(account["id"])},
    )
    assert started.status_code == 201, started.text
    job = await wait_for_status(http, started.json()["id"], SETTLED_STATUSES, within=90)
    assert job["status"] == "NEEDS_REVIEW" and "missing_field:account_number" in job["reasons"], job
    return job, number


async def test_a_bill_without_its_account_number_is_corrected_with_the_one_on_file(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A correction must carry the job's account number: the page shows it, and sending it stores the bill."""
    job, number = await bill_without_its_account_number(http, unique)
    job_id = job["id"]
    assert (await http.get(f"/reviews/{job_id}")).json()["account_number"] == number

    page = await reviewer.get(f"/ui/reviews/{job_id}")
    assert page.status_code == 200
    assert f"Account on file: {number}." in page.text
    assert f"account {job['utility_account_id']} " not in page.text, "the internal id is not called the account"
    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct", "account_number": number}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)
    assert response.status_code == 303, response.text

    assert (await wait_for_status(http, job_id))["status"] == "SUCCEEDED"
    stored = await resources.pool.fetchval("SELECT account_number FROM bills WHERE job_id = $1", job_id)
    assert stored == number


async def test_a_queue_link_with_too_many_fields_still_opens_the_task(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any]
) -> None:
    """``?queue=`` is only where to go back to: one that cannot be a queue's is dropped, not a 500."""
    crafted = "&".join(f"f{i}=1" for i in range(11))
    page = await reviewer.get(f"/ui/reviews/{review_job['id']}", params={"queue": crafted})
    assert page.status_code == 200, page.text
    assert 'name="queue" value=""' in page.text

    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct", "total_amount": "lots"}
    refused = await reviewer.post(f"/ui/reviews/{review_job['id']}", data=form | {"queue": crafted})
    assert refused.status_code == 422, refused.text


def rows_of(html: str, kind: str) -> int:
    return len(re.findall(rf'name="{kind}-\d+-{"amount" if kind == "line_items" else "quantity"}"', html))


async def test_add_rows_gives_the_page_back_with_more_blank_rows_and_decides_nothing(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A bill with more line items than the page has rows: Add rows keeps every entry and sends nothing."""
    job_id = (await bill_needing_review(http, unique))["id"]
    before = await reviewer.get(f"/ui/reviews/{job_id}")
    typed = {"total_amount": "65.00", "line_items-2-description": "Late fee", "line_items-2-amount": "5.00"}
    _, response = await post_review_form(reviewer, job_id, action="add_rows", note="fee on page 2", **typed)
    assert response.status_code == 200, response.text
    assert rows_of(response.text, "line_items") == rows_of(before.text, "line_items") + 5
    assert rows_of(response.text, "usage") == rows_of(before.text, "usage") + 2
    assert 'value="65.00"' in response.text and 'value="Late fee"' in response.text
    assert ">fee on page 2</textarea>" in response.text
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0

    more = form_fields(response.text) | {"csrf_token": csrf_of(response), "action": "add_rows"}
    again = await reviewer.post(f"/ui/reviews/{job_id}", data=more)
    assert rows_of(again.text, "line_items") == rows_of(response.text, "line_items") + 5, "and more again"
