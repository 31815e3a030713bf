"""The codec server the Temporal Web UI calls: admins decrypt real history payloads, nobody else does.

Requests are shaped like the Web UI's (``POST {endpoint}/decode`` with ``Content-Type``,
``X-Namespace`` and, with "pass access token", ``Authorization: Bearer``) and sent from its origin.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from api.auth import Role
from api.main import create_app
from shared.codec import ENCODING, KEY_ID_METADATA
from shared.settings import Settings
from tests.security.conftest import caller
from tests.security.test_encrypted_history import (
    ACCOUNT_NUMBER,
    CUSTOMER_NAME,
    ingest_sensitive_bill,
    raw_history,
)

UI_ORIGIN = "http://localhost:8233"
OTHER_ORIGIN = "https://evil.example"
UI_HEADERS = {"Content-Type": "application/json", "X-Namespace": "default"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plaintext(payload: dict[str, Any]) -> str:
    """The ``data`` of a protobuf-JSON payload, as text."""
    return base64.b64decode(payload.get("data", "")).decode()


def encoding(payload: dict[str, Any]) -> str:
    return base64.b64decode(payload["metadata"]["encoding"]).decode()


@pytest.fixture(scope="module")
async def history_body(http: httpx.AsyncClient, client: Client) -> AsyncIterator[dict[str, Any]]:
    """Protobuf-JSON ``Payloads`` of every activity input and result of a finished job, straight from history."""
    job = await ingest_sensitive_bill(http)
    payloads: list[Payload] = []
    for event in await raw_history(client, job["workflow_id"]):
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            payloads += event.activity_task_scheduled_event_attributes.input.payloads
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            payloads += event.activity_task_completed_event_attributes.result.payloads
    body = {"payloads": [json_format.MessageToDict(p) for p in payloads]}
    assert {encoding(p) for p in body["payloads"]} == {ENCODING.decode()}
    assert ACCOUNT_NUMBER not in json.dumps(body)
    yield body


async def test_admin_decodes_history_payloads_to_the_bill(
    api_url: str, admin_key: str, history_body: dict[str, Any]
) -> None:
    async with caller(api_url, admin_key) as admin:
        response = await admin.post("/codec/decode", json=history_body, headers={**UI_HEADERS, "Origin": UI_ORIGIN})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    decoded = response.json()["payloads"]
    assert len(decoded) == len(history_body["payloads"])
    assert {encoding(p) for p in decoded} <= {"json/plain", "binary/null"}, "only converter encodings, no ciphertext"
    texts = [plaintext(p) for p in decoded if encoding(p) == "json/plain"]
    bills = [json.loads(text) for text in texts if CUSTOMER_NAME in text]
    assert bills, "the extracted bill is among the decoded payloads"
    assert any(ACCOUNT_NUMBER in json.dumps(bill) for bill in bills), "with its full account number"


async def test_encode_then_decode_round_trips(http: httpx.AsyncClient) -> None:
    original = {"metadata": {"encoding": b64(b"json/plain")}, "data": b64(json.dumps({"n": ACCOUNT_NUMBER}).encode())}
    encoded = await http.post("/codec/encode", json={"payloads": [original]})
    assert encoded.status_code == 200, encoded.text
    [sealed] = encoded.json()["payloads"]
    assert encoding(sealed) == ENCODING.decode()
    assert ACCOUNT_NUMBER.encode() not in base64.b64decode(sealed["data"])

    decoded = await http.post("/codec/decode", json=encoded.json())
    assert decoded.status_code == 200, decoded.text
    assert decoded.json()["payloads"] == [original]


@pytest.mark.parametrize("path", ["/codec/decode", "/codec/encode"])
@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN], ids=str)
async def test_other_roles_are_forbidden(
    api_url: str, role_keys: dict[Role, str], history_body: dict[str, Any], role: Role, path: str
) -> None:
    async with caller(api_url, role_keys[role]) as other:
        response = await other.post(path, json=history_body, headers=UI_HEADERS)
    assert response.status_code == 403, response.text
    assert CUSTOMER_NAME not in response.text


@pytest.mark.parametrize("path", ["/codec/decode", "/codec/encode"])
async def test_no_key_is_unauthorized(anon_http: httpx.AsyncClient, history_body: dict[str, Any], path: str) -> None:
    """Also what the Web UI sends by default (no "pass access token"): it shows the payloads undecoded."""
    response = await anon_http.post(path, json=history_body, headers={**UI_HEADERS, "Origin": UI_ORIGIN})
    assert response.status_code == 401, response.text
    assert CUSTOMER_NAME not in response.text


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }


async def test_preflight_from_the_web_ui_is_allowed(anon_http: httpx.AsyncClient, app_settings: Settings) -> None:
    assert UI_ORIGIN in app_settings.cors_origins, "the default allows the local Web UI"
    response = await anon_http.options("/codec/decode", headers=preflight(UI_ORIGIN))
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-namespace"} <= allowed


async def test_other_origins_are_refused(anon_http: httpx.AsyncClient, admin_key: str) -> None:
    response = await anon_http.options("/codec/decode", headers=preflight(OTHER_ORIGIN))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers

    # Even a request that skips the preflight gets no CORS grant: the browser will not hand it the body.
    actual = await anon_http.post(
        "/codec/decode",
        json={"payloads": []},
        headers={**UI_HEADERS, "Origin": OTHER_ORIGIN, "Authorization": f"Bearer {admin_key}"},
    )
    assert "access-control-allow-origin" not in actual.headers


@pytest.mark.parametrize("unsafe", ["*", "null"])
async def test_an_origin_that_lets_every_site_in_is_refused(app_settings: Settings, unsafe: str) -> None:
    """With credentials allowed, Starlette answers ``*`` by echoing any caller's origin (and ``null`` is any
    sandboxed page's): every site an operator visits behind the SSO proxy could read decrypted payloads."""
    settings = app_settings.model_copy(update={"cors_origins": [UI_ORIGIN, unsafe]})

    with pytest.raises(ValueError, match=f"CORS_ORIGINS may not contain '{unsafe}'") as refused:
        create_app(settings)
    assert "list the origins of the Temporal Web UI" in str(refused.value)


def undecryptable(kid: str) -> dict[str, Any]:
    """A payload that claims to be ours but cannot be opened: tampered, or sealed with a retired key."""
    return {"metadata": {"encoding": b64(ENCODING), KEY_ID_METADATA: b64(kid.encode())}, "data": b64(b"x" * 40)}


@pytest.mark.parametrize(
    "body",
    [
        {"payloads": [undecryptable("test1")]},
        {"payloads": [undecryptable("retired-2024")]},
        {"payloads": "not a list"},
    ],
    ids=["tampered", "unknown-key", "malformed"],
)
async def test_undecodable_requests_are_client_errors(http: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """Today each is a 500 with two ERROR tracebacks in the logs; the Web UI then shows raw payloads."""
    response = await http.post("/codec/decode", json=body)
    assert response.status_code in {400, 422}, response.text


@pytest.mark.parametrize("path", ["/ui/reviews", "/jobs", "/reviews"])
async def test_only_the_codec_is_open_to_the_web_uis_origin(
    anon_http: httpx.AsyncClient, api_url: str, admin_key: str, path: str
) -> None:
    """With credentials allowed everywhere, a page on the Web UI's origin could read review pages (and
    their CSRF tokens) and raw bills with a reviewer's session cookie: SameSite ignores ports."""
    preflight_answer = await anon_http.options(
        path, headers=preflight(UI_ORIGIN) | {"Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight_answer.headers
    async with caller(api_url, admin_key) as admin:
        response = await admin.get(path, headers={"Origin": UI_ORIGIN})
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers
