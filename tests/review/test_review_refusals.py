"""Decisions the API refuses: stale, invalid, malformed, or too late. None of them reaches history."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from tests.helpers import account_digits, bill_of_another_account, bill_text, create_account
from tests.review.support import (
    CORRECT_TOTAL,
    Review,
    decisions_in_history,
    history,
    open_review,
    read_task,
    wait_for_job,
)
from worker.resources import Resources


@pytest.fixture(scope="module")
async def waiting(http: httpx.AsyncClient) -> AsyncIterator[Review]:
    """One review every refusal of this module leaves untouched; rejected at the end so no task stays open."""
    review = await open_review(http, uuid.uuid4().hex[:10])
    yield review
    # A job id in capitals is the same job: the answer names it as every other answer does.
    spelled = review.job_id.upper()
    task = (await http.get(f"/reviews/{spelled}")).json()
    assert task["job_id"] == review.job_id and task["artifact_url"].startswith(f"/jobs/{review.job_id}/artifact?sha")
    done = await http.post(
        f"/reviews/{spelled}", json={"action": "reject", "revision": review.revision, "note": "cleanup"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["job_id"] == review.job_id


async def assert_still_waiting(review: Review, http: httpx.AsyncClient, client: Client, resources: Resources) -> None:
    job = (await http.get(f"/jobs/{review.job_id}")).json()
    assert job["status"] == "NEEDS_REVIEW", job
    assert (await read_task(http, review.job_id))["status"] == "PENDING"
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", review.job_id) == 0
    # A refused update never reaches history: the validator rejects it first.
    assert await decisions_in_history(client, await history(client.get_workflow_handle(review.workflow_id))) == []


async def decide(http: httpx.AsyncClient, review: Review, body: dict[str, Any]) -> httpx.Response:
    return await http.post(f"/reviews/{review.job_id}", json=body)


async def test_stale_revision_is_a_conflict(
    waiting: Review,
    reviewer_http: httpx.AsyncClient,
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="api.routes.reviews"):
        response = await decide(reviewer_http, waiting, {"action": "approve", "revision": "0" * 32})
    assert response.status_code == 409, response.text
    # A refusal is logged, as the worker logs a decision taken: a reviewer's report of one was found nowhere (75A).
    [refused] = [r for r in caplog.records if r.getMessage() == "review decision refused"]
    told = {name: getattr(refused, name, None) for name in ("job_id", "workflow_id", "step", "action", "code")}
    assert told == {
        "job_id": waiting.job_id,
        "workflow_id": waiting.workflow_id,
        "step": "submit_review",
        "action": "approve",
        "code": "stale_revision",
    }
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "changed" in response.json()["detail"]
    assert response.json()["reason"] == response.json()["code"] == "stale_revision", (
        "for clients, and the web page's own words"
    )
    # What to change: the revision the task has now, and where to read the task again before sending it.
    assert response.json()["revision"] == waiting.revision
    assert f"GET /reviews/{waiting.job_id}" in response.json()["detail"]
    await assert_still_waiting(waiting, http, client, resources)


async def test_correction_failing_validation_lists_the_failing_checks(
    waiting: Review, reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    items = [{**item, "amount": "10.00"} for item in waiting.bill["line_items"]]
    assert items, "the extracted bill has line items to break"
    bill = waiting.corrected(total_amount=CORRECT_TOTAL, current_charges=CORRECT_TOTAL, line_items=items)
    response = await decide(reviewer_http, waiting, {"action": "correct", "revision": waiting.revision, "bill": bill})
    assert response.status_code == 422, response.text
    assert response.json()["failing_checks"] == ["sum_mismatch"]
    # Each explained with the corrected bill's sums, as the review page says it: a code alone left a script's
    # reviewer to add the rows up.
    [detail] = response.json()["failing_check_details"]
    sums = f"the line items add up to {10 * len(items)}.00; the current charges are {CORRECT_TOTAL}"
    assert detail == {"code": "sum_mismatch", "text": detail["text"], "fields": ["current_charges", "line_items"]}
    assert detail["text"].startswith("line items do not add up") and sums in detail["text"], detail
    await assert_still_waiting(waiting, http, client, resources)


async def test_a_task_explains_each_reason_with_its_bill_s_figures(waiting: Review) -> None:
    """``GET /reviews/{id}`` said ``balance_mismatch`` and nothing else: the sum the bill fails is spelled out with its
    figures, and the fields each reason points at, as the review page shows them."""
    bill, details = waiting.bill, waiting.task["reason_details"]
    assert [detail["code"] for detail in details] == waiting.task["reasons"] and "balance_mismatch" in waiting.task[
        "reasons"
    ]
    [balance] = [detail for detail in details if detail["code"] == "balance_mismatch"]
    previous, paid = (Decimal(bill[name] or "0.00") for name in ("previous_balance", "payments_received"))
    current = Decimal(bill["current_charges"])
    sums = f"{previous} − {paid} + {current} = {previous - paid + current}; the total is {bill['total_amount']}"
    assert sums in balance["text"], balance
    assert balance["fields"] == ["total_amount", "previous_balance", "payments_received", "current_charges"]


async def test_correction_still_out_of_balance_lists_the_failing_checks(
    waiting: Review, reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    bill = waiting.corrected(due_date=None)  # still 75.00 against 60.00 of charges, and now no due date
    response = await decide(reviewer_http, waiting, {"action": "correct", "revision": waiting.revision, "bill": bill})
    assert response.status_code == 422, response.text
    assert sorted(response.json()["failing_checks"]) == ["balance_mismatch", "missing_field:due_date"]
    await assert_still_waiting(waiting, http, client, resources)


@pytest.mark.parametrize(
    ("changes", "loc", "said"),
    [
        # ``abs`` of such a Decimal raised decimal.Overflow in the body's validation, which answered 500.
        ({"total_amount": "1e999999999"}, ["body", "bill", "total_amount"], "in size"),
        ({"total_amount": "-1E+1000000"}, ["body", "bill", "total_amount"], "in size"),
        # Stored rounded without a word (12.35), where the review page refuses it.
        ({"total_amount": "12.345"}, ["body", "bill"], "total_amount 12.345"),
        ({"current_charges": 60.005}, ["body", "bill"], "current_charges 60.005"),  # a JSON number too
        (
            {"usage": [{"commodity": "electricity", "quantity": "350.12345", "unit": "kWh"}]},
            ["body", "bill"],
            "usage[0].quantity 350.12345",
        ),
    ],
)
async def test_a_correction_the_body_refuses_is_a_422_naming_the_figure(
    changes: dict[str, Any],
    loc: list[str],
    said: str,
    waiting: Review,
    reviewer_http: httpx.AsyncClient,
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
) -> None:
    bill = waiting.corrected(**changes)
    response = await decide(reviewer_http, waiting, {"action": "correct", "revision": waiting.revision, "bill": bill})
    assert response.status_code == 422, response.text
    [error] = located_errors(response)
    assert error["loc"] == loc and said in error["msg"], error
    await assert_still_waiting(waiting, http, client, resources)


async def test_correct_without_a_bill_is_invalid(
    waiting: Review, reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    response = await decide(reviewer_http, waiting, {"action": "correct", "revision": waiting.revision})
    assert response.status_code == 422, response.text
    messages = [error["msg"] for error in located_errors(response)]
    assert "a 'correct' decision needs the full corrected bill" in messages, "in our words, not after 'Value error, '"
    await assert_still_waiting(waiting, http, client, resources)


def located_errors(response: httpx.Response) -> list[dict[str, Any]]:
    """A 422's ``errors``, each shaped as every other 422's are: where (``loc``), what (``msg``) and ``type``."""
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert errors and all(isinstance(e, dict) and {"loc", "msg", "type"} <= set(e) for e in errors), errors
    assert all(isinstance(e["loc"], list) and e["loc"][0] == "body" for e in errors), errors
    return errors


@pytest.mark.parametrize("extra", [{"reviewer": "somebody else"}, {"status": "SUCCEEDED"}])
async def test_body_fields_beyond_the_decision_are_refused(
    extra: dict[str, str],
    waiting: Review,
    reviewer_http: httpx.AsyncClient,
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
) -> None:
    response = await decide(reviewer_http, waiting, {"action": "approve", "revision": waiting.revision, **extra})
    assert response.status_code == 422, response.text
    await assert_still_waiting(waiting, http, client, resources)


async def test_correction_for_another_account_is_refused(
    waiting: Review, reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    """A mistyped account number would store the bill apart from the account's other bills of that period."""
    bill = waiting.corrected(total_amount=CORRECT_TOTAL, account_number="0000-0000-0000")
    response = await decide(reviewer_http, waiting, {"action": "correct", "revision": waiting.revision, "bill": bill})
    assert response.status_code == 422, response.text
    assert response.json()["failing_checks"] == ["account_mismatch"]
    await assert_still_waiting(waiting, http, client, resources)


@pytest.mark.parametrize("action", ["approve", "reject"])
async def test_a_bill_sent_with_approve_or_reject_is_refused(
    action: str,
    waiting: Review,
    reviewer_http: httpx.AsyncClient,
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
) -> None:
    """The audit trail would record it as stored, and it would not be."""
    bill = waiting.corrected(total_amount=CORRECT_TOTAL)
    response = await decide(reviewer_http, waiting, {"action": action, "revision": waiting.revision, "bill": bill})
    assert response.status_code == 422, response.text
    assert any("only with 'correct'" in str(error) for error in response.json()["errors"]), response.text
    await assert_still_waiting(waiting, http, client, resources)


@pytest.mark.parametrize(
    ("misspelt", "named"),
    [
        ({"statement_dt": "2024-02-01"}, "statement_dt"),
        ({"line_items": [{"description": "Delivery", "amount": "60.00", "type": "tax"}]}, "line_items[0].type"),
        ({"usage": [{"commodity": "electricity", "quantity": "5", "unit": "kWh", "meter": "A"}]}, "usage[0].meter"),
    ],
)
async def test_fields_a_bill_does_not_have_are_refused(
    misspelt: dict[str, Any],
    named: str,
    waiting: Review,
    reviewer_http: httpx.AsyncClient,
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
) -> None:
    """Dropped silently, a misspelt field would leave the stored bill without it."""
    bill = {**waiting.corrected(total_amount=CORRECT_TOTAL), **misspelt}
    response = await decide(reviewer_http, waiting, {"action": "correct", "revision": waiting.revision, "bill": bill})
    assert response.status_code == 422, response.text
    assert any(named in str(error) for error in response.json()["errors"]), response.text
    await assert_still_waiting(waiting, http, client, resources)


@pytest.mark.parametrize("action", ["correct", "approve"])
async def test_override_needs_a_correction_and_a_note(
    action: str,
    waiting: Review,
    reviewer_http: httpx.AsyncClient,
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
) -> None:
    body = {"action": action, "revision": waiting.revision, "override": True}
    response = await decide(reviewer_http, waiting, body | ({"bill": waiting.bill} if action == "correct" else {}))
    assert response.status_code == 422, response.text
    assert any("note" in error["msg"] for error in located_errors(response)), response.text
    await assert_still_waiting(waiting, http, client, resources)


@pytest.mark.parametrize("blank", ["   ", "\u200b", " \t\n "])
async def test_an_override_note_of_blanks_is_refused(
    blank: str,
    waiting: Review,
    reviewer_http: httpx.AsyncClient,
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
) -> None:
    """A note of blanks says nothing, yet an override needs one saying why: the review page refused it, the API not."""
    bill = waiting.corrected(total_amount=CORRECT_TOTAL)
    body = {"action": "correct", "revision": waiting.revision, "bill": bill, "override": True, "note": blank}
    response = await decide(reviewer_http, waiting, body)
    assert response.status_code == 422, response.text
    assert any("a note saying why" in error["msg"] for error in located_errors(response)), response.text
    await assert_still_waiting(waiting, http, client, resources)


@pytest.mark.parametrize("blank", ["", " \u200b "])
async def test_a_blank_note_is_no_note_where_none_is_needed(
    blank: str, waiting: Review, reviewer_http: httpx.AsyncClient
) -> None:
    """A client sending ``"note": ""`` with an approval, taken before, was refused for it: it is read as no note.
    The revision is stale, so the answer is the 409 a sound decision gets, and nothing is taken."""
    body = {"action": "approve", "revision": "0" * 32, "note": blank}
    response = await decide(reviewer_http, waiting, body)
    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "stale_revision", response.text


@pytest.mark.parametrize("note", [None, "", "   ", " \u200b "])
async def test_a_rejection_says_why(
    note: str | None,
    waiting: Review,
    reviewer_http: httpx.AsyncClient,
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
) -> None:
    """The review page asks why; through the API a rejection without a note was taken (200 REJECTED), the audit's
    note null, and a lead could not tell why a bill was thrown away."""
    body = {"action": "reject", "revision": waiting.revision} | ({"note": note} if note is not None else {})
    response = await decide(reviewer_http, waiting, body)
    assert response.status_code == 422, response.text
    # In our words alone: pydantic's "Value error, " before them told a client nothing (an inheriting engineer's
    # probe, 70A).
    assert any(error["msg"].startswith("say why in the note when rejecting") for error in located_errors(response))
    await assert_still_waiting(waiting, http, client, resources)


async def test_a_line_item_described_by_blanks_is_refused(
    waiting: Review, reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    """Stored, it named no charge in the warehouse; the review page refuses it."""
    items = [
        {**item, "description": " \u200b "} if n == 0 else item for n, item in enumerate(waiting.bill["line_items"])
    ]
    assert items, "the extracted bill has line items"
    bill = waiting.corrected(line_items=items)
    response = await decide(reviewer_http, waiting, {"action": "correct", "revision": waiting.revision, "bill": bill})
    assert response.status_code == 422, response.text
    errors = located_errors(response)
    assert [e["loc"] for e in errors] == [["body", "bill", "line_items", 0, "description"]], response.text
    assert "not blanks" in errors[0]["msg"], response.text
    await assert_still_waiting(waiting, http, client, resources)


async def test_override_does_not_store_a_unit_the_commodity_cannot_have(
    waiting: Review, reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    usage = [{**reading, "unit": "therm"} for reading in waiting.bill["usage"]]
    assert usage and usage[0]["commodity"] == "electricity", "the extracted bill has an electricity reading"
    bill = waiting.corrected(usage=usage)
    body = {"action": "correct", "revision": waiting.revision, "bill": bill, "override": True, "note": "as printed"}
    response = await decide(reviewer_http, waiting, body)
    assert response.status_code == 422, response.text
    assert response.json()["failing_checks"] == ["unit_mismatch:electricity"]  # the balance was overridden
    await assert_still_waiting(waiting, http, client, resources)


async def test_approving_an_extraction_of_another_accounts_bill_is_refused(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, unique: str
) -> None:
    """The bill uploaded is another account's: approved as read, it would be stored under this one."""
    job = await bill_of_another_account(http, unique)
    review = Review(job_id=job["id"], workflow_id=job["workflow_id"], customer_id=job["customer_id"], task={})
    review.task = await read_task(http, job["id"])

    response = await decide(reviewer_http, review, {"action": "approve", "revision": review.revision})
    assert response.status_code == 422, response.text
    assert response.json()["failing_checks"] == ["account_mismatch"]
    rejected = await decide(
        reviewer_http, review, {"action": "reject", "revision": review.revision, "note": "not ours"}
    )
    assert rejected.status_code == 200, rejected.text


async def test_override_is_not_offered_for_a_period_that_ends_before_it_starts(
    waiting: Review, reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    start, end = waiting.bill["bill_period_start"], waiting.bill["bill_period_end"]
    bill = waiting.corrected(total_amount=CORRECT_TOTAL, bill_period_start=end, bill_period_end=start)
    response = await decide(reviewer_http, waiting, {"action": "correct", "revision": waiting.revision, "bill": bill})
    assert response.status_code == 422, response.text
    assert "bad_period" in response.json()["failing_checks"] and "override" not in response.json()["detail"]
    await assert_still_waiting(waiting, http, client, resources)


async def test_decision_for_a_finished_job_is_a_conflict(
    reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    review = await open_review(http, unique)
    first = await decide(reviewer_http, review, {"action": "approve", "revision": review.revision})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "SUCCEEDED"
    await wait_for_job(resources.pool, review.job_id, {"SUCCEEDED"})

    again = await decide(reviewer_http, review, {"action": "reject", "revision": review.revision, "note": "no"})
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "SUCCEEDED" in again.json()["detail"]
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", review.job_id) == 1


async def test_a_decision_for_a_job_that_never_went_to_review_points_at_the_job(
    reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The 409 said "GET /reviews/<id> shows how the task stands" of a job that had none: that GET is a 404."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    uploaded = await http.post(
        "/bills",
        files={"file": ("bill.txt", bill_text(number).replace("75.00", "60.00").encode(), "text/plain")},
        data={"utility_account_id": str(account["id"])},
    )
    assert uploaded.status_code == 201, uploaded.text
    job_id = uploaded.json()["id"]
    await wait_for_job(resources.pool, job_id, {"SUCCEEDED"})

    refused = await reviewer_http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": "r1"})
    assert (refused.status_code, refused.json()["reason"]) == (409, "not_pending"), refused.text
    assert "the job has no review task" in refused.json()["detail"]
    assert f"GET /jobs/{job_id}" in refused.json()["detail"]
    assert (await reviewer_http.get(f"/reviews/{job_id}")).status_code == 404
