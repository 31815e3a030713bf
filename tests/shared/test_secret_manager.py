"""Settings read missing secrets from Secret Manager (a local fake of its REST API); env wins."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
from pydantic import ValidationError

from shared.settings import Settings, refusal
from tests.fakes.local_server import LocalFake
from tests.helpers import run_entry_point

SECRETS = {"minimeter-database-url": "postgresql://sm@db/app", "minimeter-gemini-api-key": "from-secret-manager"}


class _FakeSecretManager(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        # /v1/projects/{project}/secrets/{name}/versions/latest:access
        parts = self.path.split("/")
        name = parts[5] if len(parts) > 5 else ""
        if parts[3] != "proj-1" or name not in SECRETS:
            self.send_response(404)
            body = json.dumps({"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}).encode()
        else:
            self.send_response(200)
            data = base64.b64encode(SECRETS[name].encode()).decode()
            body = json.dumps({"name": self.path, "payload": {"data": data}}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def fake_secret_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    with LocalFake(_FakeSecretManager, name="fake-secret-manager") as server:
        _FakeSecretManager.requests = []
        monkeypatch.setenv("SECRET_MANAGER_PROJECT", "proj-1")
        monkeypatch.setenv("SECRET_MANAGER_ENDPOINT", server.url)
        for name in ("DATABASE_URL", "GEMINI_API_KEY", "PAYLOAD_KEYS", "TEMPORAL_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        yield _FakeSecretManager.requests


def test_missing_secrets_come_from_secret_manager(fake_secret_manager: list[str]) -> None:
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://sm@db/app"
    assert settings.gemini_configured
    assert settings.payload_keys is None  # not in Secret Manager: stays unset
    assert any("minimeter-payload-keys" in path for path in fake_secret_manager)


def test_a_refused_start_asks_secret_manager_once(
    fake_secret_manager: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Naming the cross checks beside a value refused alone read every setting again, Secret Manager's too: each
    secret fetched twice on a start already failing (a review of session 70's change, 70C). The checks reading a
    secret are then left unjudged, the others still named."""
    for name, value in {"ENV": "production", "LOG_LEVEL": "verbose", "DB_POOL_MIN": "30"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    asked = list(fake_secret_manager)
    assert refusal(error.value).split("; ")[1:] == [
        "DB_POOL_MIN (30) must not exceed DB_POOL_MAX (20)",
        "GCS_BUCKET must be set to a bucket of your own (bucket names are global) when ENV=production, not the default",
        "GCP_PROJECT must be set to a project of your own (of GCS_BUCKET and BQ_DATASET) when ENV=production, not the"
        " default",
    ]
    assert fake_secret_manager == asked and len(asked) == 4, "each secret asked for once"


def test_environment_wins_and_is_not_looked_up(fake_secret_manager: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://env@db/app")
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://env@db/app"
    assert not any("database-url" in path for path in fake_secret_manager)


def test_an_empty_variable_is_no_value_and_secret_manager_is_asked(
    fake_secret_manager: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GEMINI_API_KEY=`` left as a placeholder in a compose file must not hide the stored key
    (EXTRACTOR=auto would quietly run without Gemini)."""
    monkeypatch.setenv("GEMINI_API_KEY", "")
    settings = Settings()
    assert settings.gemini_api_key is not None
    assert settings.gemini_api_key.get_secret_value() == "from-secret-manager"


@pytest.mark.parametrize("blank", [" ", "\n"])
def test_a_blank_variable_is_no_value_and_secret_manager_is_asked(
    fake_secret_manager: list[str], monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    """A blank one hid the stored key as an empty one did, and counted as a key: every untrusted bill went
    to Gemini with it, to fail after 30 minutes of retries."""
    monkeypatch.setenv("GEMINI_API_KEY", blank)
    settings = Settings()
    assert settings.gemini_api_key is not None
    assert settings.gemini_api_key.get_secret_value() == "from-secret-manager"


def test_a_blank_stored_secret_is_unset(fake_secret_manager: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored as ``echo | gcloud secrets create``'s lone newline, it was an empty DATABASE_URL that production took as
    set (asyncpg then dialled its defaults) and an empty key."""
    monkeypatch.setitem(SECRETS, "minimeter-database-url", "\n")
    monkeypatch.setitem(SECRETS, "minimeter-gemini-api-key", " \r\n")
    settings = Settings()
    assert settings.database_url is None and settings.gemini_api_key is None


def test_an_empty_prefix_is_the_default_prefix(fake_secret_manager: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_MANAGER_PREFIX", "")
    Settings()
    assert any("/secrets/minimeter-database-url/" in path for path in fake_secret_manager), fake_secret_manager


def test_nothing_is_asked_without_a_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_MANAGER_PROJECT", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Settings().database_url is None


def test_its_variables_are_read_in_any_case_like_every_setting(
    fake_secret_manager: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = os.environ["SECRET_MANAGER_ENDPOINT"]
    for name in ("SECRET_MANAGER_PROJECT", "SECRET_MANAGER_ENDPOINT"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("secret_manager_project", "proj-1")
    monkeypatch.setenv("Secret_Manager_Endpoint", endpoint)
    monkeypatch.setenv("database_url", "postgresql://env@db/app")  # set, in lower case: not looked up
    settings = Settings()
    assert settings.gemini_api_key is not None and settings.gemini_api_key.get_secret_value() == "from-secret-manager"
    assert not any("database-url" in path for path in fake_secret_manager)


def test_a_stored_trailing_newline_is_dropped(fake_secret_manager: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``echo … | gcloud secrets create --data-file=-`` stores the newline: in a URL or a key it broke the value."""
    monkeypatch.setitem(SECRETS, "minimeter-database-url", "postgresql://sm@db/app\n")
    monkeypatch.setitem(SECRETS, "minimeter-gemini-api-key", "from-secret-manager\r\n")
    settings = Settings()
    assert settings.database_url is not None and settings.database_url.get_secret_value() == "postgresql://sm@db/app"
    assert settings.gemini_api_key is not None and settings.gemini_api_key.get_secret_value() == "from-secret-manager"


class _RefusingSecretManager(BaseHTTPRequestHandler):
    """Secret Manager to an identity without ``roles/secretmanager.secretAccessor``."""

    def do_GET(self) -> None:
        body = json.dumps({"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}})
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_a_refused_read_stops_the_process_in_one_line_naming_the_secret() -> None:
    """A missing role is the usual first-deploy failure: it was a gRPC traceback through pydantic-settings."""
    with LocalFake(_RefusingSecretManager, name="refusing-secret-manager") as server:
        done = run_entry_point("worker", SECRET_MANAGER_PROJECT="proj-1", SECRET_MANAGER_ENDPOINT=server.url)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(
        "minimeter: refused configuration: SECRET_MANAGER_PROJECT: could not read "
        "projects/proj-1/secrets/minimeter-database-url/versions/latest (Forbidden: 403 "
    )


def test_production_refusing_a_secret_names_where_secret_manager_was_asked(
    fake_secret_manager: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret under another prefix was refused as "DATABASE_URL must be set when ENV=production", saying nothing of
    the secret looked up in Secret Manager (74B)."""
    for name, value in {
        "ENV": "production",
        "SECRET_MANAGER_PREFIX": "other-",
        "GCS_BUCKET": "b-74",
        "GCP_PROJECT": "p-74",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    said = refusal(error.value)
    assert (
        "DATABASE_URL must be set when ENV=production (nor in Secret Manager: projects/proj-1/secrets/"
        "other-database-url)" in said
    ), said
    assert "PAYLOAD_KEYS must be set when ENV=production (nor in Secret Manager: projects/proj-1/secrets/" in said
