"""A correction onto an account and period another job stored a bill for is said before it is sent.

Persisted, it replaces that bill (a later statement date: a re-issue) or ends as its duplicate, the reviewer's figures
thrown away. From a reviewer that is as often a typo in the period: a colleague's reviewed bill was replaced with no
word before it (a reviewer's probe)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from activities.bills import ACCOUNT_LOCK_KEY
from shared.models import SETTLED_STATUSES
from tests.helpers import (
    account_digits,
    bill_text,
    create_account,
    january_text,
    reissue_text,
    someone_waits_for_a_lock_held_by,
    upload_and_wait,
    wait_for_status,
)
from tests.review.support import Review, open_review, read_task
from worker.resources import Resources

JANUARY = {"bill_period_start": "2026-01-01", "bill_period_end": "2026-01-31"}


def january_bill(number: str) -> str:
    """Account ``number``'s January bill, read without doubt: charges 50.00, statement 2026-02-05."""
    return f"""Pacific Gas and Electric Company
Account Number: {number}
Statement Date: 02/05/2026
Billing Period: 01/01/2026 - 01/31/2026
Due Date: 02/25/2026

Previous Balance          $0.00
Payments Received         $0.00
Total Amount Due         $50.00

Electric Charges
Electric Supply           $30.00
Electric Delivery         $20.00
Current Charges          $50.00

Total Usage               300 kWh
"""


async def january_stored(http: httpx.AsyncClient, review: Review) -> dict[str, Any]:
    """The review's account's January bill (``january_bill``), stored by a job of its own."""
    job = (await http.get(f"/jobs/{review.job_id}")).json()
    stored = await upload_and_wait(http, {"id": job["utility_account_id"]}, january_bill(review.bill["account_number"]))
    assert stored["status"] == "SUCCEEDED", stored
    return stored


async def stored_bill(resources: Resources, job_id: str) -> tuple[Decimal, str]:
    row = await resources.pool.fetchrow("SELECT total_amount, job_id FROM bills WHERE job_id = $1", job_id)
    assert row is not None
    return row["total_amount"], str(row["job_id"])


async def test_a_correction_onto_a_stored_period_is_refused_until_confirmed_then_replaces_it(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    review = await open_review(http, unique)
    january = await january_stored(http, review)
    typo = {"action": "correct", "revision": review.revision, "bill": review.corrected(total_amount="60.00", **JANUARY)}

    refused = await http.post(f"/reviews/{review.job_id}", json=typo)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["reason"], problem["stored_job_id"], problem["outcome"]) == (
        "period_stored",
        january["id"],
        "replaces",
    )
    assert f"job {january['id']} stored this account's bill for that period" in problem["detail"]
    assert (await read_task(http, review.job_id))["status"] == "PENDING", "nothing was sent"
    assert await stored_bill(resources, january["id"]) == (Decimal("50.00"), january["id"])

    confirmed = await http.post(f"/reviews/{review.job_id}", json=typo | {"onto_stored_period": True})
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["revises"]) == ("SUCCEEDED", january["id"])


async def test_a_confirmed_duplicate_names_the_stored_bills_figures_not_the_unstored_ones(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Its result paired the stored bill's id with the reviewer's total, which no bill holds."""
    review = await open_review(http, unique)
    january = await january_stored(http, review)
    same_statement = review.corrected(total_amount="60.00", statement_date="2026-02-05", **JANUARY)
    body = {"action": "correct", "revision": review.revision, "bill": same_statement}

    refused = await http.post(f"/reviews/{review.job_id}", json=body)
    assert (refused.status_code, refused.json()["outcome"]) == (409, "duplicate"), refused.text
    assert "refused as its duplicate" in refused.json()["detail"]
    confirmed = await http.post(f"/reviews/{review.job_id}", json=body | {"onto_stored_period": True})
    assert confirmed.status_code == 200, confirmed.text
    job = await wait_for_status(http, review.job_id)
    assert job["status"] == "DUPLICATE" and job["result"]["duplicate_of"] == january["id"], job
    assert Decimal(job["result"]["total_amount"]) == Decimal("50.00"), "the figures of the bill its bill_id names"
    assert await stored_bill(resources, january["id"]) == (Decimal("50.00"), january["id"])


async def uploaded_to_its_account(http: httpx.AsyncClient, review: Review, text: str) -> dict[str, Any]:
    """``text`` uploaded to the review's account: its job once it ended or waits for a reviewer."""
    job = (await http.get(f"/jobs/{review.job_id}")).json()
    started = await http.post(
        "/bills",
        files={"file": ("bill.txt", text.encode(), "text/plain")},
        data={"utility_account_id": str(job["utility_account_id"])},
    )
    assert started.status_code == 201, started.text
    return await wait_for_status(http, started.json()["id"], SETTLED_STATUSES, within=90)


async def reissue_needing_review(http: httpx.AsyncClient, review: Review) -> dict[str, Any]:
    """The utility's re-issue of the review's statement (dated a week later), its total disagreeing with its charges
    as the first one's did: its job waits for a reviewer."""
    text = reissue_text(review.bill["account_number"]).replace("Amount Due         $50.00", "Amount Due         $65.00")
    reissue = await uploaded_to_its_account(http, review, text)
    assert reissue["status"] == "NEEDS_REVIEW", reissue
    return reissue


async def corrected_then_reissued(http: httpx.AsyncClient, review: Review) -> dict[str, Any]:
    """The review's bill corrected and stored, then its re-issue, read without doubt, uploaded: its job once settled."""
    corrected = {"action": "correct", "revision": review.revision, "bill": review.corrected(total_amount="60.00")}
    assert (await http.post(f"/reviews/{review.job_id}", json=corrected)).status_code == 200
    return await uploaded_to_its_account(http, review, reissue_text(review.bill["account_number"]))


async def test_approving_a_reissue_that_replaces_a_corrected_bill_is_refused_until_confirmed(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A reviewer approving the re-issue replaced, with its values as extracted, the figures a colleague had corrected
    (a due date the customer confirmed), where a correction sending the same bill was asked first (a reviewer's
    probe)."""
    review = await open_review(http, unique)
    corrected = {"action": "correct", "revision": review.revision, "bill": review.corrected(total_amount="60.00")}
    assert (await http.post(f"/reviews/{review.job_id}", json=corrected)).status_code == 200
    reissue = await reissue_needing_review(http, review)
    approve = {"action": "approve", "revision": (await read_task(http, reissue["id"]))["revision"]}

    refused = await http.post(f"/reviews/{reissue['id']}", json=approve)

    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["reason"], problem["stored_job_id"], problem["outcome"], problem["stored_corrected"]) == (
        "period_stored",
        review.job_id,
        "replaces",
        True,
    )
    assert "as a reviewer corrected it" in problem["detail"]
    assert (await read_task(http, reissue["id"]))["status"] == "PENDING", "nothing was sent"
    assert await stored_bill(resources, review.job_id) == (Decimal("60.00"), review.job_id)

    confirmed = await http.post(f"/reviews/{reissue['id']}", json=approve | {"onto_stored_period": True})
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["revises"]) == ("SUCCEEDED", review.job_id)
    assert await stored_bill(resources, reissue["id"]) == (Decimal("65.00"), reissue["id"])


async def test_approving_a_reissue_of_a_bill_approved_as_extracted_is_not_asked_again(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Only a reviewer's figures are protected so: a bill stored as read is replaced by its re-issue as before."""
    review = await open_review(http, unique)
    first = await http.post(f"/reviews/{review.job_id}", json={"action": "approve", "revision": review.revision})
    assert first.status_code == 200, first.text
    reissue = await reissue_needing_review(http, review)
    revision = (await read_task(http, reissue["id"]))["revision"]

    approved = await http.post(f"/reviews/{reissue['id']}", json={"action": "approve", "revision": revision})

    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["revises"]) == ("SUCCEEDED", review.job_id)


async def test_a_reissue_read_without_doubt_waits_for_a_reviewer_before_replacing_a_corrected_bill(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """An approval was asked first; a re-issue the extractor read without doubt replaced the reviewer's figures with
    no one asked at all. It waits for a reviewer (``replaces_corrected_bill``), nothing stored meanwhile; approved,
    it replaces the bill as a re-issue does, without asking again what its reason said."""
    review = await open_review(http, unique)

    reissue = await corrected_then_reissued(http, review)

    assert reissue["status"] == "NEEDS_REVIEW", reissue
    assert reissue["reasons"] == ["replaces_corrected_bill"], reissue
    assert await stored_bill(resources, review.job_id) == (Decimal("60.00"), review.job_id), "nothing stored"
    task = await read_task(http, reissue["id"])
    stored_id = await resources.pool.fetchval("SELECT id FROM bills WHERE job_id = $1", review.job_id)
    assert task["replaces"] == {
        "job_id": review.job_id,
        "bill_id": str(stored_id),
        "statement_date": "2026-03-05",
        "total_amount": "60.00",
        "currency": "USD",
    }, "the bill to compare it with is named"
    approved = await http.post(f"/reviews/{reissue['id']}", json={"action": "approve", "revision": task["revision"]})
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["revises"]) == ("SUCCEEDED", review.job_id)
    assert await stored_bill(resources, reissue["id"]) == (Decimal("50.00"), reissue["id"])
    ended = (await http.get(f"/jobs/{reissue['id']}")).json()
    assert ended["result"]["decision"] == "review" and ended["result"]["reasons"] == ["replaces_corrected_bill"]


async def test_a_reissue_held_over_a_correction_and_rejected_leaves_the_corrected_bill(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    review = await open_review(http, unique)
    reissue = await corrected_then_reissued(http, review)
    task = await read_task(http, reissue["id"])

    rejected = await http.post(
        f"/reviews/{reissue['id']}",
        json={"action": "reject", "revision": task["revision"], "note": "the corrected bill is right"},
    )

    assert rejected.status_code == 200 and rejected.json()["status"] == "REJECTED", rejected.text
    assert await stored_bill(resources, review.job_id) == (Decimal("60.00"), review.job_id)
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", reissue["id"]) == 0


async def test_a_reissue_of_a_bill_stored_as_read_replaces_it_unasked_as_before(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Only a reviewer's figures hold a re-issue back."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    first = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert first["status"] == "SUCCEEDED", first

    reissue = await upload_and_wait(http, account, reissue_text(number))

    assert (reissue["status"], reissue["result"]["revises"]) == ("SUCCEEDED", first["id"]), reissue


async def test_a_held_reissue_corrected_onto_another_corrected_period_is_asked_first(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Its reason names one bill, the one it replaces; a correction moving it onto another month, whose bill a
    reviewer corrected too, is a typo until confirmed, as any correction onto a stored period is (a review of the
    session's change, 71C)."""
    review = await open_review(http, unique)
    number = review.bill["account_number"]
    january = await uploaded_to_its_account(
        http, review, january_text(number).replace("Amount Due         $60.00", "Amount Due         $75.00")
    )
    january_task = await read_task(http, january["id"])
    january_corrected = {**january_task["bill"], "total_amount": "60.00"}
    decided = await http.post(
        f"/reviews/{january['id']}",
        json={"action": "correct", "revision": january_task["revision"], "bill": january_corrected},
    )
    assert decided.status_code == 200, decided.text
    reissue = await corrected_then_reissued(http, review)
    task = await read_task(http, reissue["id"])
    onto_january = {"action": "correct", "revision": task["revision"], "bill": {**task["bill"], **JANUARY}}

    moved = await http.post(f"/reviews/{reissue['id']}", json=onto_january)
    kept = await http.post(
        f"/reviews/{reissue['id']}", json={"action": "correct", "revision": task["revision"], "bill": task["bill"]}
    )

    assert moved.status_code == 409, moved.text
    assert (moved.json()["stored_job_id"], moved.json()["stored_corrected"]) == (january["id"], True)
    assert kept.status_code == 200, "the month its reason named: told already"
    assert (kept.json()["status"], kept.json()["revises"]) == ("SUCCEEDED", review.job_id)


async def raced_by_january(
    http: httpx.AsyncClient, resources: Resources, review: Review, correction: dict[str, Any]
) -> tuple[httpx.Response, str]:
    """``correction`` of the review's task sent as January's bill (``january_bill``) is stored between the API's check
    and the correction's persist: both wait on the account's lock, January's first. The answer, and January's job."""
    account_id = (await http.get(f"/jobs/{review.job_id}")).json()["utility_account_id"]
    decision = {"action": "correct", "revision": review.revision, "bill": correction}
    async with resources.pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({ACCOUNT_LOCK_KEY})", account_id)
        started = await http.post(
            "/bills",
            files={"file": ("bill.txt", january_bill(review.bill["account_number"]).encode(), "text/plain")},
            data={"utility_account_id": str(account_id)},
        )
        january_id = str(started.json()["id"])
        await someone_waits_for_a_lock_held_by(resources.pool, conn)
        sent = asyncio.create_task(http.post(f"/reviews/{review.job_id}", json=decision))
        await someone_waits_for_a_lock_held_by(
            resources.pool, conn, at_least=2
        )  # the API found nothing stored: the decision is sent
    return await sent, january_id


async def test_a_correction_meeting_a_bill_stored_since_the_check_is_asked_again_nothing_stored(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Two reviewers correcting two tasks onto one period at once both passed the 409, which runs apart from persist's
    lock: the later one replaced the other's bill unasked (a QA probe, 74C)."""
    review = await open_review(http, unique)
    correction = review.corrected(total_amount="60.00", **JANUARY)
    refused, january_id = await raced_by_january(http, resources, review, correction)

    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["reason"], problem["stored_job_id"]) == ("period_stored", january_id)
    assert problem["outcome"] == "replaces", "the correction's statement date is later: confirmed, it replaces it"
    task = await read_task(http, review.job_id)
    assert (task["status"], task["revision"]) == ("PENDING", problem["revision"]), task
    assert problem["revision"] != review.revision and "period_stored_since_decision" in task["reasons"], task
    assert (await wait_for_status(http, january_id))["status"] == "SUCCEEDED"
    assert await stored_bill(resources, january_id) == (Decimal("50.00"), january_id), "nothing of the correction"
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE job_id = $1", review.job_id) == 0

    again = {"action": "correct", "revision": problem["revision"], "bill": correction}
    told = await http.post(f"/reviews/{review.job_id}", json=again)
    confirmed = await http.post(f"/reviews/{review.job_id}", json=again | {"onto_stored_period": True})
    assert (told.status_code, told.json()["stored_job_id"]) == (409, january_id), told.text
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["revises"]) == ("SUCCEEDED", january_id)


async def test_an_approval_meeting_a_correction_stored_since_the_check_is_asked_again_nothing_stored(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The re-issue's approval passed the check while nothing was stored; the colleague's correction of the statement
    it re-issues was stored first: approved, it replaced their figures unasked, where a moment later the 409 asks (a
    review of the session's change, 75D)."""
    review = await open_review(http, unique)
    reissue = await reissue_needing_review(http, review)
    account_id = reissue["utility_account_id"]
    correction = {"action": "correct", "revision": review.revision, "bill": review.corrected(total_amount="60.00")}
    approval = {"action": "approve", "revision": (await read_task(http, reissue["id"]))["revision"]}
    async with resources.pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({ACCOUNT_LOCK_KEY})", account_id)
        correcting = asyncio.create_task(http.post(f"/reviews/{review.job_id}", json=correction))
        await someone_waits_for_a_lock_held_by(resources.pool, conn)
        approving = asyncio.create_task(http.post(f"/reviews/{reissue['id']}", json=approval))
        await someone_waits_for_a_lock_held_by(resources.pool, conn, at_least=2)
    corrected, refused = await correcting, await approving

    assert corrected.status_code == 200, corrected.text
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["reason"], problem["stored_job_id"], problem["stored_corrected"]) == (
        "period_stored",
        review.job_id,
        True,
    )
    assert problem["revision"] != approval["revision"], "the task is open again, under a new revision"
    assert await stored_bill(resources, review.job_id) == (Decimal("60.00"), review.job_id), "the correction stands"
    confirmed = await http.post(
        f"/reviews/{reissue['id']}", json=approval | {"revision": problem["revision"], "onto_stored_period": True}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["revises"]) == ("SUCCEEDED", review.job_id)
