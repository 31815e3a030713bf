"""A fresh API builds its routes while starting, not on the first request that reaches each router."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.dependencies.utils import get_dependant

from api.main import create_app
from shared.settings import Settings
from tests.helpers import serve


async def test_the_first_requests_to_a_fresh_api_build_no_route(
    app_settings: Settings, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI 0.165 builds an included router's routes (each one's dependencies analysed, a validator per
    parameter) on the first request that reaches that router: ~20 ms in cProfile up to the jobs router's, on the event
    loop, so every request sent with it waited, after each start or deploy. (A FastAPI that builds them when they are
    included passes this as well: nothing is left to build on a request either.)"""
    built: list[Any] = []

    def building(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs.get("path"))
        return get_dependant(*args, **kwargs)

    app = create_app(app_settings)
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with serve(app) as url, httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
        monkeypatch.setattr("fastapi.routing.get_dependant", building)  # where the routes being built call it
        for path in ("/health", "/jobs", "/reviews"):  # routing to /reviews reaches the routers before it too
            response = await http.get(path, params={"limit": 1})
            assert response.status_code == 200, (path, response.text)
    assert built == [], f"routes built on a request: {built}"
