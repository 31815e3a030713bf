"""A local OAuth token endpoint and a service-account file that points at it, its key generated per test and
never stored: how google-auth sees credentials refused for good (a revoked or deleted key)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.local_server import answer_json


def service_account_file(tmp_path: Path, token_uri: str) -> Path:
    """An ADC file like a deployment's, its token endpoint the given fake."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "worker@p.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(info))
    return path


class TokenRefused(BaseHTTPRequestHandler):
    """An OAuth token endpoint refusing the grant (a revoked or deleted key): google-auth raises RefreshError."""

    def do_POST(self) -> None:
        answer_json(self, 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})

    def log_message(self, *_: object) -> None:
        pass
