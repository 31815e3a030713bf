"""``GET /customers/{id}/dashboard``: accounts, recent bills, totals and monthly figures."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter

from api.deps import DashboardDep, IdPath, StateDep
from api.role_first import AuthorizeBeforeBody
from api.schemas import BillPublic, CustomerPublic, DashboardPublic, UtilityAccountPublic
from api.services.accounts import account_public, get_customer
from shared.analytics import USAGE_COLUMNS, MonthlyTotal, months_back

logger = logging.getLogger(__name__)
router = APIRouter(tags=["dashboard"], route_class=AuthorizeBeforeBody)

DASHBOARD_MONTHS = 24
"""Monthly figures cover this month and the 23 before it, from either source."""

_USAGE_SUMS = ", ".join(
    f"sum(quantity) FILTER (WHERE commodity = '{commodity.value}' AND unit = '{unit.value}') AS {column}"
    for (commodity, unit), column in USAGE_COLUMNS.items()
)
CHARGES = "COALESCE(current_charges, total_amount)"
"""What a bill cost: its current charges. Its amount due adds last month's unpaid balance, which
the month before already counted (``shared.analytics.ROLLUP_SQL`` does the same)."""

MONTHLY_FROM_POSTGRES = f"""
SELECT b.utility_account_id, b.month, b.currency, COALESCE(sum({CHARGES}), 0) AS total_cost,
       {", ".join(f"COALESCE(sum(u.{column}), 0) AS {column}" for column in USAGE_COLUMNS.values())}, count(*) AS bills
  FROM (SELECT *, date_trunc('month', COALESCE(bill_period_end, statement_date, (created_at AT TIME ZONE 'UTC')::date))
                  ::date AS month
          FROM bills WHERE customer_id = $1) AS b
  LEFT JOIN LATERAL (SELECT {_USAGE_SUMS} FROM bill_usage WHERE bill_id = b.id) AS u ON TRUE
 WHERE b.month >= $2
 GROUP BY 1, 2, 3 ORDER BY 2 DESC, 1, 3
"""
"""The rollup's figures (``shared.analytics.ROLLUP_SQL``) from Postgres: the same months, measures and
zeroes, so the dashboard's answer has one shape whichever source gave it."""


@router.get("/customers/{customer_id}/dashboard", response_model=DashboardPublic)
async def dashboard(customer_id: IdPath, state: StateDep, principal: DashboardDep) -> DashboardPublic:
    """One customer's picture: monthly totals come from the analytics rollup (Postgres if disabled or down)."""
    pool = state.pool
    customer = await get_customer(pool, principal=principal, customer_id=customer_id)
    accounts = await pool.fetch("SELECT * FROM utility_accounts WHERE customer_id = $1 ORDER BY id", customer_id)
    bills = await pool.fetch(
        "SELECT * FROM bills WHERE customer_id = $1 ORDER BY bill_period_end DESC NULLS LAST, created_at DESC LIMIT 10",
        customer_id,
    )
    counts = await pool.fetch(
        "SELECT status, count(*) AS n FROM ingestion_jobs WHERE customer_id = $1 GROUP BY status", customer_id
    )
    by_currency = await pool.fetch(
        f"SELECT currency, count(*) AS n, COALESCE(sum({CHARGES}), 0) AS total FROM bills WHERE customer_id = $1"
        " GROUP BY currency ORDER BY currency",
        customer_id,
    )
    totals = {r["currency"]: Decimal(r["total"]) for r in by_currency}
    currency = next(iter(totals)) if len(totals) == 1 else None
    monthly: list[MonthlyTotal] | None = None
    source = "postgres"
    if state.sink is not None:
        try:
            monthly = await asyncio.to_thread(state.sink.monthly_totals, customer_id, months=DASHBOARD_MONTHS)
            source = "analytics_rollup"
        except Exception:  # any warehouse failure: the same figures from Postgres
            logger.warning("analytics rollup unavailable; monthly figures from Postgres", exc_info=True)
    if monthly is None:
        rows = await pool.fetch(
            MONTHLY_FROM_POSTGRES, customer_id, months_back(datetime.now(UTC).date(), DASHBOARD_MONTHS)
        )
        monthly = [MonthlyTotal(**dict(r)) for r in rows]
    return DashboardPublic(
        customer=CustomerPublic.model_validate(customer),
        accounts=[UtilityAccountPublic.model_validate(account_public(dict(a))) for a in accounts],
        recent_bills=[
            BillPublic.model_validate({**dict(b), "id": str(b["id"]), "job_id": str(b["job_id"])}) for b in bills
        ],
        jobs_by_status={r["status"]: r["n"] for r in counts},
        bills_count=sum(r["n"] for r in by_currency),
        total_billed=totals[currency] if currency else (Decimal(0) if not totals else None),
        currency=currency,
        total_billed_by_currency=totals,
        monthly=monthly,
        monthly_source=source,
    )
