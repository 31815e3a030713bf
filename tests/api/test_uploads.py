"""``POST /bills``: uploads go through the same workflow; bad files get clear errors, never retries."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.storage import record_artifact
from api.auth import Role, create_key
from api.main import create_app
from api.routes.jobs import CHARSET_SAMPLE_BYTES
from api.state import AppState
from extraction.document import read_document
from shared.artifacts import ArtifactStore, GcsArtifactStore
from shared.models import SETTLED_STATUSES, ArtifactRef
from shared.settings import Settings
from tests.fakes.local_server import LocalFake
from tests.fakes.token_endpoint import TokenRefused, service_account_file
from tests.helpers import bill_text, create_account, insert_job, serve, store_text_bill, wait_for_status
from tests.storage.denied_gcs import denied_gcs
from worker.resources import Resources

BILLS = Path(__file__).parents[2] / "eval" / "bills"


async def upload(
    http: httpx.AsyncClient, account_id: int, data: bytes, *, filename: str = "bill.pdf", key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await http.post(
        "/bills",
        files={"file": (filename, data, "application/octet-stream")},
        data={"utility_account_id": str(account_id)},
        headers=headers,
    )


async def scheduled_activities(client: Client, workflow_id: str) -> list[tuple[str, int]]:
    """(activity type, attempts) for each activity the workflow ran."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    names = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    return [
        (
            names[e.activity_task_started_event_attributes.scheduled_event_id],
            e.activity_task_started_event_attributes.attempt,
        )
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]


async def test_known_provider_pdf_is_accepted_with_golden_values(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    golden = json.loads((BILLS / "pge_classic_0.expected.json").read_text())["bill"]
    account = await create_account(http, provider="pge", account_number=golden["account_number"].replace("-", " "))
    # A hostile filename: the type is sniffed from the bytes, the name never reaches a path.
    response = await upload(http, account["id"], (BILLS / "pge_classic_0.pdf").read_bytes(), filename="../../x.png")
    assert response.status_code == 201, response.text
    job = await wait_for_status(http, response.json()["id"])
    assert job["status"] == "SUCCEEDED", job
    bill = await resources.pool.fetchrow("SELECT * FROM bills WHERE job_id = $1", job["id"])
    assert bill["total_amount"] == Decimal(golden["total_amount"])
    assert str(bill["bill_period_end"]) == golden["bill_period_end"]
    assert bill["account_number"] == golden["account_number"]
    artifact = await resources.pool.fetchrow("SELECT * FROM artifacts WHERE job_id = $1", job["id"])
    assert artifact["content_type"] == "application/pdf"
    assert artifact["uri"].endswith(f"/raw/bills/{job['id']}/{artifact['sha256']}.pdf")
    raw = await http.get(f"/jobs/{job['id']}/artifact")
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/pdf"
    assert raw.content == (BILLS / "pge_classic_0.pdf").read_bytes()
    assert raw.headers["content-disposition"] == f'inline; filename="bill-{job["id"]}.pdf"'  # saved, it opens


async def test_a_stored_bill_gone_from_object_storage_is_a_404_before_any_byte(
    http: httpx.AsyncClient, resources: Resources, app_settings: Settings, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Removed by a lifecycle rule, say: a 404 with a reason, not a 200 cut off mid-download; and a warning for the
    operator, who learnt of it from nobody."""
    account = await create_account(http, provider="pge", account_number=f"GONE-{unique}")
    job_id = await insert_job(resources.pool, account, status="SUCCEEDED")
    sha = "0" * 64
    gone = ArtifactRef(
        uri=f"gs://{app_settings.gcs_bucket}/raw/bills/{job_id}/{sha}.pdf",
        sha256=sha,
        size=1234,
        content_type="application/pdf",
    )
    await record_artifact(resources.pool, job_id, gone)

    with caplog.at_level(logging.WARNING, logger="api.routes.jobs"):
        response = await http.get(f"/jobs/{job_id}/artifact")

    assert response.status_code == 404, response.text
    assert "no longer in object storage" in response.json()["detail"]
    [warning] = [r for r in caplog.records if r.getMessage() == "stored bill missing from object storage"]
    assert warning.job_id == str(job_id)  # type: ignore[attr-defined]
    assert warning.uri.startswith(f"gs://{app_settings.gcs_bucket}/raw/bills/{job_id}/")  # type: ignore[attr-defined]


async def test_a_stored_bill_outside_the_configured_bucket_is_a_404_that_says_where_it_is(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """GCS_BUCKET changed (or ARTIFACT_STORE switched) since the job ran: its old bill is a problem, not a 500."""
    account = await create_account(http, provider="pge", account_number=f"MOVED-{unique}")
    job_id = await insert_job(resources.pool, account, status="SUCCEEDED")
    sha = "1" * 64
    elsewhere = ArtifactRef(
        uri=f"gs://old-raw-bills/raw/bills/{job_id}/{sha}.pdf", sha256=sha, size=1234, content_type="application/pdf"
    )
    await record_artifact(resources.pool, job_id, elsewhere)

    response = await http.get(f"/jobs/{job_id}/artifact")

    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert "gs://old-raw-bills" in detail and sha not in detail, detail


async def refetched_bills(resources: Resources, job_id: str, texts: list[str]) -> list[ArtifactRef]:
    """The job's stored bills, oldest first: each operator reset's re-fetch brought different bytes."""
    refs = []
    for age, text in zip(range(len(texts), 0, -1), texts, strict=True):
        ref = await store_text_bill(resources.store, job_id, text)
        await record_artifact(resources.pool, job_id, ref)
        await resources.pool.execute(
            "UPDATE artifacts SET created_at = now() - make_interval(hours => $3) WHERE job_id = $1 AND sha256 = $2",
            uuid.UUID(job_id),
            ref.sha256,
            age,
        )
        refs.append(ref)
    return refs


async def test_the_raw_bill_of_a_job_fetched_again_is_the_newest_one(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A reset run archives what the connector returns now: that is the job's bill, not the first run's."""
    account = await create_account(http, provider="pge", account_number=f"RESET-{unique}")
    job_id = await insert_job(resources.pool, account, status="RUNNING")
    texts = [bill_text(f"RESET-{unique}", total=total) for total in ("60.00", "61.00")]
    refs = await refetched_bills(resources, job_id, texts)

    raw = await http.get(f"/jobs/{job_id}/artifact")
    unknown = await http.get(f"/jobs/{job_id}/artifact", params={"sha256": "f" * 64})
    first = await http.get(f"/jobs/{job_id}/artifact", params={"sha256": refs[0].sha256.upper()})

    assert raw.status_code == 200 and raw.text == texts[1], raw.text
    assert first.status_code == 200 and first.text == texts[0], "a hash in capitals names the same bill"
    assert unknown.status_code == 404 and "has no stored bill" in unknown.json()["detail"], unknown.text


async def test_the_review_page_shows_the_bill_its_task_was_extracted_from(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A later reset's re-fetch (still being read) must not put another document beside the task's fields."""
    account = await create_account(http, provider="pge", account_number=f"TASK-{unique}")
    job_id = await insert_job(resources.pool, account, status="NEEDS_REVIEW")
    texts = [bill_text(f"TASK-{unique}", total=total) for total in ("60.00", "61.00", "62.00")]
    refs = await refetched_bills(resources, job_id, texts)
    await resources.pool.execute(
        "INSERT INTO review_tasks (job_id, status, reasons, artifact_uri, revision)"
        " VALUES ($1, 'PENDING', '[\"balance_mismatch\"]', $2, 'r1')",
        uuid.UUID(job_id),
        refs[1].uri,
    )

    task = await http.get(f"/reviews/{job_id}")
    assert task.status_code == 200, task.text
    raw = await http.get(task.json()["artifact_url"])

    assert raw.status_code == 200 and raw.text == texts[1], raw.text


async def test_a_text_bill_is_served_in_the_charset_extraction_read_it_in(http: httpx.AsyncClient, unique: str) -> None:
    """The raw-bill pane shows the text the rules read: a Latin-1 bill declared UTF-8 would read "Jos\ufffd"."""
    account = await create_account(http, provider="pge", account_number=f"CS-{unique}")
    text = bill_text(f"CS-{unique}", customer="José Muñoz")
    cut_short = text.encode("utf-8") + "é".encode()[:1]  # UTF-8 for extraction: a last character cut in two
    for data in (text.encode("latin-1"), text.encode("utf-8"), text.encode("utf-16"), cut_short):
        job = (await upload(http, account["id"], data, filename="bill.txt")).json()
        raw = await http.get(f"/jobs/{job['id']}/artifact")
        assert raw.status_code == 200 and raw.content == data, "the raw bill, byte for byte"
        charset = raw.charset_encoding
        assert charset is not None, raw.headers["content-type"]
        shown = raw.content.decode(charset, errors="replace").removesuffix("\ufffd")  # as a browser shows a cut
        assert shown == read_document(data).text and "Customer: José Muñoz" in shown, (data[-2:], charset)


class ChunksCounted:
    """The API's artifact store, its raw bills read in small chunks that are counted as they are pulled."""

    CHUNK = 64 * 1024

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store
        self.pulled = 0

    def iter_chunks(self, uri: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        for chunk in self._store.iter_chunks(uri, chunk_size=self.CHUNK):
            self.pulled += 1
            yield chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class AtResponseStart:
    """ASGI middleware that calls ``record`` as a response's status line and headers leave."""

    def __init__(self, app: ASGIApp, record: Callable[[], None]) -> None:
        self._app = app
        self._record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._record()
            await send(message)

        await self._app(scope, receive, sending)


async def test_a_huge_text_bill_is_streamed_not_read_whole_before_its_first_byte(
    app_settings: Settings, admin_key: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Naming a text bill's charset read all of it first: 20 MB held per view, and views are not rate limited."""
    account = await create_account(http, provider="pge", account_number=f"BIG-{unique}")
    job_id = await insert_job(resources.pool, account, status="FAILED")
    page = bill_text(f"BIG-{unique}", customer="José Muñoz").encode()
    data = page * (4 * CHARSET_SAMPLE_BYTES // len(page))
    ref = await asyncio.to_thread(
        resources.store.put_once, job_id=job_id, data=data, content_type="text/plain", ext="txt", metadata={}
    )
    await record_artifact(resources.pool, job_id, ref)
    app = create_app(app_settings)
    pulled_at_start: list[int] = []
    counted: ChunksCounted  # wraps the store the app makes as it starts
    app.add_middleware(AtResponseStart, record=lambda: pulled_at_start.append(counted.pulled))
    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as api,
    ):
        state: AppState = app.state.minimeter
        counted = ChunksCounted(state.store)
        state.store = counted
        raw = await api.get(f"/jobs/{job_id}/artifact")

    assert raw.status_code == 200 and raw.content == data, "the whole bill still reaches the client"
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert len(pulled_at_start) == 1 and counted.pulled > pulled_at_start[0], (pulled_at_start, counted.pulled)
    assert pulled_at_start[0] <= CHARSET_SAMPLE_BYTES // ChunksCounted.CHUNK, "a bounded beginning, then streamed"


async def test_a_stored_bill_is_served_in_a_sandbox_that_runs_no_script(http: httpx.AsyncClient, unique: str) -> None:
    """Defence in depth: whatever a stored bill turns out to be, it runs no script in the API's origin."""
    account = await create_account(http, provider="pge", account_number=f"CSP-{unique}")
    job = (await upload(http, account["id"], bill_text(f"CSP-{unique}").encode(), filename="bill.txt")).json()

    raw = await http.get(f"/jobs/{job['id']}/artifact")

    assert raw.status_code == 200, raw.text
    directives = [d.split() for d in raw.headers["content-security-policy"].split(";")]
    policy = {name: values for name, *values in directives}
    assert policy["sandbox"] == [], "no allow-scripts, no allow-same-origin: an origin of its own"
    assert policy["default-src"] == ["'none'"] and "script-src" not in policy, "no script from anywhere"
    assert policy["frame-ancestors"] == ["'self'"], "the review page still frames it"


async def test_a_stored_pdf_is_served_outside_the_sandbox_so_every_browser_shows_it(
    http: httpx.AsyncClient, unique: str
) -> None:
    """Firefox's and Safari's PDF viewers show nothing in a sandbox; a PDF is only framed by the review page."""
    account = await create_account(http, provider="pge", account_number=f"PDF-{unique}")
    job = (await upload(http, account["id"], (BILLS / "pge_classic_2.pdf").read_bytes())).json()

    raw = await http.get(f"/jobs/{job['id']}/artifact")

    assert raw.status_code == 200 and raw.headers["content-type"] == "application/pdf", raw.headers
    policy = raw.headers["content-security-policy"]
    assert "sandbox" not in policy and policy == "frame-ancestors 'self'", policy


async def test_bill_for_another_account_goes_to_review(http: httpx.AsyncClient, unique: str) -> None:
    account = await create_account(http, provider="pge", account_number=f"9999-{unique}")
    response = await upload(http, account["id"], (BILLS / "pge_classic_2.pdf").read_bytes())
    job = await wait_for_status(http, response.json()["id"], SETTLED_STATUSES)
    assert job["status"] == "NEEDS_REVIEW"
    assert job["reasons"] == ["account_mismatch"]


async def test_doubtful_bill_goes_to_review_with_reasons(http: httpx.AsyncClient, unique: str) -> None:
    account = await create_account(http, provider="pge", account_number=f"5512-{unique}")
    response = await upload(http, account["id"], bill_text(f"5512-{unique}").encode(), filename="bill.txt")
    job = await wait_for_status(http, response.json()["id"], SETTLED_STATUSES)
    assert job["status"] == "NEEDS_REVIEW"
    assert job["reasons"] == ["balance_mismatch"]


async def test_image_offline_goes_to_review_as_no_text_layer(http: httpx.AsyncClient, unique: str) -> None:
    account = await create_account(http, provider="duke", account_number=f"IMG-{unique}")
    response = await upload(http, account["id"], (BILLS / "adv_scan_png.png").read_bytes(), filename="scan.png")
    job = await wait_for_status(http, response.json()["id"], SETTLED_STATUSES)
    assert job["status"] == "NEEDS_REVIEW"
    assert "no_text_layer" in job["reasons"]


async def test_corrupt_pdf_fails_at_once_with_reason(http: httpx.AsyncClient, client: Client, unique: str) -> None:
    account = await create_account(http, provider="coned", account_number=f"COR-{unique}")
    response = await upload(http, account["id"], (BILLS / "adv_corrupt.pdf").read_bytes())
    assert response.status_code == 201
    job = await wait_for_status(http, response.json()["id"])
    assert job["status"] == "FAILED"
    assert "corrupt_file" in job["error"]
    activities = await scheduled_activities(client, job["workflow_id"])
    assert ("extract_bill", 1) in activities and all(attempt == 1 for _, attempt in activities)


async def test_empty_and_unsupported_files_are_refused(http: httpx.AsyncClient, unique: str) -> None:
    account = await create_account(http, provider="coned", account_number=f"BAD-{unique}")
    empty = await upload(http, account["id"], b"")
    assert empty.status_code == 422 and empty.headers["content-type"] == "application/problem+json"
    blank = await upload(http, account["id"], b"  \r\n\t\n ", filename="bill.txt")  # was a job, FAILED empty_file
    assert (blank.status_code, blank.json()["detail"]) == (422, "the uploaded file holds nothing but blank space")
    zipped = await upload(http, account["id"], b"PK\x03\x04" + bytes(range(256)) * 4, filename="bill.pdf")
    assert zipped.status_code == 415
    assert "PDF, PNG, JPEG or plain-text" in zipped.json()["detail"]
    jobs = (await http.get("/jobs", params={"customer_id": account["customer_id"]})).json()
    assert jobs["total"] == 0


@pytest.mark.parametrize(
    "page",
    [
        b"<!DOCTYPE html><html><body>Your bill</body></html>",
        b"\xef\xbb\xbf\r\n<title>Statement</title><p>Total due $60.00</p>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"\xff\xfe" + "<html><body>Your bill</body></html>".encode("utf-16-le"),
        b"<html><!-- download as %PDF-1.7 --><body><form>Sign in to see your bill</form></body></html>",
    ],
    ids=["html", "title-first-after-a-bom", "svg", "utf-16-html", "html-naming-pdf"],
)
async def test_a_web_page_upload_is_refused_as_no_bill(http: httpx.AsyncClient, unique: str, page: bytes) -> None:
    """A page sniffed as plain text was taken (201) and read as a text bill: its tags went to extraction, and to
    review. Refused as connectors' reads are, saying what to send instead."""
    account = await create_account(http, provider="coned", account_number=f"WEB-{unique}")
    refused = await upload(http, account["id"], page, filename="bill.txt")
    assert refused.status_code == 415, refused.text
    assert "a web page (HTML, SVG or XML) is not a bill" in refused.json()["detail"]
    assert (await http.get("/jobs", params={"customer_id": account["customer_id"]})).json()["total"] == 0
    for text in (b"Total due < $60.00 > last month\n<< notice >>\n", b"<REPRINT>\n<Page 1 of 2>\nTotal due $60.00\n"):
        plain = await upload(http, account["id"], text, filename="bill.txt")
        assert plain.status_code == 201, plain.text


async def test_upload_idempotency_key_returns_the_same_job(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    account = await create_account(http, provider="pge", account_number=f"IDEM-{unique}")
    data = bill_text(f"IDEM-{unique}").encode()
    first = await upload(http, account["id"], data, filename="a.txt", key=f"up-{unique}")
    second = await upload(http, account["id"], data, filename="a.txt", key=f"up-{unique}")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    count = await resources.pool.fetchval(
        "SELECT count(*) FROM ingestion_jobs WHERE utility_account_id = $1", account["id"]
    )
    assert count == 1


async def test_same_file_again_is_duplicate_before_extraction(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str
) -> None:
    golden = json.loads((BILLS / "pge_classic_1.expected.json").read_text())["bill"]
    account = await create_account(http, provider="pge", account_number=golden["account_number"])
    data = (BILLS / "pge_classic_1.pdf").read_bytes()
    first = await wait_for_status(http, (await upload(http, account["id"], data)).json()["id"])
    second = await wait_for_status(http, (await upload(http, account["id"], data)).json()["id"])
    assert first["status"] == "SUCCEEDED"
    assert second["status"] == "DUPLICATE"
    assert second["result"]["duplicate_of"] == first["id"]
    # Its figures as a rescan's duplicate shows them: the stored bill's (an analyst's probe found none).
    shown = (second["result"]["total_amount"], second["result"]["currency"])
    assert shown == (first["result"]["total_amount"], "USD") != (None, "USD")
    assert "extract_bill" not in [name for name, _ in await scheduled_activities(client, second["workflow_id"])]
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE utility_account_id = $1", account["id"]) == 1


async def test_same_bill_in_other_bytes_is_duplicate_by_natural_key(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    account = await create_account(http, provider="pge", account_number=f"7001-{unique}")
    text = bill_text(f"7001-{unique}", total="60.00")
    first = await wait_for_status(
        http, (await upload(http, account["id"], text.encode(), filename="a.txt")).json()["id"]
    )
    again = (text + "\nThank you for your payment.\n").encode()
    second = await wait_for_status(http, (await upload(http, account["id"], again, filename="b.txt")).json()["id"])
    assert (first["status"], second["status"]) == ("SUCCEEDED", "DUPLICATE")
    assert second["result"]["duplicate_of"] == first["id"]
    assert await resources.pool.fetchval("SELECT count(*) FROM bills WHERE utility_account_id = $1", account["id"]) == 1


async def test_an_idempotency_key_replays_only_its_own_request(http: httpx.AsyncClient, unique: str) -> None:
    first_account = await create_account(http, provider="pge", account_number=f"IDA-{unique}")
    other_account = await create_account(http, provider="pge", account_number=f"IDB-{unique}")
    data = bill_text(f"IDA-{unique}").encode()
    assert (await upload(http, first_account["id"], data, key=f"up-{unique}")).status_code == 201

    elsewhere = await upload(http, other_account["id"], data, key=f"up-{unique}")
    assert elsewhere.status_code == 422, elsewhere.text
    assert "already used for a different request" in elsewhere.json()["detail"]

    started = await http.post(
        "/jobs", json={"utility_account_id": first_account["id"]}, headers={"Idempotency-Key": f"run-{unique}"}
    )
    assert started.status_code == 201, started.text
    as_upload = await upload(http, first_account["id"], data, key=f"run-{unique}")
    assert as_upload.status_code == 422, "a key first used to fetch from the provider is not an upload's"

    other_file = await upload(http, first_account["id"], data + b"\nPage 2\n", key=f"up-{unique}")
    assert other_file.status_code == 422, "another file under the first file's key would be dropped unread"
    assert "different file" in other_file.json()["detail"]


async def test_a_job_is_found_under_any_spelling_of_its_id(http: httpx.AsyncClient, unique: str) -> None:
    account = await create_account(http, provider="pge", account_number=f"UUID-{unique}")
    job = (await upload(http, account["id"], bill_text(f"UUID-{unique}").encode())).json()
    plain = uuid.UUID(job["id"])

    for spelling in (f"{{{plain}}}", plain.urn, plain.hex, str(plain).upper()):
        response = await http.get(f"/jobs/{quote(spelling, safe='')}")
        assert response.status_code == 200, (spelling, response.text)
        assert response.json()["id"] == job["id"]
    assert (await http.get(f"/reviews/{quote(f'{{{uuid.uuid4()}}}', safe='')}")).status_code == 404


async def test_the_review_page_link_keeps_serving_the_task_bill_after_a_later_fetch(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The page drawn while the task's bill was the newest, a reset's re-fetch stored after: the link the page
    holds still opens the bill beside the task's fields, not the new one."""
    account = await create_account(http, provider="pge", account_number=f"LINK-{unique}")
    job_id = await insert_job(resources.pool, account, status="NEEDS_REVIEW")
    texts = [bill_text(f"LINK-{unique}", total=total) for total in ("70.00", "71.00")]
    [read] = await refetched_bills(resources, job_id, texts[:1])
    await resources.pool.execute(
        "INSERT INTO review_tasks (job_id, status, reasons, artifact_uri, revision)"
        " VALUES ($1, 'PENDING', '[\"balance_mismatch\"]', $2, 'r1')",
        uuid.UUID(job_id),
        read.uri,
    )
    task = await http.get(f"/reviews/{job_id}")
    assert task.status_code == 200, task.text

    newer = await store_text_bill(resources.store, job_id, texts[1])
    await record_artifact(resources.pool, job_id, newer)
    raw = await http.get(task.json()["artifact_url"])

    assert raw.status_code == 200 and raw.text == texts[0], raw.text


async def test_object_storage_refusing_the_credentials_is_never_try_again(
    http: httpx.AsyncClient,
    resources: Resources,
    app_settings: Settings,
    admin_key: str,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A revoked key answered 503 with Retry-After, so clients retried for as long as nobody noticed: it is a
    server fault (500) an operator must mend, with nothing that says to try again."""
    account = await create_account(http, provider="pge", account_number=f"KEY-{unique}")
    job_id = await insert_job(resources.pool, account, status="FAILED")
    ref = ArtifactRef(
        uri=f"gs://theirs/raw/bills/{job_id}/{'c' * 64}.txt", sha256="c" * 64, size=9, content_type="text/plain"
    )
    await record_artifact(resources.pool, job_id, ref)
    app = create_app(app_settings)
    with LocalFake(TokenRefused, name="token-refused") as token_endpoint:
        monkeypatch.setenv(
            "GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(tmp_path, f"{token_endpoint.url}/token"))
        )
        async with (
            serve(app) as url,
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as api,
        ):
            state: AppState = app.state.minimeter
            state.store = GcsArtifactStore(bucket="theirs", project="p")  # real GCS: a token is asked for first
            uploaded = await upload(api, account["id"], bill_text(f"KEY-{unique}").encode(), filename="bill.txt")
            raw = await api.get(f"/jobs/{job_id}/artifact")

    for response in (uploaded, raw):
        assert response.status_code == 500, response.text
        assert "Retry-After" not in response.headers and "again" not in response.text
        # Not the generic "internal error": the operator is told what to mend, the client nothing of the key.
        assert response.headers["content-type"] == "application/problem+json"
        assert "misconfigured on our side" in response.json()["detail"]
        # Nor of the deployment's credentials: a customer's key must not learn what the operator's log says.
        assert "credential" not in response.text and "revoked" not in response.text
        assert "the API's log" not in response.text
        assert "JWT" not in response.text and "iam.gserviceaccount.com" not in response.text


async def test_a_bucket_the_service_account_may_not_write_is_misconfigured_and_costs_no_token(
    http: httpx.AsyncClient,
    resources: Resources,
    app_settings: Settings,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GCS's 403 (no role on the bucket) escaped as a bare exception: a generic 500 "internal error" whose
    rate-limit token stayed spent. It is the misconfiguration 500, and the budget keeps its token for the bill
    sent again once an operator has granted the role."""
    account = await create_account(http, provider="pge", account_number=f"IAM-{unique}")
    key = (await create_key(resources.pool, name=f"iam-{unique}", role=Role.INGEST)).key
    app = create_app(app_settings.model_copy(update={"rate_limit_per_minute": 1}))
    with denied_gcs(tmp_path, monkeypatch):
        async with (
            serve(app) as url,
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as api,
        ):
            state: AppState = app.state.minimeter
            state.store = GcsArtifactStore(bucket="theirs", project="p")
            refused = [await upload(api, account["id"], f"Total due ${n}.00".encode()) for n in (1, 2)]

    for response in refused:  # the second is no 429: the first gave its token back
        assert response.status_code == 500, response.text
        assert "misconfigured on our side" in response.json()["detail"]
        assert "Retry-After" not in response.headers
        assert "theirs" not in response.text and "gserviceaccount" not in response.text  # the operator's log only
    assert (await http.get("/jobs", params={"customer_id": account["customer_id"]})).json()["total"] == 0
