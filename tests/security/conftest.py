"""Keys for every role, and HTTP clients that present them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from api.auth import Role, create_key
from worker.resources import Resources


@asynccontextmanager
async def caller(api_url: str, key: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client presenting ``key`` as a bearer token (no key at all when None)."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
async def role_keys(resources: Resources) -> dict[Role, str]:
    """One unscoped key per role (sees every customer)."""
    return {role: (await create_key(resources.pool, name=f"security-{role}", role=role)).key for role in Role}
