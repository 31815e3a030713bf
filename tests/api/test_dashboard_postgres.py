"""``GET /customers/{id}/dashboard``: monthly figures from Postgres, with the totals beside them, whatever the
analytics rollup has taken in yet; the rollup gives the same figures once it has run."""

from __future__ import annotations

import asyncio
import calendar
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from api.main import create_app
from api.routes.dashboard import DASHBOARD_MONTHS
from shared.analytics import MonthlyTotal, months_back
from shared.settings import AnalyticsKind, Settings
from tests.helpers import (
    account_digits,
    bill_text,
    create_account,
    insert_job,
    serve,
    upload_and_wait,
    wait_for_status,
)
from worker.resources import Resources


@pytest.fixture()
async def postgres_dashboard(app_settings: Settings, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = app_settings.model_copy(update={"analytics": AnalyticsKind.DISABLED})
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as http,
    ):
        yield http


async def add_bill(
    pool: asyncpg.Pool,
    account: dict[str, int],
    period_end: date,
    total: str | None,
    *,
    currency: str = "USD",
    charges: str | None = None,
    usage: tuple[tuple[str, str, str], ...] = (),
) -> None:
    """A stored bill: ``total`` is its amount due, ``charges`` its own charges, ``usage`` (commodity, qty, unit)."""
    job_id, bill_id = await insert_job(pool, account, status="SUCCEEDED"), uuid.uuid4()
    await pool.execute(
        "INSERT INTO bills (id, job_id, customer_id, utility_account_id, bill_period_end, currency, total_amount,"
        " current_charges, content_sha256, source, payload)"
        " VALUES ($1, $2, $3, $4, $5, $9, $6, $10, $7, 'extraction', $8)",
        bill_id,
        job_id,
        account["customer_id"],
        account["id"],
        period_end,
        Decimal(total) if total is not None else None,
        uuid.uuid4().hex,
        {  # the same bill as the columns say, as the codec stores a dict
            "bill_period_end": period_end.isoformat(),
            "currency": currency,
            "total_amount": total,
            "current_charges": charges,
            "usage": [{"commodity": c, "quantity": q, "unit": u} for c, q, u in usage],
        },
        currency,
        Decimal(charges) if charges is not None else None,
    )
    await pool.executemany(
        "INSERT INTO bill_usage (bill_id, position, commodity, quantity, unit) VALUES ($1, $2, $3, $4, $5)",
        [(bill_id, n, commodity, Decimal(quantity), unit) for n, (commodity, quantity, unit) in enumerate(usage)],
    )


async def test_amounts_in_two_currencies_are_totalled_apart_never_summed(
    postgres_dashboard: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    account = await create_account(http, provider="pge", account_number=f"FX-{unique}")
    none = (await postgres_dashboard.get(f"/customers/{account['customer_id']}/dashboard")).json()
    assert (none["total_billed"], none["bills_count"]) == ("0.00", 0), "in cents as every amount, not '0'"
    end = months_back(datetime.now(UTC).date(), 1).replace(day=20)
    await add_bill(resources.pool, account, end, "10.00")
    one = (await postgres_dashboard.get(f"/customers/{account['customer_id']}/dashboard")).json()
    assert (one["total_billed"], one["currency"], one["total_billed_by_currency"]) == ("10.00", "USD", {"USD": "10.00"})

    await add_bill(resources.pool, account, end, "5.00", currency="CAD")
    two = (await postgres_dashboard.get(f"/customers/{account['customer_id']}/dashboard")).json()
    assert (two["total_billed"], two["currency"]) == (None, None), "15.00 of what?"
    assert two["total_billed_by_currency"] == {"CAD": "5.00", "USD": "10.00"} and two["bills_count"] == 2


async def test_months_count_charges_per_currency_and_gas_apart_from_water(
    postgres_dashboard: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """February's 220.00 due carries January's unpaid 100.00: the two months cost 220.00, not 320.00."""
    account = await create_account(http, provider="pge", account_number=f"CH-{unique}")
    january = months_back(datetime.now(UTC).date(), 2).replace(day=20)
    february = months_back(datetime.now(UTC).date(), 1).replace(day=20)
    await add_bill(resources.pool, account, january, "100.00", charges="100.00")
    await add_bill(resources.pool, account, february, "220.00", charges="120.00")
    municipal = (("gas", "30", "CCF"), ("water", "12.5", "CCF"), ("water", "2", "CCF"))
    metric = (("water", "3.5", "m3"), ("gas", "1.5", "GJ"))
    await add_bill(resources.pool, account, february, "5.00", currency="CAD", usage=municipal + metric)

    body = (await postgres_dashboard.get(f"/customers/{account['customer_id']}/dashboard")).json()

    months = {(m["month"], m["currency"]): m for m in body["monthly"]}
    assert {key: Decimal(m["total_cost"]) for key, m in months.items()} == {
        (january.replace(day=1).isoformat(), "USD"): Decimal("100.00"),
        (february.replace(day=1).isoformat(), "USD"): Decimal("120.00"),
        (february.replace(day=1).isoformat(), "CAD"): Decimal("5.00"),
    }
    cad = months[(february.replace(day=1).isoformat(), "CAD")]
    assert (Decimal(cad["gas_ccf"]), Decimal(cad["water_ccf"])) == (Decimal(30), Decimal("14.5"))
    assert [Decimal(cad[unit]) for unit in ("water_m3", "gas_m3", "gas_gj")] == [Decimal("3.5"), 0, Decimal("1.5")]
    assert body["total_billed_by_currency"] == {"CAD": "5.00", "USD": "220.00"}


async def test_every_account_gets_24_months_and_a_month_without_totals_counts_zero(
    postgres_dashboard: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    pool = resources.pool
    customer = (await http.post("/customers", json={"name": f"Dashboard {unique}"})).json()
    accounts = []
    for n in range(3):
        created = await http.post(
            "/utility-accounts",
            json={"customer_id": customer["id"], "provider": "pge", "account_number": f"DB{n}-{unique}"},
        )
        accounts.append(created.json())
    this_month = months_back(datetime.now(UTC).date(), 1)
    for months_ago in range(12):  # a bill a month per account: 36 account-months, more than 24 rows
        end = months_back(this_month, months_ago + 1).replace(day=20)
        for account in accounts:
            await add_bill(pool, account, end, "10.00")
    lone = months_back(this_month, 24).replace(day=5)  # the oldest month shown, its bill without a total
    await add_bill(pool, accounts[0], lone, None)
    await add_bill(pool, accounts[0], months_back(this_month, 25).replace(day=5), "99.00")  # one month too old

    response = await postgres_dashboard.get(f"/customers/{customer['id']}/dashboard")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["monthly_source"] == "postgres"
    monthly = {(m["utility_account_id"], m["month"]): m for m in body["monthly"]}
    assert len(monthly) == 3 * 12 + 1
    assert Decimal(monthly[(accounts[0]["id"], lone.replace(day=1).isoformat())]["total_cost"]) == 0
    assert all(m["month"] >= lone.replace(day=1).isoformat() for m in body["monthly"])
    # The bill a month too old is in the totals and in no month: the answer says which months its months are.
    assert body["monthly_since"] == lone.replace(day=1).isoformat()
    assert Decimal(body["total_billed"]) == sum(Decimal(m["total_cost"]) for m in body["monthly"]) + Decimal("99.00")


@pytest.mark.parametrize("trouble", ["dataset-missing", "warehouse-unreachable"])
async def test_a_failing_warehouse_leaves_the_dashboard_whole(
    app_settings: Settings, admin_key: str, http: httpx.AsyncClient, resources: Resources, unique: str, trouble: str
) -> None:
    """A dataset no worker has created yet, or a warehouse that does not answer (the client's own retries
    would go on for minutes): the dashboard, read from Postgres, is a 200 at once, not a 500 or a hang."""
    if trouble == "dataset-missing":
        settings = app_settings.model_copy(update={"bq_dataset": f"never_created_{uuid.uuid4().hex[:8]}"})
    else:  # nothing listens on the discard port
        settings = app_settings.model_copy(update={"bigquery_emulator_host": "http://127.0.0.1:9"})
    customer = (await http.post("/customers", json={"name": f"Warehouse down {unique}"})).json()
    account = (
        await http.post(
            "/utility-accounts",
            json={"customer_id": customer["id"], "provider": "pge", "account_number": f"WD-{unique}"},
        )
    ).json()
    await add_bill(resources.pool, account, months_back(datetime.now(UTC).date(), 1).replace(day=20), "42.00")
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as broken,
    ):
        response = await broken.get(f"/customers/{customer['id']}/dashboard")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["monthly_source"] == "postgres"
    assert [Decimal(m["total_cost"]) for m in body["monthly"]] == [Decimal("42.00")]


def last_day(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def bill_for(number: str, month: date, *, total: str, statement_day: int = 5) -> str:
    """``bill_text``'s bill for ``month`` (its first day), issued early the month after: the dashboard shows
    the last 24 months, so a bill of a fixed month would one day fall out of it and fail these tests."""
    issued = last_day(month) + timedelta(days=1)
    dated = {
        "Statement Date: 03/05/2026": f"Statement Date: {issued.replace(day=statement_day):%m/%d/%Y}",
        "Billing Period: 02/01/2026 - 02/28/2026": f"Billing Period: {month:%m/%d/%Y} - {last_day(month):%m/%d/%Y}",
        "Due Date: 03/25/2026": f"Due Date: {issued.replace(day=25):%m/%d/%Y}",
    }
    text = bill_text(number, total=total)
    for fixed, relative in dated.items():
        assert fixed in text, f"bill_text no longer says {fixed!r}"
        text = text.replace(fixed, relative)
    return text


def _figures(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The monthly rows with their numbers as Decimals ("60" from the warehouse is "60.00" from Postgres)."""
    return [
        {k: Decimal(v) if isinstance(v, str) and k not in ("month", "currency") else v for k, v in m.items()}
        for m in body["monthly"]
    ]


async def test_a_new_or_corrected_bill_is_in_the_monthly_figures_at_once(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """No rollup since the bill came (a new deployment's first hour, say), then one before its re-issue:
    each time the months add up to the totals beside them, not to what the warehouse last rolled up."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    month = months_back(datetime.now(UTC).date(), 3)
    original = bill_for(number, month, total="60.00")
    reissue = (
        bill_for(number, month, total="60.00", statement_day=12)
        .replace("Electric Supply           $40.00", "Electric Supply           $30.00")
        .replace("Current Charges          $60.00", "Current Charges          $50.00")
        .replace("Total Amount Due         $60.00", "Total Amount Due         $50.00")
    )
    sink = resources.sink
    assert sink is not None, "the session's worker publishes to the BigQuery emulator"

    assert (await upload_and_wait(http, account, original))["status"] == "SUCCEEDED"
    new = (await http.get(f"/customers/{account['customer_id']}/dashboard")).json()
    await asyncio.to_thread(sink.rollup, month, last_day(month))
    assert (await upload_and_wait(http, account, reissue))["status"] == "SUCCEEDED"
    corrected = (await http.get(f"/customers/{account['customer_id']}/dashboard")).json()

    for body, total in ((new, Decimal(60)), (corrected, Decimal(50))):
        assert (Decimal(body["total_billed"]), body["bills_count"]) == (total, 1)
        assert [(m["month"], Decimal(m["total_cost"]), m["bills"]) for m in body["monthly"]] == [
            (month.isoformat(), total, 1)
        ]


async def test_the_rollup_and_postgres_give_the_same_monthly_figures(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Three bills through the pipeline, then the rollup: the warehouse's months, costs and kWh are the dashboard's,
    and so is how many of a month's bills were read: one with no reading (approved as it was) counted as 0 kWh,
    a month that used nothing to an analyst (an analyst's probe)."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    earliest, earlier, later = (months_back(datetime.now(UTC).date(), n) for n in (5, 4, 3))
    first = bill_for(number, earlier, total="60.00")
    second = bill_for(number, later, total="60.00").replace("350 kWh", "410 kWh")
    for text in (first, second):
        assert (await upload_and_wait(http, account, text))["status"] == "SUCCEEDED"
    started = await http.post(
        "/bills",
        files={"file": ("bill.txt", bill_for(number, earliest, total="60.00").replace("350 kWh", "").encode())},
        data={"utility_account_id": str(account["id"])},
    )
    unread = await wait_for_status(http, started.json()["id"], {"NEEDS_REVIEW"}, within=90)
    assert "missing_field:usage" in unread["reasons"], unread
    revision = (await http.get(f"/reviews/{unread['id']}")).json()["revision"]
    approved = await http.post(f"/reviews/{unread['id']}", json={"action": "approve", "revision": revision})
    assert approved.json()["status"] == "SUCCEEDED", approved.text
    sink = resources.sink
    assert sink is not None, "the session's worker publishes to the BigQuery emulator"
    await asyncio.to_thread(sink.rollup, earliest, last_day(later))

    from_rollup = await asyncio.to_thread(sink.monthly_totals, account["customer_id"], months=DASHBOARD_MONTHS)
    dashboard = (await http.get(f"/customers/{account['customer_id']}/dashboard")).json()

    assert dashboard["monthly_source"] == "postgres"
    assert [MonthlyTotal.model_validate(m) for m in dashboard["monthly"]] == from_rollup
    # Written alike too: the dashboard's "410.0000" kWh beside the rollup's "410" read as two figures to a client.
    assert dashboard["monthly"] == [m.model_dump(mode="json") for m in from_rollup]
    figures = [(m["month"], m["total_cost"], m["kwh"], m["bills"], m["bills_with_usage"]) for m in _figures(dashboard)]
    assert figures == [
        (later.isoformat(), Decimal(60), Decimal(410), 1, 1),
        (earlier.isoformat(), Decimal(60), Decimal(350), 1, 1),
        (earliest.isoformat(), Decimal(60), Decimal(0), 1, 0),
    ]
