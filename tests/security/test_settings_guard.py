"""Unsafe settings are refused in production: AUTH_DISABLED never reaches a production process."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from shared.settings import Environment, Settings

SAFE_PRODUCTION: dict[str, Any] = {
    "database_url": SecretStr("postgresql://minimeter@db/minimeter"),
    "payload_keys": SecretStr("k1:" + base64.b64encode(b"\x01" * 32).decode()),
    "gcs_bucket": "acme-raw-bills",  # production refuses the placeholder bucket and project
    "gcp_project": "acme",
}


def test_auth_disabled_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="AUTH_DISABLED"):
        Settings(env=Environment.PRODUCTION, auth_disabled=True, **SAFE_PRODUCTION)


def test_auth_disabled_is_refused_in_production_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("AUTH_DISABLED", "true")
    monkeypatch.setenv("DATABASE_URL", SAFE_PRODUCTION["database_url"].get_secret_value())
    monkeypatch.setenv("PAYLOAD_KEYS", SAFE_PRODUCTION["payload_keys"].get_secret_value())
    with pytest.raises(ValidationError, match="AUTH_DISABLED"):
        Settings()


def test_same_settings_without_auth_disabled_are_accepted() -> None:
    """The control: it is AUTH_DISABLED that is refused, not the production settings themselves."""
    assert Settings(env=Environment.PRODUCTION, auth_disabled=False, **SAFE_PRODUCTION).auth_disabled is False


@pytest.mark.parametrize("env", [Environment.DEVELOPMENT, Environment.TEST])
def test_auth_disabled_is_allowed_outside_production(env: Environment) -> None:
    assert Settings(env=env, auth_disabled=True).auth_disabled is True
