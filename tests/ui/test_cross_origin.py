"""Forms another origin's page posts to the review UI (another port or subdomain of the site: same site, so the
SameSite=Strict cookies go along), and the cookies such a page could toss into the reviewer's browser."""

from __future__ import annotations

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
    return response.status_code == 403 and response.headers["content-type"].startswith("application/problem+json")


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
    async with httpx.AsyncClient(base_url=ui_url, cookies={"mm_login": nonce}) as other_page:
        token = csrf_of(await other_page.get("/ui/login"))
    forged = {"key": attacker_key, "csrf_token": token, "next": "/ui/reviews"}
    async with httpx.AsyncClient(base_url=ui_url, cookies={"mm_login": nonce}) as victim:
        response = await victim.post("/ui/login", data=forged, headers=headers)
        assert refused(response), response.text
        assert "another origin" in response.json()["detail"]
        assert "mm_session" not in victim.cookies


@pytest.mark.parametrize("says", ["sec-fetch-and-origin", "origin-only", "nothing"])
async def test_a_sign_in_from_this_origin_or_a_script_still_works(ui_url: str, reviewer_key: str, says: str) -> None:
    headers = {
        "sec-fetch-and-origin": {"Sec-Fetch-Site": "same-origin", "Origin": ui_url},
        "origin-only": {"Origin": ui_url},
        "nothing": {},  # not a browser: it has no reviewer's cookies to misuse
    }[says]
    async with httpx.AsyncClient(base_url=ui_url, headers=headers) as client:
        response = await sign_in(client, reviewer_key)
    assert signed_in(response), response.text


@pytest.mark.parametrize(
    ("forwarded", "origin", "accepted"),
    [
        ({}, f"https://{OFF_LOCALHOST}", True),  # the proxy's X-Forwarded-Proto not trusted: the app sees http
        ({"X-Forwarded-Proto": "https"}, f"https://{OFF_LOCALHOST}", True),
        ({"X-Forwarded-Proto": "https"}, f"http://{OFF_LOCALHOST}", False),  # a plain-HTTP page of the same host
        ({}, f"https://sibling.{OFF_LOCALHOST}", False),
    ],
    ids=["app-sees-http", "app-sees-https", "http-page-to-https", "sibling-subdomain"],
)
async def test_behind_a_tls_proxy_the_origin_is_the_browsers_https_one(
    ui_url: str, reviewer_key: str, forwarded: dict[str, str], origin: str, accepted: bool
) -> None:
    """A browser without Sec-Fetch-Site, signing in through a TLS-terminating proxy in front of the API."""
    async with httpx.AsyncClient(base_url=ui_url, headers={"Host": OFF_LOCALHOST} | forwarded) as browser:
        form = await browser.get("/ui/login")
        nonce = form.cookies["__Host-mm_login"]
        data = {"key": reviewer_key, "csrf_token": csrf_of(form), "next": "/ui/reviews"}
        # A real browser would send the Secure nonce only over HTTPS; this client needs telling.
        cookie = {"Cookie": f"__Host-mm_login={nonce}", "Origin": origin}
        response = await browser.post("/ui/login", data=data, headers=cookie)
    assert signed_in(response) if accepted else refused(response), response.text


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
    async with httpx.AsyncClient(base_url=ui_url, headers={"Host": OFF_LOCALHOST}) as attacker:
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
    async with httpx.AsyncClient(base_url=ui_url, headers={"Host": OFF_LOCALHOST}) as victim:
        tossed = await victim.get("/ui/reviews", headers={"Cookie": f"mm_session={session}"})
        assert tossed.status_code == 303 and tossed.headers["location"].startswith("/ui/login")
        own = await victim.get("/ui/reviews", headers={"Cookie": f"__Host-mm_session={session}"})
        assert own.status_code == 200, own.text
