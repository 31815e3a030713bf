"""What a connector's read is held to: the checks ``POST /bills`` puts an upload through, and a time limit.

A provider portal is not trusted to say what it sent: a sign-in or error page (HTML, SVG) served with
status 200 and archived as the bill would later be served back from the API's origin as a web page. Nor
is its label needed to take a bill: a PDF sent as ``application/x-pdf`` or ``application/force-download``
is a PDF. So the bytes decide, and a label is only ever a reason to refuse (a page declared as one).
"""

from __future__ import annotations

import asyncio
import dataclasses

from temporalio.exceptions import ApplicationError

from activities.connectors.base import Connector, SourceDocument
from extraction.document import JPEG, PDF, PNG, TEXT, holds_nothing, looks_like_markup, sniff_content_type
from shared.settings import Settings

BILL_TYPES = frozenset({PDF, PNG, JPEG, TEXT})
"""What a bill may be: the types ``POST /bills`` takes."""
MARKUP_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/javascript"}
)
"""Labels of a web page or script, whatever its bytes look like (any ``+xml`` type too): never a bill."""
MAX_SOURCE_BYTES: int = Settings.model_fields["upload_max_bytes"].default
"""A source's bill may be as large as an upload (``UPLOAD_MAX_BYTES``'s default)."""
SOURCE_READ_SECONDS = 30.0
"""How long a connector's read may take: half of fetch's and store's 60 s start-to-close, so the other
half is left to archive what was read (up to ``UPLOAD_MAX_BYTES`` to object storage) and record it, and a
slow source fails the attempt naming the source rather than the upload timing out."""


class SourceTimedOut(TimeoutError):
    """The source did not answer in time: retried, as a slow portal may answer later."""


async def read_source(connector: Connector, source_uri: str, *, max_bytes: int = MAX_SOURCE_BYTES) -> SourceDocument:
    """The connector's document, ``vetted``. A read past ``SOURCE_READ_SECONDS`` fails the attempt; its
    thread cannot be stopped and stays taken until the connector gives up (``Connector.read``)."""
    try:
        async with asyncio.timeout(SOURCE_READ_SECONDS) as deadline:
            document = await asyncio.to_thread(connector.read, source_uri)
    except TimeoutError:
        if not deadline.expired():
            raise  # the connector's own ("connect timed out after 5s"), not ours: its words say which
        raise SourceTimedOut(f"the source did not answer within {SOURCE_READ_SECONDS:g}s") from None
    return vetted(document, max_bytes=max_bytes)


def vetted(document: SourceDocument, *, max_bytes: int) -> SourceDocument:
    """The document typed by its bytes, as an upload is; ``DocumentRejected`` (non-retryable) for a file
    too large, empty or nothing but blank space, a web page (by its label or its bytes), or one that is no bill
    type. A blank file was archived and failed the job at extraction (``empty_file``), an empty one was refused as
    "not a PDF, PNG, JPEG or plain-text bill"."""
    declared = document.content_type.split(";", 1)[0].strip().lower()
    if holds_nothing(document.data):
        raise _rejected("the source's file is empty or nothing but blank space", reason="empty_file")
    if len(document.data) > max_bytes:
        raise _rejected(f"the source's file is {len(document.data)} bytes, over the {max_bytes}-byte limit of a bill")
    if declared in MARKUP_TYPES or declared.endswith("+xml") or looks_like_markup(document.data):
        raise _rejected(f"the source sent a web page ({declared or 'no type'}), not a bill: a portal's sign-in page?")
    sniffed = sniff_content_type(document.data)
    if sniffed not in BILL_TYPES:
        raise _rejected(f"the source's file ({declared or 'no type'}) is not a PDF, PNG, JPEG or plain-text bill")
    return dataclasses.replace(document, content_type=sniffed)


def _rejected(message: str, *, reason: str = "unsupported_type") -> ApplicationError:
    return ApplicationError(f"{reason}: {message}", type="DocumentRejected", non_retryable=True)
