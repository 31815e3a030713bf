"""A job's errors as the API shows them: never the server's directories, and to a customer's key no internal address
nor a whole account number.

A step's error is the text of what failed inside the worker: a storage client's ``HTTPConnectionPool(host='10.0.0.7',
port=4443): Read timed out``, a 403 naming the service account. An operator reads it in ``GET /jobs/{id}`` (the CLI
cannot decode it); a key bound to a customer reads the same job, and README promises those keys no more than what
failed (the details are in the worker's log and the Web UI).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from shared.artifacts import RAW_PREFIX
from shared.logs import mask_text

_FILE_URI = re.compile(r"file://[^\s'\"]*")

_INTERNAL = re.compile(
    r"(?i)"
    r"(?P<assigned>\b(?:host|port)=)(?:'[^']*'|\"[^\"]*\"|[^\s,)]+)"  # a client's host='...', port=4443
    r"|(?P<resolving>\bresolve )'[^']*'"  # urllib3's "Failed to resolve 'gcs.internal'"
    r"|\b(?:https?|grpcs?|postgres(?:ql)?|redis|amqps?|gs)://[^\s'\"<>)\]]*[^\s'\"<>)\].,:;]"  # a URL, a bucket's too
    r"|\[[0-9a-f:]*:[0-9a-f:]*\](?::\d{1,5})?"  # an IPv6 address in brackets, its port too
    r"|'[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}'"  # one quoted in a socket's tuple ('::1', 4443, 0, 0)
    r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b"  # an IPv4 address, its port too
    r"|(?<![\w.-])(?P<host>[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*):\d{2,5}\b"  # host:port, a compose service's (minio:9000)
    r"|\b[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+"  # an identity (a service account's e-mail)
)
_FILE_NAME = re.compile(r"(?i).+\.(?:pdf|png|jpe?g|txt|eml|html?|json|csv|py)")
"""A name:number that is a file's line or page ("bill.pdf:12"), not a host's port."""
HIDDEN = "<internal>"


def hide_server_paths(text: str | None) -> str | None:
    """``text`` with each file:// URI by its object name ("local:raw/bills/..."), or as "a file on the server": a
    raw bill deleted from the local store failed its job with an error naming the server's directory."""
    if text is None:
        return None

    def hidden(match: re.Match[str]) -> str:
        uri = match.group()
        return "local:" + uri[uri.rindex(RAW_PREFIX) :] if RAW_PREFIX in uri else "a file on the server"

    return _FILE_URI.sub(hidden, text)


def hide_internals(text: str | None) -> str | None:
    """``hide_server_paths``, and each host, port, endpoint URL, IP address and e-mail as ``<internal>``: what failed
    and why stays ("ArtifactStoreUnavailable: HTTPConnectionPool(host=<internal>, port=<internal>): Read timed out").
    An object's ``gs://`` URI too: the bucket's name and layout, which the job's result gives a customer's key as the
    API's link instead (76D)."""
    text = hide_server_paths(text)
    if text is None:
        return None
    return _INTERNAL.sub(_internal_hidden, text)


def _internal_hidden(match: re.Match[str]) -> str:
    if match["host"] is not None and _FILE_NAME.fullmatch(match["host"]):
        return match.group()
    return (match["assigned"] or match["resolving"] or "") + HIDDEN


def hide_from_customers(text: str | None) -> str | None:
    """``hide_internals``, and account numbers (credentials too) masked as the logs mask them: a reviewer's note, a
    rejection's the job's error, named a third party's account in full to the customer's key (76A)."""
    text = hide_internals(text)
    return mask_text(text) if text is not None else None


ErrorShown = Callable[[str | None], str | None]
"""How a key is shown an error's text (a reviewer's note too): ``hide_from_customers`` or ``hide_server_paths``."""


def error_shown_to(customer_id: int | None) -> ErrorShown:
    """How a key sees a job's errors: one bound to a customer (``customer_id``) without internal addresses or whole
    account numbers, an operator's whole."""
    return hide_from_customers if customer_id is not None else hide_server_paths
