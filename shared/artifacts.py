"""Raw-bill store: every original document is kept once, named by its content hash.

Objects live at ``raw/bills/{job_id}/{sha256}.{ext}`` and are written create-once
(GCS ``ifGenerationMatch=0``; ``O_EXCL`` + ``link`` on disk). An activity retried
after a lost response therefore finds its own object: the store compares the stored
hash with ours, *touches* it (GCS: a metadata field, ``touched_at``; on disk: its mtime) and
succeeds: the sweep of unreferenced copies (``python -m worker.sweep_raw_bills``) measures age from the
last touch and deletes only the version it listed, so it never takes a bill a job has just taken up again.
A *different* hash under the same name can never be
fixed by retrying, so it raises ``ArtifactConflict``, whose class name is listed in
the Temporal retry policies' ``non_retryable_error_types``. Outages (the store's or
its credentials') raise ``ArtifactStoreUnavailable``, which Temporal retries; credentials refused for good
(a revoked or deleted key) or denied the bucket (403: a role never granted, another project's bucket) raise
``ArtifactStoreMisconfigured``, which only an operator mends.

Methods block: callers run them in a thread pool (sync activities, ``asyncio.to_thread``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

import requests
from google.api_core import exceptions as gexc
from google.auth.exceptions import RefreshError, TransportError
from google.cloud.storage import Blob, Client
from google.cloud.storage.exceptions import InvalidResponse

from shared.emulator import emulator_client_options, emulator_endpoint
from shared.google_credentials import credentials_or_refusal
from shared.models import ArtifactRef
from shared.settings import ArtifactStoreKind, Settings

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1024 * 1024
SHA256_KEY = "sha256"
TOUCHED_KEY = "touched_at"
"""GCS metadata: when a write last found the object there and took it up (ISO 8601, UTC)."""
PUT_ATTEMPTS = 3
"""Writes of one ``put_once``: an object deleted between finding it and touching it is written again."""

ARTIFACT_SCHEMES = frozenset({"gs", "file"})
"""The URI schemes of stored raw bills (GCS, the local store)."""

STALE_TEMP_AGE = timedelta(hours=1)
"""When the local store's ``.tmp-`` file is a dead process's: a live write (at most 20 MB, within the 60 s attempt)
or a sweep's delete holds one for seconds. Aged by the inode's change time, not mtime: the sweep's rename aside keeps
the bill's old mtime, while any write or rename moves the ctime."""
_ASIDE_PREFIX = ".tmp-deleting-"
"""How the local store's delete names a bill it set aside (``{prefix}{hex}-{name}``)."""

_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_EXT = re.compile(r"^[a-z0-9]{1,10}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ArtifactConflict(Exception):
    """Another document already sits under this content-addressed name: never retry."""


class ArtifactNotFound(Exception):
    """The URI points at no stored object."""


class ArtifactStoreUnavailable(Exception):
    """The store could not be reached or answered 5xx/429: retrying later may succeed."""


class ArtifactStoreMisconfigured(Exception):
    """The store refused our credentials for good (a revoked or deleted key): no wait mends it, an operator must."""


class InvalidArtifactName(ValueError):
    """A job id, extension or URI that could escape the store's namespace."""


class ArtifactStore(Protocol):
    def ensure_bucket(self) -> None: ...

    def put_once(
        self, *, job_id: str, data: bytes, content_type: str, ext: str, metadata: dict[str, str]
    ) -> ArtifactRef: ...

    def read(self, uri: str) -> bytes: ...

    def iter_chunks(self, uri: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]: ...

    def exists(self, uri: str) -> bool: ...


RAW_PREFIX = "raw/bills/"


@dataclass(frozen=True)
class StoredObject:
    """A raw bill as the store lists it, for the sweep of unreferenced copies (``python -m worker.sweep_raw_bills``)."""

    uri: str
    name: str
    """``raw/bills/{job_id}/{sha256}.{ext}``"""
    job_id: str
    sha256: str
    touched_at: datetime
    """When it was written or a write last took it up again (``put_once`` finding it there): its age is from then."""
    generation: int
    """GCS's generation, the local store's mtime in ns: a delete removes only the version listed."""
    metageneration: int | None = None
    """GCS's metageneration, which a touch moves: a delete after one fails its precondition."""


def _listed(
    uri: str, name: str, touched_at: datetime, generation: int, metageneration: int | None = None
) -> StoredObject | None:
    """The listing's entry for ``name``, None for anything that is not a raw bill's name."""
    try:
        _check_object_name(name)
    except InvalidArtifactName:
        return None
    _, _, job_id, file_name = name.split("/")
    sha256 = file_name.split(".", 1)[0]
    return StoredObject(uri, name, job_id, sha256, touched_at.astimezone(UTC), generation, metageneration)


def object_name(job_id: str, sha256: str, ext: str) -> str:
    """The content-addressed object name; refuses ids that could leave ``raw/bills/{job}/``."""
    _check_job_id(job_id)
    if not _EXT.fullmatch(ext):
        raise InvalidArtifactName(f"extension {ext!r} must be 1-10 lowercase letters or digits")
    if not _SHA256.fullmatch(sha256):
        raise InvalidArtifactName("sha256 must be 64 lowercase hex digits")
    return f"raw/bills/{job_id}/{sha256}.{ext}"


def _check_job_id(job_id: str) -> str:
    """``job_id`` as a listing's prefix takes it: never a pattern, nor a way out of ``raw/bills/``."""
    if not _JOB_ID.fullmatch(job_id):
        raise InvalidArtifactName(f"job id {job_id!r} is not a safe path component")
    return job_id


def _check_object_name(name: str) -> str:
    parts = name.split("/")
    if len(parts) != 4 or parts[:2] != ["raw", "bills"] or "." not in parts[3]:
        raise InvalidArtifactName(f"{name!r} is not a raw bill object name")
    sha256, ext = parts[3].split(".", 1)
    return object_name(parts[2], sha256, ext)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- Google Cloud Storage -------------------------------------------------------------

# (connect, read) seconds. Client-side retries are off: Temporal's retry policy owns them. The read wait fits
# the 60 s storage and fetch attempts (policies.STORAGE, FETCH; fetch may first spend 30 s reading its source):
# a GCS that stops answering fails the attempt as unavailable, not as a start-to-close timeout whose thread
# is still waiting on the socket long after Temporal retried.
GCS_TIMEOUT = (5.0, 20.0)


class GcsArtifactStore:
    """Raw bills in a GCS bucket (or fake-gcs-server when ``endpoint`` is given)."""

    def __init__(self, *, bucket: str, project: str, endpoint: str | None = None) -> None:
        if endpoint is None:
            with credentials_or_refusal("object storage (GCS)", "STORAGE_EMULATOR_HOST"):
                self._client = Client(project=project)
        else:
            self._client = Client(project=project, **emulator_client_options(endpoint))
        self._bucket_name = bucket
        self._bucket = self._client.bucket(bucket)

    @property
    def bucket(self) -> str:
        return self._bucket_name

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing. A service account with object roles only (no
        ``storage.buckets.get``) is told 403: the bucket is then taken to exist, as it must for
        such an account, and its first write says otherwise if it does not."""
        with _translate_errors(self._bucket_name):
            try:
                if self._client.lookup_bucket(self._bucket_name, timeout=GCS_TIMEOUT) is not None:
                    return
            except gexc.Forbidden:
                logger.warning(
                    "no permission to look up the bucket: taking it to exist", extra={"bucket": self._bucket_name}
                )
                return
            with suppress(gexc.Conflict):  # created concurrently by another process
                self._client.create_bucket(self._bucket_name, timeout=GCS_TIMEOUT)

    def put_once(
        self, *, job_id: str, data: bytes, content_type: str, ext: str, metadata: dict[str, str]
    ) -> ArtifactRef:
        sha256 = _sha256(data)
        name = object_name(job_id, sha256, ext)
        uri = f"gs://{self._bucket_name}/{name}"
        ref = ArtifactRef(uri=uri, sha256=sha256, size=len(data), content_type=content_type)
        blob = self._bucket.blob(name)
        blob.metadata = {**metadata, SHA256_KEY: sha256}
        with _translate_errors(self._bucket_name):
            for _ in range(PUT_ATTEMPTS):
                try:
                    _upload_in_one_request(blob, data, content_type)
                    return ref
                except gexc.PreconditionFailed:
                    if self._reuse_existing(name, data, sha256):
                        return ref
                except gexc.NotFound:  # an upload creates its object: only the bucket can be missing
                    raise ArtifactStoreMisconfigured(
                        f"bucket gs://{self._bucket_name} does not exist: check GCS_BUCKET (an identity with object"
                        " roles alone cannot create it at start)"
                    ) from None
        raise ArtifactStoreUnavailable(f"{name} kept vanishing after a precondition failure")

    def _reuse_existing(self, name: str, data: bytes, sha256: str) -> bool:
        """Our earlier attempt (or a twin job, or a request under the same Idempotency-Key) stored it: same content
        is success, other is a conflict. Touched, so the sweep neither finds it old nor deletes the version it
        listed; False when it was deleted meanwhile (write it again)."""
        stored = self._bucket.get_blob(name, timeout=GCS_TIMEOUT, retry=None)
        if stored is None:
            return False
        stored_sha = (stored.metadata or {}).get(SHA256_KEY)
        if stored_sha is not None:
            same = stored_sha == sha256 and stored.size == len(data)
        else:  # written by something else: fall back to the server-computed MD5
            md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
            same = stored.md5_hash == md5 and stored.size == len(data)
        if not same:
            raise ArtifactConflict(f"gs://{self._bucket_name}/{name} holds different content")
        stored.metadata = {**(stored.metadata or {}), TOUCHED_KEY: datetime.now(UTC).isoformat()}
        try:
            stored.patch(
                if_generation_match=stored.generation,
                if_metageneration_match=stored.metageneration,
                timeout=GCS_TIMEOUT,
                retry=None,
            )
        except (gexc.NotFound, gexc.PreconditionFailed):  # deleted, or changed, since read: look again
            return False
        except gexc.Forbidden:  # an identity without storage.objects.update: the bill is there, untouched
            logger.warning(
                "no permission to touch a raw bill taken up again: the sweep may take it for old",
                extra={"bucket": self._bucket_name},
            )
        return True

    def read(self, uri: str) -> bytes:
        blob = self._bucket.blob(self._name_of(uri))
        with _translate_errors(self._bucket_name):
            data: bytes = blob.download_as_bytes(timeout=GCS_TIMEOUT, retry=None)
        return data

    def iter_chunks(self, uri: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Ranged reads pinned to one generation, never past the end.

        Not ``Blob.open("rb")``: its reader asks for a range starting at the object's
        size when the size is a multiple of the chunk size, and fake-gcs-server 1.54
        resets the connection instead of answering 416.
        """
        name = self._name_of(uri)
        with _translate_errors(self._bucket_name):
            blob = self._bucket.get_blob(name, timeout=GCS_TIMEOUT, retry=None)
            if blob is None or blob.size is None:
                raise ArtifactNotFound(uri)
            for start in range(0, blob.size, chunk_size):
                end = min(start + chunk_size, blob.size) - 1  # inclusive
                yield blob.download_as_bytes(
                    start=start, end=end, if_generation_match=blob.generation, timeout=GCS_TIMEOUT, retry=None
                )

    def exists(self, uri: str) -> bool:
        """False for URIs outside this bucket (e.g. a connector's locator), so callers may probe freely."""
        try:
            name = self._name_of(uri)
        except InvalidArtifactName:
            return False
        with _translate_errors(self._bucket_name):
            return bool(self._bucket.blob(name).exists(timeout=GCS_TIMEOUT, retry=None))

    def list_raw(self, job_id: str | None = None) -> Iterator[StoredObject]:
        """Every raw bill in the bucket (of one job, given ``job_id``), a page of the listing at a time (the client's
        retry on each page: this serves an operator's command, not an activity under Temporal's retry policy)."""
        prefix = RAW_PREFIX if job_id is None else f"{RAW_PREFIX}{_check_job_id(job_id)}/"
        with _translate_errors(self._bucket_name):
            for blob in self._client.list_blobs(self._bucket_name, prefix=prefix, timeout=GCS_TIMEOUT):
                touched = _last_touched(blob)
                if touched is None or blob.generation is None:
                    continue
                uri = f"gs://{self._bucket_name}/{blob.name}"
                listed = _listed(uri, blob.name, touched, blob.generation, blob.metageneration)
                if listed is not None:
                    yield listed

    def delete(self, listed: StoredObject) -> bool:
        """Delete the object as listed: False when it is gone already (a second sweep), was written anew, or was
        touched since it was listed (a write took it up again: its metageneration moved).

        GCS's preconditions make the delete conditional on the version listed. The read before them is for
        fake-gcs-server (1.54 ignores preconditions on a delete, and a metadata patch moves its generation but
        neither ``updated`` nor the metageneration): there it leaves only the moment between read and delete.

        False too, logged, when the bucket keeps it (a retention policy not yet met, a hold): a later sweep may
        delete it, and this one goes on to the next."""
        name = _check_object_name(listed.name)
        with _translate_errors(self._bucket_name):
            current = self._bucket.get_blob(name, timeout=GCS_TIMEOUT, retry=None)
            if current is None:
                return False
            if (current.generation, current.metageneration, _last_touched(current)) != (
                listed.generation,
                listed.metageneration,
                listed.touched_at,
            ):
                return False
            try:
                self._bucket.delete_blob(
                    name,
                    if_generation_match=listed.generation,
                    if_metageneration_match=listed.metageneration,
                    timeout=GCS_TIMEOUT,
                    retry=None,
                )
            except (gexc.NotFound, gexc.PreconditionFailed):
                return False
            except gexc.Forbidden as refused:
                if not _kept_by_bucket(refused):
                    raise  # no role to delete: every bill alike, an operator's to mend
                logger.warning(
                    "raw bill kept by a retention policy or hold: not deleted",
                    extra={"bucket": self._bucket_name, "object": name, "reason": _gcs_message(refused)},
                )
                return False
        return True

    def _name_of(self, uri: str) -> str:
        parsed = urlparse(uri)
        if parsed.scheme != "gs" or parsed.netloc != self._bucket_name:
            raise InvalidArtifactName(f"{uri!r} is not in gs://{self._bucket_name}")
        return _check_object_name(parsed.path.lstrip("/"))


def _last_touched(blob: Blob) -> datetime | None:
    """The later of GCS's ``updated`` and the ``touched_at`` a write recorded (fake-gcs-server leaves ``updated``
    as it was on a metadata patch)."""
    times = [t for t in (blob.updated, blob.time_created) if t is not None]
    recorded = (blob.metadata or {}).get(TOUCHED_KEY)
    with suppress(ValueError, TypeError):
        touched = datetime.fromisoformat(recorded)  # type: ignore[arg-type]
        if touched.tzinfo is not None:
            times.append(touched)
    return max(times) if times else None


def _upload_in_one_request(blob: Blob, data: bytes, content_type: str) -> None:
    """Upload with ``ifGenerationMatch=0`` as one multipart request, whatever the size.

    ``Blob.upload_from_string`` switches to a resumable (two-request) upload above
    8 MiB. fake-gcs-server 1.54 drops preconditions on resumable uploads
    (fsouza/fake-gcs-server#1967), so a second write would silently overwrite; real
    GCS accepts single-request uploads of this size (bills are <= 20 MB). The
    private call is pinned by tests/storage/test_artifacts_gcs.py (9 MiB case).
    """
    try:
        response = blob._do_multipart_upload(
            client=None,
            stream=io.BytesIO(data),
            content_type=content_type,
            size=len(data),
            predefined_acl=None,
            if_generation_match=0,
            if_generation_not_match=None,
            if_metageneration_match=None,
            if_metageneration_not_match=None,
            timeout=GCS_TIMEOUT,
            retry=None,
        )
    except InvalidResponse as exc:  # the media layer's error: give it its HTTP meaning (412, 503...)
        status = exc.response.status_code
        raise gexc.from_http_status(status, str(exc), response=exc.response) from exc  # type: ignore[no-untyped-call]
    blob._set_properties(response.json())


_EXCHANGE_FAILED = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
"""A failed HTTP exchange (a connection reset mid-download is a ``ChunkedEncodingError``, no ``ConnectionError``).
Not every ``RequestException``: a malformed endpoint (``InvalidSchema``, ``InvalidURL``) is no outage."""


@contextmanager
def _translate_errors(bucket: str | None = None) -> Iterator[None]:
    """Map 404 to ``ArtifactNotFound``; outages to ``ArtifactStoreUnavailable``: 429, 5xx, a failed exchange,
    and a token that cannot be had for now; credentials refused for good, or refused a role on ``bucket`` (401,
    403), to ``ArtifactStoreMisconfigured``."""
    try:
        yield
    except gexc.NotFound as exc:
        raise ArtifactNotFound(str(exc)) from exc
    except (gexc.Forbidden, gexc.Unauthorized) as exc:
        raise ArtifactStoreMisconfigured(_denial(exc, bucket)) from exc
    except RefreshError as exc:
        if not _token_unavailable_for_now(exc):
            raise ArtifactStoreMisconfigured(_refusal(exc)) from exc
        raise ArtifactStoreUnavailable(str(exc)) from exc
    except (gexc.ServerError, gexc.TooManyRequests, TransportError, *_EXCHANGE_FAILED) as exc:
        raise ArtifactStoreUnavailable(str(exc)) from exc


def _refusal(error: RefreshError) -> str:
    """One line: google-auth's first argument is the endpoint's ``error: description``, the second its whole answer."""
    reason = " ".join(str(error.args[0] if error.args else error).split())
    return (
        f"object storage refused MiniMeter's credentials ({reason[:200]}): a revoked or deleted key? Check"
        " GOOGLE_APPLICATION_CREDENTIALS or the identity the process runs as"
    )


_KEPT_BY_BUCKET = re.compile(r"retention policy|object retention|under active [\w-]+ hold", re.IGNORECASE)
"""How GCS words a delete refused for a retention policy or an object retention (reason ``retentionPolicyNotMet``,
though once ``forbidden``) or a temporary or event-based hold (reason ``forbidden``)."""


def _kept_by_bucket(refused: gexc.Forbidden) -> bool:
    """The 403 is the bucket keeping the object for now, not the identity lacking a role."""
    reasons = {error.get("reason") for error in refused.errors if isinstance(error, dict)}
    return "retentionPolicyNotMet" in reasons or _KEPT_BY_BUCKET.search(_gcs_message(refused)) is not None


def _gcs_message(error: gexc.GoogleAPICallError) -> str:
    """GCS's own words, one line: the exception's message starts with the request's method and URL, which for a
    long object name filled the 200 characters logged before GCS's reason began."""
    details = [e["message"] for e in error.errors if isinstance(e, dict) and isinstance(e.get("message"), str)]
    return " ".join((details[0] if details else str(error.message)).split())


def _denial(error: gexc.GoogleAPICallError, bucket: str | None) -> str:
    """One line for the operator's log: GCS denies the identity this bucket (403: no role on it, or another project's
    bucket; 401: a token it will not take even refreshed). No wait mends that, so it is no outage."""
    where = f"gs://{bucket}" if bucket else "the bucket"
    reason = _gcs_message(error)
    return (
        f"object storage denied MiniMeter's identity permission on {where} ({error.code}: {reason[:200]}): grant"
        " the service account the process runs as roles/storage.objectAdmin on it, or check GCS_BUCKET"
    )


def _token_unavailable_for_now(error: RefreshError) -> bool:
    """A token endpoint's 5xx or 429 (google-auth marks it ``retryable``), or a metadata server out of reach (its
    ``TransportError`` wrapped in a ``RefreshError``); not a refused grant (``invalid_grant``: a revoked key)."""
    return bool(error.retryable) or isinstance(error.__cause__, TransportError)


# --- Local filesystem -------------------------------------------------------------------


class LocalArtifactStore:
    """Raw bills under a directory, for ``ARTIFACT_STORE=local``: same names and guarantees as GCS."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    @property
    def root(self) -> Path:
        return self._root

    def ensure_bucket(self) -> None:
        """Create the directory, and clear what a process that died mid-write or mid-delete left in it."""
        self._root.mkdir(parents=True, exist_ok=True)
        self.clear_stale_temp_files()

    def clear_stale_temp_files(self) -> None:
        """Remove ``.tmp-`` files older than ``STALE_TEMP_AGE``: only a start and a deleting sweep do. A sweep's
        delete left halfway holds the bill aside: it is put back under its name instead (a later sweep deletes it
        again if it is still an orphan), as that bill may be one a write took up again meanwhile."""
        cutoff = (datetime.now(UTC) - STALE_TEMP_AGE).timestamp()
        for job_dir in (self._root / RAW_PREFIX).glob("*/"):
            for path in job_dir.glob(".tmp-*"):
                try:
                    _clear_if_stale(path, cutoff)
                except FileNotFoundError:  # finished, or cleared by another process, meanwhile
                    continue
                except OSError as error:  # best effort: a file another user owns must not stop the API or worker
                    logger.warning("a stale temporary file could not be cleared", extra={"error": str(error)})

    def put_once(
        self, *, job_id: str, data: bytes, content_type: str, ext: str, metadata: dict[str, str]
    ) -> ArtifactRef:
        sha256 = _sha256(data)
        path = self._root / object_name(job_id, sha256, ext)
        path.parent.mkdir(parents=True, exist_ok=True)
        ref = ArtifactRef(uri=path.as_uri(), sha256=sha256, size=len(data), content_type=content_type)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # O_EXCL
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            for _ in range(PUT_ATTEMPTS):
                try:
                    # link() fails if the name exists (rename would overwrite): the create-once step.
                    os.link(tmp, path)
                    break
                except FileExistsError:
                    if _reuse_existing(path, sha256):
                        break
            else:
                raise ArtifactStoreUnavailable(f"{path} kept vanishing after it was found there")
        finally:
            os.unlink(tmp)
        sidecar = {"content_type": content_type, "metadata": {**metadata, SHA256_KEY: sha256}}
        _write_atomically(path.with_name(path.name + ".meta.json"), json.dumps(sidecar).encode())
        return ref

    def read(self, uri: str) -> bytes:
        return self._existing(uri).read_bytes()

    def iter_chunks(self, uri: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        with self._existing(uri).open("rb") as source:
            while chunk := source.read(chunk_size):
                yield chunk

    def exists(self, uri: str) -> bool:
        """False for URIs outside this store (e.g. a connector's locator)."""
        try:
            return self._path_of(uri).is_file()
        except InvalidArtifactName:
            return False

    def list_raw(self, job_id: str | None = None) -> Iterator[StoredObject]:
        """Every raw bill under the root (of one job, given ``job_id``; not the ``.meta.json`` beside each, nor a
        write's ``.tmp-`` file)."""
        job_dirs = (self._root / RAW_PREFIX).glob("*/" if job_id is None else f"{_check_job_id(job_id)}/")
        for job_dir in sorted(job_dirs):
            for path in sorted(job_dir.iterdir()):
                if path.name.endswith(".meta.json") or path.name.startswith(".tmp-"):
                    continue
                with suppress(FileNotFoundError):  # deleted since the directory was read
                    mtime = path.stat().st_mtime_ns
                    touched = datetime.fromtimestamp(mtime / 1e9, UTC)
                    listed = _listed(path.as_uri(), path.relative_to(self._root).as_posix(), touched, mtime)
                    if listed is not None:
                        yield listed

    def delete(self, listed: StoredObject) -> bool:
        """Delete the bill as listed, and its ``.meta.json``: False when the bill is gone already (a second sweep)
        or was touched since it was listed (a write took it up again: it is put back).

        The bill is first renamed aside, atomically: a write touching it before that moves its mtime, which is
        then seen; a write after that finds the name free and writes the bill again."""
        path = self._root / _check_object_name(listed.name)
        aside = path.with_name(f"{_ASIDE_PREFIX}{uuid.uuid4().hex}-{path.name}")  # its name, to put it back
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        if aside.stat().st_mtime_ns != listed.generation:
            with suppress(FileExistsError):  # written again meanwhile: the same bytes, by its name
                os.link(aside, path)
            aside.unlink()
            return False
        aside.unlink()
        if not path.exists():  # a write that took the name meanwhile keeps its own
            path.with_name(path.name + ".meta.json").unlink(missing_ok=True)
        return True  # its directory stays: a store writing into it at this moment must find it

    def _existing(self, uri: str) -> Path:
        path = self._path_of(uri)
        if not path.is_file():
            raise ArtifactNotFound(uri)
        return path

    def _path_of(self, uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            raise InvalidArtifactName(f"{uri!r} is not a file:// URI")
        path = Path(unquote(parsed.path))
        try:
            relative = path.relative_to(self._root)
        except ValueError:
            raise InvalidArtifactName(f"{uri!r} is outside the local store's directory (DATA_DIR)") from None
        return self._root / _check_object_name(relative.as_posix())


def _reuse_existing(path: Path, sha256: str) -> bool:
    """The local twin of ``GcsArtifactStore._reuse_existing``: True when ``path`` holds these bytes and its mtime
    is now moved; False when it was deleted meanwhile (write it again)."""
    try:
        if _sha256(path.read_bytes()) != sha256:
            raise ArtifactConflict(f"{path} holds different content")
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def _clear_if_stale(path: Path, cutoff: float) -> None:
    """Remove a ``.tmp-`` file changed before ``cutoff``, putting a bill a sweep set aside back first."""
    if path.stat().st_ctime >= cutoff:
        return
    if path.name.startswith(_ASIDE_PREFIX):
        _put_back(path)
    path.unlink()


def _put_back(aside: Path) -> None:
    """Link a bill a sweep set aside back under its name (``.tmp-deleting-{hex}-{name}``), unless it was written
    there again since: the same name holds the same bytes."""
    _, named, name = aside.name.removeprefix(_ASIDE_PREFIX).partition("-")
    if not named:  # set aside by an earlier release, which did not keep the name
        return
    with suppress(FileExistsError):
        os.link(aside, aside.with_name(name))


def _write_atomically(path: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, path)
    except BaseException:
        # A full disk or a cancelled call: the temporary file would otherwise stay until the next start.
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def build_artifact_store(settings: Settings) -> ArtifactStore:
    """The store ``ARTIFACT_STORE`` selects; GCS goes to the emulator when STORAGE_EMULATOR_HOST is set."""
    if settings.artifact_store is ArtifactStoreKind.LOCAL:
        return LocalArtifactStore(settings.data_dir / "artifacts")
    return GcsArtifactStore(
        bucket=settings.gcs_bucket,
        project=settings.gcp_project,
        endpoint=emulator_endpoint(settings.storage_emulator_host),
    )
