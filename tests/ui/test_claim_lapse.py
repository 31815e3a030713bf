"""REVIEW_CLAIM_LAPSE_MINUTES: how long a reviewer's claim on a task holds after they last loaded or sent its page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError

from api.auth import Role, create_key
from api.main import create_app
from shared.settings import Settings, refusal
from tests.helpers import bill_needing_review, run_entry_point, serve
from tests.ui.conftest import sign_in
from worker.resources import Resources

HELD = "has had this task open since"
DECISION_BUTTON = 'name="action" value="correct"'


def test_the_claim_lapse_is_thirty_minutes_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVIEW_CLAIM_LAPSE_MINUTES", raising=False)  # the default, whatever the shell running this set
    assert Settings().review_claim_lapse_minutes == 30
    monkeypatch.setenv("REVIEW_CLAIM_LAPSE_MINUTES", "5")
    assert Settings().review_claim_lapse_minutes == 5


@pytest.mark.parametrize("minutes", ["0", "-5"])
def test_a_claim_lapse_that_is_not_positive_is_refused(monkeypatch: pytest.MonkeyPatch, minutes: str) -> None:
    """0 would free every claim at once (a colleague's open page never counted), a negative one too."""
    monkeypatch.setenv("REVIEW_CLAIM_LAPSE_MINUTES", minutes)
    with pytest.raises(ValidationError, match="review_claim_lapse_minutes"):
        Settings()


@pytest.mark.parametrize("minutes", ["10081", "5000000000"])
def test_a_claim_lapse_longer_than_a_week_is_refused_naming_the_bound(
    monkeypatch: pytest.MonkeyPatch, minutes: str
) -> None:
    """5,000,000,000 minutes reached back past Postgres's earliest date: every review page answered 500."""
    monkeypatch.setenv("REVIEW_CLAIM_LAPSE_MINUTES", minutes)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert refusal(refused.value) == "REVIEW_CLAIM_LAPSE_MINUTES: Input should be less than or equal to 10080"


def test_a_claim_lapse_of_a_week_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_CLAIM_LAPSE_MINUTES", "10080")
    assert Settings().review_claim_lapse_minutes == 7 * 24 * 60


def test_a_refused_claim_lapse_stops_the_api_in_one_line_naming_it() -> None:
    done = run_entry_point("api", REVIEW_CLAIM_LAPSE_MINUTES="0")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("minimeter: refused configuration: REVIEW_CLAIM_LAPSE_MINUTES: "), line


@pytest.fixture()
async def short_lapse_url(app_settings: Settings) -> AsyncIterator[str]:
    """A second API process on the session's database, whose claims lapse after one minute."""
    async with serve(create_app(app_settings.model_copy(update={"review_claim_lapse_minutes": 1}))) as url:
        yield url


async def test_a_shorter_lapse_frees_a_colleagues_claim_sooner(
    reviewer: httpx.AsyncClient,
    short_lapse_url: str,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
) -> None:
    """The reviewer last loaded the page five minutes ago: under the default 30 minutes their claim holds, under a
    one-minute lapse it has lapsed, and a colleague opening the task takes it."""
    job_id = (await bill_needing_review(http, unique))["id"]
    await reviewer.get(f"/ui/reviews/{job_id}")
    await resources.pool.execute(  # the task opened ten minutes ago, the reviewer last loaded it five minutes ago
        "UPDATE review_tasks SET created_at = now() - $2::interval WHERE job_id = $1", job_id, timedelta(minutes=10)
    )
    await resources.pool.execute(
        "UPDATE review_claims SET seen_at = now() - $2::interval WHERE job_id = $1", job_id, timedelta(minutes=5)
    )
    key = await create_key(resources.pool, name=f"ui-colleague-{unique}", role=Role.REVIEWER)

    async with httpx.AsyncClient(base_url=str(http.base_url), timeout=90) as default_lapse:
        assert (await sign_in(default_lapse, key.key)).status_code == 303
        theirs = await default_lapse.get(f"/ui/reviews/{job_id}")
        assert HELD in theirs.text and DECISION_BUTTON not in theirs.text, "30 minutes: still the reviewer's"
    async with httpx.AsyncClient(base_url=short_lapse_url, timeout=90) as short_lapse:
        assert (await sign_in(short_lapse, key.key)).status_code == 303
        listed = await short_lapse.get(f"/reviews/{job_id}", headers=http.headers)
        assert listed.json()["claimed_by"] is None, "lapsed: nobody's"
        theirs = await short_lapse.get(f"/ui/reviews/{job_id}")
        assert HELD not in theirs.text and DECISION_BUTTON in theirs.text, theirs.text

    holder = await resources.pool.fetchval("SELECT reviewer FROM review_claims WHERE job_id = $1", job_id)
    assert holder.startswith(f"ui-colleague-{unique}")
