"""The review UI over real HTTP: sign-in, cookie flags, roles, CSRF, and the decision form's refusals."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from html import unescape
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from api.auth import Role, create_key, revoke_key
from api.main import create_app
from api.routes.reviews import reviews_cursor_scope
from api.services.jobs import JobCursor
from shared.bill import Provider
from shared.settings import Environment, Settings
from tests.helpers import answered_once_the_key_is_forgotten, bill_needing_review, serve, wait_for_status
from tests.ui.conftest import csrf_of, sign_in
from worker.resources import Resources

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
"""What a browser says of a form its page on this origin posted."""


def flags_of(response: httpx.Response, name: str) -> list[str]:
    """The attributes of the one Set-Cookie header for ``name``, lower-cased."""
    cookies = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(cookies) == 1, response.headers
    return [part.strip().lower() for part in cookies[0].split(";")]


BEHIND_BASIC_AUTH = {"Authorization": "Basic cmV2aWV3ZXI6cGFzc3dvcmQ="}
"""What a browser behind a proxy's password (nginx ``auth_basic``) sends with every request: no API key."""
PROXIES = pytest.mark.parametrize("proxy", [{}, BEHIND_BASIC_AUTH], ids=["direct", "behind-basic-auth"])


@PROXIES
async def test_unauthenticated_pages_redirect_to_login(ui_url: str, proxy: dict[str, str]) -> None:
    """Behind a proxy's Basic credentials, each page was a bare 401: the header was taken for an API key's."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers=proxy) as anon:
        for path in ("/ui/reviews", "/ui/reviews/00000000-0000-0000-0000-000000000000"):
            response = await anon.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/ui/login?next=%2Fui%2Freviews")
        assert (await anon.get("/ui/login")).status_code == 200


async def test_bad_key_is_401_with_the_form_again(ui_url: str) -> None:
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as client:
        response = await sign_in(client, "mm_not-a-real-key")
        assert response.status_code == 401
        assert "invalid, revoked or expired" in response.text
        assert 'name="key"' in response.text
        assert "mm_session" not in client.cookies


async def test_login_without_csrf_token_is_403(ui_url: str, reviewer_key: str) -> None:
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as client:
        await client.get("/ui/login")
        response = await client.post("/ui/login", data={"key": reviewer_key, "csrf_token": "forged"})
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html") and "CSRF token" in response.text
        assert "mm_session" not in client.cookies


async def test_session_cookie_is_httponly_lax_and_opaque(ui_url: str, reviewer_key: str) -> None:
    """Lax: a task's link followed from another site opens it (test_review_browser); the sign-in nonce is Strict."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as client:
        form = await client.get("/ui/login")
        assert "samesite=strict" in flags_of(form, "mm_login")
        response = await sign_in(client, reviewer_key)
    assert response.status_code == 303 and response.headers["location"] == "/ui/reviews"
    flags = flags_of(response, "mm_session")
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags, "plain-HTTP localhost keeps working in development"
    assert reviewer_key not in response.headers["set-cookie"]


async def test_cookies_are_secure_off_localhost(ui_url: str, reviewer_key: str) -> None:
    """Secure, and so ``__Host-`` named: no sibling subdomain or plain-HTTP page can set them (test_cross_origin)."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": "review.minimeter.example"}) as client:
        form = await client.get("/ui/login")
        nonce = form.cookies.get("__Host-mm_login")
        assert nonce and "secure" in flags_of(form, "__Host-mm_login")
        # A real browser would only send the Secure nonce over HTTPS; this client needs telling.
        data = {"key": reviewer_key, "csrf_token": csrf_of(form)}
        response = await client.post("/ui/login", data=data, headers={"Cookie": f"__Host-mm_login={nonce}"})
    assert response.status_code == 303
    assert "secure" in flags_of(response, "__Host-mm_session")


async def test_cookies_are_secure_behind_a_proxy_that_sends_its_upstream_host(ui_url: str, reviewer_key: str) -> None:
    """nginx's default ``Host $proxy_host`` makes the request look like localhost; its https scheme (uvicorn takes
    ``X-Forwarded-Proto`` from a trusted proxy, 127.0.0.1 here) still makes the cookies Secure and ``__Host-``."""
    proxied = {"Host": "127.0.0.1:8000", "X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers=proxied) as client:
        form = await client.get("/ui/login")
        assert "secure" in flags_of(form, "__Host-mm_login")
        data = {"key": reviewer_key, "csrf_token": csrf_of(form)}
        cookie = {"Cookie": f"__Host-mm_login={form.cookies['__Host-mm_login']}"} | SAME_ORIGIN
        response = await client.post("/ui/login", data=data, headers=cookie)
    assert response.status_code == 303, response.text
    assert "secure" in flags_of(response, "__Host-mm_session")


async def test_with_env_production_a_forwarded_request_gets_secure_cookies_and_the_https_origin_even_on_localhost(
    reviewer_key: str, app_settings: Settings
) -> None:
    """A proxy that neither keeps the ``Host`` nor is trusted for its scheme: production is HTTPS all the same."""
    production = app_settings.model_copy(update={"env": Environment.PRODUCTION})
    forwarded = {"X-Forwarded-For": "203.0.113.7"}  # all an untrusted proxy's headers tell
    async with serve(create_app(production)) as url, httpx.AsyncClient(base_url=url, headers=forwarded) as client:
        form = await client.get("/ui/login")
        assert "secure" in flags_of(form, "__Host-mm_login")
        data = {"key": reviewer_key, "csrf_token": csrf_of(form)}
        cookie = {"Cookie": f"__Host-mm_login={form.cookies['__Host-mm_login']}"}
        plain_http_page = await client.post("/ui/login", data=data, headers=cookie | {"Origin": url})
        assert plain_http_page.status_code == 403, "a plain-HTTP page of the host is another origin"
        https_origin = {"Origin": url.replace("http://", "https://", 1)}
        response = await client.post("/ui/login", data=data, headers=cookie | https_origin)
    assert response.status_code == 303, response.text
    assert "secure" in flags_of(response, "__Host-mm_session")


async def test_with_env_production_a_browser_on_this_machine_signs_in_over_plain_http_localhost(
    reviewer_key: str, app_settings: Settings
) -> None:
    """Compose's stack runs with ENV=production on http://localhost:8000: Safari stores no Secure cookie from
    plain HTTP, so Secure cookies there left it no sign-in nonce, and every sign-in was a 403."""
    production = app_settings.model_copy(update={"env": Environment.PRODUCTION})
    async with serve(create_app(production)) as url, httpx.AsyncClient(base_url=url) as client:
        form = await client.get("/ui/login")
        assert "secure" not in flags_of(form, "mm_login")
        data = {"key": reviewer_key, "csrf_token": csrf_of(form)}
        response = await client.post("/ui/login", data=data, headers={"Origin": url})
    assert response.status_code == 303, response.text
    assert "secure" not in flags_of(response, "mm_session")


async def test_viewer_cannot_sign_in_or_open_the_queue(ui_url: str, viewer_key: str) -> None:
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as client:
        response = await sign_in(client, viewer_key)
        assert response.status_code == 403 and "cannot review" in response.text
        assert "mm_session" not in client.cookies
        queue = await client.get("/ui/reviews", headers={"Authorization": f"Bearer {viewer_key}"})
        assert queue.status_code == 403


def task_links(queue: httpx.Response) -> list[str]:
    """The task pages a queue page links to, in its order."""
    return re.findall(r'href="/ui/reviews/([0-9a-f-]{36})[?"]', queue.text)


async def test_queue_and_task_page_show_the_failing_checks(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any]
) -> None:
    job_id = review_job["id"]
    # The queue is oldest first, 50 a page: earlier tests' open tasks can fill the first page.
    queue = await reviewer.get("/ui/reviews", params={"customer_id": review_job["customer_id"]})
    assert queue.status_code == 200
    assert job_id in task_links(queue)
    assert queue.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in queue.headers["content-security-policy"]

    page = await reviewer.get(f"/ui/reviews/{job_id}")
    assert page.status_code == 200
    assert f'src="/jobs/{job_id}/artifact?sha256=' in page.text
    assert 'id="f-total_amount"' in page.text and 'value="75.00"' in page.text
    assert 'aria-describedby="why-total_amount"' in page.text, "balance_mismatch flags the total"
    assert "(0.00 − 0.00 + 60.00 = 60.00; the total is 75.00)" in page.text, "with the sum it fails"

    raw = await reviewer.get(f"/jobs/{job_id}/artifact")
    assert raw.status_code == 200 and b"Total Amount Due" in raw.content, "the session reaches the embedded bill"
    assert (await reviewer.get(f"/jobs/{job_id}")).status_code == 401, "the cookie authenticates nothing else"


async def test_queue_filters_that_do_not_parse_are_ignored(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any]
) -> None:
    unfiltered = task_links(await reviewer.get("/ui/reviews"))
    assert unfiltered, "the module's review_job at least is open"
    for customer_id in ("²", "١٢", "abc", "9" * 30, "", "0", "00"):  # superscript and Arabic-Indic digits: no ids
        queue = await reviewer.get("/ui/reviews", params={"customer_id": customer_id})
        assert queue.status_code == 200, (customer_id, queue.text)
        # The same first page as no filter (review_job itself may be past it: earlier tests leave tasks open).
        assert task_links(queue) == unfiltered, "an ignored filter shows every task"
        said = f"\u201c{customer_id}\u201d is no customer id" in unescape(queue.text)
        assert said == bool(customer_id), ("the page says it was ignored, where it showed a blank box", customer_id)


async def test_review_form_without_or_with_a_wrong_csrf_token_is_403(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any], http: httpx.AsyncClient
) -> None:
    job_id = review_job["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    revision = review_job_revision(page.text)
    real = csrf_of(page)
    altered = real[:-1] + ("1" if real[-1] == "0" else "0")  # one character off, never the real token
    for token in (None, "0" * 64, altered):
        data = {"action": "approve", "revision": revision, **({"csrf_token": token} if token else {})}
        response = await reviewer.post(f"/ui/reviews/{job_id}", data=data, headers=SAME_ORIGIN)
        assert response.status_code == 403, response.text
        assert "Nothing was sent" in response.text, "the page again, with what was typed, and nothing decided"
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "same-site"}, {"Origin": "http://127.0.0.1:1"}, {}],
    ids=["another-port-or-subdomain", "another-origin", "no-browser-word"],
)
async def test_a_forged_post_from_elsewhere_gets_no_form_back(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any], http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """A page on another port or subdomain (same site: the cookie goes along) posts a crafted correction:
    a bare 403, never the review page filled with its values and a fresh token, one click from sending."""
    job_id = review_job["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    crafted = form_fields(page.text) | {"action": "correct", "total_amount": "1.00", "note": "crafted"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=crafted, headers=headers)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("text/html"), "the refusal page, not the form"
    assert "crafted" not in response.text and "csrf_token" not in response.text
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


async def test_another_sessions_token_is_403(
    ui_url: str, reviewer_key: str, reviewer: httpx.AsyncClient, review_job: dict[str, Any]
) -> None:
    job_id = review_job["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as other:
        await sign_in(other, reviewer_key)
        foreign = csrf_of(await other.get(f"/ui/reviews/{job_id}"))
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    data = {"action": "approve", "revision": review_job_revision(page.text), "csrf_token": foreign}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=data)
    assert response.status_code == 403


async def post_review_form(
    reviewer: httpx.AsyncClient, job_id: str, **changes: str
) -> tuple[dict[str, str], httpx.Response]:
    """Post the task page's form as rendered, with ``changes``; returns the form sent and the answer."""
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    form = form_fields(page.text) | {"csrf_token": csrf_of(page)} | changes
    return form, await reviewer.post(f"/ui/reviews/{job_id}", data=form)


async def test_refused_correction_re_renders_with_failing_checks(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any], http: httpx.AsyncClient
) -> None:
    job_id = review_job["id"]
    form, response = await post_review_form(reviewer, job_id, action="correct", note="still wrong")
    assert response.status_code == 422, response.text
    assert "the corrected bill fails validation" in response.text
    assert "tick \u201cThe bill really says this\u201d" in response.text, "not the API's 'send it with override'"
    assert 'id="reload"' not in response.text, "nothing to reload: the entries are to fix"
    assert "<code>balance_mismatch</code>" in response.text
    assert "(0.00 − 0.00 + 60.00 = 60.00; the total is 75.00)" in response.text, "the corrected bill's sum"
    assert ">still wrong</textarea>" in response.text, "what the reviewer typed is kept"
    assert 'name="override">' in response.text, "storing it anyway is offered, unticked"

    unexplained = await reviewer.post(f"/ui/reviews/{job_id}", data=form | {"override": "on", "note": ""})
    assert unexplained.status_code == 422 and "Say in the note why the bill is right" in unexplained.text
    assert 'name="override" checked>' in unexplained.text, "the box stays ticked"

    form["total_amount"] = "not money"
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)
    assert response.status_code == 422 and "total amount" in response.text

    for blank in ("", " \u200b\u2060 "):  # zero-width characters alone say nothing either
        rejected = await reviewer.post(f"/ui/reviews/{job_id}", data=form | {"action": "reject", "note": blank})
        assert rejected.status_code == 422 and "Say why in the note" in rejected.text
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


async def test_approve_with_edited_fields_keeps_the_edits_and_decides_nothing(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any], http: httpx.AsyncClient
) -> None:
    """Approve clicked after editing fields (or Enter in a field, on a page from before Enter sent nothing): the
    edits must not be dropped."""
    job_id = review_job["id"]
    _, response = await post_review_form(reviewer, job_id, action="approve", total_amount="60.00")
    assert response.status_code == 422, response.text
    assert "use Save corrections" in response.text
    assert 'value="60.00"' in response.text, "the reviewer's edit is still in the form"
    # "Reload the task" is a link to it: the browser's reload of this page, a post's answer, sent the form again.
    assert f'<a href="/ui/reviews/{job_id}" id="reload">Reload the task</a>' in response.text
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


async def test_logout_ends_the_session_on_the_server(ui_url: str, reviewer_key: str) -> None:
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as client:
        await sign_in(client, reviewer_key)
        stolen = client.cookies["mm_session"]
        queue = await client.get("/ui/reviews")
        assert queue.status_code == 200
        response = await client.post("/ui/logout", data={"csrf_token": csrf_of(queue)})
        assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, cookies={"mm_session": stolen}) as replay:
        assert (await replay.get("/ui/reviews")).status_code == 303


def review_job_revision(html: str) -> str:
    return form_fields(html)["revision"]


def form_fields(html: str) -> dict[str, str]:
    """The decision form's text inputs and selected options, as a browser would submit them."""
    fields = {m[1]: unescape(m[2]) for m in re.finditer(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html)}
    for select in re.finditer(r'<select name="([^"]+)".*?</select>', html, re.DOTALL):
        chosen = re.search(r'<option value="([^"]*)" selected>', select[0])
        fields[select[1]] = chosen[1] if chosen else ""
    fields.pop("csrf_token", None)
    return fields


@PROXIES
async def test_a_revoked_key_ends_its_sessions(
    ui_url: str, resources: Resources, proxy: dict[str, str], app_settings: Settings
) -> None:
    """Every request re-authenticates the key behind the session, so revocation ends it (within
    ``API_KEY_CACHE_SECONDS``). Behind a proxy's Basic credentials, the session did not end: every page was a 401,
    and "Sign in again" looped back to one."""
    created = await create_key(resources.pool, name="ui-soon-revoked", role=Role.REVIEWER)
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers=proxy) as client:
        await sign_in(client, created.key)
        assert (await client.get("/ui/reviews")).status_code == 200
        await revoke_key(resources.pool, created.id)
        ended = await answered_once_the_key_is_forgotten(lambda: client.get("/ui/reviews"), 303, app_settings)
        assert ended.headers["location"] == "/ui/login?next=%2Fui%2Freviews"
        assert (await client.get("/ui/login")).status_code == 200, "the sign-in form, not a loop back to the queue"


async def test_a_key_that_lost_its_reviewer_role_is_sent_to_sign_in(ui_url: str, resources: Resources) -> None:
    """Not a 403 on every page with no way to sign out: the session ends and the sign-in form shows."""
    created = await create_key(resources.pool, name="ui-demoted", role=Role.REVIEWER)
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as client:
        await sign_in(client, created.key)
        await resources.pool.execute("UPDATE api_keys SET role = 'viewer' WHERE id = $1", created.id)
        assert (await client.get("/ui/reviews")).status_code == 303
        assert (await client.get("/ui/login")).status_code == 200


async def test_signing_out_of_an_ended_session_goes_to_sign_in(ui_url: str, reviewer_key: str) -> None:
    """A page left open past its session's end: Sign out answers with the sign-in page, not a 403."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as client:
        await sign_in(client, reviewer_key)
        token = csrf_of(await client.get("/ui/reviews"))
        client.cookies.set("mm_session", "long-gone")
        response = await client.post("/ui/logout", data={"csrf_token": token})
        assert (response.status_code, response.headers["location"]) == (303, "/ui/login")


async def test_a_session_works_on_every_api_process(
    ui_url: str, reviewer_key: str, app_settings: Settings, resources: Resources
) -> None:
    """Sign in on one API process, review and sign out on another: replicas share sessions."""
    async with serve(create_app(app_settings)) as second_url, httpx.AsyncClient(base_url=ui_url, timeout=60) as first:
        assert (await sign_in(first, reviewer_key)).status_code == 303
        cookies = {"mm_session": first.cookies["mm_session"]}
        async with httpx.AsyncClient(base_url=second_url, cookies=cookies) as second:
            queue = await second.get("/ui/reviews")
            assert queue.status_code == 200 and "Sign out" in queue.text
            id_hash = hashlib.sha256(cookies["mm_session"].encode()).hexdigest()
            ends = await resources.pool.fetchval("SELECT expires_at FROM ui_sessions WHERE id_hash = $1", id_hash)
            assert f'Signed in until <time datetime="{ends.isoformat()}">' in queue.text, "when it ends, said"
            response = await second.post("/ui/logout", data={"csrf_token": csrf_of(await first.get("/ui/reviews"))})
            assert response.status_code == 303, "a form from one process is accepted by another"
        assert (await first.get("/ui/reviews")).status_code == 303, "signed out everywhere"


async def test_a_bill_with_hundreds_of_rows_can_still_be_decided(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any], http: httpx.AsyncClient
) -> None:
    """Four fields a row: Starlette's default of 1,000 form fields refused the page of a 250-row bill with a 400."""
    rows = {
        f"line_items-{i}-{field}": value
        for i in range(300)
        for field, value in (("description", f"Fee {i}"), ("category", "other"), ("amount", "1.00"), ("commodity", ""))
    }
    _, response = await post_review_form(reviewer, review_job["id"], action="correct", **rows)
    assert response.status_code == 422, response.text[:500]
    assert "the corrected bill fails validation" in response.text
    assert 'name="line_items-299-amount" value="1.00"' in response.text, "every row is read back"
    assert (await http.get(f"/jobs/{review_job['id']}")).json()["status"] == "NEEDS_REVIEW"


async def test_a_refused_value_is_marked_beside_the_input_it_was_typed_in(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any], http: httpx.AsyncClient
) -> None:
    """A decimal comma in the second line item: that input says so, keeps what was typed, and nothing is decided."""
    job_id = review_job["id"]
    _, response = await post_review_form(
        reviewer, job_id, action="correct", **{"line_items-1-amount": "20,00", "due_date": "soon"}
    )
    assert response.status_code == 422, response.text
    amount = re.search(r'<input name="line_items-1-amount"[^>]*>', response.text)
    assert amount is not None and 'value="20,00"' in amount[0], "what the reviewer typed is kept"
    assert 'aria-invalid="true" aria-describedby="why-line_items-1-amount"' in amount[0]
    assert re.search(r'id="why-line_items-1-amount"><li>write numbers with a point for decimals', response.text)
    other = re.search(r'<input name="line_items-0-amount"[^>]*>', response.text)
    assert other is not None and "aria-invalid" not in other[0]
    assert "invalid value" not in response.text, "the reason itself, not a placeholder"
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


async def test_a_decided_task_says_how_by_whom_and_why(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """A reviewer opening a task a colleague rejected sees the rejection and its note, not just "DONE"."""
    job = await bill_needing_review(http, unique)
    job_id = job["id"]
    _, response = await post_review_form(reviewer, job_id, action="reject", note="a scan of last month's bill")
    assert response.status_code == 303, response.text
    await wait_for_status(http, job_id)

    page = await reviewer.get(f"/ui/reviews/{job_id}")
    assert page.status_code == 200
    decided = re.search(r'<section class="decided".*?</section>', page.text, re.DOTALL)
    assert decided is not None, page.text
    assert "Rejected" in decided[0] and "by ui-reviewer (key " in decided[0]
    assert "the job is now REJECTED" in decided[0]
    assert "Note: a scan of last month&#39;s bill" in decided[0]
    assert 'value="reject"' not in page.text, "and nothing can be decided any more"


async def test_a_decision_returns_to_the_queue_as_it_was_filtered(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """A reviewer working through one customer's bills stays on that customer's queue after each decision."""
    job = await bill_needing_review(http, unique)
    job_id, customer = job["id"], str(job["customer_id"])
    queue = await reviewer.get("/ui/reviews", params={"customer_id": customer, "provider": "pge"})
    link = re.search(rf'href="(/ui/reviews/{job_id}[^"]*)"', queue.text)
    assert link is not None, queue.text
    page = await reviewer.get(unescape(link[1]))
    assert page.status_code == 200
    back = f"/ui/reviews?provider=pge&amp;customer_id={customer}"
    assert f'<a href="{back}">← queue</a>' in page.text

    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "reject", "note": "not a bill"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/ui/reviews?provider=pge&customer_id={customer}"


async def test_the_queue_a_task_returns_to_is_re_read_not_trusted(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any]
) -> None:
    forged = "customer_id=7&next=//evil.example&provider=<script>&cursor=nope"
    page = await reviewer.get(f"/ui/reviews/{review_job['id']}", params={"queue": forged})
    assert page.status_code == 200
    assert 'name="queue" value="customer_id=7"' in page.text
    assert "evil.example" not in page.text and "<script>&" not in page.text


async def test_a_correction_typed_before_signing_in_again_is_given_back_not_lost(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, unique: str
) -> None:
    """Signed in again (the session ended, or in another tab) while a task page was open: its form's
    token is stale. The reviewer gets their edits back with a fresh form, not a bare 403."""
    job_id = (await bill_needing_review(http, unique))["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        await sign_in(browser, reviewer_key)
        page = await browser.get(f"/ui/reviews/{job_id}")
        typed = typed_correction(page)
        await browser.post("/ui/logout", data={"csrf_token": csrf_of(page)})
        assert (await sign_in(browser, reviewer_key)).status_code == 303

        stale = await browser.post(f"/ui/reviews/{job_id}", data=typed, headers=SAME_ORIGIN)
        assert stale.status_code == 403, stale.text
        assert_typed_entries_back(stale)
        assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"

        again = await browser.post(f"/ui/reviews/{job_id}", data=typed | {"csrf_token": csrf_of(stale)})
        assert again.status_code == 303, again.text
    assert (await wait_for_status(http, job_id))["status"] == "SUCCEEDED"


def typed_correction(page: httpx.Response) -> dict[str, str]:
    """The task page's form as a reviewer sends it after typing a total of 60.00 and a note."""
    typed = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct", "total_amount": "60.00"}
    return typed | {"note": "total from page 2"}


def assert_typed_entries_back(page: httpx.Response) -> None:
    """Nothing was decided, and the page gives back what the reviewer typed (a total of 60.00 and a note)."""
    assert "Nothing was sent" in page.text
    assert 'id="f-total_amount" name="total_amount" type="text" value="60.00"' in page.text
    assert ">total from page 2</textarea>" in page.text


async def test_a_decision_on_a_task_that_moved_on_says_to_send_it_again(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any], http: httpx.AsyncClient
) -> None:
    """The page was read before the task was escalated (its revision changed): the form comes back with the
    new revision and the reviewer's entries, and the message says what to do, not only what happened."""
    job_id = review_job["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    current = review_job_revision(page.text)
    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct", "total_amount": "60.00"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form | {"revision": "0" * 32})
    assert response.status_code == 409, response.text
    assert "Nothing was sent: the task changed since this page was read" in response.text
    assert "send again" in response.text and "GET /reviews" not in response.text
    assert review_job_revision(response.text) == current
    assert 'value="60.00"' in response.text
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


@PROXIES
async def test_a_correction_sent_after_the_session_ended_comes_back_after_signing_in(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, resources: Resources, unique: str, proxy: dict[str, str]
) -> None:
    """The session ends (its 8 hours are up) while a reviewer types a correction: Save answers with the sign-in
    form, not a redirect that drops the form, and signing in brings the task back with their entries, nothing
    decided until they send it again. Behind a proxy's Basic credentials, Save was a bare 401: entries lost."""
    job_id = (await bill_needing_review(http, unique))["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90, headers=proxy) as browser:
        await sign_in(browser, reviewer_key)
        page = await browser.get(f"/ui/reviews/{job_id}")
        typed = typed_correction(page)
        await resources.pool.execute(
            "UPDATE ui_sessions SET expires_at = now() WHERE id_hash = $1",
            hashlib.sha256(browser.cookies["mm_session"].encode()).hexdigest(),
        )

        signed_out = await browser.post(f"/ui/reviews/{job_id}", data=typed, headers=SAME_ORIGIN)
        assert signed_out.status_code == 401, signed_out.text
        assert "nothing was sent" in signed_out.text and 'name="key"' in signed_out.text
        login = form_fields(signed_out.text) | {"csrf_token": csrf_of(signed_out), "key": reviewer_key}
        assert login["next"] == f"/ui/reviews/{job_id}" and "60.00" in login["draft"]

        back = await browser.post("/ui/login", data=login, headers=SAME_ORIGIN)
        assert back.status_code == 200, back.text
        assert "Sign out" in back.text
        assert_typed_entries_back(back)
        assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"

        again = await browser.post(f"/ui/reviews/{job_id}", data=typed | {"csrf_token": csrf_of(back)})
        assert again.status_code == 303, again.text
    assert (await wait_for_status(http, job_id))["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    "headers", [{"Sec-Fetch-Site": "same-site"}, {}], ids=["browser-says-another-origin", "browser-says-nothing"]
)
async def test_a_post_from_elsewhere_without_a_session_is_sent_to_sign_in_without_its_form(
    ui_url: str, review_job: dict[str, Any], headers: dict[str, str]
) -> None:
    """A page on another port or subdomain cannot have its crafted correction carried through the reviewer's
    sign-in: only a post this origin made is kept. One the browser says another origin sent is refused outright;
    one it says nothing of (its headers stripped) is sent to sign in, without the form."""
    crafted = {"action": "correct", "total_amount": "1.00", "note": "crafted"}
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as anon:
        response = await anon.post(f"/ui/reviews/{review_job['id']}", data=crafted, headers=headers)
    if headers:
        assert response.status_code == 403, response.text
    else:
        assert response.status_code == 303
        assert response.headers["location"] == f"/ui/login?next=%2Fui%2Freviews%2F{review_job['id']}"
    assert "crafted" not in response.text


async def test_a_decision_a_colleague_beat_shows_the_bill_they_stored_not_the_refused_entries(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """A colleague corrected the bill while this reviewer typed their own correction: the refused page says
    "the fields above show the bill as corrected", so they must show the colleague's bill, not the entries
    that were never stored."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    task = (await http.get(f"/reviews/{job_id}")).json()
    stored = {"action": "correct", "revision": task["revision"], "bill": {**task["bill"], "total_amount": "60.00"}}
    assert (await http.post(f"/reviews/{job_id}", json=stored)).status_code == 200

    typed = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct", "total_amount": "61.00"}
    refused = await reviewer.post(f"/ui/reviews/{job_id}", data=typed)
    assert refused.status_code == 409, refused.text
    assert "The fields above show the bill as corrected" in refused.text
    total = re.search(r'<input id="f-total_amount"[^>]*>', refused.text)
    assert total is not None and 'value="60.00"' in total[0], total
    assert "aria-invalid" not in total[0], "the stored total is not marked with why the bill went to review"
    assert "Why this bill went to review" in refused.text
    assert "61.00" not in outside_your_entries(refused.text), "the refused entry is shown only apart, as not sent"


async def test_signing_in_again_to_a_task_a_colleague_closed_meanwhile_says_so(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The session ended, and a colleague decided the task before the reviewer signed in again: the page they
    get back says it is closed and shows the stored bill, not "check your entries and send again"."""
    job_id = (await bill_needing_review(http, unique))["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        await sign_in(browser, reviewer_key)
        page = await browser.get(f"/ui/reviews/{job_id}")
        typed = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct", "total_amount": "61.00"}
        await browser.post("/ui/logout", data={"csrf_token": csrf_of(page)})
        signed_out = await browser.post(f"/ui/reviews/{job_id}", data=typed, headers=SAME_ORIGIN)
        assert signed_out.status_code == 401, signed_out.text

        task = (await http.get(f"/reviews/{job_id}")).json()
        corrected = {**task["bill"], "total_amount": "60.00"}
        colleague = {"action": "correct", "revision": task["revision"], "bill": corrected}
        assert (await http.post(f"/reviews/{job_id}", json=colleague)).status_code == 200

        login = form_fields(signed_out.text) | {"csrf_token": csrf_of(signed_out), "key": reviewer_key}
        back = await browser.post("/ui/login", data=login, headers=SAME_ORIGIN)
    assert back.status_code == 200, back.text
    assert "this task has been closed since you opened it" in back.text
    assert 'value="60.00"' in back.text and "61.00" not in outside_your_entries(back.text)


def outside_your_entries(html: str) -> str:
    """The page without its read-only "Your entries (not sent)" section."""
    return re.sub(r'<section class="yours".*?</section>', "", html, flags=re.DOTALL)


async def signed_out_answer(ui_url: str, job_id: str, entries: dict[str, str], nonce: str = "") -> httpx.Response:
    """The sign-in page (carrying a draft) that answers a decision a page of this origin posted without a session."""
    cookies = {"mm_login": nonce} if nonce else None
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, cookies=cookies) as client:
        response = await client.post(f"/ui/reviews/{job_id}", data=entries, headers=SAME_ORIGIN)
    assert response.status_code == 401 and 'name="draft"' in response.text, response.text
    return response


ELSEWHERE = {"Sec-Fetch-Site": "same-site", "Origin": "http://evil.localhost:9999"}
"""What a browser says of a form a page on another port or subdomain posted."""


def refused_outright(response: httpx.Response) -> bool:
    """Whether a sign-in was refused before anything else (no session, no draft)."""
    return response.status_code == 403 and "set-cookie" not in response.headers and "draft" not in response.text


def dropped(response: httpx.Response, job_id: str) -> bool:
    """Whether a sign-in carrying a draft went on as a plain one: to the task page, not rendered with entries."""
    return response.status_code == 303 and response.headers["location"] == f"/ui/reviews/{job_id}"


@pytest.mark.parametrize("cross", [ELSEWHERE, {}], ids=["browser-says-another-origin", "browser-says-nothing"])
async def test_a_draft_another_page_of_the_site_posts_to_sign_in_is_dropped(
    ui_url: str, reviewer_key: str, review_job: dict[str, Any], cross: dict[str, str]
) -> None:
    """A page on another port or subdomain can set the sign-in nonce cookie (cookies are not port-scoped) and
    fetch its token, then post the sign-in form itself with a ``draft`` of its choosing: neither a wrong key's
    answer nor the reviewer's real sign-in may show those entries as the reviewer's own. Where the browser says
    another origin posted it, the sign-in itself is refused (test_cross_origin); where it says nothing (its
    headers stripped), the draft is dropped."""
    job_id, nonce = review_job["id"], "chosen-by-another-page"
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, cookies={"mm_login": nonce}) as other_page:
        token = csrf_of(await other_page.get("/ui/login"))
    crafted = urlencode({"action": "correct", "total_amount": "1.00", "note": "crafted"})
    planted = {"csrf_token": token, "next": f"/ui/reviews/{job_id}", "draft": crafted}
    # As in a browser, the app's own Set-Cookie of the nonce replaces the tossed one rather than adding a second
    # (a cookie sent twice is read as absent).
    tossed = httpx.Cookies()
    tossed.set("mm_login", nonce, domain=str(httpx.URL(ui_url).host))
    async with httpx.AsyncClient(base_url=ui_url, cookies=tossed, timeout=90) as victim:
        wrong_key = await victim.post("/ui/login", data=planted | {"key": ""}, headers=cross)
        assert wrong_key.status_code == (403 if cross else 401), wrong_key.text
        assert 'name="draft"' not in wrong_key.text and "crafted" not in wrong_key.text
        signed_in = await victim.post("/ui/login", data=planted | {"key": reviewer_key}, headers=cross)
    assert refused_outright(signed_in) if cross else dropped(signed_in, job_id), signed_in.text


@pytest.mark.parametrize("cross", [ELSEWHERE, {}], ids=["browser-says-another-origin", "browser-says-nothing"])
async def test_a_draft_our_sign_in_form_carried_is_dropped_when_another_page_posts_it(
    ui_url: str, reviewer_key: str, review_job: dict[str, Any], cross: dict[str, str]
) -> None:
    """Another page's own client can make the sign-in form carry its draft (it forges the origin headers a
    browser would not) and toss that form's nonce cookie into the reviewer's browser; the reviewer's browser
    posting that form from the other page says so, and the sign-in is refused; if it says nothing of where the
    post came from, the draft is dropped."""
    job_id = review_job["id"]
    minted = await signed_out_answer(ui_url, job_id, {"action": "correct", "total_amount": "1.00"})
    planted = form_fields(minted.text) | {"csrf_token": csrf_of(minted), "key": reviewer_key}
    tossed = {"mm_login": minted.cookies["mm_login"]}
    async with httpx.AsyncClient(base_url=ui_url, cookies=tossed, timeout=90) as victim:
        signed_in = await victim.post("/ui/login", data=planted, headers=cross)
    assert refused_outright(signed_in) if cross else dropped(signed_in, job_id), signed_in.text


async def test_a_draft_the_sign_in_form_did_not_carry_is_dropped(
    ui_url: str, reviewer_key: str, review_job: dict[str, Any], http: httpx.AsyncClient, unique: str
) -> None:
    """A draft comes back only as our answer to the post signed it: for that sign-in form (its nonce), that
    task, those entries; any other is dropped and the sign-in goes on without it."""
    job_id, other_job = review_job["id"], (await bill_needing_review(http, unique))["id"]
    answer = await signed_out_answer(ui_url, job_id, {"action": "correct", "total_amount": "60.00"})
    login = form_fields(answer.text) | {"csrf_token": csrf_of(answer), "key": reviewer_key}
    crafted = urlencode({"action": "correct", "total_amount": "1.00"})
    another = await signed_out_answer(ui_url, job_id, {"action": "correct", "total_amount": "60.00"})
    for name, posted in {
        "no token": {k: v for k, v in login.items() if k != "draft_token"} | {"draft": crafted},
        "other entries": login | {"draft": crafted},
        "other task": login | {"next": f"/ui/reviews/{other_job}"},
        "other sign-in form": login | {"draft_token": form_fields(another.text)["draft_token"]},
    }.items():
        cookies = {"mm_login": answer.cookies["mm_login"]}
        async with httpx.AsyncClient(base_url=ui_url, cookies=cookies, timeout=90) as browser:
            signed_in = await browser.post("/ui/login", data=posted, headers=SAME_ORIGIN)
        assert dropped(signed_in, posted["next"].removeprefix("/ui/reviews/")), (name, signed_in.text)
    async with httpx.AsyncClient(
        base_url=ui_url, timeout=60, cookies={"mm_login": answer.cookies["mm_login"]}
    ) as browser:
        kept = await browser.post("/ui/login", data=login, headers=SAME_ORIGIN)
    assert kept.status_code == 200 and 'value="60.00"' in kept.text, kept.text


async def test_a_sign_in_form_open_in_another_tab_still_signs_in_after_a_draft(
    ui_url: str, reviewer_key: str, review_job: dict[str, Any]
) -> None:
    """The session ended with the queue and a task open in two tabs: the task tab's decision is answered
    with a sign-in form carrying it, and the queue tab's own sign-in form must still work (it was a 403
    while the draft's form took a nonce of its own)."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        queue_tab = await browser.get("/ui/login?next=/ui/reviews")
        sign_in_there = form_fields(queue_tab.text) | {"csrf_token": csrf_of(queue_tab), "key": reviewer_key}
        task_tab = await browser.post(
            f"/ui/reviews/{review_job['id']}", data={"action": "correct"}, headers=SAME_ORIGIN
        )
        assert task_tab.status_code == 401 and 'name="draft"' in task_tab.text, task_tab.text
        signed_in = await browser.post("/ui/login", data=sign_in_there, headers=SAME_ORIGIN)
    assert signed_in.status_code == 303, signed_in.text


async def test_a_sign_in_form_carrying_a_draft_still_works_after_signing_in_in_another_tab(
    ui_url: str, reviewer_key: str, review_job: dict[str, Any], http: httpx.AsyncClient, unique: str
) -> None:
    """The session ended with two task tabs open and both decisions were answered with sign-in forms carrying
    them: signing in on the first must not turn the second's sign-in into a 403 that loses its entries."""
    jobs = review_job["id"], (await bill_needing_review(http, unique))["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as browser:
        tabs = []
        for job_id, total, note in zip(jobs, ("60.00", "61.00"), ("first tab", "second tab"), strict=True):
            typed = {"action": "correct", "total_amount": total, "note": note}
            tab = await browser.post(f"/ui/reviews/{job_id}", data=typed, headers=SAME_ORIGIN)
            assert tab.status_code == 401 and 'name="draft"' in tab.text, tab.text
            tabs.append(form_fields(tab.text) | {"csrf_token": csrf_of(tab), "key": reviewer_key})
        first = await browser.post("/ui/login", data=tabs[0], headers=SAME_ORIGIN)
        assert first.status_code == 200 and ">first tab</textarea>" in first.text, first.text
        second = await browser.post("/ui/login", data=tabs[1], headers=SAME_ORIGIN)
    assert second.status_code == 200, second.text
    assert ">second tab</textarea>" in second.text and 'value="61.00"' in second.text


async def test_a_note_as_long_as_its_box_allows_is_taken(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The note's box takes 2,000 characters, a line break counting as one, and the browser sends each line
    break as CRLF: a note with paragraphs that fits the box must not be refused as over 2,000 characters."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    assert 'maxlength="2000"' in page.text
    lines = ["a scan of last month's bill, not this one".ljust(99, ".")] * 20  # 1,999 characters in the box
    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "reject", "note": "\r\n".join(lines)}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)
    assert response.status_code == 303, response.text
    stored = await resources.pool.fetchval("SELECT note FROM review_decisions WHERE job_id = $1", job_id)
    assert stored == "\n".join(lines)


async def test_sign_out_from_a_page_loaded_under_an_earlier_sign_in_still_signs_out(
    ui_url: str, reviewer_key: str, resources: Resources
) -> None:
    """A tab left open from before the session ended and the reviewer signed in again in another (its form's
    token is the earlier session's): Sign out there must end the session, not answer 403 and leave the browser
    signed in. A sign-out the browser does not say this origin posted still needs the current token."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as browser:
        await sign_in(browser, reviewer_key)
        old_tab = await browser.get("/ui/reviews")
        await resources.pool.execute(
            "UPDATE ui_sessions SET expires_at = now() WHERE id_hash = $1",
            hashlib.sha256(browser.cookies["mm_session"].encode()).hexdigest(),
        )
        assert (await sign_in(browser, reviewer_key)).status_code == 303
        stale = {"csrf_token": csrf_of(old_tab)}
        assert (await browser.post("/ui/logout", data=stale)).status_code == 403, "not a browser's own page"
        assert (await browser.get("/ui/reviews")).status_code == 200
        response = await browser.post("/ui/logout", data=stale, headers=SAME_ORIGIN)
        assert (response.status_code, response.headers["location"]) == (303, "/ui/login"), response.text
        assert (await browser.get("/ui/reviews")).status_code == 303, "signed out"


@pytest.mark.parametrize(
    "sent",
    [
        {"action": "correct", "total_amount": "12,50"},
        {"action": "reject", "note": ""},
        {"action": "approve", "total_amount": "61.00"},
        {"action": "approve"},
    ],
    ids=["invalid-value", "reject-without-note", "approve-with-edits", "untouched-approve"],
)
async def test_a_refused_form_on_a_task_a_colleague_closed_says_it_is_closed(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str, sent: dict[str, str]
) -> None:
    """The page shows the colleague's stored bill and no decision buttons: a message asking to fix a value, add a
    note or use Save corrections would send the reviewer after something they can no longer do."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    task = (await http.get(f"/reviews/{job_id}")).json()
    colleague = {"action": "correct", "revision": task["revision"], "bill": {**task["bill"], "total_amount": "60.00"}}
    assert (await http.post(f"/reviews/{job_id}", json=colleague)).status_code == 200

    response = await reviewer.post(
        f"/ui/reviews/{job_id}", data=form_fields(page.text) | {"csrf_token": csrf_of(page)} | sent
    )
    assert response.status_code == 409, response.text
    assert "this task has been closed since you opened it" in response.text
    assert "Some values are not valid" not in response.text and "Say why" not in response.text
    assert "You changed some fields" not in response.text and "write numbers with a point" not in response.text


@pytest.mark.parametrize("action", ["approve", "correct"])
async def test_a_decision_sent_twice_says_it_was_taken_both_times(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str, action: str
) -> None:
    """A double click: the browser shows the second answer, which must not say the task closed without them."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": action}
    if action == "correct":
        form |= {"total_amount": "60.00"}
    for _ in range(2):
        response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)
        assert response.status_code == 303, response.text
    queue = await reviewer.get(response.headers["location"])
    assert f"Job {job_id} {action}" in queue.text


async def test_a_later_queue_page_left_empty_does_not_say_there_is_nothing_to_review(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """The reviewer decided the last tasks of a later page (colleagues took the rest), and the decision returns
    there: the bills on the first page still wait, so the page says so and leads back to it."""
    await bill_needing_review(http, unique)
    scope = reviews_cursor_scope(Provider.PGE, None)
    late = datetime(2100, 1, 1, tzinfo=UTC)
    past_every_task = JobCursor(created_at=late, job_id=uuid.UUID(int=0), scope=scope).encode()
    page = await reviewer.get("/ui/reviews", params={"provider": "pge", "cursor": past_every_task})
    assert page.status_code == 200, page.text
    assert "Nothing to review." not in page.text
    assert re.search(r'<a href="/ui/reviews\?provider=pge&amp;customer_id=">[^<]*first page</a>', page.text)


async def test_signing_in_again_ends_the_session_it_replaces(ui_url: str, reviewer_key: str) -> None:
    """A second sign-in in the same browser (a sign-in form left open in another tab) replaces its cookie: the
    session it replaces ends too, rather than staying valid, unseen, for the rest of its 8 hours."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as browser:
        other_tab = await browser.get("/ui/login")
        await sign_in(browser, reviewer_key)
        replaced = browser.cookies["mm_session"]
        data = {"key": reviewer_key, "csrf_token": csrf_of(other_tab), "next": "/ui/reviews"}
        again = await browser.post("/ui/login", data=data, headers=SAME_ORIGIN)
        assert again.status_code == 303 and browser.cookies["mm_session"] != replaced, again.text
        assert (await browser.get("/ui/reviews")).status_code == 200
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, cookies={"mm_session": replaced}) as replay:
        assert (await replay.get("/ui/reviews")).status_code == 303


async def test_an_ingest_key_is_told_it_cannot_review(ui_url: str, resources: Resources) -> None:
    ingest_key = (await create_key(resources.pool, name="ui-ingest", role=Role.INGEST)).key
    async with httpx.AsyncClient(base_url=ui_url, timeout=60) as client:
        response = await sign_in(client, ingest_key)
    assert response.status_code == 403
    assert "An ingest key cannot review bills: use a reviewer key." in response.text, response.text


async def test_the_stylesheet_reflows_at_320_px_and_draws_controls_at_3_to_1(reviewer: httpx.AsyncClient) -> None:
    """WCAG 1.4.10 (no sideways scrolling of the page at 320 CSS px) and 1.4.11 (a control's edge 3:1)."""
    css = (await reviewer.get("/ui/static/ui.css")).text
    assert ".split { grid-template-columns: minmax(0, 1fr); }" in css, "a 1fr column grew to its widest content"
    assert re.search(r"fieldset \{ min-width: 0;", css), "a fieldset is min-content wide by default"
    assert re.search(r"\.filters \{[^}]*flex-wrap: wrap;", css) and re.search(r"\.actions \{[^}]*flex-wrap: wrap;", css)
    assert ".scroll { overflow-x: auto; }" in css
    assert ".field .hint { grid-column: 2; }" in css
    assert "--control: #767f8f;" in css  # 4.0:1 on white, 3.8:1 on the page's --bg, 3.6:1 on a read-only fill
    for controls in ("input, select, textarea {", "button {"):
        rule = re.search(re.escape(controls) + r"[^}]*border: 1px solid var\(--control\)", css)
        assert rule is not None, controls
    assert re.search(r"input\[readonly\][^{]*\{[^}]*border-style: dashed;", css), "read-only reads so"
