"""The extraction activities' failures: which are a bill's fault (final) and which are the moment's (retried)."""

from __future__ import annotations

import dataclasses
import errno
import logging
import threading
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import ActivityEnvironment

from activities import extraction as extraction_activities
from activities.extraction import (
    DOCUMENT_CACHE_BYTES,
    PARSE_ATTEMPTS,
    DocumentCache,
    ExtractionActivities,
    document_bytes,
)
from eval.generate import sample_bill
from extraction.document import PDF, Document
from extraction.engine import Extraction
from extraction.pipeline import decide
from shared.artifacts import LocalArtifactStore
from shared.bill import NormalizedBill, Provider
from shared.bounded_cache import RECENT_ENTRIES
from shared.logs import ContextFilter
from shared.models import ExtractionOutcome, ExtractRequest, ValidateRequest
from shared.settings import Settings
from tests.helpers import bill_text
from workflows.policies import NON_RETRYABLE


def test_a_bill_that_does_not_read_again_at_validation_is_retried_not_failed(
    tmp_path: Path, settings: Settings
) -> None:
    """validate_bill rereads the stored bill when another worker extracted it. The bill was read once,
    so a reread that fails (a parse timing out under load, say) is the moment's fault: retryable."""
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.ensure_bucket()
    job_id = str(uuid.uuid4())
    artifact = store.put_once(
        job_id=job_id, data=b"%PDF-1.7 not really", content_type="application/pdf", ext="pdf", metadata={}
    )
    extracted = ExtractionOutcome(
        bill=NormalizedBill(total_amount=Decimal("10.00")), reasons=[], extractor="rules:generic", pages=1
    )
    activities = ExtractionActivities(store, settings)  # a fresh worker: nothing cached

    with pytest.raises(ApplicationError) as raised:
        ActivityEnvironment().run(
            activities.validate_bill, ValidateRequest(job_id=job_id, artifact=artifact, extraction=extracted)
        )
    assert raised.value.type == "DocumentRereadFailed" and raised.value.type not in NON_RETRYABLE
    assert not raised.value.non_retryable


class TimingOutStore(LocalArtifactStore):
    """A store whose reads time out at the socket: an ``OSError`` with ``ETIMEDOUT``, which Python makes a
    ``TimeoutError``."""

    def read(self, uri: str) -> bytes:
        raise OSError(errno.ETIMEDOUT, "Connection timed out")


def test_a_call_that_times_out_itself_fails_the_activity_without_a_heartbeat(
    tmp_path: Path, settings: Settings
) -> None:
    """A wait on the call's result raised the call's own TimeoutError as it does a wait that ran out: taken for
    a call still running, it was waited on again, heartbeating at full CPU for ever. The first heartbeat
    fails this test instead: the call has failed, and nothing is left to beat for."""
    store = TimingOutStore(tmp_path / "artifacts")
    store.ensure_bucket()
    job_id = str(uuid.uuid4())
    artifact = store.put_once(
        job_id=job_id, data=b"Amount due $1.00", content_type="text/plain", ext="txt", metadata={}
    )
    env = ActivityEnvironment()

    def beat(*details: object) -> None:
        raise AssertionError("a heartbeat for a call that had already failed")

    env.on_heartbeat = beat
    with pytest.raises(TimeoutError) as raised:
        env.run(
            ExtractionActivities(store, settings).extract_bill,
            ExtractRequest(job_id=job_id, artifact=artifact, provider=None),
        )
    assert raised.value.errno == errno.ETIMEDOUT


def test_a_cancellation_ends_the_wait_on_a_call_still_running(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancelled activity stops waiting on its call (an LLM request, say) at the next heartbeat. The call
    here runs until released: the first beat cancels; a second means the wait went on, and releases it."""
    monkeypatch.setattr(extraction_activities, "HEARTBEAT_SECONDS", 0.01)
    activities = ExtractionActivities(LocalArtifactStore(tmp_path / "artifacts"), settings)
    released = threading.Event()
    env = ActivityEnvironment()
    beats: list[object] = []

    def beat(*details: object) -> None:
        beats.append(details)
        if len(beats) == 1:
            env.cancel()
        else:
            released.set()

    @activity.defn(no_thread_cancel_exception=True)  # only the heartbeat loop can notice the cancellation
    def run_call() -> bool:
        return activities._with_heartbeats(released.wait)

    env.on_heartbeat = beat
    try:
        with pytest.raises(CancelledError):
            env.run(run_call)
    finally:
        released.set()
    assert len(beats) == 1


@pytest.mark.parametrize(
    ("attempt", "timed_out_before"),
    [(1, 0), (2, 1), (3, 2), (3, 0), (5, 1)],
    ids=["1", "2", "3", "3-after-outages", "5"],
)
def test_a_pdf_too_slow_to_parse_is_retried_then_reviewed_not_failed_as_corrupt(
    tmp_path: Path, settings: Settings, attempt: int, timed_out_before: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A readable bill can outlive the parse limit on a busy worker: retried, then read by a person after
    PARSE_ATTEMPTS parses timed out, however many attempts failed otherwise (the stored object unreadable): two of
    those, then one timeout, sent the bill to review as timing out "on every attempt"."""
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.ensure_bucket()
    job_id = str(uuid.uuid4())
    data, _, _ = sample_bill(Provider.PGE, seed=7)
    artifact = store.put_once(job_id=job_id, data=data, content_type=PDF, ext="pdf", metadata={})
    hurried = settings.model_copy(update={"pdf_parse_timeout_seconds": 0.001})
    activities = ExtractionActivities(store, hurried)
    env = ActivityEnvironment()
    carried = [{"parse_timeout": timed_out_before}] if timed_out_before else []
    env.info = dataclasses.replace(env.info, attempt=attempt, activity_type="extract_bill", heartbeat_details=carried)
    beats: list[tuple[Any, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    request = ExtractRequest(job_id=job_id, artifact=artifact, provider=Provider.PGE)

    caplog.handler.addFilter(ContextFilter())
    if timed_out_before + 1 < PARSE_ATTEMPTS:
        with pytest.raises(ApplicationError) as raised, caplog.at_level(logging.WARNING):
            env.run(activities.extract_bill, request)
        assert raised.value.type == "ParseTimedOut" and raised.value.type not in NON_RETRYABLE
        assert not raised.value.non_retryable
        # Logged on the parse's own thread, it still names the workflow and the step.
        [killed] = [r for r in caplog.records if r.getMessage().startswith("PDF parse exceeded its time limit")]
        context = (killed.__dict__.get("workflow_id"), killed.__dict__.get("step"))
        assert context == (env.info.workflow_id, "extract_bill")
        assert beats[-1] == ({"parse_timeout": timed_out_before + 1},)  # for the next attempt to read
        return
    outcome = env.run(activities.extract_bill, request)
    assert (outcome.bill, outcome.reasons) == (None, ["parse_timeout"])
    assert decide(Extraction(bill=None, reasons=outcome.reasons, extractor="none", pages=0), []) == (
        "review",
        ["parse_timeout"],
    )


MiB = 1024 * 1024


def test_the_document_cache_holds_no_more_bytes_than_its_budget() -> None:
    """Each parsed document holds its upload (up to 20 MiB): a count of 32 let a worker hold 640 MiB."""
    cache = DocumentCache()
    documents = [Document(data=bytes([n]) * 2 * MiB, content_type=PDF, pages=["Amount due $1.00"]) for n in range(32)]
    for n, document in enumerate(documents):
        cache.put(str(n), document)
    held = [document for n, document in enumerate(documents) if cache.get(str(n)) is not None]
    assert sum(document_bytes(document) for document in held) <= DOCUMENT_CACHE_BYTES
    assert cache.get("31") is documents[-1], "the most recent stays"
    assert cache.held_bytes == sum(document_bytes(document) for document in held)


def test_the_document_cache_holds_no_more_entries_than_its_bound() -> None:
    """Validate reads a document seconds after extract: small bills must not fill 32 MiB by the thousand."""
    cache = DocumentCache(max_entries=RECENT_ENTRIES)
    documents = [Document(data=b"%%PDF %d" % n, content_type=PDF, pages=["Amount due $1.00"]) for n in range(300)]
    for n, document in enumerate(documents):
        cache.put(str(n), document)
    held = [n for n in range(300) if cache.get(str(n)) is not None]
    assert held == list(range(300 - RECENT_ENTRIES, 300)), "the most recent stay"


def test_a_document_too_large_for_the_cache_does_not_flush_it() -> None:
    cache = DocumentCache(max_bytes=8 * MiB)
    small = Document(data=b"%PDF small", content_type=PDF, pages=["text"])
    cache.put("small", small)
    cache.put("large", Document(data=bytes(3 * MiB), content_type=PDF, pages=[]))
    assert cache.get("large") is None and cache.get("small") is small


@pytest.mark.parametrize(("year", "reasons"), [("2026", []), ("2062", ["dated_in_the_future"])])
def test_a_bill_dated_years_ahead_goes_to_review(
    tmp_path: Path, settings: Settings, year: str, reasons: list[str]
) -> None:
    """Its dates agreed with one another, so a year misread alike throughout (2062 for 2026) passed every check,
    and the bill was stored in a month decades ahead, first among the customer's recent bills."""
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.ensure_bucket()
    job_id = str(uuid.uuid4())
    text = bill_text("1234-5678-90", total="60.00").replace("/2026", f"/{year}")
    artifact = store.put_once(job_id=job_id, data=text.encode(), content_type="text/plain", ext="txt", metadata={})
    activities = ExtractionActivities(store, settings)
    env = ActivityEnvironment()

    extracted = env.run(activities.extract_bill, ExtractRequest(job_id=job_id, artifact=artifact, provider="pge"))
    validated = env.run(
        activities.validate_bill,
        ValidateRequest(job_id=job_id, artifact=artifact, extraction=extracted, account_number="1234-5678-90"),
    )

    assert extracted.bill is not None and str(extracted.bill.statement_date) == f"{year}-03-05"
    assert (validated.decision, validated.reasons) == ("review" if reasons else "accept", reasons)
