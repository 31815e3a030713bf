"""The whole path for one upload: read, extract, check, decide. Shared by the eval harness.

The workflow runs the same steps as two activities (extract; check + decide), so the
pieces stay separately callable.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from pydantic import BaseModel

from extraction.checks import check_bill, check_issued_by
from extraction.document import REJECT_REASONS, DocumentRejected, read_document
from extraction.engine import Extraction, extract
from shared.bill import NormalizedBill, Provider
from shared.models import Decision
from shared.settings import Settings


class Report(BaseModel):
    decision: Decision
    reasons: list[str]
    bill: NormalizedBill | None
    extractor: str
    pages: int
    seconds: float


def today() -> date:
    """The day a bill is read, in UTC (``check_issued_by``)."""
    return datetime.now(UTC).date()


def decide(extraction: Extraction, check_reasons: list[str]) -> tuple[Decision, list[str]]:
    """Accept only a bill with no doubt at all; unreadable input is rejected, the rest reviewed."""
    reasons = list(dict.fromkeys([*extraction.reasons, *check_reasons]))
    if any(reason in REJECT_REASONS for reason in reasons):
        return "reject", reasons
    if extraction.bill is None:
        return "review", reasons or ["no_bill_extracted"]
    return ("accept", []) if not reasons else ("review", reasons)


def analyze(data: bytes, *, provider_hint: Provider | None, settings: Settings) -> Report:
    """Run the pipeline on raw bytes. Raises only GeminiUnavailable/GeminiMisconfigured."""
    started = time.perf_counter()
    try:
        document = read_document(data, max_pages=settings.max_pdf_pages)
    except DocumentRejected as rejected:
        return Report(
            decision="reject",
            reasons=[rejected.reason],
            bill=None,
            extractor="none",
            pages=0,
            seconds=time.perf_counter() - started,
        )
    extraction = extract(document, provider_hint=provider_hint, settings=settings)
    checks = []
    if extraction.bill is not None:
        checks = check_bill(extraction.bill, text=document.text) + check_issued_by(extraction.bill, today())
    decision, reasons = decide(extraction, checks)
    return Report(
        decision=decision,
        reasons=reasons,
        bill=extraction.bill,
        extractor=extraction.extractor,
        pages=extraction.pages,
        seconds=time.perf_counter() - started,
    )
