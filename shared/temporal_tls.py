"""What a failed connection to Temporal says about TLS, in the settings' words.

The SDK reports a TLS mismatch in the words of its Rust transport ("InvalidContentType", "CaUsedAsEndEntity",
"stream closed because of a broken pipe"). An operator who set ``TEMPORAL_API_KEY`` against a server without TLS,
or left TLS off against one with it, read that in the worker's last log line and did not know which setting to change.
"""

from __future__ import annotations

from shared.refusals import StartRefused
from shared.settings import Settings

CONNECT_FAILED = "Failed client connect:"
NOT_TLS = ("InvalidContentType", "CorruptMessage")
"""rustls's words for an answer that is not TLS at all: the server speaks plain HTTP/2."""
UNTRUSTED = "InvalidCertificate"
"""rustls's word for a certificate it does not trust (an unknown CA, another name, expired)."""
CLOSED_ON_PLAINTEXT = ("transport error", "broken pipe", "connection reset")
"""How a TLS-only server's hang-up on a plain-text client reads."""
STARTING_OR_STOPPING = "code: Unavailable"
"""A server that answered "not now": one starting or stopping may drop a connection too, and ``shared.startup``
waits for it (``TEMPORAL_NOT_READY``), where a mismatch fails the start at once."""


class TemporalTlsMismatch(StartRefused):
    """The client's TLS settings do not fit the server's; the message names the settings to change."""


def tls_turned_on_by(settings: Settings) -> list[str]:
    """The settings that turn the client's TLS on (``shared.temporal.tls_config``), by their variables' names."""
    named = [
        ("TEMPORAL_TLS", settings.temporal_tls),
        ("TEMPORAL_API_KEY", settings.temporal_api_key is not None),
        ("TEMPORAL_TLS_CERT", settings.temporal_tls_cert is not None),
        ("TEMPORAL_TLS_CA", settings.temporal_tls_ca is not None),
        ("TEMPORAL_TLS_SERVER_NAME", settings.temporal_tls_server_name is not None),
    ]
    return [name for name, on in named if on]


def tls_mismatch(settings: Settings, error: BaseException) -> TemporalTlsMismatch | None:
    """The plain reason for ``error`` from ``Client.connect`` when it is a TLS mismatch, else None."""
    message = str(error)
    if not (isinstance(error, RuntimeError) and message.startswith(CONNECT_FAILED)) or STARTING_OR_STOPPING in message:
        return None
    where = f"Temporal at {settings.temporal_address}"
    turned_on = tls_turned_on_by(settings)
    if turned_on and any(word in message for word in NOT_TLS):
        return TemporalTlsMismatch(
            f"{where} does not speak TLS, and TLS is on ({', '.join(turned_on)} set; an API key is only ever sent"
            " over TLS). A server without TLS (the local dev server) needs none of them set"
        )
    if turned_on and UNTRUSTED in message:
        detail = message.split(UNTRUSTED, 1)[1].strip("()} ")[:80]
        return TemporalTlsMismatch(
            f"{where} showed a certificate this client does not trust ({detail}). Set TEMPORAL_TLS_CA to the PEM"
            " file of the CA that issued it, and TEMPORAL_TLS_SERVER_NAME if it names another host than the address"
        )
    if not turned_on and any(words in message for words in CLOSED_ON_PLAINTEXT):
        return TemporalTlsMismatch(
            f"{where} closed the connection while TLS is off. If it expects TLS (Temporal Cloud does), set"
            " TEMPORAL_TLS=true, or TEMPORAL_API_KEY, or TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY; if it is not"
            " Temporal's frontend (another service's port), correct TEMPORAL_ADDRESS"
        )
    return None
