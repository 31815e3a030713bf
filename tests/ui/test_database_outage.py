"""Postgres down as a reviewer sends a decision from the review page: the page says nothing was sent, the database
being unavailable, and holds every entry (fields, rows begun, the note) so they send it again once it is back."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from api.auth import Role, create_key
from api.main import create_app
from shared.bill import NormalizedBill, Provider
from shared.db import create_pool
from shared.settings import Settings
from stack.services import embedded_postgres_url, start_embedded_postgres, stop_embedded_postgres
from tests.durability.conftest import create_account
from tests.helpers import insert_job, serve
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.test_refused_entries import PARTIAL_ROWS, chosen, input_value
from tests.ui.test_ui_http import SAME_ORIGIN, form_fields

TYPED = {
    "customer_name": "Jane Q. Public",
    "total_amount": "61.00",
    "line_items-3-description": "Late fee",
    "line_items-3-amount": "1.00",
}
NOTE = "page 2 says 61.00"


@dataclass
class Outage:
    url: str
    pgdata: Path
    job_id: str
    reviewer_key: str


@pytest.fixture()
async def outage(app_settings: Settings, tmp_path: Path) -> AsyncIterator[Outage]:
    """An API on a Postgres of its own holding one open review task; the test stops that Postgres, and it is
    started again before the API closes."""
    pgdata = tmp_path / "pg"
    settings = app_settings.model_copy(update={"database_url": SecretStr(embedded_postgres_url(pgdata))})
    try:
        async with serve(create_app(settings)) as url:
            pool = await create_pool(settings, one_shot=True)
            try:
                account = await create_account(pool, provider=Provider.PGE, account_number="5550077")
                job_id = await insert_job(pool, account, status="NEEDS_REVIEW")
                bill = NormalizedBill.model_validate(
                    {"account_number": "5550077", "total_amount": "60.00", "current_charges": "60.00"}
                )
                await pool.execute(
                    "INSERT INTO review_tasks (job_id, status, reasons, bill, artifact_uri, revision)"
                    " VALUES ($1, 'PENDING', $2, $3, 'gs://b/o', 'r1')",
                    job_id,
                    ["balance_mismatch"],
                    bill.model_dump(mode="json"),
                )
                key = await create_key(pool, name="outage-reviewer", role=Role.REVIEWER)
            finally:
                await pool.close()
            yield Outage(url=url, pgdata=pgdata, job_id=job_id, reviewer_key=key.key)
            start_embedded_postgres(pgdata)  # the API's loops and pool close against a live server
    finally:
        stop_embedded_postgres(pgdata)


def assert_entries_held(page: httpx.Response, sent: dict[str, str]) -> None:
    """Every entry of ``sent`` is in the page's form as typed, the decisions offered to send it again."""
    html = page.text
    assert re.search(r'<input id="f-customer_name"[^>]*value="Jane Q. Public"', html), html
    assert re.search(r'<input id="f-total_amount"[^>]*value="61.00"', html), html
    descriptions = re.findall(r'<input name="line_items-\d+-description" value="([^"]*)"', html)
    assert "Late fee" in descriptions
    meters = [m for m in re.findall(r'<input name="usage-\d+-meter_number" value="([^"]*)"', html) if m]
    assert meters == ["M-77"], "the reading begun is still there"
    usage_row = next(i for i in range(10) if input_value(html, f"usage-{i}-meter_number") == "M-77")
    assert chosen(html, f"usage-{usage_row}-unit") == "kWh"
    fees = [i for i in range(10) if chosen(html, f"line_items-{i}-category") == "fee"]
    assert len(fees) == 1 and chosen(html, f"line_items-{fees[0]}-commodity") == "water", "the line begun too"
    assert f">{NOTE}</textarea>" in html
    assert 'name="override" checked' in html
    fields = form_fields(html)
    assert (fields["revision"], fields["extracted"], fields["queue"]) == (
        sent["revision"],
        sent["extracted"],
        sent["queue"],
    )
    assert 'name="action" value="correct"' in html, "the decisions are there to send it again"


async def test_a_decision_sent_while_postgres_is_down_comes_back_with_every_entry(outage: Outage) -> None:
    """The session lookup is the first thing the outage refuses: the page still holds what was typed, and once the
    database is back, the form it holds is this reviewer's own (its token accepted), not a stale one."""
    async with httpx.AsyncClient(base_url=outage.url, timeout=60) as browser:
        assert (await sign_in(browser, outage.reviewer_key)).status_code == 303
        page = await browser.get(f"/ui/reviews/{outage.job_id}", params={"queue": "provider=pge"})
        assert page.status_code == 200, page.text
        sent = form_fields(page.text) | {"csrf_token": csrf_of(page)} | TYPED | PARTIAL_ROWS
        sent |= {"action": "correct", "note": NOTE, "override": "on"}
        stop_embedded_postgres(outage.pgdata)

        refused = await browser.post(f"/ui/reviews/{outage.job_id}", data=sent, headers=SAME_ORIGIN)

        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert "text/html" in refused.headers["content-type"]
        assert "Nothing was sent" in refused.text and "database is unavailable" in refused.text
        assert_entries_held(refused, sent)
        assert csrf_of(refused) == sent["csrf_token"]

        start_embedded_postgres(outage.pgdata)
        again = form_fields(refused.text) | {"csrf_token": csrf_of(refused), "action": "add_rows:usage"}
        resent = await browser.post(f"/ui/reviews/{outage.job_id}", data=again | {"note": NOTE}, headers=SAME_ORIGIN)
        assert resent.status_code == 200, resent.text  # not a 403: the token the page held is the session's
        assert re.search(r'<input id="f-customer_name"[^>]*value="Jane Q. Public"', resent.text)
        assert "M-77" in resent.text


async def test_a_decision_whose_key_cannot_be_checked_while_postgres_is_down_comes_back_with_every_entry(
    outage: Outage,
) -> None:
    """Past the session middleware (a key header, no cookie), the route's first query is refused: the same page."""
    async with httpx.AsyncClient(base_url=outage.url, timeout=60) as browser:
        assert (await sign_in(browser, outage.reviewer_key)).status_code == 303
        page = await browser.get(f"/ui/reviews/{outage.job_id}")
        sent = form_fields(page.text) | {"csrf_token": csrf_of(page)} | TYPED | PARTIAL_ROWS
        sent |= {"action": "correct", "note": NOTE, "override": "on"}
    stop_embedded_postgres(outage.pgdata)
    headers = SAME_ORIGIN | {"Authorization": f"Bearer {outage.reviewer_key}"}
    async with httpx.AsyncClient(base_url=outage.url, timeout=60, headers=headers) as keyed:
        refused = await keyed.post(f"/ui/reviews/{outage.job_id}", data=sent)

    assert refused.status_code == 503, refused.text
    assert "Nothing was sent" in refused.text and "database is unavailable" in refused.text
    assert_entries_held(refused, sent)


async def test_another_origins_post_while_postgres_is_down_gets_no_entries_back(outage: Outage) -> None:
    """A post no page of this origin made (a browser without Sec-Fetch-Site or Origin says nothing) gets the plain
    503 page: entries given back with a token would put a crafted correction one click from sent."""
    async with httpx.AsyncClient(base_url=outage.url, timeout=60) as browser:
        assert (await sign_in(browser, outage.reviewer_key)).status_code == 303
        page = await browser.get(f"/ui/reviews/{outage.job_id}")
        sent = form_fields(page.text) | TYPED | {"csrf_token": "forged", "action": "correct"}
        stop_embedded_postgres(outage.pgdata)
        refused = await browser.post(f"/ui/reviews/{outage.job_id}", data=sent)

    assert refused.status_code == 503, refused.text
    assert "Jane Q. Public" not in refused.text and "forged" not in refused.text
    assert "Try again in a few seconds" in refused.text
