"""What a key bound to a customer reads of a decided review: never a MiniMeter reviewer's key, a third party's account
number in a note, the bucket's layout or the Web UI's address (a privacy probe, 76A). An operator reads them whole."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from api.auth import CreatedKey, Principal, Role, create_key
from api.services import review_claims as claims
from api.services.reviewer_names import STAFF_REVIEWER
from shared.settings import Settings
from tests.review.support import Review, open_review, wait_for_job
from worker.resources import Resources

THIRD_PARTYS_NOTE = "account 1111-2222-3333-4444 belongs to Bob Other at 9 Other St"


@asynccontextmanager
async def customers_key(
    api_url: str, resources: Resources, review: Review, role: Role
) -> AsyncIterator[tuple[CreatedKey, httpx.AsyncClient]]:
    """A key of ``role`` bound to the review's customer, and a client presenting it."""
    key = await create_key(resources.pool, name=f"customer-{role}", role=role, customer_id=review.customer_id)
    async with httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {key.key}"}, timeout=60) as c:
        yield key, c


async def decided(decider: httpx.AsyncClient, resources: Resources, review: Review, note: str) -> None:
    """``review`` rejected by ``decider`` with ``note``, and the job ended."""
    response = await decider.post(
        f"/reviews/{review.job_id}", json={"action": "reject", "revision": review.revision, "note": note}
    )
    assert response.status_code == 200, response.text
    await wait_for_job(resources.pool, review.job_id, {"REJECTED"})


async def read(http: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await http.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def listed(http: httpx.AsyncClient, review: Review) -> dict[str, Any]:
    """The job as ``GET /jobs`` lists it."""
    page = await read(http, f"/jobs?customer_id={review.customer_id}&status=REJECTED")
    [job] = [job for job in page["items"] if job["id"] == review.job_id]
    return job


async def test_a_customers_key_reads_a_staff_reviewer_as_minimeter_s_never_the_key(
    http: httpx.AsyncClient,
    reviewer_http: httpx.AsyncClient,
    reviewer_identity: str,
    resources: Resources,
    api_url: str,
    unique: str,
) -> None:
    review = await open_review(http, unique)
    await decided(reviewer_http, resources, review, "not a bill")

    async with (
        customers_key(api_url, resources, review, Role.VIEWER) as (_, viewer),
        customers_key(api_url, resources, review, Role.REVIEWER) as (_, customers_reviewer),
    ):
        assert (await read(viewer, f"/jobs/{review.job_id}"))["result"]["reviewer"] == STAFF_REVIEWER
        assert (await listed(viewer, review))["result"]["reviewer"] == STAFF_REVIEWER
        assert (await read(customers_reviewer, f"/reviews/{review.job_id}"))["decision"]["reviewer"] == STAFF_REVIEWER
    assert (await read(http, f"/jobs/{review.job_id}"))["result"]["reviewer"] == reviewer_identity
    assert (await listed(http, review))["result"]["reviewer"] == reviewer_identity
    assert (await read(http, f"/reviews/{review.job_id}"))["decision"]["reviewer"] == reviewer_identity


async def test_a_customers_key_reads_its_own_reviewer_by_the_key_s_name(
    http: httpx.AsyncClient, resources: Resources, api_url: str, unique: str
) -> None:
    review = await open_review(http, unique)

    async with (
        customers_key(api_url, resources, review, Role.VIEWER) as (_, viewer),
        customers_key(api_url, resources, review, Role.REVIEWER) as (own, customers_reviewer),
    ):
        await decided(customers_reviewer, resources, review, "not a bill")
        assert (await read(viewer, f"/jobs/{review.job_id}"))["result"]["reviewer"] == own.name
        assert (await listed(viewer, review))["result"]["reviewer"] == own.name
        assert (await read(customers_reviewer, f"/reviews/{review.job_id}"))["decision"]["reviewer"] == own.name
    assert (await read(http, f"/jobs/{review.job_id}"))["result"]["reviewer"] == f"{own.name} (key {own.id})"


async def test_a_customers_key_reads_a_note_with_a_third_partys_account_number_masked(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, api_url: str, unique: str
) -> None:
    """A rejection's note is the job's error too: both named another customer's account in full."""
    review = await open_review(http, unique)
    await decided(reviewer_http, resources, review, THIRD_PARTYS_NOTE)
    masked = "account ****4444 belongs to Bob Other at 9 Other St"

    async with (
        customers_key(api_url, resources, review, Role.VIEWER) as (_, viewer),
        customers_key(api_url, resources, review, Role.REVIEWER) as (_, customers_reviewer),
    ):
        for job in (await read(viewer, f"/jobs/{review.job_id}"), await listed(viewer, review)):
            assert (job["error"], job["result"]["note"], job["result"]["error"]) == (masked, masked, masked)
        assert (await read(customers_reviewer, f"/reviews/{review.job_id}"))["decision"]["note"] == masked
    job = await read(http, f"/jobs/{review.job_id}")
    assert (job["error"], job["result"]["note"]) == (THIRD_PARTYS_NOTE, THIRD_PARTYS_NOTE)
    assert (await read(http, f"/reviews/{review.job_id}"))["decision"]["note"] == THIRD_PARTYS_NOTE


async def test_a_customers_key_reads_the_raw_bill_by_the_api_s_link_and_no_web_ui_link(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, api_url: str, unique: str
) -> None:
    review = await open_review(http, unique)
    await decided(reviewer_http, resources, review, "not a bill")
    operators = await read(http, f"/jobs/{review.job_id}")
    stored = operators["result"]["artifact"]
    link = f"/jobs/{review.job_id}/artifact?sha256={stored['sha256']}"

    async with customers_key(api_url, resources, review, Role.REVIEWER) as (_, customers_reviewer):
        for job in (await read(customers_reviewer, f"/jobs/{review.job_id}"), await listed(customers_reviewer, review)):
            assert job["result"]["artifact"] == stored | {"uri": link}
            assert job["web_ui_url"] is None
        assert (await customers_reviewer.get(link)).status_code == 200
    assert stored["uri"] != link and not stored["uri"].startswith("/")
    assert operators["web_ui_url"].endswith(operators["workflow_id"])
    assert (await listed(http, review))["web_ui_url"] == operators["web_ui_url"]


async def test_a_customers_reviewer_reads_a_staff_claim_and_a_staff_decision_taken_first_by_the_label(
    http: httpx.AsyncClient,
    reviewer_http: httpx.AsyncClient,
    reviewer: CreatedKey,
    reviewer_identity: str,
    resources: Resources,
    app_settings: Settings,
    api_url: str,
    unique: str,
) -> None:
    """The queue's ``claimed_by`` and a late decision's 409 ``taken_first`` named the staff member's key to a
    reviewer key bound to the customer, where ``GET /reviews/{id}`` named them by the label (76D)."""
    review = await open_review(http, unique)
    staff = Principal(key_id=reviewer.id, name=reviewer.name, role=Role.REVIEWER, customer_id=None)
    await claims.claim(resources.pool, uuid.UUID(review.job_id), staff, settings=app_settings)
    async with customers_key(api_url, resources, review, Role.REVIEWER) as (_, customers_reviewer):
        queue = await read(customers_reviewer, f"/reviews?customer_id={review.customer_id}")
        assert [item["claimed_by"] for item in queue["items"] if item["job_id"] == review.job_id] == [STAFF_REVIEWER]
        queued = await read(http, f"/reviews?customer_id={review.customer_id}")
        assert [item["claimed_by"] for item in queued["items"] if item["job_id"] == review.job_id] == [
            reviewer_identity
        ]

        await decided(reviewer_http, resources, review, "not a bill")
        late = await customers_reviewer.post(
            f"/reviews/{review.job_id}", json={"action": "approve", "revision": review.revision}
        )
    assert late.status_code == 409 and late.json()["code"] == "taken_first", late.text
    assert late.json()["taken_by"] == STAFF_REVIEWER and reviewer.name not in late.text
