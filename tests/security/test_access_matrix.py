"""Every route of the app against every role: allowed means not 401/403, forbidden means exactly 403."""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import urlsplit

import httpx
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, Route

from api.auth import Role
from api.main import create_app
from shared.settings import Settings
from tests.security.access import EXPECTED, PUBLIC, ROLES, SKIPPED_PREFIXES, expected_cell, markdown
from tests.security.conftest import caller

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def app_endpoints(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) for every route the app serves, /ui excluded; mounts elsewhere are listed as ``*``.

    FastAPI nests included routers (``_IncludedRouter``); they are walked through their
    ``original_router`` so routes hidden from the OpenAPI schema are found too.
    """
    found: set[tuple[str, str]] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context_prefix = getattr(getattr(route, "include_context", None), "prefix", "")
            found |= app_endpoints(included.routes, prefix + context_prefix)
            continue
        path = prefix + getattr(route, "path", "")
        if path.startswith(SKIPPED_PREFIXES):
            continue
        if isinstance(route, Route):
            found |= {(m, path) for m in (route.methods or {"GET"}) - IGNORED_METHODS}
        elif isinstance(route, Mount):
            found.add(("*", path))
        else:
            found.add(("?", f"{path} ({type(route).__name__})"))
    return found


def concrete(path: str) -> str:
    """A path with its parameters filled: ids that pass validation but name nothing."""
    return re.sub(r"\{(\w+)\}", lambda m: str(uuid.uuid4()) if m.group(1) == "job_id" else "999999999", path)


async def request(client: httpx.AsyncClient, method: str, path: str) -> int:
    body: dict[str, object] | None = {} if method in {"POST", "PATCH"} else None
    return (await client.request(method, concrete(path), json=body)).status_code


async def test_expectation_table_covers_every_endpoint(app_settings: Settings, http: httpx.AsyncClient) -> None:
    served = app_endpoints(create_app(app_settings).routes)
    documented = {
        (method.upper(), path)
        for path, item in (await http.get("/openapi.json")).json()["paths"].items()
        for method in item
        if not path.startswith(SKIPPED_PREFIXES) and method.upper() not in IGNORED_METHODS
    }
    assert documented <= served, f"documented but not served: {sorted(documented - served)}"
    missing = served - EXPECTED.keys()
    assert not missing, f"add these endpoints to tests/security/access.py EXPECTED: {sorted(missing)}"
    stale = EXPECTED.keys() - served
    assert not stale, f"EXPECTED names endpoints the app no longer serves: {sorted(stale)}"


async def test_the_schema_lists_the_errors_each_endpoint_can_give(http: httpx.AsyncClient) -> None:
    """A key's answers (401/403) only where a key is needed, 429 only where a rate limit applies."""
    paths = (await http.get("/openapi.json")).json()["paths"]

    def codes(method: str, path: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert not codes("get", "/health") & {"401", "403", "429"}
    assert {"401", "403"} <= codes("get", "/jobs") and "429" not in codes("get", "/jobs")
    assert "429" not in codes("get", "/customers/{customer_id}/dashboard")
    for method, path in (("post", "/jobs"), ("post", "/bills"), ("post", "/agent/run"), ("post", "/ingest/run")):
        assert {"401", "403", "429"} <= codes(method, path), (method, path)
    rate_limited = {
        (method.upper(), path)
        for path, item in paths.items()
        for method, operation in item.items()
        if "429" in operation.get("responses", {})
    }
    assert rate_limited == {("POST", "/jobs"), ("POST", "/bills"), ("POST", "/agent/run"), ("POST", "/ingest/run")}


async def test_the_schema_names_the_keys_headers_where_a_key_is_needed(http: httpx.AsyncClient) -> None:
    """No dependency declares the key's headers (the role checks read them), so the document is written apart
    from them: it must still offer both ways to send a key, on every operation a key is needed for."""
    schema = (await http.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"] == {
        "HTTPBearer": {"type": "http", "scheme": "bearer", "description": "API key as `Authorization: Bearer <key>`"},
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "API key"},
    }
    either_header: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    wrong = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            needs_a_key = EXPECTED[(method.upper(), path)] is not PUBLIC
            expected = either_header if needs_a_key else None
            if operation.get("security") != expected:
                wrong.append(f"{method.upper()} {path}: {operation.get('security')}")
    assert not wrong, "security documented wrongly:\n" + "\n".join(wrong)


async def test_role_endpoint_matrix(api_url: str, role_keys: dict[Role, str]) -> None:
    observed: dict[tuple[str, str], dict[Role | None, str]] = {endpoint: {} for endpoint in EXPECTED}
    wrong: list[str] = []
    for role in [*ROLES, None]:
        async with caller(api_url, role_keys[role] if role else None) as client:
            for (method, path), allowed in EXPECTED.items():
                status = await request(client, method, path)
                observed[(method, path)][role] = str(status)
                if expected_cell(allowed, role):
                    ok = status not in {401, 403}
                else:
                    ok = status == (401 if role is None else 403)
                if not ok:
                    wrong.append(f"{method} {path} as {role or 'anonymous'}: {status}")
    print("\n" + markdown(observed))
    assert not wrong, "access matrix violated:\n" + "\n".join(wrong)


async def test_public_endpoints_need_no_key(anon_http: httpx.AsyncClient) -> None:
    for (method, path), allowed in EXPECTED.items():
        if allowed is PUBLIC:
            response = await anon_http.request(method, path)
            assert response.status_code < 400 or (path == "/health" and response.status_code == 503), (method, path)
    probe = await anon_http.head("/health")  # load balancers and uptime checks probe with HEAD
    assert probe.status_code in {200, 503} and probe.content == b""


def routes_reading_a_body(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path) for every route that reads a request body, /ui excluded (its forms sign in)."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found |= routes_reading_a_body(included.routes)
        elif (
            isinstance(route, APIRoute) and route.body_field is not None and not route.path.startswith(SKIPPED_PREFIXES)
        ):
            found |= {(method, route.path) for method in route.methods or ()}
    return found


async def first_answer_to_a_body_not_yet_sent(api_url: str, key: str, method: str, path: str, *, declared: int) -> int:
    """The status of the server's first answer to a request that declares a body and waits for ``100 Continue``.

    The server says ``100 Continue`` only when the app first asks for the body, so a final status
    here proves the request was answered without reading one byte of it.
    """
    url = urlsplit(api_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    content_type = "multipart/form-data; boundary=x" if path == "/bills" else "application/json"
    try:
        writer.write(
            (
                f"{method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {declared}\r\nExpect: 100-continue\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=60)  # a bound on a hang, not a timing
    finally:
        writer.close()
    return int(head.split(b" ", 2)[1])


async def test_a_refused_role_gets_403_before_the_body_is_read(
    app_settings: Settings, api_url: str, role_keys: dict[Role, str]
) -> None:
    """A viewer's 20 MB upload is refused on its headers: the API never asks for the body (no 100 Continue)."""
    with_body = routes_reading_a_body(create_app(app_settings).routes)
    assert ("POST", "/bills") in with_body and ("POST", "/customers") in with_body
    wrong: list[str] = []
    for method, path in sorted(with_body):
        declared = app_settings.upload_max_bytes if path == "/bills" else app_settings.request_max_bytes
        for role in set(Role) - EXPECTED[(method, path)]:
            status = await first_answer_to_a_body_not_yet_sent(
                api_url, role_keys[role], method, concrete(path), declared=declared
            )
            if status != 403:
                wrong.append(f"{method} {path} as {role}: {status}{' (body requested)' if status == 100 else ''}")
    assert not wrong, "the body was read before the role check:\n" + "\n".join(wrong)
