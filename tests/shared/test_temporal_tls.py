"""The Temporal client's TLS: mTLS with a client certificate, as Temporal Cloud's certificate namespaces need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.client import Client, TLSConfig

from shared.settings import Environment, Settings
from shared.temporal import connect_client


@pytest.fixture()
def connect_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``Client.connect`` is asked for, without connecting anywhere."""
    calls: list[dict[str, Any]] = []

    async def connect(target_host: str, **kwargs: Any) -> None:
        calls.append({"target_host": target_host, **kwargs})

    monkeypatch.setattr(Client, "connect", connect)
    return calls


def pem_pair(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    # The client sends the files' bytes as they are: no need for anything shaped like a real key.
    cert.write_bytes(b"test client certificate\n")
    key.write_bytes(b"test client key\n")
    return cert, key


async def test_a_client_certificate_is_sent_with_its_key(tmp_path: Path, connect_calls: list[dict[str, Any]]) -> None:
    """Setting them is enough: TEMPORAL_TLS need not be set as well."""
    cert, key = pem_pair(tmp_path)
    settings = Settings(env=Environment.TEST, data_dir=tmp_path, temporal_tls_cert=cert, temporal_tls_key=key)
    await connect_client(settings)
    [call] = connect_calls
    assert call["tls"] == TLSConfig(client_cert=cert.read_bytes(), client_private_key=key.read_bytes())


@pytest.mark.parametrize(
    ("tls", "api_key", "expected"),
    [(False, None, False), (True, None, TLSConfig()), (False, "test-api-key", TLSConfig())],
    ids=["plain", "tls", "api-key"],
)
async def test_without_a_certificate_tls_is_as_before(
    tmp_path: Path, connect_calls: list[dict[str, Any]], tls: bool, api_key: str | None, expected: object
) -> None:
    key = SecretStr(api_key) if api_key else None
    settings = Settings(env=Environment.TEST, data_dir=tmp_path, temporal_tls=tls, temporal_api_key=key)
    await connect_client(settings)
    [call] = connect_calls
    assert call["tls"] == expected


async def test_a_self_hosted_servers_ca_and_name_are_verified(
    tmp_path: Path, connect_calls: list[dict[str, Any]]
) -> None:
    """A server whose certificate a private CA signed, reached by an address that is not its name."""
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"test certificate authority\n")
    cert, key = pem_pair(tmp_path)
    settings = Settings(
        env=Environment.TEST, data_dir=tmp_path, temporal_tls_ca=ca, temporal_tls_server_name="temporal.internal"
    )
    await connect_client(settings)
    with_client_cert = settings.model_copy(update={"temporal_tls_cert": cert, "temporal_tls_key": key})
    await connect_client(with_client_cert)
    assert [call["tls"] for call in connect_calls] == [
        TLSConfig(server_root_ca_cert=ca.read_bytes(), domain="temporal.internal"),
        TLSConfig(
            client_cert=cert.read_bytes(),
            client_private_key=key.read_bytes(),
            server_root_ca_cert=ca.read_bytes(),
            domain="temporal.internal",
        ),
    ]


def test_an_unreadable_ca_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="temporal_tls_ca"):
        Settings(env=Environment.TEST, data_dir=tmp_path, temporal_tls_ca=tmp_path / "missing.pem")
