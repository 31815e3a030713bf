"""GcsArtifactStore against fake-gcs-server: create-once, verify-on-412, outages stay retryable."""

from __future__ import annotations

import hashlib
import logging
import os
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests
from google.auth.exceptions import RefreshError, TransportError

from api.main import ensure_bucket_or_warn
from shared.artifacts import (
    ArtifactConflict,
    ArtifactNotFound,
    ArtifactStoreMisconfigured,
    ArtifactStoreUnavailable,
    GcsArtifactStore,
    InvalidArtifactName,
    _translate_errors,
)
from shared.models import ArtifactRef
from stack.emulators import GcsEmulator
from stack.services import free_port
from tests.fakes.local_server import LocalFake, answer_json
from tests.fakes.token_endpoint import TokenRefused, service_account_file
from tests.storage.conftest import PROJECT
from tests.storage.denied_gcs import (
    NO_DELETE_ROLE,
    RETENTION_NOT_MET,
    UNDER_HOLD,
    DeleteDenial,
    PermissionDenied,
    Unauthenticated,
    deletes_refused,
    denied_gcs,
)
from workflows.policies import NON_RETRYABLE

META = {"job_id": "job-1", "provider": "pge"}


def put(store: GcsArtifactStore, data: bytes, job_id: str = "job-1") -> ArtifactRef:
    return store.put_once(job_id=job_id, data=data, content_type="application/pdf", ext="pdf", metadata=META)


def test_a_write_to_a_bucket_that_does_not_exist_is_misconfigured_not_a_missing_bill(gcs_emulator: GcsEmulator) -> None:
    """A mistyped GCS_BUCKET under an identity that may not create buckets: every write's 404 read as the raw bill
    deleted (ArtifactNotFound, non-retryable), each job failing at once under that label, and uploads a bare 500."""
    store = GcsArtifactStore(bucket="raw-bils-typo", project="p", endpoint=gcs_emulator.url)
    with pytest.raises(ArtifactStoreMisconfigured, match="bucket gs://raw-bils-typo does not exist: check GCS_BUCKET"):
        put(store, b"%PDF-1.7 bill")
    assert "ArtifactStoreMisconfigured" not in NON_RETRYABLE  # retried until an operator mends it


def test_put_once_names_the_object_by_hash_and_sets_metadata(gcs_store: GcsArtifactStore) -> None:
    data = b"%PDF-1.7 bill"
    ref = put(gcs_store, data)

    sha = hashlib.sha256(data).hexdigest()
    assert ref.uri == f"gs://{gcs_store.bucket}/raw/bills/job-1/{sha}.pdf"
    assert (ref.sha256, ref.size, ref.content_type) == (sha, len(data), "application/pdf")
    blob = gcs_store._bucket.get_blob(f"raw/bills/job-1/{sha}.pdf")
    assert blob is not None
    assert blob.content_type == "application/pdf"
    assert blob.metadata == {**META, "sha256": sha}


def test_second_write_of_same_content_is_success(gcs_store: GcsArtifactStore) -> None:
    first = put(gcs_store, b"same bytes")
    created = gcs_store._bucket.get_blob(first.uri.split("/", 3)[3]).time_created

    again = put(gcs_store, b"same bytes")

    assert again == first
    # Not rewritten (an overwrite is a new object, created anew), but touched: the sweep's age starts again.
    # Not the generation: fake-gcs-server moves it on a metadata patch, where GCS moves the metageneration.
    stored = gcs_store._bucket.get_blob(first.uri.split("/", 3)[3])
    assert stored.time_created == created and "touched_at" in stored.metadata


def test_other_content_under_the_same_name_is_a_conflict(gcs_store: GcsArtifactStore) -> None:
    data = b"the real bill"
    name = f"raw/bills/job-1/{hashlib.sha256(data).hexdigest()}.pdf"
    gcs_store._bucket.blob(name).upload_from_string(b"something else", if_generation_match=0)

    with pytest.raises(ArtifactConflict):
        put(gcs_store, data)
    assert "ArtifactConflict" in NON_RETRYABLE


def test_conflict_is_detected_by_md5_when_metadata_is_missing(gcs_store: GcsArtifactStore) -> None:
    data = b"bill without metadata"
    name = f"raw/bills/job-1/{hashlib.sha256(data).hexdigest()}.pdf"
    gcs_store._bucket.blob(name).upload_from_string(data, if_generation_match=0)  # same bytes, no sha256 key

    assert put(gcs_store, data).sha256 == hashlib.sha256(data).hexdigest()


def test_large_bill_is_written_in_one_request_so_the_precondition_holds(gcs_store: GcsArtifactStore) -> None:
    # Above 8 MiB the client would go resumable, where fake-gcs-server ignores ifGenerationMatch.
    data = os.urandom(9 * 1024 * 1024)
    first = put(gcs_store, data)
    name = first.uri.split("/", 3)[3]
    created = gcs_store._bucket.get_blob(name).time_created

    assert put(gcs_store, data) == first
    assert gcs_store._bucket.get_blob(name).time_created == created  # not overwritten (only touched)


def test_read_stream_and_exists(gcs_store: GcsArtifactStore) -> None:
    data = bytes(range(256)) * 16  # 4 KiB: a multiple of the chunk size
    ref = put(gcs_store, data)

    assert gcs_store.read(ref.uri) == data
    chunks = list(gcs_store.iter_chunks(ref.uri, chunk_size=1024))
    assert [len(c) for c in chunks] == [1024] * 4 and b"".join(chunks) == data
    assert gcs_store.exists(ref.uri)
    assert not gcs_store.exists(ref.uri.replace("job-1", "job-2"))
    assert not gcs_store.exists("mock://pge/bill/1")  # a connector locator, not ours
    with pytest.raises(ArtifactNotFound):
        gcs_store.read(ref.uri.replace("job-1", "job-2"))
    with pytest.raises(InvalidArtifactName):
        gcs_store.read(f"gs://another-bucket/raw/bills/job-1/{ref.sha256}.pdf")


@pytest.mark.parametrize(
    ("job_id", "ext"), [("../escape", "pdf"), ("a/b", "pdf"), ("", "pdf"), ("job", "p/df"), ("job", ".."), ("job", "")]
)
def test_hostile_names_are_refused(gcs_store: GcsArtifactStore, job_id: str, ext: str) -> None:
    with pytest.raises(InvalidArtifactName):
        gcs_store.put_once(job_id=job_id, data=b"x", content_type="text/plain", ext=ext, metadata={})


def test_ensure_bucket_is_idempotent(gcs_store: GcsArtifactStore) -> None:
    gcs_store.ensure_bucket()
    gcs_store.ensure_bucket()


def test_outage_raises_a_retryable_error_and_a_later_call_succeeds(tmp_path: Path) -> None:
    with GcsEmulator(data_dir=tmp_path / "gcs") as emulator:
        store = GcsArtifactStore(bucket="outage", project="minimeter-local", endpoint=emulator.url)
        store.ensure_bucket()
        before = put(store, b"stored before the outage")

        emulator.stop()
        with pytest.raises(ArtifactStoreUnavailable) as raised:
            put(store, b"written during the outage")
        assert type(raised.value).__name__ not in NON_RETRYABLE
        with pytest.raises(ArtifactStoreUnavailable):
            store.read(before.uri)

        emulator.start()  # same port, same data dir
        during = put(store, b"written during the outage")
        assert store.read(during.uri) == b"written during the outage"
        assert store.read(before.uri) == b"stored before the outage"


class _NoBucketPermission(BaseHTTPRequestHandler):
    """GCS for a service account with object roles only: bucket metadata is 403."""

    def do_GET(self) -> None:
        answer_json(self, 403, {"error": {"code": 403, "message": "caller lacks storage.buckets.get"}})

    def log_message(self, *_: object) -> None:
        pass


def test_a_bucket_the_account_may_not_look_up_is_taken_to_exist() -> None:
    """Least privilege (Storage Object Admin) cannot read bucket metadata: start-up must not crash on it."""
    with LocalFake(_NoBucketPermission, name="gcs-403") as fake:
        GcsArtifactStore(bucket="theirs", project="p", endpoint=fake.url).ensure_bucket()


@pytest.mark.parametrize("handler", [PermissionDenied, Unauthenticated], ids=["403", "401"])
def test_a_bucket_the_account_may_not_use_is_misconfigured(
    handler: type[PermissionDenied], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing IAM role escaped as google's raw ``Forbidden``: uploads a generic 500 that kept their rate-limit
    token, and the store step retried for an hour under an error type nothing names. It is a misconfiguration
    an operator mends, its message naming the bucket and what to grant."""
    with denied_gcs(tmp_path, monkeypatch, handler):
        store = GcsArtifactStore(bucket="theirs", project="p")
        uri = f"gs://theirs/raw/bills/job-1/{'0' * 64}.pdf"

        with pytest.raises(ArtifactStoreMisconfigured, match="gs://theirs") as raised:
            put(store, b"a bill")
        assert "permission" in str(raised.value) and "\n" not in str(raised.value)
        for call in (store.read, store.exists, lambda uri: list(store.iter_chunks(uri))):
            with pytest.raises(ArtifactStoreMisconfigured):
                call(uri)
    assert "ArtifactStoreMisconfigured" not in NON_RETRYABLE  # retried until an operator mends it


@pytest.mark.parametrize("denial", [RETENTION_NOT_MET, UNDER_HOLD], ids=["retention", "hold"])
def test_a_bill_the_bucket_keeps_is_not_deleted_and_says_why(
    gcs_store: GcsArtifactStore, gcs_emulator: GcsEmulator, denial: DeleteDenial, caplog: pytest.LogCaptureFixture
) -> None:
    """A retention policy or a hold refuses the delete (403): taken for a missing role, it stopped the sweep at that
    bill, telling the operator to grant objectAdmin. The bill is left, and the log names it and GCS's reason."""
    ref = put(gcs_store, b"a bill the bucket must keep")
    (listed,) = gcs_store.list_raw()
    with deletes_refused(gcs_emulator.url, {listed.name}, denial) as url:
        store = GcsArtifactStore(bucket=gcs_store.bucket, project=PROJECT, endpoint=url)
        with caplog.at_level(logging.WARNING, logger="shared.artifacts"):
            assert store.delete(listed) is False

    assert gcs_store.read(ref.uri) == b"a bill the bucket must keep"
    (record,) = [r for r in caplog.records if r.name == "shared.artifacts"]
    assert record.__dict__["object"] == listed.name
    assert record.__dict__["reason"] == denial.body(listed.name)["error"]["message"]


def test_a_delete_the_identity_has_no_role_for_is_misconfigured(
    gcs_store: GcsArtifactStore, gcs_emulator: GcsEmulator
) -> None:
    """No role to delete refuses every bill alike: an operator must grant it, so it is not taken for a hold."""
    put(gcs_store, b"a bill")
    (listed,) = gcs_store.list_raw()
    with deletes_refused(gcs_emulator.url, {listed.name}, NO_DELETE_ROLE) as url:
        store = GcsArtifactStore(bucket=gcs_store.bucket, project=PROJECT, endpoint=url)
        with pytest.raises(ArtifactStoreMisconfigured, match=r"storage\.objects\.delete"):
            store.delete(listed)


def _closed_port() -> str:
    return f"http://127.0.0.1:{free_port()}/token"  # outside the ephemeral range: no self-connect


def test_a_token_endpoint_out_of_reach_is_an_outage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On real GCS every call first gets a token (metadata server, token endpoint): google-auth's
    TransportError there is the store being unavailable, a 503 with Retry-After, never a 500."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(tmp_path, _closed_port())))
    store = GcsArtifactStore(bucket="theirs", project="p")  # real GCS: the token is asked for first

    with pytest.raises(ArtifactStoreUnavailable):
        put(store, b"a bill")
    with pytest.raises(ArtifactStoreUnavailable):
        store.read(f"gs://theirs/raw/bills/job-1/{'0' * 64}.pdf")


def test_a_refused_grant_is_a_misconfiguration_not_an_outage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revoked or deleted key (``invalid_grant``) never comes back: reported as an outage, clients were told
    to try again shortly, forever. It is ``ArtifactStoreMisconfigured``, its message naming the refusal."""
    with LocalFake(TokenRefused, name="token-refused") as fake:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(tmp_path, f"{fake.url}/token")))
        store = GcsArtifactStore(bucket="theirs", project="p")

        with pytest.raises(ArtifactStoreMisconfigured, match="Invalid JWT Signature"):
            put(store, b"a bill")
        with pytest.raises(ArtifactStoreMisconfigured):
            store.read(f"gs://theirs/raw/bills/job-1/{'0' * 64}.pdf")


def test_a_metadata_server_out_of_reach_is_still_an_outage() -> None:
    """On GCE or GKE google-auth wraps the metadata server's TransportError in a RefreshError that is not
    marked retryable, as it does here: that one is a passing outage, not a refused key."""
    with pytest.raises(ArtifactStoreUnavailable), _translate_errors():
        try:
            raise TransportError("Failed to retrieve http://metadata.google.internal/...: timed out")
        except TransportError as unreachable:
            raise RefreshError(unreachable) from unreachable


@pytest.mark.parametrize("endpoint", ["127.0.0.1:9023", "http://exa mple.com"])
def test_a_malformed_endpoint_is_no_outage(endpoint: str) -> None:
    """A scheme left out (``InvalidSchema``) or a host mistyped (``InvalidURL``) is an address no retry mends:
    the caller must not answer 503 "try again shortly" for it."""
    store = GcsArtifactStore(bucket="theirs", project="p", endpoint=endpoint)
    with pytest.raises(requests.RequestException):
        store.read(f"gs://theirs/raw/bills/job-1/{'0' * 64}.pdf")


class _ResetMidDownload(BaseHTTPRequestHandler):
    """GCS whose connection drops in the middle of a chunked download."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"400\r\n%PDF-1.7 and then nothing")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *_: object) -> None:
        pass


def test_a_download_cut_off_midway_is_an_outage() -> None:
    """requests raises ChunkedEncodingError there, not a ConnectionError."""
    with LocalFake(_ResetMidDownload, name="gcs-reset") as fake:
        store = GcsArtifactStore(bucket="theirs", project="p", endpoint=fake.url)
        with pytest.raises(ArtifactStoreUnavailable):
            store.read(f"gs://theirs/raw/bills/job-1/{'0' * 64}.pdf")


async def test_a_revoked_key_stops_the_api_start_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Taken for an outage, a revoked key started the API with a warning, and every upload then answered 503
    "try again shortly" forever. The start stops instead, one line saying what to check."""
    with LocalFake(TokenRefused, name="token-refused") as fake:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(tmp_path, f"{fake.url}/token")))
        store = GcsArtifactStore(bucket="theirs", project="p")

        with pytest.raises(ArtifactStoreMisconfigured) as refused:
            await ensure_bucket_or_warn(store, within=30)

    message = str(refused.value)
    assert "\n" not in message
    assert "Invalid JWT Signature" in message and "GOOGLE_APPLICATION_CREDENTIALS" in message
