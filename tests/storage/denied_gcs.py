"""A local GCS that grants a token but refuses every storage call: an identity without a role on the bucket
(someone else's, or a role never granted), as real GCS answers it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.fakes.local_server import LocalFake, answer_json
from tests.fakes.token_endpoint import service_account_file


class PermissionDenied(BaseHTTPRequestHandler):
    """Its token granted at ``/token``; every storage call answered ``status`` (403: no role on the bucket)."""

    status = 403

    def do_POST(self) -> None:
        if self.path == "/token":
            answer_json(self, 200, {"access_token": "t", "expires_in": 3600, "token_type": "Bearer"})
        else:
            self._deny()

    def _deny(self) -> None:
        message = "worker@p.iam.gserviceaccount.com does not have storage.objects.create access"
        answer_json(self, self.status, {"error": {"code": self.status, "message": message}})

    do_GET = do_PATCH = do_DELETE = _deny

    def log_message(self, *_: object) -> None:
        pass


class Unauthenticated(PermissionDenied):
    """A token GCS will not take, even refreshed (401)."""

    status = 401


@contextmanager
def denied_gcs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: type[PermissionDenied] = PermissionDenied
) -> Iterator[None]:
    """While entered, a ``GcsArtifactStore`` built without an endpoint (real GCS's ways: a token first) talks to
    ``handler``, with a service account's credentials."""
    with LocalFake(handler, name="gcs-denied") as fake:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(tmp_path, f"{fake.url}/token")))
        monkeypatch.setenv("API_ENDPOINT_OVERRIDE", fake.url)
        yield
