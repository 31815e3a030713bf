"""Secrets from Google Secret Manager, when ``SECRET_MANAGER_PROJECT`` is set.

An environment variable always wins; otherwise each secret setting is read from the
secret ``{SECRET_MANAGER_PREFIX}{name}`` (e.g. ``minimeter-database-url``), latest
version. Nothing is read, and no client is built, when the project is unset.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

logger = logging.getLogger(__name__)

SECRET_FIELDS = ("database_url", "payload_keys", "gemini_api_key", "temporal_api_key")


class SecretManagerConfig(BaseSettings):
    """Where the secrets are: read from ``SECRET_MANAGER_*`` like every other setting (any case, empty = unset)."""

    model_config = SettingsConfigDict(env_prefix="SECRET_MANAGER_", case_sensitive=False, env_ignore_empty=True)
    project: str | None = None
    prefix: str = "minimeter-"
    endpoint: str | None = None
    """Another API endpoint (a private one, or a local fake in tests): anonymous credentials, REST."""


def secret_name(field: str, prefix: str) -> str:
    return prefix + field.replace("_", "-")


class SecretManagerSource(PydanticBaseSettingsSource):
    """A settings source that asks Secret Manager for the secret fields the environment lacks."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        config = SecretManagerConfig()
        self._project, self._prefix, self._endpoint = config.project, config.prefix, config.endpoint
        self._built: Any = None

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if not self._project:
            return {}
        # An empty or blank variable is no value (the settings ignore it too): a compose file's placeholder
        # ``GEMINI_API_KEY=`` (or ``GEMINI_API_KEY= ``) must not hide the key stored here.
        present = {name.lower() for name, value in os.environ.items() if value.strip()}
        missing = [f for f in SECRET_FIELDS if f not in present]
        if not missing:
            return {}
        from google.api_core.exceptions import GoogleAPIError, NotFound
        from google.auth.exceptions import GoogleAuthError
        from google.cloud import secretmanager
        from requests import RequestException  # the REST transport's (SECRET_MANAGER_ENDPOINT) connection errors

        found: dict[str, Any] = {}
        for field in missing:
            name = f"projects/{self._project}/secrets/{secret_name(field, self._prefix)}/versions/latest"
            try:
                response = self._client(secretmanager).access_secret_version(name=name, timeout=10)
            except NotFound:
                continue
            except (GoogleAPIError, GoogleAuthError, RequestException) as error:
                # A missing role (403) or no credentials at all is the usual first-deploy failure: say which
                # secret was being read, in one line (``settings_or_exit``), not in a gRPC traceback.
                why = " ".join(f"{type(error).__name__}: {error}".split())
                raise SettingsError(f"SECRET_MANAGER_PROJECT: could not read {name} ({why})") from None
            # `echo … | gcloud secrets create --data-file=-` stores a trailing newline: in a URL or a key
            # it is a character like any other, and no secret here has meaningful outer whitespace.
            value = response.payload.data.decode().strip()
            if not value:  # a blank secret is unset, as an absent one is: not an empty DATABASE_URL or key
                continue
            found[field] = value
            logger.info("secret loaded from Secret Manager", extra={"setting": field})
        return found

    def _client(self, secretmanager: Any) -> Any:
        """Built once, on first use: building it looks up credentials, which can fail (no ADC) like a read."""
        if self._built is None:
            self._built = self._new_client(secretmanager)
        return self._built

    def _new_client(self, secretmanager: Any) -> Any:
        if self._endpoint is None:
            return secretmanager.SecretManagerServiceClient()
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return secretmanager.SecretManagerServiceClient(
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            transport="rest",
            client_options=ClientOptions(api_endpoint=self._endpoint),
        )
