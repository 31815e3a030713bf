"""Approving stores the extraction as read: one failing a check no bill may fail is refused, as a correction is.

A missing total or period, a period that ends before it starts or a unit the commodity cannot have would
otherwise reach ``bills`` as read. An account number the reader did not find is no such check: the job's
account is known, and the bill is stored under it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from shared.bill import account_key
from shared.models import SETTLED_STATUSES, JobStatus
from shared.review import CorrectionVerdict, ReviewAction, ReviewDecision
from shared.settings import Settings
from tests.helpers import account_digits, bill_text, create_account, upload_and_wait
from tests.review.support import analytics_line_items, history, read_task, result_of, verdicts
from tests.review.test_review_signalled_corrections import dropped
from worker.resources import Resources
from workflows.bill_ingestion import BillIngestionWorkflow


def without_total(text: str, number: str) -> str:
    return re.sub(r"Total Amount Due +\$[\d.]+\n", "", text)


def period_backwards(text: str, number: str) -> str:
    return text.replace("02/01/2026 - 02/28/2026", "02/28/2026 - 02/01/2026")


def without_account_number(text: str, number: str) -> str:
    return text.replace(f"Account Number: {number}\n", "")


async def review_of(
    http: httpx.AsyncClient, unique: str, edit: Callable[[str, str], str], reason: str
) -> dict[str, Any]:
    """A balanced bill, edited so its extraction fails ``reason``, waiting for review."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    text = edit(bill_text(number, total="60.00"), number)
    job = await upload_and_wait(http, account, text, SETTLED_STATUSES)
    assert job["status"] == "NEEDS_REVIEW" and reason in job["reasons"], job
    return job


async def nothing_stored(resources: Resources, job_id: str) -> bool:
    bills = await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job_id)
    decisions = await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id)
    return bool(bills == 0 and decisions == 0)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [(without_total, "missing_field:total_amount"), (period_backwards, "bad_period")],
    ids=["no-total", "period-backwards"],
)
async def test_approving_an_extraction_that_fails_a_shape_check_is_refused(
    edit: Callable[[str, str], str],
    reason: str,
    http: httpx.AsyncClient,
    reviewer_http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
) -> None:
    job = await review_of(http, unique, edit, reason)
    revision = (await read_task(http, job["id"]))["revision"]

    response = await reviewer_http.post(f"/reviews/{job['id']}", json={"action": "approve", "revision": revision})
    assert response.status_code == 422, response.text
    assert response.json()["failing_checks"] == [reason]
    assert "correct it or reject it" in response.json()["detail"]
    assert (await http.get(f"/jobs/{job['id']}")).json()["status"] == "NEEDS_REVIEW"
    assert await nothing_stored(resources, job["id"])

    rejected = await reviewer_http.post(
        f"/reviews/{job['id']}", json={"action": "reject", "revision": revision, "note": "unreadable"}
    )
    assert rejected.status_code == 200, rejected.text


async def test_approving_an_extraction_without_its_account_number_stores_it_under_the_jobs_account(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A photo's number unread is no reason to refuse the bill: the job says whose it is."""
    job = await review_of(http, unique, without_account_number, "missing_field:account_number")
    revision = (await read_task(http, job["id"]))["revision"]

    response = await reviewer_http.post(f"/reviews/{job['id']}", json={"action": "approve", "revision": revision})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "SUCCEEDED"
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", job["id"]) == 1


def without_account_number_but_in_an_item(text: str, number: str) -> str:
    return without_account_number(text, number).replace(
        "Electric Supply           $40.00", f"Electric Supply ref {number}  $40.00"
    )


async def test_a_bill_without_its_account_number_reaches_the_warehouse_with_the_jobs_number_masked_in_its_items(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, settings: Settings, unique: str
) -> None:
    """The bill's own number masks its line items in the warehouse; unread, the job's account's does, or an item
    printing it ("1234-5678-90", too short for the rule for long figures) went to the warehouse as read."""
    job = await review_of(http, unique, without_account_number_but_in_an_item, "missing_field:account_number")
    revision = (await read_task(http, job["id"]))["revision"]

    response = await reviewer_http.post(f"/reviews/{job['id']}", json={"action": "approve", "revision": revision})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "SUCCEEDED"

    number = account_digits(unique)
    descriptions = [row["description"] for row in await analytics_line_items(settings, job["id"])]
    assert f"Electric Supply ref ****{account_key(number)[-4:]}" in descriptions, descriptions
    assert not any(number in text or account_key(number) in text for text in descriptions)


async def test_a_signalled_approval_of_an_extraction_without_a_total_is_dropped(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    job = await review_of(http, unique, without_total, "missing_field:total_amount")
    job_id, revision = job["id"], (await read_task(http, job["id"]))["revision"]
    handle = client.get_workflow_handle(job["workflow_id"])

    approval = ReviewDecision(action=ReviewAction.APPROVE, revision=revision, reviewer="ops-cli")
    with caplog.at_level(logging.WARNING, logger="temporalio.workflow"):
        await handle.signal(BillIngestionWorkflow.review_decision, approval)
        progress = await dropped(handle, revision)
    assert progress.status is JobStatus.NEEDS_REVIEW
    assert await verdicts(client, await history(handle)) == [CorrectionVerdict(failing=["missing_field:total_amount"])]
    assert await nothing_stored(resources, job_id)
    assert any(
        r.getMessage().startswith("review signal ignored")
        and r.__dict__.get("failing_checks") == ["missing_field:total_amount"]
        and r.__dict__.get("reason") == "the extracted bill cannot be stored as read"
        for r in caplog.records
        if r.__dict__.get("job_id") == job_id
    )

    rejection = ReviewDecision(action=ReviewAction.REJECT, revision=revision, reviewer="ops-cli", note="no total")
    await handle.signal(BillIngestionWorkflow.review_decision, rejection)
    assert (await result_of(client, handle.id)).status is JobStatus.REJECTED
