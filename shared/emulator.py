"""Pointing a Google Cloud client at a local emulator (fake-gcs-server, bqemulator)."""

from __future__ import annotations

from typing import Any

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials


def emulator_endpoint(host: str | None) -> str | None:
    """The emulator URL for a ``*_EMULATOR_HOST`` setting (``http://`` added when bare), or None."""
    if host is None:
        return None
    return host if "://" in host else f"http://{host}"


def emulator_client_options(endpoint: str) -> dict[str, Any]:
    """Client keyword arguments for ``endpoint``: anonymous credentials and an explicit API
    endpoint, so no global ``*_EMULATOR_HOST`` variable is needed."""
    return {
        "credentials": AnonymousCredentials(),  # type: ignore[no-untyped-call]
        "client_options": ClientOptions(api_endpoint=endpoint),
    }
