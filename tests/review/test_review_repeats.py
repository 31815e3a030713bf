"""A decision sent again (a double click, a repeat after a 503 as the API advises) while the first is applied.

The repeat must learn that its decision stands, not read "not awaiting review" as if it had been
refused; a colleague's decision sent meanwhile is still refused. Each test holds
``record_review_decision`` on its own worker, so the first decision is accepted and the job has not ended.
"""

from __future__ import annotations

import asyncio
import hashlib
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.auth import Role, create_key
from api.routes.reviews import decision_update_id
from shared.bill import Commodity, NormalizedBill, UsageReading, UsageUnit
from shared.review import ReviewAction, ReviewDecision
from tests.review.support import (
    CORRECT_TOTAL,
    OwnQueue,
    awaiting_review,
    decisions_in_history,
    held,
    history,
    job_id_of,
    read_task,
    real_activity,
    replacing,
    result_of,
)
from worker.resources import Resources


async def test_the_same_decision_sent_twice_is_answered_as_taken_and_applied_once(
    own_queue: OwnQueue,
    reviewer_http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    api_url: str,
) -> None:
    settings = own_queue.settings()
    recording = held(real_activity(resources, settings, "record_review_decision"))
    activities = replacing(resources, settings, {"record_review_decision": recording.activity})
    async with own_queue.upload(settings, activities=activities) as handle:
        job_id = job_id_of(handle)
        try:
            revision = await awaiting_review(handle)
            task = await read_task(reviewer_http, job_id)
            body: dict[str, Any] = {
                "action": "correct",
                "revision": revision,
                "bill": {**task["bill"], "total_amount": CORRECT_TOTAL},
                "note": "total read from page 2",
            }
            first = asyncio.create_task(reviewer_http.post(f"/reviews/{job_id}", json=body))
            await asyncio.wait_for(recording.reached.wait(), timeout=30)  # taken: the workflow records it

            colleague = await create_key(resources.pool, name="review-repeat-colleague", role=Role.REVIEWER)
            async with httpx.AsyncClient(
                base_url=api_url, headers={"Authorization": f"Bearer {colleague.key}"}, timeout=60
            ) as other:
                refused = await other.post(f"/reviews/{job_id}", json=body)
            assert refused.status_code == 409, "another reviewer's decision is still refused"

            # The double click, from a client that wrote the readings again by value (1142 as 1142.0): the same
            # decision.
            usage = [{**reading, "quantity": _one_more_place(reading["quantity"])} for reading in body["bill"]["usage"]]
            assert usage, "the bill's usage is written again"
            written_again = {**body, "bill": {**body["bill"], "usage": usage}}
            again = asyncio.create_task(reviewer_http.post(f"/reviews/{job_id}", json=written_again))
        finally:
            recording.release.set()
        responses = [await first, await again]
        await result_of(client, handle.id)
        # Sent once more after the job ended (a retry whose answer was lost): still the first answer.
        responses.append(await reviewer_http.post(f"/reviews/{job_id}", json=body))
        assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
        assert {r.json()["status"] for r in responses} == {"SUCCEEDED"}
        other_decision = {"action": "reject", "revision": revision, "note": "changed my mind"}
        assert (await reviewer_http.post(f"/reviews/{job_id}", json=other_decision)).status_code == 409

    assert len(await decisions_in_history(client, await history(handle))) == 1
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 1
    assert str(await resources.pool.fetchval("SELECT total_amount FROM bills WHERE job_id = $1", job_id)) == (
        CORRECT_TOTAL
    )


def _one_more_place(quantity: str) -> str:
    """``quantity`` written with one more zero place: the same value."""
    return f"{quantity}0" if "." in quantity else f"{quantity}.0"


@pytest.mark.parametrize(
    "decision",
    [
        ReviewDecision(action=ReviewAction.APPROVE, revision="r1", reviewer="alice"),
        ReviewDecision(action=ReviewAction.REJECT, revision="r1", reviewer="alice", note="not this account's"),
        ReviewDecision(
            action=ReviewAction.CORRECT,
            revision="r2",
            reviewer="alice",
            bill=NormalizedBill(
                total_amount=Decimal("60.00"),
                usage=[UsageReading(commodity=Commodity.ELECTRICITY, quantity=Decimal("1142"), unit=UsageUnit.KWH)],
            ),
        ),
    ],
    ids=["approve", "reject", "correct"],
)
def test_a_decision_keeps_the_update_id_the_release_before_gave_it(decision: ReviewDecision) -> None:
    """A repeat sent across a rolling deploy may reach a process of the other release: comparing readings by value
    changed the id of every decision at first (a review of the change, 72D), and such a repeat was refused as taken
    first by its own reviewer. Only a reading written with trailing zeros hashes otherwise now."""
    as_sent_before = decision.model_dump_json(exclude={"period_seen"})  # the release before had no such field
    before = hashlib.sha256(as_sent_before.encode()).hexdigest()[:32]
    assert decision_update_id(decision) == f"review-{decision.revision}-{before}"
