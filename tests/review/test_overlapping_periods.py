"""A bill whose period overlaps a stored bill's of the account goes to a reviewer, not quietly beside it.

A re-issue read five days later than the estimate it re-issues (02/01 to 03/06 over 02/01 to 02/28), or a part of a
stored month billed again, is no statement the natural key knows (each end within ``PERIOD_SLACK_DAYS``), and was
stored as a second bill: the dashboard's month and the warehouse's days counted twice (a calendar QA probe, 77A)."""

from __future__ import annotations

import httpx
import pytest

from shared.models import SETTLED_STATUSES
from tests.helpers import account_digits, bill_text, create_account, upload_and_wait
from worker.resources import Resources


def with_period(text: str, period: str, statement: str, due: str) -> str:
    """``text`` (``bill_text``'s) for another billing period, stated and due on other dates."""
    return (
        text.replace("Billing Period: 02/01/2026 - 02/28/2026", f"Billing Period: {period}")
        .replace("Statement Date: 03/05/2026", f"Statement Date: {statement}")
        .replace("Due Date: 03/25/2026", f"Due Date: {due}")
    )


REREAD = ("02/01/2026 - 03/06/2026", "03/10/2026", "03/30/2026")
"""``bill_text``'s February read again on 03/06: 28 days shared with it."""


@pytest.mark.parametrize(
    ("decision", "ends", "bills"),
    [({"action": "approve"}, "SUCCEEDED", 2), ({"action": "reject", "note": "a re-issue of February"}, "REJECTED", 1)],
)
async def test_a_period_overlapping_a_stored_bills_is_reviewed_before_it_is_stored(
    http: httpx.AsyncClient, resources: Resources, unique: str, decision: dict[str, str], ends: str, bills: int
) -> None:
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    stored = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert stored["status"] == "SUCCEEDED", stored

    reread = await upload_and_wait(
        http, account, with_period(bill_text(number, total="60.00"), *REREAD), SETTLED_STATUSES
    )
    assert reread["status"] == "NEEDS_REVIEW", reread
    task = (await http.get(f"/reviews/{reread['id']}")).json()
    assert task["reasons"] == ["overlaps_stored_bill"], task
    overlaps = task["overlaps"]
    assert (overlaps["job_id"], overlaps["bill_id"], overlaps["days_shared"]) == (
        stored["id"],
        stored["result"]["bill_id"],
        28,
    )
    assert (overlaps["bill_period_start"], overlaps["bill_period_end"]) == ("2026-02-01", "2026-02-28")
    [detail] = task["reason_details"]
    assert "count twice" in detail["text"] and detail["fields"] == ["bill_period_start", "bill_period_end"], detail
    page = await http.get(f"/ui/reviews/{reread['id']}")
    assert page.status_code == 200 and 'id="overlaps"' in page.text and "shares 28 days" in page.text, page.text

    decided = await http.post(f"/reviews/{reread['id']}", json={"revision": task["revision"], **decision})
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == ends
    count = await resources.pool.fetchval("SELECT count(*) FROM bills WHERE utility_account_id = $1", account["id"])
    assert count == bills


@pytest.mark.parametrize(
    "following",
    [
        ("02/28/2026 - 03/31/2026", "04/03/2026", "04/23/2026"),  # read on February's last day: one day shared
        ("02/26/2026 - 03/28/2026", "04/01/2026", "04/21/2026"),  # three days: as far as one statement's dates move
        ("01/01/2026 - 01/31/2026", "02/05/2026", "02/25/2026"),  # the month before
    ],
)
async def test_bills_that_follow_one_another_are_stored_unasked(
    http: httpx.AsyncClient, unique: str, following: tuple[str, str, str]
) -> None:
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    stored = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert stored["status"] == "SUCCEEDED", stored
    later = await upload_and_wait(http, account, with_period(bill_text(number, total="60.00"), *following))
    assert later["status"] == "SUCCEEDED", later


async def test_a_task_in_review_for_another_reason_names_the_bill_it_overlaps(
    http: httpx.AsyncClient, unique: str
) -> None:
    """Approved, persist stores a reviewed bill unasked: the reviewer is told of the overlap on the task itself."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    stored = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert stored["status"] == "SUCCEEDED", stored

    doubted = await upload_and_wait(http, account, with_period(bill_text(number), *REREAD), SETTLED_STATUSES)
    assert doubted["status"] == "NEEDS_REVIEW" and "balance_mismatch" in doubted["reasons"], doubted
    task = (await http.get(f"/reviews/{doubted['id']}")).json()
    assert "overlaps_stored_bill" not in task["reasons"]
    assert task["overlaps"]["job_id"] == stored["id"] and task["overlaps"]["days_shared"] == 28, task


async def test_a_stored_bill_of_no_period_overlaps_none(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """LEAST and GREATEST skip a NULL: a stored bill without a period read as sharing every day of any other."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    stored = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert stored["status"] == "SUCCEEDED", stored
    await resources.pool.execute(
        "UPDATE bills SET bill_period_start = NULL, bill_period_end = NULL WHERE job_id = $1::uuid", stored["id"]
    )
    later = await upload_and_wait(http, account, with_period(bill_text(number, total="60.00"), *REREAD))
    assert later["status"] == "SUCCEEDED", later


def gas_text(number: str) -> str:
    """``bill_text``'s account billed for gas apart, read on another cycle: 02/10 to 03/11, 19 days shared."""
    text = with_period(bill_text(number, total="60.00"), "02/10/2026 - 03/11/2026", "03/14/2026", "04/03/2026")
    return (
        text.replace("Electric Charges", "Gas Charges")
        .replace("Electric Supply    ", "Gas Supply         ")
        .replace("Electric Delivery    ", "Gas Delivery         ")
        .replace("Total Usage               350 kWh", "Total Usage               40 therms")
    )


async def test_a_statement_of_another_utility_of_the_account_counts_no_day_twice(
    http: httpx.AsyncClient, unique: str
) -> None:
    """An account's gas statement read on another cycle than its electricity's shares days with it every month: it
    was held each time (77F)."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    stored = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert stored["status"] == "SUCCEEDED", stored
    gas = await upload_and_wait(http, account, gas_text(number))
    assert gas["status"] == "SUCCEEDED", gas


async def test_a_task_names_no_overlap_with_the_bill_of_its_own_statement(http: httpx.AsyncClient, unique: str) -> None:
    """A re-issue in review for another reason (its ends within the slack of the stored bill's) replaces that bill
    when approved: the task told the reviewer to reject it, lest both stand (77F)."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    stored = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert stored["status"] == "SUCCEEDED", stored
    reissue = with_period(bill_text(number), "02/01/2026 - 03/01/2026", "03/10/2026", "03/30/2026")
    doubted = await upload_and_wait(http, account, reissue, SETTLED_STATUSES)
    assert doubted["status"] == "NEEDS_REVIEW" and "balance_mismatch" in doubted["reasons"], doubted
    task = (await http.get(f"/reviews/{doubted['id']}")).json()
    assert task["overlaps"] is None, task["overlaps"]
