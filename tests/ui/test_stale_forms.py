"""Pages left open while what they were made for moved on: a sign-in form past its token's hour, a task
page past a re-run of its job. Each says what happened and gives back what the reviewer had; nothing is sent."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.review import ReviewActivities
from api.ui.forms import BillForm
from api.ui.routes import SHOWN_VERSION
from api.ui.session import LOGIN_FORM_SECONDS, SessionStore
from shared.bill import NormalizedBill
from shared.review import ReviewTaskOpen
from tests.helpers import bill_needing_review, wait_for_status
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.test_ui_http import (
    SAME_ORIGIN,
    assert_typed_entries_back,
    form_fields,
    signed_out_answer,
    typed_correction,
)
from worker.resources import Resources

OPEN_TOO_LONG = "This sign-in page was open too long"


async def signed_out_with_a_draft(
    browser: httpx.AsyncClient, reviewer_key: str, resources: Resources, job_id: str
) -> httpx.Response:
    """The sign-in form answering a correction sent after the browser's session ended (it carries the draft)."""
    await sign_in(browser, reviewer_key)
    page = await browser.get(f"/ui/reviews/{job_id}")
    await resources.pool.execute(
        "UPDATE ui_sessions SET expires_at = now() WHERE id_hash = $1",
        hashlib.sha256(browser.cookies["mm_session"].encode()).hexdigest(),
    )
    signed_out = await browser.post(f"/ui/reviews/{job_id}", data=typed_correction(page), headers=SAME_ORIGIN)
    assert signed_out.status_code == 401 and 'name="draft"' in signed_out.text, signed_out.text
    return signed_out


async def expired_login_token(resources: Resources, nonce: str) -> str:
    """The token of a sign-in form of ``nonce`` served a minute more than the form's hour ago."""
    store = await SessionStore.open(resources.pool)
    return store.login_token(nonce, issued_at=int(time.time()) - LOGIN_FORM_SECONDS - 60)


async def test_a_sign_in_form_open_past_its_hour_comes_back_with_its_draft(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, resources: Resources, review_job: dict[str, Any]
) -> None:
    """The reviewer leaves the sign-in form that carries their correction open past its hour (its token is older
    than the form may sign in; the nonce cookie lasts longer): signing in there signs nothing in and answers with
    the form again, under the same nonce with a new token and the draft still carried, not a 403 that loses it;
    the next try brings the task back."""
    job_id = review_job["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        signed_out = await signed_out_with_a_draft(browser, reviewer_key, resources, job_id)
        nonce = browser.cookies["mm_login"]
        expired = await expired_login_token(resources, nonce)
        login = form_fields(signed_out.text) | {"csrf_token": expired, "key": reviewer_key}

        again = await browser.post("/ui/login", data=login, headers=SAME_ORIGIN)
        assert again.status_code == 403, again.text
        assert OPEN_TOO_LONG in again.text and "entries are still kept" in again.text and 'name="key"' in again.text
        assert "mm_session" not in again.cookies and again.cookies["mm_login"] == nonce, again.headers
        resent = form_fields(again.text) | {"csrf_token": csrf_of(again), "key": reviewer_key}
        assert (resent["next"], resent["draft"]) == (login["next"], login["draft"]), "the same draft, for the task"

        back = await browser.post("/ui/login", data=resent, headers=SAME_ORIGIN)
        assert back.status_code == 200, back.text
        assert "Sign out" in back.text
        assert_typed_entries_back(back)
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


@pytest.mark.parametrize("headers", [SAME_ORIGIN, {}], ids=["this-origin", "browser-says-nothing"])
async def test_an_expired_sign_in_token_never_signs_in(
    ui_url: str, reviewer_key: str, resources: Resources, headers: dict[str, str]
) -> None:
    """Past its hour a sign-in form's token opens no session, with the right key and its own nonce cookie."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        await browser.get("/ui/login")
        expired = await expired_login_token(resources, browser.cookies["mm_login"])
        refused = await browser.post(
            "/ui/login", data={"key": reviewer_key, "csrf_token": expired, "next": "/ui/reviews"}, headers=headers
        )
        assert refused.status_code == 403 and "mm_session" not in browser.cookies, refused.text
        assert (await browser.get("/ui/reviews")).status_code == 303, "still signed out"


async def test_a_stale_sign_in_form_carries_only_the_draft_its_own_nonce_signed(
    ui_url: str, reviewer_key: str, resources: Resources, review_job: dict[str, Any]
) -> None:
    """A form past its hour comes back with a draft only where the draft's token, bound to this browser's nonce,
    its task and its entries, checks out: other entries, another task or no token, and the form comes back bare."""
    job_id = review_job["id"]
    crafted = urlencode({"action": "correct", "total_amount": "1.00", "note": "crafted"})
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        signed_out = await signed_out_with_a_draft(browser, reviewer_key, resources, job_id)
        expired = await expired_login_token(resources, browser.cookies["mm_login"])
        login = form_fields(signed_out.text) | {"csrf_token": expired, "key": reviewer_key}
        for name, posted in {
            "no draft token": {k: v for k, v in login.items() if k != "draft_token"},
            "other entries": login | {"draft": crafted},
            "other task": login | {"next": "/ui/reviews/00000000-0000-0000-0000-000000000007"},
        }.items():
            again = await browser.post("/ui/login", data=posted, headers=SAME_ORIGIN)
            assert again.status_code == 403 and OPEN_TOO_LONG in again.text, (name, again.text)
            assert 'name="draft"' not in again.text and "60.00" not in again.text, name
            assert "crafted" not in again.text and 'name="key"' in again.text, name


async def test_a_sign_in_form_whose_nonce_cookie_is_gone_comes_back_without_its_draft(
    ui_url: str, reviewer_key: str, resources: Resources, review_job: dict[str, Any]
) -> None:
    """Without the nonce cookie (over 12 hours, or cleared) nothing tells this browser's draft from one another
    page minted: the form comes back with a new nonce, saying the entries are not kept, and without them."""
    job_id = review_job["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        signed_out = await signed_out_with_a_draft(browser, reviewer_key, resources, job_id)
        login = form_fields(signed_out.text) | {"csrf_token": csrf_of(signed_out), "key": reviewer_key}
        browser.cookies.delete("mm_login")
        again = await browser.post("/ui/login", data=login, headers=SAME_ORIGIN)
        assert again.status_code == 403 and "could not be kept" in again.text, again.text
        assert 'name="draft"' not in again.text and "60.00" not in again.text and 'name="key"' in again.text
        assert "mm_session" not in again.cookies and "mm_login" in again.cookies, again.headers
        plain = await browser.post(
            "/ui/login",
            data=form_fields(again.text) | {"csrf_token": csrf_of(again), "key": reviewer_key},
            headers=SAME_ORIGIN,
        )
        assert plain.status_code == 303 and plain.headers["location"] == f"/ui/reviews/{job_id}", plain.text


async def test_a_draft_another_client_minted_is_not_planted_in_a_browser(
    ui_url: str, reviewer_key: str, resources: Resources, review_job: dict[str, Any]
) -> None:
    """Anyone may have the sign-in page answer a post of their chosen entries (no key needed): its draft and
    tokens are bound to their own nonce, so posted in the reviewer's browser (a plain wrong token, or even the
    reviewer's own stale form's) they are refused or dropped, and signing in shows none of them."""
    crafted = {"action": "correct", "total_amount": "1.00", "note": "crafted elsewhere"}
    minted = form_fields((await signed_out_answer(ui_url, review_job["id"], crafted)).text)
    carried = {name: minted[name] for name in ("next", "draft", "draft_token")}
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        own = await browser.get("/ui/login")
        wrong = await browser.post("/ui/login", data=carried | {"csrf_token": "x", "key": ""}, headers=SAME_ORIGIN)
        assert wrong.status_code == 403 and "crafted" not in wrong.text and 'name="key"' not in wrong.text
        expired = await expired_login_token(resources, browser.cookies["mm_login"])
        stale = await browser.post("/ui/login", data=carried | {"csrf_token": expired, "key": ""}, headers=SAME_ORIGIN)
        assert stale.status_code == 403 and OPEN_TOO_LONG in stale.text, stale.text
        assert "crafted" not in stale.text and 'name="draft"' not in stale.text
        login = carried | {"csrf_token": csrf_of(own), "key": reviewer_key}
        signed_in = await browser.post("/ui/login", data=login, headers=SAME_ORIGIN)
        assert signed_in.status_code == 303 and "crafted" not in signed_in.text, signed_in.text


@pytest.mark.parametrize("stale", ["nonce-gone", "token-expired"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://127.0.0.1:1"}],
    ids=["browser-says-nothing", "another-port-or-subdomain", "another-origin"],
)
async def test_a_stale_sign_in_that_no_browser_says_this_origin_sent_gets_no_form(
    ui_url: str,
    reviewer_key: str,
    resources: Resources,
    review_job: dict[str, Any],
    headers: dict[str, str],
    stale: str,
) -> None:
    """The form comes back only where the browser says a page of this origin posted it: anything else that cannot
    sign in is the bare refusal it always was (login CSRF), never a new token to sign in with, nor a draft."""
    job_id = review_job["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        signed_out = await signed_out_with_a_draft(browser, reviewer_key, resources, job_id)
        login = form_fields(signed_out.text) | {"csrf_token": csrf_of(signed_out), "key": reviewer_key}
        if stale == "nonce-gone":
            browser.cookies.delete("mm_login")
        else:
            login["csrf_token"] = await expired_login_token(resources, browser.cookies["mm_login"])
        refused = await browser.post("/ui/login", data=login, headers=headers)
    assert refused.status_code == 403, refused.text
    assert "set-cookie" not in refused.headers and 'name="key"' not in refused.text and "draft" not in refused.text


async def open_task_of_a_reset_run(resources: Resources, job_id: str, bill: NormalizedBill) -> str:
    """What an operator's reset of the job does once the new run reaches review with the bill read otherwise
    (Gemini's reading, say): the real ``open_review_task`` of a later run opens the task anew. Returns its revision."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_run_id="reset-run", scheduled_time=datetime.now(UTC))
    revision = "reset" + "0" * 27
    opening = ReviewTaskOpen(
        job_id=job_id, reasons=["balance_mismatch"], bill=bill, artifact_uri="gs://b/o", revision=revision
    )
    await env.run(ReviewActivities(resources.pool).open_review_task, opening)
    return revision


def total_shown(page: httpx.Response) -> str:
    total = re.search(r'<input id="f-total_amount"[^>]*value="([^"]*)"', page.text)
    assert total is not None, page.text
    return total[1]


async def test_approve_on_a_page_from_before_a_re_run_says_the_task_changed(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The job ran again while the task page was open, and its new task has the bill read anew: Approve on the
    old page says the task changed and shows the new one (its revision, its values), not "You changed some
    fields", which the reviewer never did; nothing is sent."""
    job_id = (await bill_needing_review(http, unique))["id"]
    old_page = await reviewer.get(f"/ui/reviews/{job_id}")
    task = (await http.get(f"/reviews/{job_id}")).json()
    read_anew = NormalizedBill.model_validate({**task["bill"], "total_amount": "61.00"})
    revision = await open_task_of_a_reset_run(resources, job_id, read_anew)

    approve = form_fields(old_page.text) | {"csrf_token": csrf_of(old_page), "action": "approve"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=approve)
    assert response.status_code == 409, response.text
    assert "You changed some fields" not in response.text
    assert "the job ran again since you opened this page" in response.text
    assert form_fields(response.text)["revision"] == revision and total_shown(response) == "61.00"
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"

    edited = approve | {"total_amount": "62.00"}  # typed into the old page, then Enter (Approve)
    kept = await reviewer.post(f"/ui/reviews/{job_id}", data=edited)
    assert kept.status_code == 409 and "the job ran again" in kept.text, kept.text
    assert total_shown(kept) == "62.00" and "use Save corrections" in kept.text


def provider_name_shown(page: httpx.Response) -> str:
    return form_fields(page.text)["provider_name"]


async def test_a_page_from_before_a_re_run_shows_the_new_reading_where_the_reviewer_typed_nothing(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The reviewer fixed the total on the old page and pressed Enter (Approve) after the job ran again and read
    the provider's name otherwise: the 409 page keeps their total and shows the new name, so Save corrections
    there would send the new reading, not the old page's, for what they never touched."""
    job_id = (await bill_needing_review(http, unique))["id"]
    old_page = await reviewer.get(f"/ui/reviews/{job_id}")
    task = (await http.get(f"/reviews/{job_id}")).json()
    read_anew = NormalizedBill.model_validate(
        {**task["bill"], "provider_name": "RE-READ NAME", "total_amount": "61.00"}
    )
    await open_task_of_a_reset_run(resources, job_id, read_anew)

    approve = form_fields(old_page.text) | {"csrf_token": csrf_of(old_page), "action": "approve"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=approve | {"total_amount": "60.00"})
    assert response.status_code == 409 and "The new task is below" in response.text, response.text
    assert (total_shown(response), provider_name_shown(response)) == ("60.00", "RE-READ NAME")
    assert "the others show the new reading" in response.text

    page = BillForm.from_form(form_fields(response.text) | {"action": "correct"})
    sent = page.keeping_untouched(BillForm.from_bill(read_anew)).to_bill()  # what Save corrections there sends
    assert (sent.provider_name, sent.total_amount) == ("RE-READ NAME", Decimal("60.00"))


async def test_a_draft_from_before_a_re_run_comes_back_as_the_new_task_after_sign_in(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The session ended, then the job ran again before the reviewer signed in: the task comes back saying so,
    untouched fields showing the new reading, and Approve there is sent (no "You changed some fields")."""
    job_id = (await bill_needing_review(http, unique))["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        await sign_in(browser, reviewer_key)
        page = await browser.get(f"/ui/reviews/{job_id}")
        await resources.pool.execute(
            "UPDATE ui_sessions SET expires_at = now() WHERE id_hash = $1",
            hashlib.sha256(browser.cookies["mm_session"].encode()).hexdigest(),
        )
        untouched = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "approve", "note": "ok"}
        signed_out = await browser.post(f"/ui/reviews/{job_id}", data=untouched, headers=SAME_ORIGIN)
        assert signed_out.status_code == 401, signed_out.text
        task = (await http.get(f"/reviews/{job_id}")).json()
        read_anew = NormalizedBill.model_validate({**task["bill"], "total_amount": "61.00"})
        await open_task_of_a_reset_run(resources, job_id, read_anew)

        login = form_fields(signed_out.text) | {"csrf_token": csrf_of(signed_out), "key": reviewer_key}
        back = await browser.post("/ui/login", data=login, headers=SAME_ORIGIN)
        assert back.status_code == 200 and "the job ran again" in back.text, back.text
        assert total_shown(back) == "61.00"
        approve = form_fields(back.text) | {"csrf_token": csrf_of(back), "action": "approve"}
        approved = await browser.post(f"/ui/reviews/{job_id}", data=approve, headers=SAME_ORIGIN)
        # Sent on to the job, not refused by the page: the stand-in reset opened the task but left the first run
        # waiting for its own revision, so it is the run that turns this one away.
        assert approved.status_code != 422 and "You changed some fields" not in approved.text, approved.text
        assert "Nothing was sent: the task changed since this page was read" in approved.text


async def test_save_corrections_on_a_page_from_before_a_re_run_shows_the_new_reading_where_the_reviewer_typed_nothing(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Save corrections (not Approve) on the old page after the job ran again is refused as sent for the old task;
    the 409 page keeps the reviewer's total and shows the new reading's name, so a second Save there does not
    send the old page's reading over the new one in fields they never touched."""
    job_id = (await bill_needing_review(http, unique))["id"]
    old_page = await reviewer.get(f"/ui/reviews/{job_id}")
    task = (await http.get(f"/reviews/{job_id}")).json()
    read_anew = NormalizedBill.model_validate(
        {**task["bill"], "provider_name": "RE-READ NAME", "total_amount": "61.00"}
    )
    revision = await open_task_of_a_reset_run(resources, job_id, read_anew)

    save = form_fields(old_page.text) | {"csrf_token": csrf_of(old_page), "action": "correct", "total_amount": "60.00"}
    # A real reset ends the run the old page's revision was for, and the new run refuses that revision. The
    # stand-in leaves that first run waiting for it, so the page posts a revision no run waits for instead.
    old_revision = "0" * 32
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=save | {"revision": old_revision})
    assert response.status_code == 409, response.text
    assert "the job ran again since you opened this page" in response.text
    assert (total_shown(response), provider_name_shown(response)) == ("60.00", "RE-READ NAME")
    assert form_fields(response.text)["revision"] == revision
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


@pytest.mark.parametrize(
    ("sent", "headers"),
    [
        ({"action": "correct", "total_amount": "60,5"}, {}),
        ({"action": "reject", "note": ""}, {}),
        ({"action": "correct", "total_amount": "60.00", "csrf_token": "a-token-of-an-earlier-sign-in"}, SAME_ORIGIN),
    ],
    ids=["decimal-comma", "reject-without-note", "stale-token"],
)
async def test_a_form_refused_otherwise_after_a_re_run_shows_the_new_reading_first(
    reviewer: httpx.AsyncClient,
    http: httpx.AsyncClient,
    resources: Resources,
    unique: str,
    sent: dict[str, str],
    headers: dict[str, str],
) -> None:
    """A form from before a re-run that is also refused for itself (a decimal comma, Reject without a note, a
    token of an earlier sign-in) comes back as the new task, untouched fields showing the new reading: answered
    only as refused, it would show the old page's values under the new revision, and the corrected resubmit
    would send them over the new reading unnoticed. Nothing is sent."""
    job_id = (await bill_needing_review(http, unique))["id"]
    old_page = await reviewer.get(f"/ui/reviews/{job_id}")
    task = (await http.get(f"/reviews/{job_id}")).json()
    read_anew = NormalizedBill.model_validate({**task["bill"], "provider_name": "RE-READ NAME"})
    revision = await open_task_of_a_reset_run(resources, job_id, read_anew)

    form = form_fields(old_page.text) | {"csrf_token": csrf_of(old_page), "revision": "0" * 32} | sent
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form, headers=headers)
    assert response.status_code == 409 and "the job ran again since you opened this page" in response.text
    assert provider_name_shown(response) == "RE-READ NAME" and form_fields(response.text)["revision"] == revision
    if "total_amount" in sent:
        assert total_shown(response) == sent["total_amount"]
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


@pytest.mark.parametrize("token", ["mac", "draft", "session"])
async def test_a_token_with_a_non_ascii_character_is_refused_not_a_server_error(
    ui_url: str, reviewer_key: str, resources: Resources, review_job: dict[str, Any], token: str
) -> None:
    """Any text a form posts as a token (``<issued>.é``, ``é``) is a token that is not ours: a 4xx, or the
    draft dropped, never a 500, also before anyone signed in."""
    job_id = review_job["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        if token == "session":
            page = (await sign_in(browser, reviewer_key), await browser.get(f"/ui/reviews/{job_id}"))[1]
            data = form_fields(page.text) | {"csrf_token": "é", "action": "approve"}
            answer = await browser.post(f"/ui/reviews/{job_id}", data=data, headers=SAME_ORIGIN)
            assert answer.status_code == 403, answer.text
            return
        signed_out = await signed_out_with_a_draft(browser, reviewer_key, resources, job_id)
        login = form_fields(signed_out.text) | {"csrf_token": csrf_of(signed_out), "key": reviewer_key}
        if token == "mac":
            login["csrf_token"] = csrf_of(signed_out).partition(".")[0] + ".é"
        else:
            login["draft_token"] = "é"
        answer = await browser.post("/ui/login", data=login, headers=SAME_ORIGIN)
    if token == "mac":
        assert answer.status_code == 403 and "set-cookie" not in answer.headers, answer.text
    else:
        assert answer.status_code == 303 and "mm_session" in answer.headers["set-cookie"], answer.text


async def test_a_sign_in_token_issued_later_than_a_clocks_skew_from_now_does_not_sign_in(
    ui_url: str, reviewer_key: str, resources: Resources
) -> None:
    """A token of ours whose issue time is an hour ahead (minted by an instance whose clock is off) would sign in
    for two hours: refused, as a token that is not ours. One a few seconds ahead (clocks a little apart) signs in."""
    store = await SessionStore.open(resources.pool)
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        form = await browser.get("/ui/login")
        nonce = browser.cookies["mm_login"]
        login = form_fields(form.text) | {"key": reviewer_key, "next": "/ui/reviews"}
        ahead = store.login_token(nonce, issued_at=int(time.time()) + LOGIN_FORM_SECONDS)
        refused = await browser.post("/ui/login", data=login | {"csrf_token": ahead}, headers=SAME_ORIGIN)
        assert refused.status_code == 403 and "mm_session" not in refused.cookies, refused.text
        assert "another sign-in page opened since has replaced it" not in refused.text, "its nonce is the cookie's"
        skewed = store.login_token(nonce, issued_at=int(time.time()) + 30)
        signed_in = await browser.post("/ui/login", data=login | {"csrf_token": skewed}, headers=SAME_ORIGIN)
        assert signed_in.status_code == 303, signed_in.text


@pytest.mark.parametrize("depth", [3_000, 300_000])
async def test_a_garbled_fingerprint_of_what_the_page_showed_reads_as_none_not_a_server_error(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any], http: httpx.AsyncClient, depth: int
) -> None:
    """``extracted`` nested deeper than JSON can be read (within the bound for the form's inputs, or past it):
    read as a page that says nothing of what it showed, so an edited Approve is refused as edited (422)."""
    job_id = review_job["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    edited = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "approve", "total_amount": "62.00"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=edited | {"extracted": "[" * depth})
    assert response.status_code == 422 and "You changed some fields" in response.text, response.text
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


async def test_a_fingerprint_longer_than_the_bills_inputs_need_is_not_read_however_many_fields_are_posted(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """``extracted`` is bounded by the bill's inputs the form posted, not by all it posted: padded past that
    bound, it is not read even beside a thousand other fields (which would have raised the bound to 100 KB),
    so an edited Approve is refused as edited, not taken for a page that showed another bill."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    fields = form_fields(page.text)
    padded = SHOWN_VERSION + json.dumps(
        json.loads(fields["extracted"].removeprefix(SHOWN_VERSION)) | {"padding": "x" * 50_000}
    )
    others = {f"other-{i}": "" for i in range(1_000)}
    approve = fields | others | {"csrf_token": csrf_of(page), "action": "approve", "total_amount": "62.00"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=approve | {"extracted": padded})
    assert response.status_code == 422 and "You changed some fields" in response.text, response.text


def fingerprints_before_boxes_of_lines(bill: NormalizedBill) -> str:
    """``extracted`` as task pages rendered it before values with line breaks went in boxes of lines: no version,
    and each value fingerprinted without its line breaks, as its text input sent it."""
    form = BillForm.from_bill(bill)
    named = dict(form.fields)
    for kind, rows in form.rows.items():
        named |= {f"{kind}-{i}-{k}": v for i, row in enumerate(rows) for k, v in row.items()}
    sent = {name: value.replace("\r", "").replace("\n", "").strip() for name, value in named.items()}
    digests = {name: hashlib.sha256(value.encode()).hexdigest()[:16] for name, value in sorted(sent.items())}
    return json.dumps(digests, separators=(",", ":"))


@pytest.mark.parametrize("action", ["approve", "correct"])
async def test_a_page_from_before_boxes_of_lines_decides_an_address_in_lines_untouched(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str, action: str
) -> None:
    """A page left open across the deploy (or served by a replica not yet updated) showed the address in lines in
    a text input, which sent it in one line, and fingerprinted it so: Approve there is sent, not taken for a re-run
    of the job (409) nor for an edit, and a correction stores the address in its lines, as extracted."""
    job_id = (await bill_needing_review(http, unique))["id"]
    address = "1 Main St\nSpringfield, IL"
    await resources.pool.execute(  # the rules read no address: as one a reading put in lines
        "UPDATE review_tasks SET bill = jsonb_set(bill, '{service_address}', to_jsonb($2::text)) WHERE job_id = $1",
        job_id,
        address,
    )
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    bill = NormalizedBill.model_validate((await http.get(f"/reviews/{job_id}")).json()["bill"])
    old_page = form_fields(page.text) | {"service_address": "1 Main StSpringfield, IL"}
    old_page |= {"extracted": fingerprints_before_boxes_of_lines(bill), "csrf_token": csrf_of(page), "action": action}
    if action == "correct":
        old_page |= {"total_amount": "60.00"}

    response = await reviewer.post(f"/ui/reviews/{job_id}", data=old_page)
    assert response.status_code == 303, response.text
    assert (await wait_for_status(http, job_id))["status"] == "SUCCEEDED"
    if action == "correct":
        stored = await resources.pool.fetchval(
            "SELECT payload->>'service_address' FROM bills WHERE job_id = $1", job_id
        )
        assert stored == address


async def test_a_page_from_before_a_re_run_with_a_row_removed_keeps_the_rows_as_sent_and_says_to_check_them(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The reviewer removed the first line item on the old page: the rows after it moved up, so the new reading's
    rows cannot be matched to theirs by position. The new reading read the last row's description otherwise: the
    409 page keeps their rows as sent and says to check them against it."""
    job_id = (await bill_needing_review(http, unique))["id"]
    old_page = await reviewer.get(f"/ui/reviews/{job_id}")
    task = (await http.get(f"/reviews/{job_id}")).json()
    assert len(task["bill"]["line_items"]) >= 2, task
    rows = [*task["bill"]["line_items"][:-1], {**task["bill"]["line_items"][-1], "description": "RE-READ LINE"}]
    read_anew = NormalizedBill.model_validate({**task["bill"], "total_amount": "61.00", "line_items": rows})
    await open_task_of_a_reset_run(resources, job_id, read_anew)

    fields = form_fields(old_page.text)
    removed = fields | {"csrf_token": csrf_of(old_page), "action": "correct", "revision": "0" * 32}
    removed |= {"line_items-0-description": "", "line_items-0-amount": ""}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=removed)
    assert response.status_code == 409 and "the job ran again" in response.text, response.text
    assert "the line items rows are yours as you sent them" in response.text
    # As sent: the row they cleared comes back cleared (sending it again removes it), the others as they were.
    back = form_fields(response.text)
    assert (back["line_items-0-description"], back["line_items-0-amount"]) == ("", "")
    assert back["line_items-1-description"] == fields["line_items-1-description"]


async def test_a_sign_in_form_whose_nonce_cookie_another_tab_replaced_comes_back_without_its_draft(
    ui_url: str, reviewer_key: str, resources: Resources, review_job: dict[str, Any]
) -> None:
    """The nonce cookie of a sign-in form carrying a draft was gone (over 12 hours), and a sign-in page opened
    since in another tab set a new one: the old form's token is for the old nonce. Posted from this origin, the
    form comes back (not a bare 403) under the new nonce, saying the entries are not kept; the other tab's form
    still signs in."""
    job_id = review_job["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        signed_out = await signed_out_with_a_draft(browser, reviewer_key, resources, job_id)
        login = form_fields(signed_out.text) | {"csrf_token": csrf_of(signed_out), "key": reviewer_key}
        browser.cookies.delete("mm_login")
        other_tab = await browser.get("/ui/login")
        again = await browser.post("/ui/login", data=login, headers=SAME_ORIGIN)
        assert again.status_code == 403 and "could not be kept" in again.text, again.text
        assert 'name="draft"' not in again.text and "60.00" not in again.text and 'name="key"' in again.text
        assert "mm_session" not in again.cookies and again.cookies.get("mm_login") == other_tab.cookies["mm_login"]
        elsewhere = await browser.post("/ui/login", data=login, headers={"Sec-Fetch-Site": "same-site"})
        assert elsewhere.status_code == 403 and 'name="key"' not in elsewhere.text, elsewhere.text
        for page in (other_tab, again):
            signed_in = await browser.post(
                "/ui/login", data={"csrf_token": csrf_of(page), "key": reviewer_key}, headers=SAME_ORIGIN
            )
            assert signed_in.status_code == 303, signed_in.text
