"""A TLS setting that does not fit the Temporal server is named at start, not left in the SDK's transport words.

Real connections: the suite's dev server (no TLS) and a local server that speaks only TLS, with a certificate made
here (self-signed, so no client trusts it)."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from shared.settings import Settings
from shared.temporal import connect_client
from shared.temporal_tls import TemporalTlsMismatch


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` that no CA signed, and its key (made per test, never stored)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.fixture()
async def tls_only_server(tmp_path: Path) -> AsyncIterator[str]:
    """A server on the loopback that speaks TLS only (as Temporal Cloud's endpoints do), its address."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*self_signed(tmp_path))
    context.set_alpn_protocols(["h2"])

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0, ssl=context)
    async with server:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_an_api_key_against_a_server_without_tls_names_the_setting(app_settings: Settings) -> None:
    """An API key turns TLS on: against the dev server, the SDK said only ``InvalidContentType``."""
    settings = app_settings.model_copy(update={"temporal_api_key": SecretStr("test-not-a-key")})
    with pytest.raises(TemporalTlsMismatch, match=r"does not speak TLS, and TLS is on \(TEMPORAL_API_KEY set"):
        await asyncio.wait_for(connect_client(settings, payloads=False), 30)


async def test_tls_off_against_a_tls_only_server_says_to_turn_it_on(
    app_settings: Settings, tls_only_server: str
) -> None:
    """The SDK said "transport error ... broken pipe". The same answer comes from another service's port (an HTTP
    server): the message names that too (an operator's probe, 69C)."""
    settings = app_settings.model_copy(update={"temporal_address": tls_only_server})
    said = r"closed the connection while TLS is off.*TEMPORAL_TLS=true.*correct TEMPORAL_ADDRESS"
    with pytest.raises(TemporalTlsMismatch, match=said):
        await asyncio.wait_for(connect_client(settings, payloads=False), 30)


async def test_an_untrusted_certificate_says_which_settings_trust_it(
    app_settings: Settings, tls_only_server: str
) -> None:
    settings = app_settings.model_copy(update={"temporal_address": tls_only_server, "temporal_tls": True})
    with pytest.raises(TemporalTlsMismatch, match=r"does not trust .*TEMPORAL_TLS_CA"):
        await asyncio.wait_for(connect_client(settings, payloads=False), 30)
