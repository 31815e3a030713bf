"""Login CSRF in headless Chromium: a page on another port of the same host (same site) tosses its sign-in nonce
cookie into the browser and has it post the attacker's key to the review UI's sign-in form."""

from __future__ import annotations

from html import escape

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from api.auth import Role, create_key
from tests.helpers import serve
from tests.ui.conftest import csrf_of
from tests.ui.test_review_browser import CHROMIUM, CHROMIUM_ARGS
from worker.resources import Resources

pytestmark = pytest.mark.chromium

NONCE = "tossed-by-the-page-on-another-port"


def attackers_site(login_url: str, token: str, key: str) -> FastAPI:
    """A page that sets the nonce cookie (cookies are not port-scoped) and offers a button posting the sign-in."""
    site = FastAPI()

    @site.get("/")
    async def lure() -> HTMLResponse:
        fields = {"key": key, "csrf_token": token, "next": "/ui/reviews"}
        inputs = "".join(f'<input type="hidden" name="{n}" value="{escape(v)}">' for n, v in fields.items())
        page = f'<form method="post" action="{escape(login_url)}">{inputs}<button>Claim your prize</button></form>'
        response = HTMLResponse(f"<!doctype html><title>Prize</title>{page}")
        response.set_cookie("mm_login", NONCE, path="/", httponly=True, samesite="strict")
        return response

    return site


async def test_a_page_on_another_port_cannot_sign_the_browser_in_under_its_key(
    ui_url: str, resources: Resources
) -> None:
    from playwright.async_api import async_playwright

    attacker_key = (await create_key(resources.pool, name="ui-browser-attacker", role=Role.REVIEWER)).key
    async with httpx.AsyncClient(base_url=ui_url, timeout=60, cookies={"mm_login": NONCE}) as attackers_client:
        token = csrf_of(await attackers_client.get("/ui/login"))
    async with serve(attackers_site(f"{ui_url}/ui/login", token, attacker_key)) as attacker_url:
        assert attacker_url.split(":")[:2] == ui_url.split(":")[:2], "the same host, another port: the same site"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                page.set_default_timeout(60_000)
                await page.goto(attacker_url)
                async with page.expect_navigation():
                    await page.get_by_role("button", name="Claim your prize").click()
                assert "another origin" in (await page.content())
                await page.goto(f"{ui_url}/ui/reviews")
                assert "/ui/login" in page.url, "not signed in under the attacker's key"
            finally:
                await browser.close()
