"""Extract and validate: turn the stored raw bill into a checked NormalizedBill and a decision."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

from activities import failure_counts
from extraction.bounded import BoundedReader, ParseTimedOut
from extraction.checks import check_account, check_approval, check_bill, check_correction, check_issued_by
from extraction.document import Document, DocumentRejected
from extraction.engine import Extraction, extract
from extraction.gemini_errors import GeminiUnavailable
from extraction.pipeline import decide, today
from shared.artifacts import ArtifactStore
from shared.bounded_cache import RECENT_ENTRIES, RecentCache
from shared.models import ExtractionOutcome, ExtractRequest, ValidateRequest, ValidationOutcome
from shared.review import CorrectionCheck, CorrectionVerdict
from shared.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
HEARTBEAT_SECONDS = 5.0
CANCEL_CHECK_SECONDS = 1.0
"""How soon a long call's wait notices a cancellation: a worker shutting down cancels its activities locally
(no heartbeat brings that) and gives them ``worker.main.SHUTDOWN_MARGIN_SECONDS`` (5 s) to end."""
PARSE_ATTEMPTS = 3
"""Parses of a PDF that keeps outliving PDF_PARSE_TIMEOUT_SECONDS before a person is asked to read it: attempts that
failed otherwise (the stored object unreadable) do not count (``activities.failure_counts``)."""
PARSE_TIMEOUT = "parse_timeout"


DOCUMENT_CACHE_BYTES = 32 * 1024 * 1024


def document_bytes(doc: Document) -> int:
    """The memory a parsed document holds: its raw upload and its text."""
    return len(doc.data) + sum(sys.getsizeof(page) for page in doc.pages)


class DocumentCache(RecentCache[str, Document]):
    """Recently parsed documents, so validate does not re-parse what extract just read.

    Bounded by bytes, since each holds its upload (up to 20 MiB) and 32 of them could hold
    640 MiB, and by count, since validate reads a document seconds after extract parsed it."""

    def __init__(self, max_bytes: int = DOCUMENT_CACHE_BYTES, max_entries: int = RECENT_ENTRIES) -> None:
        super().__init__(max_bytes=max_bytes, max_entries=max_entries, getsizeof=document_bytes)


class ExtractionActivities:
    def __init__(self, store: ArtifactStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._documents = DocumentCache()
        self._reader = BoundedReader(timeout_seconds=settings.pdf_parse_timeout_seconds)
        self._calls = ThreadPoolExecutor(max_workers=settings.worker_activity_threads, thread_name_prefix="extract")

    def _document(self, uri: str, sha256: str) -> Document:
        cached = self._documents.get(sha256)
        if cached is not None:
            return cached
        document = self._reader.read(self._store.read(uri), max_pages=self._settings.max_pdf_pages)
        self._documents.put(sha256, document)
        return document

    def _with_heartbeats(self, fn: Callable[[], T]) -> T:
        """Run a long call beside a heartbeat loop, so cancellation and worker loss are noticed.

        Waits on the call's completion, not its result: ``future.result(timeout=...)`` raises the call's
        own TimeoutError (a store read's ETIMEDOUT) just as it does a wait that ran out: taken for "still
        running", the failed call was waited on again and again at full CPU, heartbeating, for ever."""
        future = self._calls.submit(contextvars.copy_context().run, fn)  # its logs name the job and step
        beat_at = time.monotonic() + HEARTBEAT_SECONDS
        while not wait([future], timeout=min(CANCEL_CHECK_SECONDS, HEARTBEAT_SECONDS)).done:
            if time.monotonic() >= beat_at:
                failure_counts.heartbeat()  # keeping the parse timeouts earlier attempts counted
                beat_at = time.monotonic() + HEARTBEAT_SECONDS
            if activity.is_cancelled():
                future.cancel()
                raise CancelledError("the activity was cancelled while its call ran")
        return future.result()

    @activity.defn
    def extract_bill(self, request: ExtractRequest) -> ExtractionOutcome:
        """Safe to rerun: reads the stored object and writes nothing.

        No heartbeat up front (one server round trip per bill); reading the document and
        extracting each beat every 5 s once they take longer, so a slow object read or a
        wait for a parse slot under load never trips the 30 s heartbeat timeout."""
        try:
            document = self._with_heartbeats(lambda: self._document(request.artifact.uri, request.artifact.sha256))
        except ParseTimedOut as slow:
            return self._parse_timed_out(request, slow)
        except DocumentRejected as rejected:
            logger.info(
                "document rejected", extra={"job_id": request.job_id, "step": "extract_bill", "reason": rejected.reason}
            )
            return ExtractionOutcome(
                bill=None, reasons=[rejected.reason], extractor="none", pages=0, detail=rejected.detail or None
            )
        try:
            result: Extraction = self._with_heartbeats(
                lambda: extract(document, provider_hint=request.provider, settings=self._settings)
            )
        except GeminiUnavailable as busy:
            raise retried_when_gemini_says(busy) from busy
        logger.info(
            "bill extracted",
            extra={
                "job_id": request.job_id,
                "step": "extract_bill",
                "extractor": result.extractor,
                "reasons": result.reasons,
            },
        )
        return ExtractionOutcome(
            bill=result.bill, reasons=result.reasons, extractor=result.extractor, pages=result.pages
        )

    def _parse_timed_out(self, request: ExtractRequest, slow: ParseTimedOut) -> ExtractionOutcome:
        """Retried first (a busy worker, not the bill, may be why); after PARSE_ATTEMPTS, a review task
        (``parse_timeout``): a person can still read a bill the parser cannot, and rejecting it as
        corrupt would fail the job for the worker's load."""
        timeouts = failure_counts.count(PARSE_TIMEOUT)
        context = {"job_id": request.job_id, "step": "extract_bill", "attempt": activity.info().attempt}
        if timeouts < PARSE_ATTEMPTS:
            logger.warning("PDF parse timed out; extraction will be retried", extra=context)
            raise ApplicationError(f"the PDF parse timed out: {slow.detail}", type="ParseTimedOut") from slow
        logger.warning("PDF parse timed out on every attempt; a person reads the bill", extra=context)
        return ExtractionOutcome(bill=None, reasons=["parse_timeout"], extractor="none", pages=0)

    @activity.defn
    def validate_bill(self, request: ValidateRequest) -> ValidationOutcome:
        """Safe to rerun: pure checks over the extraction and the stored document's text."""
        outcome = request.extraction
        text: str | None = None
        if outcome.bill is not None:
            try:
                text = self._document(request.artifact.uri, request.artifact.sha256).text
            except DocumentRejected as rejected:  # it was read once: a parse timed out under load, say
                raise ApplicationError(
                    f"the stored bill did not read again: {rejected.reason}", type="DocumentRereadFailed"
                ) from rejected
        checks = []
        if outcome.bill is not None:
            checks = check_bill(outcome.bill, text=text) + check_account(outcome.bill, request.account_number)
            checks += check_issued_by(outcome.bill, today())
        extraction = Extraction(
            bill=outcome.bill, reasons=outcome.reasons, extractor=outcome.extractor, pages=outcome.pages
        )
        decision, reasons = decide(extraction, checks)
        logger.info(
            "bill validated",
            extra={"job_id": request.job_id, "step": "validate_bill", "decision": decision, "reasons": reasons},
        )
        return ValidationOutcome(decision=decision, reasons=reasons)

    @activity.defn
    def check_corrected_bill(self, request: CorrectionCheck) -> CorrectionVerdict:
        """Safe to rerun: pure checks over the bill it is given (no document, no writes).

        The checks of ``submit_review``'s validator, for a correction or an approval sent by signal: a
        signal handler runs again on every replay, so the verdict must come back from history instead."""
        if request.approving:
            failing = check_approval(request.bill, request.account_number, request.provider)
        else:
            failing = check_correction(
                request.bill,
                override=request.override,
                account_number=request.account_number,
                provider=request.provider,
                today=today(),
            )
        logger.info(
            "corrected bill checked",
            extra={"job_id": request.job_id, "step": "check_corrected_bill", "failing_checks": failing},
        )
        return CorrectionVerdict(failing=failing)


def retried_when_gemini_says(busy: GeminiUnavailable) -> ApplicationError:
    """The failure Temporal retries: after the delay Gemini's 429 asked for ("retry in 37s"), where it named one,
    not the policy's next backoff (2 s, 4 s...), which would spend attempts inside the quota's window. A delay past
    the step's 30 minutes (a day's quota) ends the retries at once, the job failing with the quota's name."""
    return ApplicationError(str(busy), type=type(busy).__name__, next_retry_delay=busy.retry_delay)
