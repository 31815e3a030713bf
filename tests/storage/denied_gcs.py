"""Local GCSs that refuse: one grants a token but refuses every storage call (an identity without a role on the
bucket: someone else's, or a role never granted); one refuses only the delete of named objects (a retention policy,
a hold), as real GCS answers them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests

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


@dataclass(frozen=True)
class DeleteDenial:
    """How GCS answers a delete it refuses (403): its message and reason, ``{name}`` standing for the object's."""

    message: str
    reason: str

    def body(self, name: str) -> dict[str, Any]:
        message = self.message.format(name=name)
        return {"error": {"code": 403, "message": message, "errors": [{"message": message, "reason": self.reason}]}}


RETENTION_NOT_MET = DeleteDenial(
    "Object '{name}' is subject to bucket's retention policy or object retention and cannot be deleted or overwritten"
    " until 2031-01-01T00:00:00Z",
    "retentionPolicyNotMet",
)
"""An object its bucket's retention policy still keeps."""
UNDER_HOLD = DeleteDenial(
    "Object '{name}' is under active Temporary hold and cannot be deleted, overwritten or archived until hold is"
    " removed.",
    "forbidden",
)
"""An object under a hold: only the message says why."""
NO_DELETE_ROLE = DeleteDenial(
    "worker@p.iam.gserviceaccount.com does not have storage.objects.delete access to the Google Cloud Storage object."
    " Permission 'storage.objects.delete' denied on resource (or it may not exist).",
    "forbidden",
)
"""An identity without the role to delete: every object's delete is refused alike."""

_HOP_BY_HOP = frozenset({"host", "connection", "content-length", "transfer-encoding", "content-encoding"})


class _DeleteRefused(BaseHTTPRequestHandler):
    """Relays every call to ``upstream`` (fake-gcs-server), but answers the delete of a ``refused`` object with
    ``denial``."""

    upstream: str
    refused: frozenset[str]
    denial: DeleteDenial

    def do_DELETE(self) -> None:
        name = unquote(urlsplit(self.path).path).partition("/o/")[2]
        if name in self.refused:
            answer_json(self, 403, self.denial.body(name))
        else:
            self._relay()

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        answer = requests.request(
            self.command,
            self.upstream + self.path,
            data=self.rfile.read(length) if length else None,
            headers={k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP},
            timeout=30,
        )
        self.send_response(answer.status_code)
        for key, value in answer.headers.items():
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PATCH = do_PUT = _relay

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def deletes_refused(upstream: str, refused: set[str], denial: DeleteDenial) -> Iterator[str]:
    """While entered, the URL of a GCS that is ``upstream`` but answers the delete of each object named in
    ``refused`` with ``denial``."""
    attrs = {"upstream": upstream, "refused": frozenset(refused), "denial": denial}
    with LocalFake(type("DeleteRefused", (_DeleteRefused,), attrs), name="gcs-delete-refused") as fake:
        yield fake.url
