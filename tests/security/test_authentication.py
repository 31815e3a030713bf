"""401 for a missing, unknown or revoked key, whichever header carries it."""

from __future__ import annotations

from functools import partial

import httpx
import pytest

from api.auth import Role, create_key, revoke_key
from api.main import create_app
from shared.settings import Settings
from tests.helpers import answered_once_the_key_is_forgotten, serve
from worker.resources import Resources

PROTECTED = "/jobs"


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer mm_not-a-real-key"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"X-API-Key": ""},
        {"X-API-Key": "mm_not-a-real-key"},
        {"Authorization": "Bearer ' OR '1'='1"},
    ],
    ids=["none", "empty-bearer", "unknown-bearer", "basic-auth", "empty-header", "unknown-header", "injection"],
)
async def test_missing_or_unknown_key_is_401(anon_http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    assert_unauthorized(await anon_http.get(PROTECTED, headers=headers))


async def test_revoked_key_is_401_in_either_header(
    anon_http: httpx.AsyncClient, resources: Resources, app_settings: Settings
) -> None:
    created = await create_key(resources.pool, name="soon-revoked", role=Role.VIEWER)
    bearer = {"Authorization": f"Bearer {created.key}"}
    header = {"X-API-Key": created.key}
    assert (await anon_http.get(PROTECTED, headers=bearer)).status_code == 200
    assert (await anon_http.get(PROTECTED, headers=header)).status_code == 200

    assert await revoke_key(resources.pool, created.id)
    assert not await revoke_key(resources.pool, created.id), "a second revoke reports nothing to revoke"

    for headers in (bearer, header):
        refused = await answered_once_the_key_is_forgotten(
            partial(anon_http.get, PROTECTED, headers=headers), 401, app_settings
        )
        assert_unauthorized(refused)


async def test_each_process_trusts_a_key_it_found_for_api_key_cache_seconds(
    app_settings: Settings, resources: Resources
) -> None:
    """A start's key lookup was one of its two statements, 14% of the API's CPU a start: each process now trusts a
    key it found for ``API_KEY_CACHE_SECONDS`` (session 70; at most 10). 0 asks Postgres every time: refused at once."""
    for seconds, after_revoking in ((10.0, 200), (0.0, 401)):
        created = await create_key(resources.pool, name=f"cached-{seconds:g}", role=Role.VIEWER)
        bearer = {"Authorization": f"Bearer {created.key}"}
        app = create_app(app_settings.model_copy(update={"api_key_cache_seconds": seconds}))
        async with serve(app) as url, httpx.AsyncClient(base_url=url, headers=bearer, timeout=60) as c:
            assert (await c.get(PROTECTED)).status_code == 200
            assert await revoke_key(resources.pool, created.id)
            assert (await c.get(PROTECTED)).status_code == after_revoking, seconds


async def test_hash_of_a_key_is_not_a_key(anon_http: httpx.AsyncClient, resources: Resources) -> None:
    """What the database stores (SHA-256 and prefix) must not authenticate if it leaks."""
    created = await create_key(resources.pool, name="hash-leak", role=Role.ADMIN)
    row = await resources.pool.fetchrow("SELECT key_hash, prefix FROM api_keys WHERE id = $1", created.id)
    for stored in (row["key_hash"], row["prefix"]):
        assert_unauthorized(await anon_http.get(PROTECTED, headers={"Authorization": f"Bearer {stored}"}))


@pytest.mark.parametrize("query", ["account=5", "limit=1&limit=2"], ids=["unknown", "repeated"])
async def test_a_query_is_not_judged_before_the_key_is_checked(
    anon_http: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, query: str
) -> None:
    """A keyless caller got a 422 listing the parameters the route takes, where every other request of theirs gets a
    401 (75A); a key of the wrong role its 403, and the right key the 422."""
    assert_unauthorized(await anon_http.get(f"/reviews?{query}"))
    viewer = await create_key(resources.pool, name="query-viewer", role=Role.VIEWER)
    wrong_role = await anon_http.get(f"/reviews?{query}", headers={"X-API-Key": viewer.key})
    assert wrong_role.status_code == 403, wrong_role.text
    assert (await http.get(f"/reviews?{query}")).status_code == 422


@pytest.mark.parametrize("path", ["/codec/decode", "/codec/encode", "/jobs", "/customers", "/bills"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer mm_not-a-real-key"}], ids=["none", "unknown"])
async def test_a_body_is_not_read_before_the_key_is_checked(
    anon_http: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    """FastAPI parses a body before a route's dependencies: unchecked, a keyless caller could have
    the API parse 20 MB of JSON. Malformed JSON shows the order: 401, not the parser's 422."""
    assert_unauthorized(
        await anon_http.post(
            path, content=b'{"payloads": [{}, {}, ', headers={**headers, "Content-Type": "application/json"}
        )
    )


async def test_two_different_keys_in_one_request_are_401(anon_http: httpx.AsyncClient, resources: Resources) -> None:
    """The Bearer key alone was used: a viewer's X-API-Key beside an admin's Bearer key acted as the admin, and a
    wrong one beside a right one went unnoticed. The same key in both is one key."""
    admin = await create_key(resources.pool, name="two-keys-admin", role=Role.ADMIN)
    viewer = await create_key(resources.pool, name="two-keys-viewer", role=Role.VIEWER)
    for second in (viewer.key, "mm_not-a-real-key"):
        both = {"Authorization": f"Bearer {admin.key}", "X-API-Key": second}
        refused = await anon_http.get(PROTECTED, headers=both)
        assert_unauthorized(refused)
        assert "one API key" in refused.json()["detail"]
    same = {"Authorization": f"Bearer {viewer.key}", "X-API-Key": viewer.key}
    assert (await anon_http.get(PROTECTED, headers=same)).status_code == 200


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
async def test_a_key_header_repeated_with_another_key_is_401(
    anon_http: httpx.AsyncClient, resources: Resources, header: str
) -> None:
    """Only the first of a repeated header was read: an admin's key before a viewer's acted as the admin, the other
    way round as the viewer. The same key twice is one key."""
    admin = await create_key(resources.pool, name=f"repeated-{header}-admin", role=Role.ADMIN)
    viewer = await create_key(resources.pool, name=f"repeated-{header}-viewer", role=Role.VIEWER)
    prefix = "Bearer " if header == "Authorization" else ""
    for first, second in ((admin.key, viewer.key), (viewer.key, admin.key)):
        refused = await anon_http.get(PROTECTED, headers=[(header, prefix + first), (header, prefix + second)])
        assert_unauthorized(refused)
        assert "one API key" in refused.json()["detail"]
    twice = [(header, prefix + viewer.key), (header, prefix + viewer.key)]
    assert (await anon_http.get(PROTECTED, headers=twice)).status_code == 200
