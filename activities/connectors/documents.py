"""What a connector's read is held to: the checks ``POST /bills`` puts an upload through, and a time limit.

A provider portal is not trusted to say what it sent: a sign-in or error page (HTML, SVG) served with
status 200 and archived as the bill would later be served back from the API's origin as a web page.
"""

from __future__ import annotations

import asyncio
import dataclasses

from temporalio.exceptions import ApplicationError

from activities.connectors.base import Connector, SourceDocument
from extraction.document import JPEG, PDF, PNG, TEXT, sniff_content_type
from shared.settings import Settings

BILL_TYPES = frozenset({PDF, PNG, JPEG, TEXT})
"""What a bill may be: the types ``POST /bills`` takes."""
UNLABELLED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
"""What a portal sends when it does not say what a file is: its bytes decide."""
MAX_SOURCE_BYTES: int = Settings.model_fields["upload_max_bytes"].default
"""A source's bill may be as large as an upload (``UPLOAD_MAX_BYTES``'s default)."""
SOURCE_READ_SECONDS = 45.0
"""How long a connector's read may take: inside fetch's and store's 60 s start-to-close, so the
failure names the source rather than a timeout."""


class SourceTimedOut(TimeoutError):
    """The source did not answer in time: retried, as a slow portal may answer later."""


async def read_source(connector: Connector, source_uri: str, *, max_bytes: int = MAX_SOURCE_BYTES) -> SourceDocument:
    """The connector's document, ``vetted``. A read past ``SOURCE_READ_SECONDS`` fails the attempt; its
    thread cannot be stopped, so a connector must bound its own requests too."""
    try:
        document = await asyncio.wait_for(asyncio.to_thread(connector.read, source_uri), SOURCE_READ_SECONDS)
    except TimeoutError:
        raise SourceTimedOut(f"the source did not answer within {SOURCE_READ_SECONDS:g}s") from None
    return vetted(document, max_bytes=max_bytes)


def vetted(document: SourceDocument, *, max_bytes: int) -> SourceDocument:
    """The document typed by its bytes, as an upload is; ``DocumentRejected`` (non-retryable) for a file
    too large, one that is no bill type, or one the source labels as another type than its bytes are."""
    declared = document.content_type.split(";", 1)[0].strip().lower()
    if len(document.data) > max_bytes:
        raise _rejected(f"the source's file is {len(document.data)} bytes, over the {max_bytes}-byte limit of a bill")
    sniffed = sniff_content_type(document.data)
    if sniffed not in BILL_TYPES:
        raise _rejected(f"the source's file ({declared or 'no type'}) is not a PDF, PNG, JPEG or plain-text bill")
    if declared not in UNLABELLED and declared != sniffed:
        raise _rejected(f"the source sent {declared}, not a bill (its bytes read as {sniffed}): a portal's page?")
    return dataclasses.replace(document, content_type=sniffed)


def _rejected(message: str) -> ApplicationError:
    return ApplicationError(f"unsupported_type: {message}", type="DocumentRejected", non_retryable=True)
