"""A bill needing review is queued, found by operators, decided by REST or signal, and audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from temporalio.client import Client

from api.auth import Role, create_key
from api.routes import reviews
from shared.review import CorrectionVerdict, ReviewAction, ReviewDecision
from shared.settings import Settings
from tests.durability.conftest import patches
from tests.helpers import account_digits, bill_text, upload_and_wait
from tests.review.support import (
    CORRECT_TOTAL,
    EXTRACTED_TOTAL,
    OwnQueue,
    activity_names,
    analytics_rows,
    awaiting_review_with_publish_held,
    decisions_in_history,
    history,
    open_review,
    result_of,
    verdicts,
    wait_for_job,
    wait_for_review_status,
)
from worker.resources import Resources
from workflows.bill_ingestion import SIGNALLED_APPROVAL_PATCH, SIGNALLED_CORRECTION_PATCH, BillIngestionWorkflow


async def test_rest_correction_stores_the_reviewers_values_and_audits_them(
    http: httpx.AsyncClient,
    reviewer_http: httpx.AsyncClient,
    reviewer_identity: str,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    unique: str,
) -> None:
    review = await open_review(http, unique)

    queue = await reviewer_http.get("/reviews", params={"customer_id": review.customer_id})
    assert queue.status_code == 200, queue.text
    [item] = queue.json()["items"]
    assert item["job_id"] == review.job_id
    assert item["status"] == "PENDING"
    assert item["reasons"] == ["balance_mismatch"]
    assert 0 <= item["age_seconds"] < 120
    assert item["revision"] == review.revision
    await wait_for_review_status(client, review.workflow_id, "PENDING")

    assert review.bill["total_amount"] == EXTRACTED_TOTAL
    response = await reviewer_http.post(
        f"/reviews/{review.job_id}",
        json={
            "action": "correct",
            "revision": review.revision,
            "bill": review.corrected(total_amount=CORRECT_TOTAL),
            "note": "total misread",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"job_id": review.job_id, "status": "SUCCEEDED", "revises": None, "duplicate_of": None}

    pool = resources.pool
    job = await wait_for_job(pool, review.job_id, {"SUCCEEDED", "FAILED", "DUPLICATE"})
    assert job["status"] == "SUCCEEDED"
    assert job["result"]["reviewer"] == reviewer_identity
    bill = await pool.fetchrow(
        "SELECT total_amount, current_charges, source FROM bills WHERE job_id = $1", review.job_id
    )
    assert bill is not None
    assert (bill["total_amount"], bill["current_charges"], bill["source"]) == (
        Decimal(CORRECT_TOTAL),
        Decimal("60.00"),
        "review",
    )
    [published] = await analytics_rows(app_settings, review.job_id)
    assert Decimal(published["total_amount"]) == Decimal(CORRECT_TOTAL)
    await wait_for_review_status(client, review.workflow_id, "DONE")
    assert (await reviewer_http.get("/reviews", params={"customer_id": review.customer_id})).json()["items"] == []

    audit = await pool.fetch("SELECT * FROM review_decisions WHERE job_id = $1", review.job_id)
    assert len(audit) == 1
    [row] = audit
    assert row["action"] == "correct"
    assert row["reviewer"] == reviewer_identity
    assert row["note"] == "total misread"
    assert row["before"]["total_amount"] == EXTRACTED_TOTAL
    assert row["after"]["total_amount"] == CORRECT_TOTAL
    assert row["diff"] == {"total_amount": {"before": EXTRACTED_TOTAL, "after": CORRECT_TOTAL}}
    task = await pool.fetchrow("SELECT status, closed_at FROM review_tasks WHERE job_id = $1", review.job_id)
    assert task["status"] == "DONE" and task["closed_at"] is not None
    closed = (await reviewer_http.get(f"/reviews/{review.job_id}")).json()
    taken = closed["decision"]  # whose decision stands, for a colleague whose own was refused
    assert (taken["action"], taken["reviewer"], taken["note"]) == ("correct", reviewer_identity, "total misread")
    assert (taken["changed_fields"], taken["job_status"]) == (["total_amount"], "SUCCEEDED")
    # The task's bill is the corrected one now: the extraction is read here (it was in the database alone).
    assert taken["changes"] == {"total_amount": {"before": EXTRACTED_TOTAL, "after": CORRECT_TOTAL}}
    assert closed["bill"]["total_amount"] == CORRECT_TOTAL
    assert closed["closed_at"] is not None
    assert closed["age_seconds"] == (await reviewer_http.get(f"/reviews/{review.job_id}")).json()["age_seconds"]

    events = await history(client.get_workflow_handle(review.workflow_id))
    [(kind, decision)] = await decisions_in_history(client, events)
    assert kind == "update"
    assert decision.action is ReviewAction.CORRECT
    assert decision.reviewer == reviewer_identity
    assert decision.bill is not None and decision.bill.total_amount == Decimal(CORRECT_TOTAL)
    assert activity_names(events).count("record_review_decision") == 1


async def test_a_correction_stating_no_current_charges_is_shown_and_audited_with_those_stored(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Stored with the charges its line items imply, it was shown and audited with none: a reviewer opening the
    task read a bill Postgres and the warehouse did not hold."""
    review = await open_review(http, unique)
    corrected = review.corrected(total_amount=CORRECT_TOTAL, current_charges=None)
    response = await reviewer_http.post(
        f"/reviews/{review.job_id}", json={"action": "correct", "revision": review.revision, "bill": corrected}
    )
    assert response.status_code == 200, response.text

    stored = await resources.pool.fetchval("SELECT current_charges FROM bills WHERE job_id = $1", review.job_id)
    audited = await resources.pool.fetchval("SELECT after FROM review_decisions WHERE job_id = $1", review.job_id)
    shown = (await reviewer_http.get(f"/reviews/{review.job_id}")).json()
    assert stored == Decimal("60.00")
    assert audited["current_charges"] == shown["bill"]["current_charges"] == "60.00", shown


async def test_rest_approval_stores_the_extracted_values(
    http: httpx.AsyncClient,
    reviewer_http: httpx.AsyncClient,
    reviewer_identity: str,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    unique: str,
) -> None:
    review = await open_review(http, unique)
    await wait_for_review_status(client, review.workflow_id, "PENDING")

    response = await reviewer_http.post(
        f"/reviews/{review.job_id}", json={"action": "approve", "revision": review.revision}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "SUCCEEDED"

    pool = resources.pool
    assert (await wait_for_job(pool, review.job_id, {"SUCCEEDED", "FAILED"}))["status"] == "SUCCEEDED"
    bill = await pool.fetchrow("SELECT total_amount, source FROM bills WHERE job_id = $1", review.job_id)
    assert bill is not None
    assert (bill["total_amount"], bill["source"]) == (Decimal(EXTRACTED_TOTAL), "extraction")
    [published] = await analytics_rows(app_settings, review.job_id)
    assert Decimal(published["total_amount"]) == Decimal(EXTRACTED_TOTAL)
    await wait_for_review_status(client, review.workflow_id, "DONE")

    row = await pool.fetchrow("SELECT * FROM review_decisions WHERE job_id = $1", review.job_id)
    assert (row["action"], row["reviewer"]) == ("approve", reviewer_identity)
    assert row["after"] == row["before"] and row["diff"] == {}
    # Stored despite the check it was sent to review for: a lead listing such bills missed every approval.
    assert row["overridden"] == ["balance_mismatch"]
    assert (await reviewer_http.get(f"/reviews/{review.job_id}")).json()["decision"]["overridden"] == [
        "balance_mismatch"
    ]


async def test_a_decision_taken_before_the_job_ends_is_a_202_running_then_it_ends(
    own_queue: OwnQueue,
    reviewer_http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job that stays RUNNING after the decision (its publish held, as a warehouse outage would) must not hold
    the request open: the answer is a 202 once the wait is over, whatever the job does after."""
    monkeypatch.setattr(reviews, "REVIEW_RESULT_WAIT", timedelta(milliseconds=300))
    async with awaiting_review_with_publish_held(own_queue, resources) as job:
        job_id, revision = job.job_id, job.revision
        try:
            sending = reviewer_http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": revision})
            response = await asyncio.wait_for(sending, timeout=30)  # held till release: a failure, not a hang
        finally:
            job.publishing.release.set()
        assert response.status_code == 202, response.text
        assert response.json() == {"job_id": job_id, "status": "RUNNING", "revises": None, "duplicate_of": None}
        assert response.headers["Location"] == f"/jobs/{job_id}"  # where to follow it
        await result_of(client, job.handle.id)
    assert (await wait_for_job(resources.pool, job_id, {"SUCCEEDED", "FAILED"}))["status"] == "SUCCEEDED"
    again = await reviewer_http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": revision})
    # Taken once: a repeat of the same decision (the client retrying) learns it stands, and changes nothing.
    assert (again.status_code, again.json()["status"]) == (200, "SUCCEEDED"), again.text
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 1
    other = await reviewer_http.post(
        f"/reviews/{job_id}", json={"action": "reject", "revision": revision, "note": "changed my mind"}
    )
    assert other.status_code == 409, "another decision is refused"


@pytest.mark.parametrize("action", [ReviewAction.CORRECT, ReviewAction.APPROVE])
async def test_signal_decision_is_applied_and_recorded(
    action: ReviewAction, http: httpx.AsyncClient, client: Client, resources: Resources, unique: str
) -> None:
    review = await open_review(http, unique)
    await wait_for_review_status(client, review.workflow_id, "PENDING")
    handle = client.get_workflow_handle(review.workflow_id)

    corrected = review.corrected(total_amount=CORRECT_TOTAL) if action is ReviewAction.CORRECT else None
    decision = ReviewDecision(
        action=action, revision=review.revision, bill=corrected, reviewer="ops-cli", note="via signal"
    )
    await handle.signal(BillIngestionWorkflow.review_decision, decision)
    result = await result_of(client, review.workflow_id)
    assert result.status == "SUCCEEDED"
    assert result.reviewer == "ops-cli"

    pool = resources.pool
    expected = CORRECT_TOTAL if action is ReviewAction.CORRECT else EXTRACTED_TOTAL
    assert (await wait_for_job(pool, review.job_id, {"SUCCEEDED"}))["status"] == "SUCCEEDED"
    assert await pool.fetchval("SELECT total_amount FROM bills WHERE job_id = $1", review.job_id) == Decimal(expected)
    row = await pool.fetchrow("SELECT action, reviewer FROM review_decisions WHERE job_id = $1", review.job_id)
    assert (row["action"], row["reviewer"]) == (action.value, "ops-cli")
    await wait_for_review_status(client, review.workflow_id, "DONE")

    events = await history(handle)
    [(kind, recorded)] = await decisions_in_history(client, events)
    assert kind == "signal"
    assert recorded == decision
    names = activity_names(events)
    # The verdict is in history: a replay reads it back, whatever the checks say by then. An approval
    # is asked only whether the extraction is this account's (its other checks put it in review).
    assert names.index("record_review_decision") == names.index("check_corrected_bill") + 1
    assert await verdicts(client, events) == [CorrectionVerdict(failing=[])]
    patch, other = (
        (SIGNALLED_CORRECTION_PATCH, SIGNALLED_APPROVAL_PATCH)
        if action is ReviewAction.CORRECT
        else (SIGNALLED_APPROVAL_PATCH, SIGNALLED_CORRECTION_PATCH)
    )
    assert patch in patches(events) and other not in patches(events)


async def test_reject_keeps_the_bill_out_of_postgres_and_analytics(
    http: httpx.AsyncClient,
    reviewer_http: httpx.AsyncClient,
    reviewer_identity: str,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    unique: str,
) -> None:
    review = await open_review(http, unique)

    note = "not a bill of this account"
    response = await reviewer_http.post(
        f"/reviews/{review.job_id}", json={"action": "reject", "revision": review.revision, "note": note}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "REJECTED"

    pool = resources.pool
    job = await wait_for_job(pool, review.job_id, {"REJECTED", "SUCCEEDED", "FAILED"})
    assert job["status"] == "REJECTED"
    assert job["error"] == note
    assert job["result"]["note"] == note and job["result"]["reviewer"] == reviewer_identity
    assert await pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", review.job_id) == 0
    assert await analytics_rows(app_settings, review.job_id) == []
    row = await pool.fetchrow("SELECT action, note, after FROM review_decisions WHERE job_id = $1", review.job_id)
    assert (row["action"], row["note"], row["after"]) == ("reject", note, None)
    taken = (await reviewer_http.get(f"/reviews/{review.job_id}")).json()["decision"]
    assert (taken["action"], taken["changed_fields"], taken["changes"]) == ("reject", [], {}), "it changes no field"
    await wait_for_review_status(client, review.workflow_id, "DONE")
    events = await history(client.get_workflow_handle(review.workflow_id))
    assert "persist_bill" not in activity_names(events)
    assert "publish_analytics" not in activity_names(events)


async def test_a_true_bill_failing_a_plausibility_check_is_stored_by_override(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """75.00 due on 60.00 of charges: a 15.00 adjustment the bill model has no field for. The reviewer
    confirms the bill as printed; the audit row names the check overridden."""
    review = await open_review(http, unique)
    bill = review.corrected(statement_date=review.bill["bill_period_end"])  # one edit, the balance as printed
    decision = {"action": "correct", "revision": review.revision, "bill": bill}

    refused = await reviewer_http.post(f"/reviews/{review.job_id}", json=decision)
    assert refused.status_code == 422, refused.text
    assert refused.json()["failing_checks"] == ["balance_mismatch"] and "override" in refused.json()["detail"]

    stored = await reviewer_http.post(
        f"/reviews/{review.job_id}", json={**decision, "override": True, "note": "15.00 late fee outside charges"}
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["status"] == "SUCCEEDED"
    row = await resources.pool.fetchrow("SELECT total_amount, source FROM bills WHERE job_id = $1", review.job_id)
    assert (row["total_amount"], row["source"]) == (Decimal(EXTRACTED_TOTAL), "review")
    audit = await resources.pool.fetchrow(
        "SELECT overridden, note FROM review_decisions WHERE job_id = $1", review.job_id
    )
    assert (audit["overridden"], audit["note"]) == (["balance_mismatch"], "15.00 late fee outside charges")


async def test_a_correction_without_an_account_number_takes_the_account_s(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A photo that prints no account number could be approved (the job names the account) but not corrected: the
    correction was refused for ``missing_field:account_number``, and the JSON API shows the number on file masked
    only, so a script's reviewer could not supply it (a reviewer's probe). It is the job's account's."""
    review = await open_review(http, unique)
    bill = review.corrected(total_amount=CORRECT_TOTAL, account_number=None)
    decided = await reviewer_http.post(
        f"/reviews/{review.job_id}", json={"action": "correct", "revision": review.revision, "bill": bill}
    )
    assert decided.status_code == 200 and decided.json()["status"] == "SUCCEEDED", decided.text
    stored = await resources.pool.fetchval("SELECT account_number FROM bills WHERE job_id = $1", review.job_id)
    assert stored == account_digits(unique)


async def test_a_correction_dated_after_today_is_stored_only_by_override(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A reviewer's typo in the year ("2027" for "2026") was stored unasked: the customer's latest bill, in a month
    to come. Only a reviewer who says the bill really reads so stores it, and the audit row names the check."""
    review = await open_review(http, unique)
    ahead = (datetime.now(UTC).date() + timedelta(days=400)).year
    bill = review.corrected(
        total_amount="60.00",
        bill_period_start=f"{ahead}-02-01",
        bill_period_end=f"{ahead}-02-28",
        statement_date=f"{ahead}-03-05",
        due_date=f"{ahead}-03-25",
    )
    decision = {"action": "correct", "revision": review.revision, "bill": bill}

    refused = await reviewer_http.post(f"/reviews/{review.job_id}", json=decision)
    assert refused.status_code == 422, refused.text
    assert refused.json()["failing_checks"] == ["dated_in_the_future"] and "override" in refused.json()["detail"]

    stored = await reviewer_http.post(
        f"/reviews/{review.job_id}", json={**decision, "override": True, "note": "prepaid plan, billed ahead"}
    )
    assert stored.status_code == 200, stored.text
    audit = await resources.pool.fetchrow("SELECT overridden FROM review_decisions WHERE job_id = $1", review.job_id)
    assert audit["overridden"] == ["dated_in_the_future"]


async def test_a_correction_that_replaces_a_stored_bill_says_whose(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, unique: str
) -> None:
    """A correction re-dating a bill into a period already stored replaced that job's bill, and the reviewer read
    only "now SUCCEEDED"; one landing on an identical bill was thrown away, said only in the web page."""
    review = await open_review(http, unique)
    number = review.bill["account_number"]
    account = (await http.get(f"/jobs/{review.job_id}")).json()["utility_account_id"]
    stored = await upload_and_wait(http, {"id": account}, bill_text(number, total="60.00"))
    assert stored["status"] == "SUCCEEDED", stored

    # The same period, dated later, with other charges: a statement re-issued.
    items = [{**review.bill["line_items"][0], "amount": "30.00"}, review.bill["line_items"][1]]
    bill = review.corrected(
        total_amount="50.00", current_charges="50.00", statement_date="2026-03-12", line_items=items
    )
    # Confirmed: unconfirmed, it is refused before it is sent (tests/review/test_review_stored_period.py).
    body = {"action": "correct", "revision": review.revision, "bill": bill, "onto_stored_period": True}
    decided = await reviewer_http.post(f"/reviews/{review.job_id}", json=body)
    assert decided.status_code == 200, decided.text
    assert decided.json() == {
        "job_id": review.job_id,
        "status": "SUCCEEDED",
        "revises": stored["id"],
        "duplicate_of": None,
    }


async def test_a_reviewer_whose_key_has_a_long_name_can_still_decide(
    http: httpx.AsyncClient, resources: Resources, api_url: str, unique: str
) -> None:
    """Key names are free text of any length; the audit trail's reviewer is at most 200 characters. A long
    name was a 422 "the decision is invalid" on every decision that reviewer sent, though nothing in it was."""
    review = await open_review(http, unique)
    created = await create_key(resources.pool, name="night-shift reviewer " * 12, role=Role.REVIEWER)
    async with httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {created.key}"}) as long_named:
        decided = await long_named.post(
            f"/reviews/{review.job_id}", json={"action": "reject", "revision": review.revision, "note": "not a bill"}
        )
    assert decided.status_code == 200, decided.text
    reviewer = await resources.pool.fetchval("SELECT reviewer FROM review_decisions WHERE job_id = $1", review.job_id)
    assert reviewer.startswith("night-shift reviewer") and reviewer.endswith(f"(key {created.id})")
    assert len(reviewer) <= 200
