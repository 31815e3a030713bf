"""A reviewer's API key (its identity is what the audit trail must show) and a task queue per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client

from api.auth import CreatedKey, Role, create_key
from shared.settings import Settings
from tests.review.support import OwnQueue
from worker.resources import Resources


@pytest.fixture(scope="session")
async def reviewer(resources: Resources) -> CreatedKey:
    return await create_key(resources.pool, name=f"review-tests-{uuid.uuid4().hex[:6]}", role=Role.REVIEWER)


@pytest.fixture(scope="session")
async def reviewer_http(api_url: str, reviewer: CreatedKey) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client authenticated with the reviewer key."""
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {reviewer.key}"}, timeout=60
    ) as c:
        yield c


@pytest.fixture(scope="session")
def reviewer_identity(reviewer: CreatedKey) -> str:
    """How the API names this key in audit trails (``Principal.identity``)."""
    return f"{reviewer.name} (key {reviewer.id})"


@pytest.fixture()
def queue() -> str:
    return f"review-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def own_queue(
    queue: str, http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings, unique: str
) -> OwnQueue:
    """What a test's own worker and upload need, so its arrange step is one ``async with``."""
    return OwnQueue(http=http, client=client, resources=resources, app_settings=app_settings, name=queue, unique=unique)
