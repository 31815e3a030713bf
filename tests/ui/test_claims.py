"""Soft claims: opening a task records who has it open and since when; a colleague opening it sees so, and takes it
over only deliberately, their entries kept; the claim lapses, and a decision ends it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.jobs import JobActivities
from api.auth import Role, create_key
from shared.bill import NormalizedBill
from shared.models import JobStatus, JobStatusUpdate
from shared.settings import Settings
from tests.helpers import bill_needing_review, wait_for_status
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.test_stale_forms import open_task_of_a_reset_run
from tests.ui.test_ui_http import SAME_ORIGIN, form_fields
from worker.resources import Resources

DECISION_BUTTON = 'name="action" value="correct"'
TAKE_OVER_BUTTON = 'name="action" value="take_over"'


@pytest.fixture()
async def colleague(ui_url: str, resources: Resources, unique: str) -> AsyncIterator[httpx.AsyncClient]:
    """A second reviewer, signed in in their own browser."""
    key = await create_key(resources.pool, name=f"ui-colleague-{unique}", role=Role.REVIEWER)
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        assert (await sign_in(browser, key.key)).status_code == 303
        yield browser


def past_the_lapse(settings: Settings) -> timedelta:
    """Longer ago than a claim holds (``REVIEW_CLAIM_LAPSE_MINUTES``)."""
    return timedelta(minutes=settings.review_claim_lapse_minutes) * 2


def total_typed(page: httpx.Response) -> str:
    found = re.search(r'<input id="f-total_amount"[^>]*value="([^"]*)"', page.text)
    assert found is not None, page.text
    return found[1]


def queue_row(queue: httpx.Response, job_id: str) -> re.Match[str] | None:
    return re.search(rf'<tr[^>]*>\s*<td><a href="/ui/reviews/{job_id}.*?</tr>', queue.text, re.DOTALL)


async def claim_row(resources: Resources, job_id: str) -> dict[str, Any] | None:
    row = await resources.pool.fetchrow("SELECT * FROM review_claims WHERE job_id = $1", job_id)
    return dict(row) if row is not None else None


async def claim_holder(resources: Resources, job_id: str) -> str:
    """Who holds the task's claim; empty when nobody does."""
    return str((await claim_row(resources, job_id) or {}).get("reviewer", ""))


async def test_a_colleague_opening_a_claimed_task_sees_who_has_it_and_takes_it_over_deliberately(
    reviewer: httpx.AsyncClient,
    colleague: httpx.AsyncClient,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
) -> None:
    job = await bill_needing_review(http, unique)
    job_id, own_customer = job["id"], {"customer_id": job["customer_id"]}  # the queue's first 50 may be others'
    mine = await reviewer.get(f"/ui/reviews/{job_id}")
    assert "has had this task open since" not in mine.text and DECISION_BUTTON in mine.text
    first = await claim_row(resources, job_id)
    assert first is not None and first["reviewer"].startswith("ui-reviewer (key ")
    again = await reviewer.get(f"/ui/reviews/{job_id}")  # opening it again changes nothing: the same claim
    assert "has had this task open since" not in again.text
    assert (await claim_row(resources, job_id) or {}).get("claimed_at") == first["claimed_at"]

    theirs = await colleague.get(f"/ui/reviews/{job_id}")
    assert theirs.status_code == 200
    assert f"{first['reviewer']} has had this task open since" in theirs.text
    assert TAKE_OVER_BUTTON in theirs.text and DECISION_BUTTON not in theirs.text
    assert (await claim_row(resources, job_id) or {}).get("reviewer") == first["reviewer"], "opening takes nothing"
    listed = (await http.get(f"/reviews/{job_id}")).json()
    assert listed["claimed_by"] == first["reviewer"] and listed["claimed_at"] is not None
    queue = await colleague.get("/ui/reviews", params=own_customer)
    row = queue_row(queue, job_id)
    assert row is not None and f"{first['reviewer']}, since" in row[0], queue.text
    # With its day: a claim lasts up to a week (REVIEW_CLAIM_LAPSE_MINUTES), and "since 09:14" read as this morning.
    assert f"{first['claimed_at'].astimezone(UTC):%Y-%m-%d %H:%M} UTC" in row[0], row[0]
    own_queue = await reviewer.get("/ui/reviews", params=own_customer)
    own_row = queue_row(own_queue, job_id)
    assert own_row is not None and "you, since" in own_row[0]

    # The colleague typed while reading, then takes over: their entries come back, and the decisions with them.
    typed = form_fields(theirs.text) | {"csrf_token": csrf_of(theirs), "total_amount": "60.00"}
    taken = await colleague.post(f"/ui/reviews/{job_id}", data=typed | {"action": "take_over"})
    assert taken.status_code == 200, taken.text
    assert total_typed(taken) == "60.00" and DECISION_BUTTON in taken.text
    assert "has had this task open since" not in taken.text
    assert (await claim_holder(resources, job_id)).startswith(f"ui-colleague-{unique}")

    # The first reviewer sends their correction: refused, their entries kept, nothing written.
    sent = form_fields(mine.text) | {"csrf_token": csrf_of(mine), "action": "correct", "total_amount": "61.00"}
    refused = await reviewer.post(f"/ui/reviews/{job_id}", data=sent | {"note": "page 2"})
    assert refused.status_code == 409, refused.text
    assert f"ui-colleague-{unique}" in refused.text and "take the task over to send them" in refused.text
    assert total_typed(refused) == "61.00" and ">page 2</textarea>" in refused.text
    assert TAKE_OVER_BUTTON in refused.text
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0

    decided = await colleague.post(
        f"/ui/reviews/{job_id}", data=form_fields(taken.text) | {"csrf_token": csrf_of(taken), "action": "correct"}
    )
    assert decided.status_code == 303, decided.text
    assert await claim_row(resources, job_id) is None, "a decision ends the claim"


async def test_a_claim_its_holder_left_for_longer_than_the_lapse_is_free_to_take(
    reviewer: httpx.AsyncClient,
    colleague: httpx.AsyncClient,
    http: httpx.AsyncClient,
    resources: Resources,
    app_settings: Settings,
    unique: str,
) -> None:
    job_id = (await bill_needing_review(http, unique))["id"]
    await reviewer.get(f"/ui/reviews/{job_id}")
    await resources.pool.execute(  # the holder last loaded the page longer ago than the lapse
        "UPDATE review_claims SET seen_at = now() - $2::interval, claimed_at = now() - $2::interval WHERE job_id = $1",
        job_id,
        past_the_lapse(app_settings),
    )
    assert (await http.get(f"/reviews/{job_id}")).json()["claimed_by"] is None, "a lapsed claim is nobody's"

    theirs = await colleague.get(f"/ui/reviews/{job_id}")
    assert "has had this task open since" not in theirs.text and DECISION_BUTTON in theirs.text
    assert (await claim_holder(resources, job_id)).startswith(f"ui-colleague-{unique}")
    back = await reviewer.get(f"/ui/reviews/{job_id}")
    assert f"ui-colleague-{unique}" in back.text and "has had this task open since" in back.text


async def test_a_claim_of_a_revoked_key_is_nobodys(
    colleague: httpx.AsyncClient, http: httpx.AsyncClient, ui_url: str, resources: Resources, unique: str
) -> None:
    """A reviewer's key revoked while they had a task open: their session ended, but their claim held the task
    from colleagues (Take over only) for the lapse."""
    key = await create_key(resources.pool, name=f"ui-leaver-{unique}", role=Role.REVIEWER)
    job_id = (await bill_needing_review(http, unique))["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as leaver:
        assert (await sign_in(leaver, key.key)).status_code == 303
        await leaver.get(f"/ui/reviews/{job_id}")
    assert (await http.get(f"/reviews/{job_id}")).json()["claimed_by"] is not None
    await resources.pool.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", key.id)

    assert (await http.get(f"/reviews/{job_id}")).json()["claimed_by"] is None
    theirs = await colleague.get(f"/ui/reviews/{job_id}")
    assert "has had this task open since" not in theirs.text and DECISION_BUTTON in theirs.text


async def test_a_decision_the_workflow_refuses_leaves_the_claim_with_its_holder(
    reviewer: httpx.AsyncClient,
    colleague: httpx.AsyncClient,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
) -> None:
    """A correction failing the checks (422) and a decision under a stale revision (409) are refused by the workflow's
    validator: nothing was decided, so the task is still the reviewer's, and a colleague opening it is told so rather
    than claiming it (and the reviewer's next send then refused as taken over). The page says why in its own words:
    no JSON route, no raw revision."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    held = await claim_row(resources, job_id)
    assert held is not None
    sent = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct", "note": "page 2"}

    invalid = await reviewer.post(f"/ui/reviews/{job_id}", data=sent)  # the extracted total still out of balance
    assert invalid.status_code == 422 and "<code>balance_mismatch</code>" in invalid.text, invalid.text
    after_invalid = await claim_row(resources, job_id)
    assert after_invalid is not None and after_invalid["claimed_at"] == held["claimed_at"], "a 422 keeps the claim"

    revision = sent["revision"]
    stale = await reviewer.post(f"/ui/reviews/{job_id}", data=sent | {"revision": "0" * 32, "total_amount": "60.00"})
    assert stale.status_code == 409, stale.text
    assert "Nothing was sent: the task changed since this page was read" in stale.text
    assert "GET /reviews" not in stale.text and f"revision now {revision}" not in stale.text
    assert total_typed(stale) == "60.00" and DECISION_BUTTON in stale.text
    kept = await claim_row(resources, job_id)
    assert kept is not None and (kept["key_id"], kept["claimed_at"]) == (held["key_id"], held["claimed_at"])

    theirs = await colleague.get(f"/ui/reviews/{job_id}")
    assert f"{held['reviewer']} has had this task open since" in theirs.text, "still the first reviewer's"
    assert DECISION_BUTTON not in theirs.text
    assert (await claim_row(resources, job_id) or {}).get("key_id") == held["key_id"]


async def test_a_task_closed_by_a_cancel_ends_its_claim(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, client: Client, unique: str
) -> None:
    """The claim ends with the task however it closes: here the worker's close_review_task of a cancelled job."""
    job = await bill_needing_review(http, unique)
    await reviewer.get(f"/ui/reviews/{job['id']}")
    assert await claim_row(resources, job["id"]) is not None
    await client.get_workflow_handle(job["workflow_id"]).cancel()
    assert (await wait_for_status(http, job["id"]))["status"] == "CANCELED"
    assert await resources.pool.fetchval("SELECT closed_at FROM review_tasks WHERE job_id = $1", job["id"]) is not None
    assert await claim_row(resources, job["id"]) is None


async def test_a_task_closed_as_its_job_is_marked_finished_ends_its_claim(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, client: Client, unique: str
) -> None:
    """``mark_job_finished`` closes a task still open (a review step out of retries ended the job, say): the claim
    ends in the same transaction, not left behind to accumulate."""
    job = await bill_needing_review(http, unique)
    await reviewer.get(f"/ui/reviews/{job['id']}")
    assert await claim_row(resources, job["id"]) is not None
    await mark_finished_by_its_run(client, resources, job)

    task = await resources.pool.fetchrow("SELECT status, closed_at FROM review_tasks WHERE job_id = $1", job["id"])
    assert task["status"] == "CANCELED" and task["closed_at"] is not None
    assert await claim_row(resources, job["id"]) is None


async def test_a_claim_written_after_its_task_closed_ends_as_the_job_is_marked_finished(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, client: Client, unique: str
) -> None:
    """A page that read the task open claims it again just after a close committed: ``mark_job_finished``, finding
    the task closed already (it closes nothing), still ends that claim, as ``end_claim`` does for any closed task."""
    job = await bill_needing_review(http, unique)
    await reviewer.get(f"/ui/reviews/{job['id']}")
    await resources.pool.execute(  # closed here by SQL alone: the late claim's row stays
        "UPDATE review_tasks SET status = 'EXPIRED', updated_at = now(), closed_at = now() WHERE job_id = $1",
        job["id"],
    )
    assert await claim_row(resources, job["id"]) is not None
    await mark_finished_by_its_run(client, resources, job)

    assert await resources.pool.fetchval("SELECT status FROM review_tasks WHERE job_id = $1", job["id"]) == "EXPIRED"
    assert await claim_row(resources, job["id"]) is None


async def mark_finished_by_its_run(client: Client, resources: Resources, job: dict[str, Any]) -> None:
    """``mark_job_finished`` as the job's run records its end (FAILED), its workflow terminated after."""
    handle = client.get_workflow_handle(job["workflow_id"])
    env = ActivityEnvironment()  # the run's own end, as its last step records it
    run_id = (await handle.describe()).run_id
    env.info = dataclasses.replace(env.info, workflow_run_id=run_id, scheduled_time=datetime.now(UTC))
    try:
        ending = JobStatusUpdate(job_id=job["id"], status=JobStatus.FAILED, error="escalate_review failed")
        await env.run(JobActivities(resources.pool).mark_job_finished, ending)
    finally:
        await handle.terminate(reason="test over: its end is recorded")


async def test_a_task_the_reconciler_closes_ends_its_claim(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, client: Client, unique: str
) -> None:
    """A workflow terminated from outside: the reconciler records the job's end and closes its task (here at once, as
    the job is read), and the claim ends in that transaction."""
    job = await bill_needing_review(http, unique)
    await reviewer.get(f"/ui/reviews/{job['id']}")
    assert await claim_row(resources, job["id"]) is not None
    await client.get_workflow_handle(job["workflow_id"]).terminate(reason="operator cleanup")

    assert (await http.get(f"/jobs/{job['id']}")).json()["status"] == "FAILED"
    assert await resources.pool.fetchval("SELECT closed_at FROM review_tasks WHERE job_id = $1", job["id"]) is not None
    assert await claim_row(resources, job["id"]) is None


async def test_a_claim_from_before_a_task_was_closed_and_taken_back_does_not_come_back(
    reviewer: httpx.AsyncClient,
    colleague: httpx.AsyncClient,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
) -> None:
    """Every close ends the task's claim, but a page that read the task open can claim it again just after the close
    committed: that claim does not hold once a reset takes the task back, as it counts only if its holder was seen
    since the task's current opening."""
    job = await bill_needing_review(http, unique)
    job_id, own_customer = job["id"], {"customer_id": job["customer_id"]}  # the queue's first 50 may be others'
    await reviewer.get(f"/ui/reviews/{job_id}")
    await resources.pool.execute(  # closed here by SQL alone, so the claim's row stays, as the late claim leaves it
        "UPDATE review_tasks SET status = 'CANCELED', updated_at = now(), closed_at = COALESCE(closed_at, now())"
        " WHERE job_id = $1",
        job_id,
    )
    # the page that read the task open claims (sees) it once more, just after the close committed
    await resources.pool.execute("UPDATE review_claims SET seen_at = now() WHERE job_id = $1", job_id)
    assert await claim_row(resources, job_id) is not None
    task = (await http.get(f"/reviews/{job_id}")).json()
    await open_task_of_a_reset_run(resources, job_id, NormalizedBill.model_validate(task["bill"]))

    assert (await http.get(f"/reviews/{job_id}")).json()["claimed_by"] is None, "the old claim is nobody's"
    queue = await colleague.get("/ui/reviews", params=own_customer)
    row = queue_row(queue, job_id)
    assert row is not None and ", since" not in row[0], queue.text
    theirs = await colleague.get(f"/ui/reviews/{job_id}")
    assert "has had this task open since" not in theirs.text and DECISION_BUTTON in theirs.text
    taken = await claim_row(resources, job_id)
    assert taken is not None and taken["reviewer"].startswith(f"ui-colleague-{unique}")


async def colleague_holding(
    reviewer: httpx.AsyncClient, colleague: httpx.AsyncClient, resources: Resources, job_id: str
) -> httpx.Response:
    """The reviewer's page, loaded before a colleague claimed the task (once the reviewer's claim lapsed)."""
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    await resources.pool.execute(  # the session's settings, whose lapse is the default
        "UPDATE review_claims SET seen_at = now() - $2::interval WHERE job_id = $1", job_id, past_the_lapse(Settings())
    )
    theirs = await colleague.get(f"/ui/reviews/{job_id}")
    assert DECISION_BUTTON in theirs.text, theirs.text
    return page


async def test_a_stale_form_sent_while_a_colleague_holds_the_task_offers_only_to_take_it_over(
    reviewer: httpx.AsyncClient,
    colleague: httpx.AsyncClient,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
) -> None:
    """A form of an earlier sign-in (403, entries given back) sent while a colleague has the task open: the page
    says who has it and offers Take over, not the decisions (sending one would only be refused as taken)."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await colleague_holding(reviewer, colleague, resources, job_id)
    sent = form_fields(page.text) | {"csrf_token": "a-token-of-an-earlier-sign-in", "action": "correct"}
    stale = await reviewer.post(f"/ui/reviews/{job_id}", data=sent | {"total_amount": "60.00"}, headers=SAME_ORIGIN)
    assert stale.status_code == 403, stale.text
    assert total_typed(stale) == "60.00"
    assert f"ui-colleague-{unique}" in stale.text and "has had this task open since" in stale.text
    assert TAKE_OVER_BUTTON in stale.text and DECISION_BUTTON not in stale.text
    assert (await claim_holder(resources, job_id)).startswith(f"ui-colleague-{unique}")


async def test_a_page_from_before_a_re_run_sent_while_a_colleague_holds_the_task_offers_only_to_take_it_over(
    reviewer: httpx.AsyncClient,
    colleague: httpx.AsyncClient,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
) -> None:
    """The job ran again and a colleague has the new task open: the old page's 409 shows the new reading with
    Take over, not the decisions."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await colleague_holding(reviewer, colleague, resources, job_id)
    task = (await http.get(f"/reviews/{job_id}")).json()
    read_anew = NormalizedBill.model_validate({**task["bill"], "total_amount": "61.00"})
    await open_task_of_a_reset_run(resources, job_id, read_anew)

    sent = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "approve"}
    anew = await reviewer.post(f"/ui/reviews/{job_id}", data=sent)
    assert anew.status_code == 409 and "the job ran again since you opened this page" in anew.text, anew.text
    assert total_typed(anew) == "61.00"
    assert f"ui-colleague-{unique}" in anew.text and "has had this task open since" in anew.text
    assert TAKE_OVER_BUTTON in anew.text and DECISION_BUTTON not in anew.text


async def test_a_link_from_another_site_opens_a_task_without_claiming_it(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A page elsewhere linking to (or redirecting to) a task claimed it for whoever followed it signed in: their
    colleagues met a take-over button for half an hour (a security probe). Opened from the queue it claims, and a
    decision sent from the page opened the other way claims it then."""
    job = await bill_needing_review(http, unique)
    elsewhere = await reviewer.get(f"/ui/reviews/{job['id']}", headers={"Sec-Fetch-Site": "cross-site"})
    assert elsewhere.status_code == 200 and DECISION_BUTTON in elsewhere.text
    assert await claim_holder(resources, job["id"]) == "", "a link from another site claims nothing"

    opened = await reviewer.get(f"/ui/reviews/{job['id']}", headers={"Sec-Fetch-Site": "same-origin"})
    assert opened.status_code == 200
    assert await claim_holder(resources, job["id"]) != "", "opened from this site, it is claimed as before"


def release_form(page: httpx.Response, job_id: str) -> dict[str, str]:
    """The task page's Release form as a browser sends it."""
    found = re.search(rf'<form method="post" action="/ui/reviews/{job_id}/release".*?</form>', page.text, re.DOTALL)
    assert found is not None, page.text
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', found[0]))


async def test_taking_a_task_over_says_so_in_a_focused_status_line(
    reviewer: httpx.AsyncClient, colleague: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """Only the buttons changed otherwise: a screen reader heard nothing of the take-over."""
    job_id = (await bill_needing_review(http, unique))["id"]
    await reviewer.get(f"/ui/reviews/{job_id}")
    theirs = await colleague.get(f"/ui/reviews/{job_id}")
    take_over = re.search(r'<button[^>]*value="take_over"[^>]*>', theirs.text)
    assert take_over is not None and 'aria-describedby="claimed"' in take_over[0], "read with who has it open"
    assert "/release" not in theirs.text, "nothing of theirs to release"

    sent = form_fields(theirs.text) | {"csrf_token": csrf_of(theirs), "action": "take_over"}
    taken = await colleague.post(f"/ui/reviews/{job_id}", data=sent)
    assert taken.status_code == 200, taken.text
    said = re.search(r'<p class="flash" role="status" id="taken-over" tabindex="-1" autofocus>([^<]*)</p>', taken.text)
    assert said is not None and said[1].startswith("You have this task now"), taken.text
    assert taken.text.count("autofocus") == 1, "the keyboard starts on what was said"
    assert "/release" in taken.text, "and the task is theirs to release"


async def test_release_ends_the_reviewers_own_claim_and_says_when_it_would_have_lapsed(
    reviewer: httpx.AsyncClient,
    colleague: httpx.AsyncClient,
    http: httpx.AsyncClient,
    resources: Resources,
    app_settings: Settings,
    unique: str,
) -> None:
    """A reviewer who only looked held the task from colleagues for the lapse (30 minutes) with no way to let go."""
    job = await bill_needing_review(http, unique)
    job_id = job["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}", params={"queue": f"customer_id={job['customer_id']}"})
    held = await claim_row(resources, job_id)
    assert held is not None
    lapses = re.search(r'id="claim-lapses">The task is yours until <time datetime="([^"]+)">', page.text)
    assert lapses is not None, page.text
    until, lapse = (
        datetime.fromisoformat(lapses[1]) - datetime.now(UTC),
        timedelta(minutes=app_settings.review_claim_lapse_minutes),
    )
    assert lapse - timedelta(minutes=1) < until <= lapse, "the lapse from now: the page was loaded just now"
    form = release_form(page, job_id)

    forged = await reviewer.post(f"/ui/reviews/{job_id}/release", data=form | {"csrf_token": "forged"})
    assert forged.status_code == 403, forged.text
    by_colleague = await colleague.post(f"/ui/reviews/{job_id}/release", data=form)  # not their session's token
    assert by_colleague.status_code == 403, by_colleague.text
    colleagues_own = await colleague.get(f"/ui/reviews/{job_id}")  # their own Release, on a task they do not hold
    theirs = form | {"csrf_token": csrf_of(colleagues_own)}
    assert (await colleague.post(f"/ui/reviews/{job_id}/release", data=theirs)).status_code == 303
    assert (await claim_row(resources, job_id) or {}).get("key_id") == held["key_id"], "only one's own claim ends"

    released = await reviewer.post(f"/ui/reviews/{job_id}/release", data=form)
    assert released.status_code == 303, released.text
    assert released.headers["location"] == f"/ui/reviews?customer_id={job['customer_id']}", "to the queue it came from"
    assert await claim_row(resources, job_id) is None
    queue = await reviewer.get(released.headers["location"])
    assert f"Job {job_id} released" in queue.text
    now_theirs = await colleague.get(f"/ui/reviews/{job_id}")
    assert "has had this task open since" not in now_theirs.text and DECISION_BUTTON in now_theirs.text


async def test_release_after_a_decision_leaves_the_decision(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    form = release_form(page, job_id)
    sent = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "reject", "note": "not a bill"}
    assert (await reviewer.post(f"/ui/reviews/{job_id}", data=sent)).status_code == 303
    await wait_for_status(http, job_id)

    assert (await reviewer.post(f"/ui/reviews/{job_id}/release", data=form)).status_code == 303
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "REJECTED"
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 1
    assert "/release" not in (await reviewer.get(f"/ui/reviews/{job_id}")).text, "a closed task is nobody's to hold"
