"""The app with the review UI served over real HTTP, a bill waiting for review, signed-in clients."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth import Role, create_key
from tests.helpers import bill_needing_review
from worker.resources import Resources

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
NO_CHROMIUM = (
    "no Chromium: neither chromium nor chromium-browser is on PATH, nor is Playwright's own"
    " (install Debian's: apt-get install -y chromium)"
)


def chromium_executable() -> str | None:
    """The browser the browser tests drive: Debian's ``chromium`` or Ubuntu's ``chromium-browser`` on PATH, else the
    one ``playwright install chromium`` downloaded."""
    for name in ("chromium", "chromium-browser"):
        if (found := shutil.which(name)) is not None:
            return found
    return playwright_chromium()


def playwright_chromium() -> str | None:
    browsers = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or str(Path.home() / ".cache" / "ms-playwright")
    downloaded = sorted(Path(browsers).glob("chromium-*/chrome-linux*/chrome"))
    return str(downloaded[-1]) if downloaded else None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chromium: drives headless Chromium; skipped without one, failed in CI")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture starts: without a browser a ``chromium`` test skips, saying why, but fails in CI (CI=true),
    where a skip went unseen in a green run and the login-CSRF test with it."""
    if item.get_closest_marker("chromium") is None or chromium_executable() is not None:
        return
    if in_ci():
        pytest.fail(f"{NO_CHROMIUM}; CI=true, where the browser tests must run", pytrace=False)
    pytest.skip(NO_CHROMIUM)


@pytest.fixture(scope="session")
def ui_url(api_url: str) -> str:
    """The session's API serves the review UI too."""
    return api_url


@pytest.fixture(scope="session")
async def reviewer_key(resources: Resources) -> str:
    return (await create_key(resources.pool, name="ui-reviewer", role=Role.REVIEWER)).key


@pytest.fixture(scope="session")
async def viewer_key(resources: Resources) -> str:
    return (await create_key(resources.pool, name="ui-viewer", role=Role.VIEWER)).key


@pytest.fixture(scope="module")
async def review_job(http: httpx.AsyncClient) -> dict[str, Any]:
    return await bill_needing_review(http, uuid.uuid4().hex[:10])


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    """Fetch the login form (for its nonce cookie and token) and post the key."""
    form = await client.get("/ui/login")
    token = CSRF_RE.search(form.text)
    assert token is not None, form.text
    return await client.post("/ui/login", data={"key": key, "csrf_token": token[1], "next": "/ui/reviews"})


def csrf_of(page: httpx.Response) -> str:
    token = CSRF_RE.search(page.text)
    assert token is not None, page.text
    return token[1]


@pytest.fixture()
async def reviewer(ui_url: str, reviewer_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client signed in as a reviewer (cookies kept, redirects not followed)."""
    async with httpx.AsyncClient(base_url=ui_url, timeout=90) as client:
        response = await sign_in(client, reviewer_key)
        assert response.status_code == 303, response.text
        yield client
