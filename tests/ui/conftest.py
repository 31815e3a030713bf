"""The app with the review UI served over real HTTP, a bill waiting for review, signed-in clients."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.worker import Worker

from api.auth import Role, create_key
from api.main import create_app
from shared.settings import Settings
from stack.services import free_port
from tests.helpers import TERMINAL, account_digits, bill_needing_review, bill_text, create_account, wait_for_status  # noqa: F401
from worker.resources import Resources

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def ui_wired(app: Any) -> bool:
    return any(getattr(route, "path", None) == "/ui/login" for route in app.routes)


@pytest.fixture(scope="session")
async def ui_url(api_url: str, app_settings: Settings, worker: Worker) -> AsyncIterator[str]:
    """The session's API when main.py already wires the UI; otherwise the same app with it added."""
    async with httpx.AsyncClient(base_url=api_url) as probe:
        if (await probe.get("/ui/login")).status_code == 200:
            yield api_url
            return
    from api import ui

    app = create_app(app_settings)
    if not ui_wired(app):
        app.include_router(ui.router)
        app.add_middleware(ui.UISessionMiddleware)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
        if task.done():
            task.result()
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


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
