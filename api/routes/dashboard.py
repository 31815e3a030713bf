"""``GET /customers/{id}/dashboard``: accounts, recent bills, totals and monthly figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter

from api.deps import DashboardDep, IdPath, StateDep
from api.role_first import AuthorizeBeforeBody
from api.schemas import BillPublic, CustomerPublic, DashboardPublic, UtilityAccountPublic
from api.services.accounts import account_public, get_customer
from shared.analytics import USAGE_COLUMNS, months_back
from shared.analytics.sql import any_usage, monthly_total_of

router = APIRouter(tags=["dashboard"], route_class=AuthorizeBeforeBody)

DASHBOARD_MONTHS = 24
"""Monthly figures cover this month and the 23 before it, and any later month a stored bill's period ends in (a
reviewer may approve a bill dated ahead, confirming ``dated_in_the_future``): every stored bill of those months counts,
as in the totals beside them."""

_USAGE_SUMS = ", ".join(
    f"sum(quantity) FILTER (WHERE commodity = '{commodity.value}' AND unit = '{unit.value}') AS {column}"
    for (commodity, unit), column in USAGE_COLUMNS.items()
)
CHARGES = "COALESCE(current_charges, total_amount)"
"""What a bill cost: its current charges. Its amount due adds last month's unpaid balance, which
the month before already counted (``shared.analytics.ROLLUP_SQL`` does the same)."""

MONTHLY_FROM_POSTGRES = f"""
SELECT b.utility_account_id, b.month, b.currency, COALESCE(sum({CHARGES}), 0) AS total_cost,
       {", ".join(f"COALESCE(sum(u.{column}), 0) AS {column}" for column in USAGE_COLUMNS.values())}, count(*) AS bills,
       count(*) FILTER (WHERE {any_usage("u.")}) AS bills_with_usage
  FROM (SELECT *, date_trunc('month', COALESCE(bill_period_end, statement_date, (created_at AT TIME ZONE 'UTC')::date))
                  ::date AS month
          FROM bills WHERE customer_id = $1) AS b
  LEFT JOIN LATERAL (SELECT {_USAGE_SUMS} FROM bill_usage WHERE bill_id = b.id) AS u ON TRUE
 WHERE b.month >= $2
 GROUP BY 1, 2, 3 ORDER BY 2 DESC, 1, 3
"""
"""The analytics rollup's figures (``shared.analytics.ROLLUP_SQL``) from Postgres: the same months, measures
and zeroes, so a warehouse reader and the dashboard count a month alike."""


@router.get("/customers/{customer_id}/dashboard", response_model=DashboardPublic)
async def dashboard(customer_id: IdPath, state: StateDep, principal: DashboardDep) -> DashboardPublic:
    """One customer's picture, every figure read from one snapshot of Postgres, so they always agree.

    Not the analytics rollup: the schedule rebuilds it hourly, so for up to an hour after each new or
    corrected bill its months would disagree with the totals beside them (and a new deployment would
    show none), and which bills it has taken in is known only to the warehouse. The same request adds
    up all the customer's bills for its totals anyway; 24 months of them cost no more.
    """
    customer = await get_customer(state.pool, principal=principal, customer_id=customer_id)
    async with state.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        accounts = await conn.fetch("SELECT * FROM utility_accounts WHERE customer_id = $1 ORDER BY id", customer_id)
        bills = await conn.fetch(
            "SELECT * FROM bills WHERE customer_id = $1"
            " ORDER BY bill_period_end DESC NULLS LAST, created_at DESC LIMIT 10",
            customer_id,
        )
        counts = await conn.fetch(
            "SELECT status, count(*) AS n FROM ingestion_jobs WHERE customer_id = $1 GROUP BY status", customer_id
        )
        by_currency = await conn.fetch(
            f"SELECT currency, count(*) AS n, COALESCE(sum({CHARGES}), 0) AS total FROM bills WHERE customer_id = $1"
            " GROUP BY currency ORDER BY currency",
            customer_id,
        )
        since = months_back(datetime.now(UTC).date(), DASHBOARD_MONTHS)
        monthly = await conn.fetch(MONTHLY_FROM_POSTGRES, customer_id, since)
    totals = {r["currency"]: Decimal(r["total"]) for r in by_currency}
    currency = next(iter(totals)) if len(totals) == 1 else None
    return DashboardPublic(
        customer=CustomerPublic.model_validate(customer),
        accounts=[UtilityAccountPublic.model_validate(account_public(dict(a))) for a in accounts],
        recent_bills=[
            BillPublic.model_validate({**dict(b), "id": str(b["id"]), "job_id": str(b["job_id"])}) for b in bills
        ],
        jobs_by_status={r["status"]: r["n"] for r in counts},
        bills_count=sum(r["n"] for r in by_currency),
        total_billed=totals[currency] if currency else (Decimal("0.00") if not totals else None),
        currency=currency,
        total_billed_by_currency=totals,
        monthly=[monthly_total_of(dict(r)) for r in monthly],
        monthly_since=since,
        monthly_source="postgres",
    )
