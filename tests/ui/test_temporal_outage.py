"""Temporal down as a reviewer sends a decision from the review page: the page says to send it again and holds
every entry, as for a database outage (``test_database_outage``)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from api.auth import Role, create_key
from api.main import create_app
from shared.bill import NormalizedBill, Provider
from shared.settings import Settings
from tests.api.conftest import own_db  # noqa: F401 - the fixture: a database of its own, no other test's jobs
from tests.api.test_review_unavailable import temporal_of_its_own
from tests.durability.conftest import create_account
from tests.helpers import insert_job, serve
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.test_database_outage import NOTE, TYPED, assert_entries_held
from tests.ui.test_refused_entries import PARTIAL_ROWS
from tests.ui.test_ui_http import SAME_ORIGIN, form_fields


async def test_a_decision_sent_while_temporal_is_down_comes_back_with_every_entry(
    own_db: asyncpg.Pool,  # noqa: F811 - the fixture imported above
    pg_url: str,
    app_settings: Settings,
    tmp_path: Path,
) -> None:
    async with temporal_of_its_own(own_db, pg_url, app_settings, tmp_path) as (server, settings):
        account = await create_account(own_db, provider=Provider.PGE, account_number="5550078")
        job_id = await insert_job(own_db, account, status="NEEDS_REVIEW")
        bill = NormalizedBill.model_validate({"account_number": "5550078", "total_amount": "60.00"})
        await own_db.execute(
            "INSERT INTO review_tasks (job_id, status, reasons, bill, artifact_uri, revision)"
            " VALUES ($1, 'PENDING', $2, $3, 'gs://b/o', 'r1')",
            job_id,
            ["balance_mismatch"],
            bill.model_dump(mode="json"),
        )
        key = await create_key(own_db, name="temporal-outage-reviewer", role=Role.REVIEWER)
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=90) as browser:
            assert (await sign_in(browser, key.key)).status_code == 303
            page = await browser.get(f"/ui/reviews/{job_id}", params={"queue": "provider=pge"})
            sent = form_fields(page.text) | {"csrf_token": csrf_of(page)} | TYPED | PARTIAL_ROWS
            sent |= {"action": "correct", "note": NOTE, "override": "on"}
            await server.shutdown()
            refused = await browser.post(f"/ui/reviews/{job_id}", data=sent, headers=SAME_ORIGIN)

    assert refused.status_code == 503, refused.text
    assert "send the decision again" in refused.text
    assert_entries_held(refused, sent)
