"""Another copy of a stored statement whose figures read otherwise goes to a reviewer, not quietly to DUPLICATE.

Two files of one statement (its period, its statement date) that disagree on an amount are one of them misread: the
second ended DUPLICATE, the stored bill's figures standing and the difference said nowhere (a finance auditor's
probe, 74A). The stored bill still stands; a reviewer sees the two and reopens it if it is the one misread."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from shared.models import SETTLED_STATUSES
from tests.helpers import account_digits, bill_text, create_account, reissue_text, upload_and_wait
from worker.resources import Resources

COPY_READ_OTHERWISE = (
    bill_text("{number}", total="65.00")
    .replace("Electric Supply           $40.00", "Electric Supply           $45.00")
    .replace("Current Charges          $60.00", "Current Charges          $65.00")
)
"""``bill_text(total="60.00")``'s statement read with other figures, as consistent as the stored ones: accepted."""


@pytest.mark.parametrize(
    ("decision", "ends"),
    [({"action": "approve"}, "DUPLICATE"), ({"action": "reject", "note": "the scan misreads it"}, "REJECTED")],
)
async def test_a_copy_reading_other_figures_is_reviewed_and_the_stored_bill_stands(
    http: httpx.AsyncClient, resources: Resources, unique: str, decision: dict[str, str], ends: str
) -> None:
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    stored = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert stored["status"] == "SUCCEEDED", stored

    copy = await upload_and_wait(http, account, COPY_READ_OTHERWISE.format(number=number), SETTLED_STATUSES)
    assert copy["status"] == "NEEDS_REVIEW", copy
    task = (await http.get(f"/reviews/{copy['id']}")).json()
    assert task["reasons"] == ["reads_otherwise_than_stored"], task
    compared = task["reads_otherwise_than"]
    assert (compared["job_id"], compared["bill_id"], compared["total_amount"]) == (
        stored["id"],
        stored["result"]["bill_id"],
        "60.00",
    )
    assert compared["figures_read_otherwise"] == ["total_amount", "current_charges", "line_items"], compared
    assert task["replaces"] is None
    [detail] = task["reason_details"]
    assert "one of the two was misread" in detail["text"] and "reopen it" in detail["text"], detail

    decided = await http.post(f"/reviews/{copy['id']}", json={"revision": task["revision"], **decision})
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == ends
    rows = await resources.pool.fetch(
        "SELECT job_id, total_amount FROM bills WHERE utility_account_id = $1", account["id"]
    )
    assert [(str(row["job_id"]), row["total_amount"]) for row in rows] == [(stored["id"], Decimal("60.00"))]


async def test_a_copy_reading_the_same_figures_or_an_issue_since_reissued_ends_a_duplicate_unreviewed(
    http: httpx.AsyncClient, unique: str
) -> None:
    """Only a disagreement goes to a reviewer: another file with the stored figures (its wording aside), or the first
    issue of a statement since re-issued (bound to differ from the re-issue), ends DUPLICATE as before."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    reissued = await upload_and_wait(http, account, reissue_text(number))
    assert reissued["status"] == "SUCCEEDED", reissued
    first_issue = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert (first_issue["status"], first_issue["result"]["duplicate_of"]) == ("DUPLICATE", reissued["id"])
    reworded = reissue_text(number).replace("Customer: Jane Reviewer", "Customer: JANE REVIEWER") + "\nThank you.\n"
    again = await upload_and_wait(http, account, reworded)
    assert (again["status"], again["result"]["duplicate_of"]) == ("DUPLICATE", reissued["id"])
    # A summary that prints no zero balance reads none, not another one (74D).
    summary = (
        reissue_text(number)
        .replace("Previous Balance          $0.00\n", "")
        .replace("Payments Received         $0.00\n", "")
    )
    assert "Previous Balance" not in summary and "Payments Received" not in summary
    unprinted = await upload_and_wait(http, account, summary)
    assert (unprinted["status"], unprinted["result"]["duplicate_of"]) == ("DUPLICATE", reissued["id"])
