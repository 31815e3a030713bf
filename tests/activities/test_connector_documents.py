"""A connector's file is typed by its bytes, as an upload is: a portal's web page is never archived as a bill."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.connectors import documents
from activities.connectors.base import AccountInfo, ConnectorRegistry, SourceDocument
from activities.connectors.documents import SOURCE_READ_SECONDS, SourceTimedOut, read_source
from activities.fetching import FetchActivities
from activities.storage import StorageActivities
from shared.bill import Provider
from shared.models import FetchedBill, FetchRequest, StoreRequest
from shared.settings import Settings
from tests.helpers import create_account, insert_job
from worker.main import pipeline_activities
from worker.resources import Resources
from workflows import policies

SIGN_IN_PAGE = b"<html><body><script>fetch('/jobs').then(r => r.text()).then(steal)</script></body></html>"
TEXT_BILL = b"Pacific Gas and Electric\nAccount 1234\nTotal amount due $42.00\n"
PDF_BILL = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
JPEG_BILL = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))
SVG_PAGE = b'\xef\xbb\xbf\n  <svg xmlns="http://www.w3.org/2000/svg"><script>steal()</script></svg>'


class RenderingPortal:
    """A portal that renders the PDF on each request: a new creation date, so other bytes every read."""

    scheme = "rendering"

    def __init__(self) -> None:
        self.reads = 0

    def locate(self, account: AccountInfo, *, job_id: str) -> str:
        return f"rendering://{account.account_number}?job={job_id}"

    def read(self, source_uri: str) -> SourceDocument:
        self.reads += 1
        data = b"%PDF-1.4\n% /CreationDate (D:20261202060" + str(self.reads).encode() + b")\n"
        return SourceDocument(source_uri=source_uri, data=data, content_type="application/pdf")


class Portal:
    """A provider portal answering every locator with one file, labelled as the portal labels it."""

    scheme = "portal"

    def __init__(self, data: bytes, content_type: str) -> None:
        self.data, self.content_type = data, content_type

    def locate(self, account: AccountInfo, *, job_id: str) -> str:
        return f"portal://{account.account_number}?job={job_id}"

    def read(self, source_uri: str) -> SourceDocument:
        return SourceDocument(source_uri=source_uri, data=self.data, content_type=self.content_type)


async def a_job(http: httpx.AsyncClient, resources: Resources) -> tuple[dict[str, Any], str]:
    account = await create_account(http, provider="pge", account_number=f"PT-{uuid.uuid4().hex[:8]}")
    return account, await insert_job(resources.pool, account, job_type="connector", status="RUNNING")


def fetched_by_an_earlier_release(job_id: str, portal: Portal) -> FetchedBill:
    """What fetch_bill returned before it checked the file: the portal's own label."""
    return FetchedBill(
        source_uri=f"portal://x?job={job_id}",
        sha256=hashlib.sha256(portal.data).hexdigest(),
        size=len(portal.data),
        content_type=portal.content_type,
        provider=Provider.PGE,
    )


async def refused_by_fetch_and_store(
    http: httpx.AsyncClient, resources: Resources, portal: Portal
) -> tuple[str, list[ApplicationError]]:
    """A job, and how fetch_bill and store_raw_bill (for a run whose fetch an earlier release did, which archived
    nothing) each refused the portal's file."""
    account, job_id = await a_job(http, resources)
    connectors = ConnectorRegistry(default=portal)
    fetch = FetchActivities(resources.pool, connectors, store=resources.store)
    store = StorageActivities(resources.pool, resources.store, connectors)
    with pytest.raises(ApplicationError) as fetching:
        await ActivityEnvironment().run(
            fetch.fetch_bill, FetchRequest(job_id=job_id, utility_account_id=account["id"], provider="pge")
        )
    with pytest.raises(ApplicationError) as storing:
        await ActivityEnvironment().run(
            store.store_raw_bill, StoreRequest(job_id=job_id, fetched=fetched_by_an_earlier_release(job_id, portal))
        )
    return job_id, [fetching.value, storing.value]


async def test_a_portal_page_served_with_status_200_is_rejected_not_archived(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    job_id, refusals = await refused_by_fetch_and_store(
        http, resources, Portal(SIGN_IN_PAGE, "text/html; charset=utf-8")
    )

    for refused in refusals:
        assert refused.type == "DocumentRejected" and refused.non_retryable
        assert "text/html" in str(refused), str(refused)
    assert await resources.pool.fetchval("SELECT count(*) FROM artifacts WHERE job_id = $1", job_id) == 0


async def test_an_unlabelled_bill_is_stored_as_the_type_its_bytes_are(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    account, job_id = await a_job(http, resources)
    connectors = ConnectorRegistry(default=Portal(TEXT_BILL, "application/octet-stream"))
    env = ActivityEnvironment()

    fetched = await env.run(
        FetchActivities(resources.pool, connectors).fetch_bill,
        FetchRequest(job_id=job_id, utility_account_id=account["id"], provider="pge"),
    )
    ref = await env.run(
        StorageActivities(resources.pool, resources.store, connectors).store_raw_bill,
        StoreRequest(job_id=job_id, fetched=fetched),
    )

    assert (fetched.content_type, ref.content_type, ref.uri.rsplit(".", 1)[1]) == ("text/plain", "text/plain", "txt")
    assert await resources.pool.fetchval("SELECT content_type FROM artifacts WHERE job_id = $1", job_id) == "text/plain"


@pytest.mark.parametrize(
    ("page", "label"),
    [
        (SIGN_IN_PAGE, "application/octet-stream"),
        (b"\r\n <!DOCTYPE html><form action=/login></form>", ""),
        (SVG_PAGE, "text/plain"),
        (b"<p>Your bill</p>", "application/xhtml+xml"),
        (b'<meta http-equiv="refresh" content="0; url=/login">', "application/octet-stream"),
        (b"<title>Session expired</title><p>Please sign in", "application/octet-stream"),
        (b"<div class=login><form action=/login>", ""),
        (b"\n" * 600 + b"<!DOCTYPE html><html><body>Sign in</body></html>", "application/octet-stream"),
    ],
    ids=[
        "html-as-octet-stream",
        "doctype-unlabelled",
        "svg-as-text",
        "declared-xhtml",
        "meta-refresh",
        "title-first",
        "div-first",
        "after-600-blank-lines",
    ],
)
async def test_a_web_page_is_rejected_by_its_bytes_or_its_label_never_archived_as_text(
    http: httpx.AsyncClient, resources: Resources, page: bytes, label: str
) -> None:
    """Screening leaned on the portal's label: a sign-in page sent unlabelled (or as plain text) read as text and
    was archived as a text/plain bill."""
    account, job_id = await a_job(http, resources)
    fetch = FetchActivities(resources.pool, ConnectorRegistry(default=Portal(page, label)), store=resources.store)

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(
            fetch.fetch_bill, FetchRequest(job_id=job_id, utility_account_id=account["id"], provider="pge")
        )

    assert refused.value.type == "DocumentRejected" and refused.value.non_retryable
    assert "web page" in str(refused.value), str(refused.value)


@pytest.mark.parametrize(
    ("data", "label", "stored_as"),
    [
        (PDF_BILL, "application/x-pdf", "application/pdf"),
        (PDF_BILL, "application/force-download", "application/pdf"),
        (PDF_BILL, "application/x-download; name=bill.pdf", "application/pdf"),
        (JPEG_BILL, "image/jpg", "image/jpeg"),
    ],
    ids=["x-pdf", "force-download", "x-download", "image-jpg"],
)
async def test_a_bill_its_portal_labels_its_own_way_is_stored_as_its_bytes_are(
    http: httpx.AsyncClient, resources: Resources, data: bytes, label: str, stored_as: str
) -> None:
    """A real PDF labelled application/x-pdf, or a JPEG labelled image/jpg, was rejected for its label."""
    account, job_id = await a_job(http, resources)
    connectors = ConnectorRegistry(default=Portal(data, label))
    env = ActivityEnvironment()

    fetched = await env.run(
        FetchActivities(resources.pool, connectors, store=resources.store).fetch_bill,
        FetchRequest(job_id=job_id, utility_account_id=account["id"], provider="pge"),
    )
    ref = await env.run(
        StorageActivities(resources.pool, resources.store, connectors).store_raw_bill,
        StoreRequest(job_id=job_id, fetched=fetched),
    )

    assert (fetched.content_type, ref.content_type) == (stored_as, stored_as)
    assert await asyncio.to_thread(resources.store.read, ref.uri) == data


@pytest.mark.parametrize(
    ("data", "label"), [(b"", "application/pdf"), (b"  \r\n\t\n", "text/plain")], ids=["empty", "blank"]
)
async def test_an_empty_or_blank_file_is_rejected_as_one_not_archived(
    http: httpx.AsyncClient, resources: Resources, data: bytes, label: str
) -> None:
    """A blank file was archived and failed its job at extraction; an empty one was refused as "not a PDF, PNG, JPEG
    or plain-text bill". Both are refused as ``POST /bills`` refuses them, before anything is stored."""
    job_id, refusals = await refused_by_fetch_and_store(http, resources, Portal(data, label))

    for refused in refusals:
        assert refused.type == "DocumentRejected" and refused.non_retryable
        assert refused.message.startswith("empty_file: "), refused.message
    assert await resources.pool.fetchval("SELECT count(*) FROM artifacts WHERE job_id = $1", job_id) == 0


def test_a_read_leaves_half_of_its_attempt_to_archive_what_it_read() -> None:
    """Fetch reads the source, then uploads what it read: a read allowed 45 s of fetch's 60 s left the upload
    of a bill at the size limit too little, so an attempt timed out after its bill was read."""
    for policy in (policies.FETCH, policies.STORAGE):
        assert policy.start_to_close.total_seconds() >= 2 * SOURCE_READ_SECONDS


async def test_a_file_over_the_size_limit_is_rejected(http: httpx.AsyncClient, resources: Resources) -> None:
    account, job_id = await a_job(http, resources)
    connectors = ConnectorRegistry(default=Portal(TEXT_BILL, "text/plain"))
    fetch = FetchActivities(resources.pool, connectors, max_bytes=len(TEXT_BILL) - 1)

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(
            fetch.fetch_bill, FetchRequest(job_id=job_id, utility_account_id=account["id"], provider="pge")
        )
    assert refused.value.type == "DocumentRejected" and refused.value.non_retryable
    assert f"over the {len(TEXT_BILL) - 1}-byte limit" in str(refused.value)


async def test_a_bill_fetch_archives_is_the_one_stored_though_the_portal_renders_it_anew(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """Store read the source again and had to get the same bytes: a portal rendering each PDF anew failed every
    job with ArtifactConflict. Given the store, fetch archives the bytes it read; store only records them."""
    account, job_id = await a_job(http, resources)
    portal = RenderingPortal()
    connectors = ConnectorRegistry(default=portal)
    env = ActivityEnvironment()
    store = StorageActivities(resources.pool, resources.store, connectors)

    fetched = await env.run(
        FetchActivities(resources.pool, connectors, store=resources.store).fetch_bill,
        FetchRequest(job_id=job_id, utility_account_id=account["id"], provider="pge"),
    )
    refs = [await env.run(store.store_raw_bill, StoreRequest(job_id=job_id, fetched=fetched)) for _ in range(2)]

    assert refs[0] == refs[1] and refs[0].uri == fetched.source_uri and refs[0].sha256 == fetched.sha256
    assert refs[0].content_type == "application/pdf" and portal.reads == 1
    stored = await asyncio.to_thread(resources.store.read, refs[0].uri)
    assert hashlib.sha256(stored).hexdigest() == fetched.sha256
    assert await resources.pool.fetchval("SELECT count(*) FROM artifacts WHERE job_id = $1", job_id) == 1


def the_workers(name: str, resources: Resources, settings: Settings, connectors: ConnectorRegistry) -> Any:
    """The activity ``name`` as the worker registers it, reading from ``connectors``."""
    wired = dataclasses.replace(resources, connectors=connectors)
    return next(fn for fn in pipeline_activities(wired, settings) if fn.__name__ == name)


async def test_the_workers_fetch_archives_what_it_reads_and_holds_it_to_the_upload_limit(
    http: httpx.AsyncClient, resources: Resources, app_settings: Settings
) -> None:
    """The worker, not only a test, gives fetch the store and the operator's UPLOAD_MAX_BYTES."""
    account, job_id = await a_job(http, resources)
    portal = RenderingPortal()
    env = ActivityEnvironment()
    request = FetchRequest(job_id=job_id, utility_account_id=account["id"], provider="pge")

    fetched = await env.run(
        the_workers("fetch_bill", resources, app_settings, ConnectorRegistry(default=portal)), request
    )
    ref = await env.run(
        the_workers("store_raw_bill", resources, app_settings, ConnectorRegistry(default=portal)),
        StoreRequest(job_id=job_id, fetched=fetched),
    )
    assert (ref.uri, ref.sha256, portal.reads) == (fetched.source_uri, fetched.sha256, 1)

    strict = app_settings.model_copy(update={"upload_max_bytes": len(TEXT_BILL) - 1})
    too_big = ConnectorRegistry(default=Portal(TEXT_BILL, "text/plain"))
    with pytest.raises(ApplicationError) as refused:
        await env.run(the_workers("fetch_bill", resources, strict, too_big), request)
    assert f"over the {len(TEXT_BILL) - 1}-byte limit" in str(refused.value)


class DownPortal(Portal):
    """A portal that does not answer (refused, reset, 5xx)."""

    def read(self, source_uri: str) -> SourceDocument:
        raise ConnectionError("portal.example refused the connection")


async def test_a_failing_source_is_retried_as_long_as_its_step(http: httpx.AsyncClient, resources: Resources) -> None:
    """fetch_bill waits out a database outage for an hour, as the bookkeeping does (fifteen attempts, 2.5 minutes,
    failed every job a longer failover caught there), and a portal's outage alike: its error stays retryable
    however long the step has run (a patience counted from the step's first schedule was spent by a queue or an
    outage before the portal was ever asked)."""
    account, job_id = await a_job(http, resources)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, scheduled_time=datetime.now(UTC) - timedelta(minutes=50), attempt=300)
    fetch = FetchActivities(resources.pool, ConnectorRegistry(default=DownPortal(b"", "")))
    with pytest.raises(ConnectionError):  # retried by the policy, not typed non-retryable
        await env.run(fetch.fetch_bill, FetchRequest(job_id=job_id, utility_account_id=account["id"], provider="pge"))


def test_fetch_outlives_a_database_failover_by_its_policy() -> None:
    assert policies.FETCH.retry.maximum_attempts == 0
    assert policies.FETCH.schedule_to_close is not None and policies.FETCH.schedule_to_close >= timedelta(hours=1)


class SlowPortal(Portal):
    """A portal that answers after ``seconds``, or gives up on its own with ``TimeoutError`` (its socket timeout)."""

    def __init__(self, *, seconds: float = 0.0, own_timeout: bool = False) -> None:
        super().__init__(TEXT_BILL, "text/plain")
        self.seconds, self.own_timeout = seconds, own_timeout

    def read(self, source_uri: str) -> SourceDocument:
        if self.own_timeout:
            raise TimeoutError("connect timed out after 5s")
        time.sleep(self.seconds)
        return super().read(source_uri)


async def test_a_connectors_own_timeout_is_not_said_to_be_the_read_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connector's socket timeout (which connectors are asked to set) was reported as "the source did not answer
    within 30s", after a few milliseconds: the operator looked for a slow portal, not a refused connection."""
    with pytest.raises(TimeoutError) as own:
        await read_source(SlowPortal(own_timeout=True), "portal://x")
    assert not isinstance(own.value, SourceTimedOut) and str(own.value) == "connect timed out after 5s"

    monkeypatch.setattr(documents, "SOURCE_READ_SECONDS", 0.05)
    with pytest.raises(SourceTimedOut, match=r"did not answer within 0\.05s"):
        await read_source(SlowPortal(seconds=0.5), "portal://x")
