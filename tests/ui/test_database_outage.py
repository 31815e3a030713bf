"""Postgres down as a reviewer sends a decision from the review page: the page says nothing was sent, the database
being unavailable, and holds every entry (fields, rows begun, the note) so they send it again once it is back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from api.auth import Role, create_key
from api.main import create_app
from api.services.jobs import JOB_COLUMNS
from api.ui.routes import _echoed_artifact_url
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
BILL_SHA256 = "ab" * 32


@dataclass
class Outage:
    url: str
    pgdata: Path
    database_url: str
    job_id: str
    reviewer_key: str


@pytest.fixture()
async def outage(app_settings: Settings, tmp_path: Path) -> AsyncIterator[Outage]:
    """An API on a Postgres of its own holding one open review task; the test stops that Postgres, and it is
    started again before the API closes."""
    pgdata = tmp_path / "pg"
    database_url = embedded_postgres_url(pgdata)
    settings = app_settings.model_copy(update={"database_url": SecretStr(database_url)})
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
                await pool.execute(
                    "INSERT INTO artifacts (job_id, uri, sha256, size, content_type)"
                    " VALUES ($1, 'gs://b/o', $2, 3, 'application/pdf')",
                    job_id,
                    BILL_SHA256,
                )
                key = await create_key(pool, name="outage-reviewer", role=Role.REVIEWER)
            finally:
                await pool.close()
            yield Outage(url=url, pgdata=pgdata, database_url=database_url, job_id=job_id, reviewer_key=key.key)
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


async def correction_typed(browser: httpx.AsyncClient, outage: Outage, *, queue: str | None = None) -> dict[str, str]:
    """Signed in as the reviewer, the task's page read (from ``queue``'s list, if given), and the correction typed
    on it, to be posted: every field, rows begun, a note, the override ticked."""
    assert (await sign_in(browser, outage.reviewer_key)).status_code == 303
    page = await browser.get(f"/ui/reviews/{outage.job_id}", params={"queue": queue} if queue is not None else None)
    assert page.status_code == 200, page.text
    sent = form_fields(page.text) | {"csrf_token": csrf_of(page)} | TYPED | PARTIAL_ROWS
    return sent | {"action": "correct", "note": NOTE, "override": "on"}


def assert_raw_bill_named_by_its_hash(page: httpx.Response, job_id: str) -> None:
    """The raw bill's link names the bill the task was read from, as the task's page does: the plain link serves the
    job's newest bill, which a reset's re-fetch could have replaced."""
    assert f'<a href="/jobs/{job_id}/artifact?sha256={BILL_SHA256}" target="_blank"' in page.text, page.text


async def test_a_decision_sent_while_postgres_is_down_comes_back_with_every_entry(outage: Outage) -> None:
    """The session lookup is the first thing the outage refuses: the page still holds what was typed, and once the
    database is back, the form it holds is this reviewer's own (its token accepted), not a stale one."""
    async with httpx.AsyncClient(base_url=outage.url, timeout=60) as browser:
        sent = await correction_typed(browser, outage, queue="provider=pge")
        stop_embedded_postgres(outage.pgdata)

        refused = await browser.post(f"/ui/reviews/{outage.job_id}", data=sent, headers=SAME_ORIGIN)

        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert "text/html" in refused.headers["content-type"]
        assert "Nothing was sent" in refused.text and "database is unavailable" in refused.text
        assert_entries_held(refused, sent)
        assert_raw_bill_named_by_its_hash(refused, outage.job_id)
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
        sent = await correction_typed(browser, outage)
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


async def wait_for_a_query_waiting_on_a_lock(watcher: asyncpg.Connection, query: str) -> None:
    """Returns once a backend running ``query`` (its text as sent) waits for a lock."""
    for _ in range(400):
        waiting = await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1", f"%{query}%"
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no query waited on a lock: {query}")


@asynccontextmanager
async def job_held_after_its_task_was_read_and_claimed(
    database_url: str, job_id: str
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Locks that stop a decision's request just after the route read the task and claimed it, at the job's next
    read (``submit_decision``'s first): the claim's row is held first, then, once the claim waits for it, the
    job table, and the claim let go. The context yields the wait until the request is stopped there, its connection
    then cut."""
    claim_holder, job_holder = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    watcher = await asyncpg.connect(database_url)
    try:
        claim_lock = claim_holder.transaction()
        await claim_lock.start()
        assert await claim_holder.fetchval("SELECT 1 FROM review_claims WHERE job_id = $1 FOR UPDATE", job_id)

        async def stopped_at_the_jobs_read() -> None:
            await wait_for_a_query_waiting_on_a_lock(watcher, "INSERT INTO review_claims")
            await job_holder.execute("BEGIN; LOCK TABLE ingestion_jobs IN ACCESS EXCLUSIVE MODE")
            await claim_lock.rollback()
            job_read = f"SELECT {JOB_COLUMNS} FROM ingestion_jobs WHERE id = $1"  # get_job_row's
            await wait_for_a_query_waiting_on_a_lock(watcher, job_read)
            # Its connection cut first, as a shutdown cuts it (57P01): stopped along with the lock's holder, the
            # holder's backend could end first and let the read through (the decision then went on to Temporal).
            await watcher.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND query LIKE $1",
                f"%{job_read}%",
            )

        yield stopped_at_the_jobs_read
    finally:
        for conn in (claim_holder, job_holder, watcher):
            conn.terminate()  # the server was stopped under them


async def test_a_decision_whose_job_cannot_be_read_again_while_postgres_is_down_comes_back_with_every_entry(
    outage: Outage,
) -> None:
    """The task read and claimed, Postgres goes down as the decision's own read of the job waits: the decision never
    reached Temporal, so the page says nothing was sent and holds every entry, rather than the plain 503 page."""
    async with httpx.AsyncClient(base_url=outage.url, timeout=60) as browser:
        sent = await correction_typed(browser, outage, queue="provider=pge")
        async with job_held_after_its_task_was_read_and_claimed(outage.database_url, outage.job_id) as stopped:
            posting = asyncio.create_task(browser.post(f"/ui/reviews/{outage.job_id}", data=sent, headers=SAME_ORIGIN))
            await stopped()
            stop_embedded_postgres(outage.pgdata)
            refused = await posting

    assert refused.status_code == 503, refused.text
    assert "Nothing was sent" in refused.text and "database is unavailable" in refused.text
    assert_entries_held(refused, sent)
    assert_raw_bill_named_by_its_hash(refused, outage.job_id)


JOB = "9b2f8f0e-4a3c-4f5e-9d7a-0c1b2d3e4f50"


@pytest.mark.parametrize(
    ("echoed", "shown"),
    [
        (f"/jobs/{JOB}/artifact?sha256={BILL_SHA256}", f"/jobs/{JOB}/artifact?sha256={BILL_SHA256}"),
        (f"/jobs/{JOB}/artifact", f"/jobs/{JOB}/artifact"),
        ("", f"/jobs/{JOB}/artifact"),
        (f"/jobs/{'0' * 8}-0000-0000-0000-{'0' * 12}/artifact?sha256={BILL_SHA256}", f"/jobs/{JOB}/artifact"),
        (f"https://elsewhere.example/?sha256={BILL_SHA256}", f"/jobs/{JOB}/artifact"),
        (f"/jobs/{JOB}/artifact?sha256={BILL_SHA256[:-1]}", f"/jobs/{JOB}/artifact"),
        (f"/jobs/{JOB}/artifact?sha256={BILL_SHA256.upper()}", f"/jobs/{JOB}/artifact"),
        (f"/jobs/{JOB}/artifact?sha256={BILL_SHA256}&next=/", f"/jobs/{JOB}/artifact"),
    ],
)
def test_the_not_sent_page_takes_back_only_this_jobs_raw_bill_link(echoed: str, shown: str) -> None:
    """The form is the sender's: only the link the task's page drew for this job is drawn again."""
    assert _echoed_artifact_url(JOB, echoed) == shown
