"""Errors are RFC 9457 problem details: the documented members, no stack traces, no SQL."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from api.auth import Role
from api.docs_page import SWAGGER_CSS, SWAGGER_CSS_HASH, SWAGGER_JS, SWAGGER_JS_HASH
from api.problems import ProblemCode, problem_response
from api.uploads import BodySizeLimit
from tests.security.conftest import caller

LEAKS = ("Traceback", 'File "', "asyncpg", "SELECT ", "INSERT ", "psycopg", "sqlstate", "/work/", "site-packages")


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """A problem of ``status``, whose ``code`` is one ``ProblemCode`` documents (``code`` itself, where given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "code", "detail"} <= body.keys(), body
    assert body["status"] == status
    assert body["code"] in set(ProblemCode), body
    assert code is None or body["code"] == code, body
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["type"], str) and body["type"]
    assert body.get("instance") == response.request.url.path, "the problem names the request it answers"
    leaked = [marker for marker in LEAKS if marker.lower() in response.text.lower()]
    assert not leaked, f"{leaked} in {response.text}"
    return body


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/customers/987654321", {}),
        ("GET", "/jobs/00000000-0000-4000-8000-000000000000", {}),
        ("GET", "/jobs/not-a-uuid", {}),
        ("GET", "/no-such-route", {}),
    ],
    ids=["missing-customer", "missing-job", "malformed-job-id", "unknown-route"],
)
async def test_404(http: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, object]) -> None:
    assert_problem(await http.request(method, path, **kwargs), 404, "not_found")  # type: ignore[arg-type]


async def test_the_docs_page_runs_only_the_swagger_ui_release_it_names(anon_http: httpx.AsyncClient) -> None:
    """FastAPI's page loaded whatever ``swagger-ui-dist@5`` was that day, unchecked, where an admin pastes their key
    (a security probe): a pinned release, each file with its hash, and nothing fetched from elsewhere."""
    page = await anon_http.get("/docs")
    assert page.status_code == 200, page.text
    fetched = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert fetched == [SWAGGER_CSS, "data:,", SWAGGER_JS], fetched
    assert f'href="{SWAGGER_CSS}" integrity="{SWAGGER_CSS_HASH}" crossorigin="anonymous"' in page.text
    assert f'src="{SWAGGER_JS}" integrity="{SWAGGER_JS_HASH}" crossorigin="anonymous"' in page.text
    assert "@5.36.0/" in SWAGGER_JS and "url: '/openapi.json'" in page.text
    assert (await anon_http.get("/redoc")).status_code == 404, "FastAPI's other page, loading redoc@2 unchecked"


@pytest.mark.parametrize("path", ["/jobs/x/", "/jobs/", "/ui/reviews/"])
async def test_a_slash_too_many_is_a_404_never_a_redirect_to_the_host_sent(
    anon_http: httpx.AsyncClient, path: str
) -> None:
    """Starlette redirected "/jobs/x/" to "/jobs/x" on the request's Host header, before any key check: "Host:
    evil.example" came back as "Location: http://evil.example/jobs/x" to a cache or proxy passing it (a security
    probe)."""
    response = await anon_http.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 404 and "location" not in response.headers, response.headers


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/jobs", {"params": {"limit": "0"}}),
        ("GET", "/customers/0", {}),
        ("GET", "/customers/99999999999999999999999", {}),
        ("POST", "/customers", {"json": {"name": ""}}),
        ("POST", "/customers", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/utility-accounts", {"json": {"customer_id": 1, "account_number": "x", "unexpected": 1}}),
    ],
    ids=["query-range", "path-range", "path-overflow", "body-field", "malformed-json", "extra-field"],
)
async def test_422(http: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, object]) -> None:
    body = assert_problem(await http.request(method, path, **kwargs), 422, "invalid_request")  # type: ignore[arg-type]
    assert isinstance(body.get("errors"), list) and body["errors"], "validation problems list what was wrong"
    assert all("input" not in e for e in body["errors"]), "submitted values are not echoed back"


async def test_415(http: httpx.AsyncClient) -> None:
    refused = await http.post("/customers", content=b"{}", headers={"Content-Type": "text/plain"})
    assert_problem(refused, 415, "unsupported_media_type")


async def test_413_names_its_request_as_every_problem_does() -> None:
    """The size limit answers before the app sees the request (``api.uploads``): its problem had no ``instance``."""
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("a body over the limit reached the app")

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    limit = BodySizeLimit(app, max_bytes=10, upload_bytes=100, upload_paths=("/bills",))
    scope = {"type": "http", "method": "POST", "path": "/customers", "headers": [(b"content-length", b"11")]}
    await limit(scope, receive, send)
    start, body = sent
    assert start["status"] == 413
    assert json.loads(body["body"]) | {"detail": None} == {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "code": "content_too_large",
        "detail": None,
        "instance": "/customers",
    }
    # A route's 413 (an upload read whole over its limit) reads the same, to the byte: it was titled "Request Entity
    # Too Large" and written with other spacing (an inheriting engineer's probe, 70A).
    request = Request({"type": "http", "method": "POST", "path": "/customers", "headers": [], "query_string": b""})
    routes = problem_response(request, 413, json.loads(body["body"])["detail"], code=ProblemCode.CONTENT_TOO_LARGE)
    assert routes.body == body["body"]


async def test_401(anon_http: httpx.AsyncClient) -> None:
    assert_problem(await anon_http.get("/jobs"), 401, "api_key_missing")
    assert_problem(await anon_http.get("/jobs", headers={"Authorization": "Bearer mm_wrong"}), 401, "api_key_invalid")
    two = {"Authorization": "Bearer mm_one", "X-API-Key": "mm_two"}
    assert_problem(await anon_http.get("/jobs", headers=two), 401, "api_key_ambiguous")


async def test_403(api_url: str, role_keys: dict[Role, str]) -> None:
    async with caller(api_url, role_keys[Role.VIEWER]) as viewer:
        assert_problem(await viewer.post("/customers", json={"name": "nope"}), 403, "forbidden")
        assert_problem(await viewer.get("/secrets/check"), 403, "forbidden")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("HEAD", "/jobs", "GET, POST"),
        ("DELETE", "/jobs", "GET, POST"),
        ("DELETE", f"/reviews/{uuid.UUID(int=1)}", "GET, POST"),
        ("PUT", "/health", "GET, HEAD"),
    ],
)
async def test_405_allows_every_method_its_path_takes(
    http: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    """Starlette named only the first route matching the path: "Allow: POST" for HEAD /jobs, though GET /jobs is one."""
    refused = await http.request(method, path)
    assert refused.status_code == 405
    assert refused.headers["allow"] == allowed
    assert method == "HEAD" or refused.json()["code"] == "method_not_allowed"
