"""Forms another origin's page posts to the review UI (another port or subdomain of the site: same site, so the
SameSite=Strict cookies go along), and the cookies such a page could toss into the reviewer's browser."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from api.auth import Role, create_key
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.test_ui_http import form_fields
from worker.resources import Resources

OFF_LOCALHOST = "review.minimeter.example"
ANOTHER_PORT = "http://127.0.0.1:9999"


@pytest.fixture(scope="module")
async def attacker_key(resources: Resources) -> str:
    return (await create_key(resources.pool, name="ui-attacker", role=Role.REVIEWER)).key


def refused(response: httpx.Response) -> bool:
    """The 403 error page (``test_error_pages``), not the sign-in or decision form again at 403."""
    return (
        response.status_code == 403
        and response.headers["content-type"].startswith("text/html")
        and 'id="error"' in response.text  # error.html's own mark
        and "csrf_token" not in response.text
    )


def signed_in(response: httpx.Response) -> bool:
    return response.status_code == 303 and any(
        h.startswith(("mm_session=", "__Host-mm_session=")) for h in response.headers.get_list("set-cookie")
    )


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "same-site", "Origin": ANOTHER_PORT}, {"Origin": ANOTHER_PORT}, {"Origin": "null"}],
    ids=["current-browser", "browser-without-sec-fetch", "sandboxed-page"],
)
async def test_a_sign_in_another_page_of_the_site_posts_is_refused(
    ui_url: str, attacker_key: str, headers: dict[str, str]
) -> None:
    """Login CSRF: a page on another port tosses its own sign-in nonce into the reviewer's browser, fetches the
    matching token, and has the browser post the attacker's key: the reviewer would work under the attacker's name."""
    nonce = "tossed-by-another-port"
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, cookies={"mm_login": nonce}) as other_page:
        token = csrf_of(await other_page.get("/ui/login"))
    forged = {"key": attacker_key, "csrf_token": token, "next": "/ui/reviews"}
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, cookies={"mm_login": nonce}) as victim:
        response = await victim.post("/ui/login", data=forged, headers=headers)
        assert refused(response), response.text
        assert "another origin" in response.text
        assert "mm_session" not in victim.cookies


@pytest.mark.parametrize("says", ["sec-fetch-and-origin", "origin-only", "nothing"])
async def test_a_sign_in_from_this_origin_or_a_script_still_works(ui_url: str, reviewer_key: str, says: str) -> None:
    headers = {
        "sec-fetch-and-origin": {"Sec-Fetch-Site": "same-origin", "Origin": ui_url},
        "origin-only": {"Origin": ui_url},
        "nothing": {},  # not a browser: it has no reviewer's cookies to misuse
    }[says]
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers=headers) as client:
        response = await sign_in(client, reviewer_key)
    assert signed_in(response), response.text


@pytest.mark.parametrize(
    ("forwarded", "origin", "accepted"),
    [
        ({}, f"https://{OFF_LOCALHOST}", True),  # the proxy's X-Forwarded-Proto not trusted: the app sees http
        ({"X-Forwarded-Proto": "https"}, f"https://{OFF_LOCALHOST}", True),
        ({"X-Forwarded-Proto": "https"}, f"http://{OFF_LOCALHOST}", False),  # a plain-HTTP page of the same host
        ({}, f"http://{OFF_LOCALHOST}", False),  # the same, where the app sees http: still not this origin
        ({}, f"https://sibling.{OFF_LOCALHOST}", False),
    ],
    ids=["app-sees-http", "app-sees-https", "http-page-to-https", "http-page-app-sees-http", "sibling-subdomain"],
)
async def test_behind_a_tls_proxy_the_origin_is_the_browsers_https_one(
    ui_url: str, reviewer_key: str, forwarded: dict[str, str], origin: str, accepted: bool
) -> None:
    """A browser without Sec-Fetch-Site, signing in through a TLS-terminating proxy in front of the API."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": OFF_LOCALHOST} | forwarded) as browser:
        form = await browser.get("/ui/login")
        nonce = form.cookies["__Host-mm_login"]
        data = {"key": reviewer_key, "csrf_token": csrf_of(form), "next": "/ui/reviews"}
        # A real browser would send the Secure nonce only over HTTPS; this client needs telling.
        cookie = {"Cookie": f"__Host-mm_login={nonce}", "Origin": origin}
        response = await browser.post("/ui/login", data=data, headers=cookie)
    assert signed_in(response) if accepted else refused(response), response.text


@pytest.mark.parametrize(
    ("origin", "needs_https"), [(f"http://{OFF_LOCALHOST}", True), (f"https://{OFF_LOCALHOST}", False)]
)
async def test_a_sign_in_from_a_plain_http_page_off_localhost_says_it_needs_https(
    ui_url: str, reviewer_key: str, origin: str, needs_https: bool
) -> None:
    """At ``http://devbox:8000`` the sign-in nonce is a Secure cookie, which the browser drops: every sign-in said the
    page had outlived its cookie, however fresh. Behind a TLS proxy the app sees http too, but the page is https."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": OFF_LOCALHOST}) as browser:
        form = await browser.get("/ui/login")
        assert "__Host-mm_login" in form.cookies
        browser.cookies.clear()  # what the browser kept of it
        data = {"key": reviewer_key, "csrf_token": csrf_of(form), "next": "/ui/reviews"}
        response = await browser.post(
            "/ui/login", data=data, headers={"Sec-Fetch-Site": "same-origin", "Origin": origin}
        )
    assert response.status_code == 403 and "csrf_token" in response.text, response.text
    assert ("Signing in needs HTTPS at this address" in response.text) is needs_https
    assert ("outlived its cookie" in response.text) is not needs_https


async def test_no_ui_form_is_taken_from_another_origin_even_with_its_token(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any], http: httpx.AsyncClient
) -> None:
    """Not the sign-in alone: a decision or a sign-out another origin's page posts is refused, whatever it
    carries (a token it somehow got), and nothing is decided or ended."""
    job_id = review_job["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    cross = {"Sec-Fetch-Site": "same-site", "Origin": ANOTHER_PORT}
    approve = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "approve"}
    assert refused(await reviewer.post(f"/ui/reviews/{job_id}", data=approve, headers=cross))
    assert refused(await reviewer.post("/ui/logout", data={"csrf_token": csrf_of(page)}, headers=cross))
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"
    assert (await reviewer.get("/ui/reviews")).status_code == 200, "still signed in"


async def test_over_https_the_cookies_are_host_prefixed_and_a_tossed_plain_one_is_ignored(
    ui_url: str, attacker_key: str
) -> None:
    """``__Host-`` cookies come only from this host over HTTPS: a sibling subdomain can toss in ``mm_session``
    (Domain=the site), not ``__Host-mm_session``. Its session, the attacker's own, must not be the reviewer's."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": OFF_LOCALHOST}) as attacker:
        form = await attacker.get("/ui/login")
        data = {"key": attacker_key, "csrf_token": csrf_of(form)}
        cookie = {"Cookie": f"__Host-mm_login={form.cookies['__Host-mm_login']}"}
        response = await attacker.post("/ui/login", data=data, headers=cookie)
    assert response.status_code == 303, response.text
    session = response.cookies["__Host-mm_session"]
    for set_cookie in response.headers.get_list("set-cookie"):
        flags = [part.strip().lower() for part in set_cookie.split(";")]
        assert set_cookie.startswith("__Host-") and "secure" in flags and "path=/" in flags, set_cookie
        assert not any(flag.startswith("domain=") for flag in flags), set_cookie
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": OFF_LOCALHOST}) as victim:
        tossed = await victim.get("/ui/reviews", headers={"Cookie": f"mm_session={session}"})
        assert tossed.status_code == 303 and tossed.headers["location"].startswith("/ui/login")
        own = await victim.get("/ui/reviews", headers={"Cookie": f"__Host-mm_session={session}"})
        assert own.status_code == 200, own.text


async def test_a_sign_out_without_its_token_from_a_plain_http_page_of_the_host_is_refused(
    ui_url: str, reviewer_key: str
) -> None:
    """Behind a TLS proxy uvicorn does not trust, the app sees http; a page injected on plain HTTP of the same host
    (``Origin: http://…``) is still another origin: it may not sign the reviewer out without the form's token."""
    session = await _session_off_localhost(ui_url, reviewer_key)
    cookie = {"Cookie": f"__Host-mm_session={session}"}
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": OFF_LOCALHOST} | cookie) as browser:
        assert refused(await browser.post("/ui/logout", data={}, headers={"Origin": f"http://{OFF_LOCALHOST}"}))
        assert (await browser.get("/ui/reviews")).status_code == 200, "still signed in"


async def test_in_plain_http_local_development_an_https_origin_is_another_one(ui_url: str, reviewer_key: str) -> None:
    """Only where the browser reaches the app over HTTPS does an https Origin stand for this host."""
    https_twin = ui_url.replace("http://", "https://", 1)
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Origin": https_twin}) as client:
        assert refused(await sign_in(client, reviewer_key))


async def _session_off_localhost(ui_url: str, key: str) -> str:
    """A session id from signing in through a TLS proxy that keeps the ``Host`` (the cookies are ``__Host-``)."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": OFF_LOCALHOST}) as browser:
        form = await browser.get("/ui/login")
        data = {"key": key, "csrf_token": csrf_of(form)}
        # A real browser would send the Secure nonce only over HTTPS; this client needs telling.
        response = await browser.post(
            "/ui/login", data=data, headers={"Cookie": f"__Host-mm_login={form.cookies['__Host-mm_login']}"}
        )
    assert response.status_code == 303, response.text
    return response.cookies["__Host-mm_session"]


@pytest.mark.parametrize("tossed_last", [True, False], ids=["tossed-last", "tossed-first"])
@pytest.mark.parametrize("look_alike", ["\xa0__Host-mm_session", "\x85__Host-mm_session", "__Host-mm_session"])
async def test_a_look_alike_session_cookie_signs_the_reviewer_out_not_in_as_its_setter(
    ui_url: str,
    reviewer_key: str,
    attacker_key: str,
    review_job: dict[str, Any],
    http: httpx.AsyncClient,
    look_alike: str,
    tossed_last: bool,
) -> None:
    """A sibling subdomain cannot set ``__Host-mm_session``, but it can set ``\\xa0__Host-mm_session`` for the
    whole site (Chromium keeps and sends it). Starlette's cookie parser strips names with ``str.strip()`` and
    keeps the last of two: the reviewer would decide under the attacker's name. A name sent twice is no better."""
    own, evil = await _session_off_localhost(ui_url, reviewer_key), await _session_off_localhost(ui_url, attacker_key)
    pairs = [b"__Host-mm_session=" + own.encode(), look_alike.encode("latin-1") + b"=" + evil.encode()]
    cookie = b"; ".join(pairs if tossed_last else pairs[::-1])
    job_id = review_job["id"]
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": OFF_LOCALHOST}) as attacker:
        evil_page = await attacker.get(f"/ui/reviews/{job_id}", headers={"Cookie": f"__Host-mm_session={evil}"})
    approve = form_fields(evil_page.text) | {"csrf_token": csrf_of(evil_page), "action": "approve"}
    async with httpx.AsyncClient(
        base_url=ui_url, timeout=60, headers={b"Host": OFF_LOCALHOST.encode(), b"Cookie": cookie}
    ) as victim:
        page = await victim.get(f"/ui/reviews/{job_id}")
        assert page.status_code == 303 and page.headers["location"].startswith("/ui/login"), page.text
        hint = await victim.get(page.headers["location"])
        assert "look-alike of the review UI&#39;s cookies" in hint.text, "signing in again would not last: say why"
        sent = await victim.post(f"/ui/reviews/{job_id}", data=approve, headers={"Sec-Fetch-Site": "same-origin"})
        assert sent.status_code == 401 and "Sign in" in sent.text, "answered with the sign-in form, nothing sent"
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"


async def _session_row_exists(resources: Resources, session_id: str) -> bool:
    id_hash = hashlib.sha256(session_id.encode()).hexdigest()
    return bool(await resources.pool.fetchval("SELECT count(*) FROM ui_sessions WHERE id_hash = $1", id_hash))


async def _signed_in_off_localhost(ui_url: str, session_id: str) -> bool:
    cookie = {"Host": OFF_LOCALHOST, "Cookie": f"__Host-mm_session={session_id}"}
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers=cookie) as browser:
        return (await browser.get("/ui/reviews")).status_code == 200


@pytest.mark.parametrize("look_alike", ["\xa0__Host-mm_session", "__Host-mm_session"])
async def test_sign_out_beside_a_look_alike_session_cookie_ends_the_session_on_the_server(
    ui_url: str, reviewer_key: str, resources: Resources, look_alike: str
) -> None:
    """The look-alike hides the session from the middleware (``read_cookie``), not from Sign out: else the row
    stays and the id keeps working for hours after the reviewer signed out."""
    own = await _session_off_localhost(ui_url, reviewer_key)
    cookie = b"__Host-mm_session=" + own.encode() + b"; " + look_alike.encode("latin-1") + b"=tossed"
    async with httpx.AsyncClient(
        base_url=ui_url, timeout=60, headers={b"Host": OFF_LOCALHOST.encode(), b"Cookie": cookie}
    ) as browser:
        response = await browser.post("/ui/logout", data={}, headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303 and response.headers["location"] == "/ui/login", response.text
    assert not await _session_row_exists(resources, own)
    assert not await _signed_in_off_localhost(ui_url, own)


async def test_sign_out_beside_a_look_alike_needs_the_forms_token_where_no_browser_says_this_origin(
    ui_url: str, reviewer_key: str, resources: Resources
) -> None:
    """As without a look-alike: a post no browser vouches for ends only the session whose token it echoes."""
    own = await _session_off_localhost(ui_url, reviewer_key)
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": OFF_LOCALHOST}) as browser:
        page = await browser.get("/ui/reviews", headers={"Cookie": f"__Host-mm_session={own}"})
        shadowed = {b"Cookie": f"__Host-mm_session={own}; \xa0__Host-mm_session=tossed".encode("latin-1")}
        forged = await browser.post("/ui/logout", data={"csrf_token": "0" * 64}, headers=shadowed)
        assert forged.status_code == 403, forged.text
        assert await _signed_in_off_localhost(ui_url, own), "nothing ended"
        ended = await browser.post("/ui/logout", data={"csrf_token": csrf_of(page)}, headers=shadowed)
    assert ended.status_code == 303, ended.text
    assert not await _session_row_exists(resources, own)


async def test_a_look_alike_sessions_token_does_not_end_the_reviewers_session(
    ui_url: str, reviewer_key: str, attacker_key: str, resources: Resources
) -> None:
    """A sibling subdomain tosses in a look-alike cookie with its own session, whose page token it knows, and has
    an older browser (no Sec-Fetch-Site, no Origin) post Sign out with that token: the reviewer stays signed in."""
    own = await _session_off_localhost(ui_url, reviewer_key)
    evil = await _session_off_localhost(ui_url, attacker_key)
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": OFF_LOCALHOST}) as attacker:
        evil_page = await attacker.get("/ui/reviews", headers={"Cookie": f"__Host-mm_session={evil}"})
    cookie = f"__Host-mm_session={own}; \xa0__Host-mm_session={evil}".encode("latin-1")
    async with httpx.AsyncClient(
        base_url=ui_url, timeout=60, headers={b"Host": OFF_LOCALHOST.encode(), b"Cookie": cookie}
    ) as victim:
        await victim.post("/ui/logout", data={"csrf_token": csrf_of(evil_page)})
    assert await _session_row_exists(resources, own)
    assert await _signed_in_off_localhost(ui_url, own), "the reviewer was signed out by another session's token"


async def test_a_look_alike_sign_in_nonce_is_no_nonce(ui_url: str, reviewer_key: str) -> None:
    """``\\x85__Host-mm_login`` from a sibling subdomain must not stand in for the sign-in form's own nonce."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, headers={"Host": OFF_LOCALHOST}) as other_page:
        token = csrf_of(await other_page.get("/ui/login", headers={"Cookie": "__Host-mm_login=tossed"}))
    cookie = b"__Host-mm_login=own; \x85__Host-mm_login=tossed"
    data = {"key": reviewer_key, "csrf_token": token}
    async with httpx.AsyncClient(
        base_url=ui_url, timeout=60, headers={b"Host": OFF_LOCALHOST.encode(), b"Cookie": cookie}
    ) as victim:
        response = await victim.post("/ui/login", data=data, headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 403 and "__Host-mm_session" not in response.headers.get("set-cookie", "")
