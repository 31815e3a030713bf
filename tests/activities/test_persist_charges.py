"""``persist_bill`` stores the current charges a bill's line items imply, whoever gave the bill."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import httpx
from temporalio.testing import ActivityEnvironment

from activities.bills import BillActivities
from shared.bill import LineItem, NormalizedBill
from shared.models import ArtifactRef, PersistRequest
from tests.helpers import create_account, insert_job
from worker.resources import Resources


def corrected_bill_without_current_charges(number: str) -> NormalizedBill:
    """A reviewer's correction of a bill that prints no current charges: 40.00 unpaid plus 35.50 of items."""
    return NormalizedBill(
        account_number=number,
        statement_date=date(2026, 3, 5),
        bill_period_start=date(2026, 2, 1),
        bill_period_end=date(2026, 2, 28),
        due_date=date(2026, 3, 25),
        total_amount=Decimal("75.50"),
        previous_balance=Decimal("40.00"),
        line_items=[
            LineItem(description="Electric supply", amount=Decimal("20.50")),
            LineItem(description="Delivery", amount=Decimal("15.00")),
        ],
    )


async def test_a_bill_whose_items_balance_is_stored_with_their_sum_as_its_current_charges(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """A reviewer left current charges blank (the bill prints none): analytics counted the amount due, the
    unpaid 40.00 included, as the month's cost. Stored twice (a lost answer), the row is the same, its JSON
    agrees with its column, and the workflow is answered with the stored bill, which it publishes."""
    number = f"PG-{uuid.uuid4().hex[:8]}"
    account = await create_account(http, provider="pge", account_number=number)
    job_id = await insert_job(resources.pool, account, status="RUNNING")
    sha = uuid.uuid4().hex * 2
    bill = corrected_bill_without_current_charges(number)
    request = PersistRequest(
        job_id=job_id,
        customer_id=account["customer_id"],
        utility_account_id=account["id"],
        artifact=ArtifactRef(uri=f"gs://b/{sha}", sha256=sha, size=1, content_type="text/plain"),
        bill=bill,
        source="review",
    )
    persist = BillActivities(resources.pool).persist_bill

    outcomes = [await ActivityEnvironment().run(persist, request) for _ in range(2)]

    assert outcomes[0] == outcomes[1]
    expected = bill.model_copy(update={"current_charges": Decimal("35.50")})
    assert outcomes[0].stored_bill == expected
    row = await resources.pool.fetchrow("SELECT current_charges, payload FROM bills WHERE job_id = $1", job_id)
    assert row["current_charges"] == Decimal("35.50")
    assert NormalizedBill.model_validate(row["payload"]) == expected
