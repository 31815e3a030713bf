"""LocalArtifactStore: the GCS guarantees on a filesystem, and no way out of its root."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

import shared.artifacts
from shared.artifacts import (
    ArtifactConflict,
    ArtifactNotFound,
    InvalidArtifactName,
    LocalArtifactStore,
    build_artifact_store,
)
from shared.models import ArtifactRef
from shared.settings import ArtifactStoreKind, Settings


def put(store: LocalArtifactStore, data: bytes, job_id: str = "job-1") -> ArtifactRef:
    return store.put_once(job_id=job_id, data=data, content_type="text/plain", ext="txt", metadata={"job_id": job_id})


def test_put_once_twice_returns_the_same_ref(local_store: LocalArtifactStore) -> None:
    first = put(local_store, b"bill")
    assert put(local_store, b"bill") == first
    path = Path(first.uri.removeprefix("file://"))
    assert path == local_store.root / f"raw/bills/job-1/{hashlib.sha256(b'bill').hexdigest()}.txt"
    assert path.read_bytes() == b"bill"
    sidecar = json.loads(path.with_name(path.name + ".meta.json").read_text())
    assert sidecar["content_type"] == "text/plain" and sidecar["metadata"]["sha256"] == first.sha256
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_tampered_object_is_a_conflict(local_store: LocalArtifactStore) -> None:
    ref = put(local_store, b"bill")
    Path(ref.uri.removeprefix("file://")).write_bytes(b"tampered")
    with pytest.raises(ArtifactConflict):
        put(local_store, b"bill")


def test_read_stream_exists(local_store: LocalArtifactStore) -> None:
    ref = put(local_store, b"abcdefgh")
    assert local_store.read(ref.uri) == b"abcdefgh"
    assert list(local_store.iter_chunks(ref.uri, chunk_size=4)) == [b"abcd", b"efgh"]
    assert local_store.exists(ref.uri)
    missing = ref.uri.replace("job-1", "job-2")
    assert not local_store.exists(missing)
    with pytest.raises(ArtifactNotFound):
        local_store.read(missing)


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc/passwd",
        "gs://bucket/raw/bills/job/x.pdf",
        "file://{root}/raw/bills/../../../etc/passwd",
        "file://{root}/raw/bills/job-1/notahash.txt",
        "file://{root}/raw/bills/job-1/sub/{sha}.txt",
    ],
)
def test_uris_outside_the_root_are_refused(local_store: LocalArtifactStore, uri: str) -> None:
    uri = uri.format(root=local_store.root, sha="0" * 64)
    assert not local_store.exists(uri)
    with pytest.raises(InvalidArtifactName):
        local_store.read(uri)


@pytest.mark.parametrize(("job_id", "ext"), [("..", "txt"), ("a/../../b", "txt"), ("job", "../x"), ("job", "TXT/")])
def test_hostile_names_are_refused(local_store: LocalArtifactStore, job_id: str, ext: str) -> None:
    with pytest.raises(InvalidArtifactName):
        local_store.put_once(job_id=job_id, data=b"x", content_type="text/plain", ext=ext, metadata={})
    assert not any(local_store.root.parent.glob("*x*"))


def test_factory_selects_the_local_store(tmp_path: Path) -> None:
    store = build_artifact_store(Settings(artifact_store=ArtifactStoreKind.LOCAL, data_dir=tmp_path))
    assert isinstance(store, LocalArtifactStore)
    assert store.root == (tmp_path / "artifacts").resolve()


def write_left_halfway(store: LocalArtifactStore, job_id: str) -> Path:
    """A write's temporary file as a process that died mid-write leaves it, beside the job's bills."""
    job_dir = store.root / "raw" / "bills" / job_id
    job_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=job_dir, prefix=".tmp-")
    with open(fd, "wb") as out:
        out.write(b"half a bi")
    return Path(tmp)


class ProcessStopped(BaseException):
    """The process killed at this point (a deploy, the OOM killer)."""


_rename = os.rename


def rename_then_stop(src: str | Path, dst: str | Path) -> None:
    """``os.rename``, and the process killed the moment after."""
    _rename(src, dst)
    raise ProcessStopped


def test_what_a_dead_process_left_is_cleared_at_start(
    local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed mid-write left its ``.tmp-`` file for ever; one killed mid-sweep, the bill it set aside
    (which may be one a write had just taken up again): at start the first is removed, the second put back."""
    kept = put(local_store, b"a bill nobody touches", job_id="job-kept")
    left = write_left_halfway(local_store, "job-kept")
    aside_ref = put(local_store, b"a bill the sweep set aside", job_id="job-aside")
    (listed,) = [o for o in local_store.list_raw() if o.job_id == "job-aside"]
    with monkeypatch.context() as stopping, pytest.raises(ProcessStopped):
        stopping.setattr(os, "rename", rename_then_stop)
        local_store.delete(listed)
    assert not local_store.exists(aside_ref.uri)

    monkeypatch.setattr(shared.artifacts, "STALE_TEMP_AGE", timedelta(hours=-1))  # all of them are old by now
    local_store.ensure_bucket()

    assert not left.exists()
    assert local_store.read(kept.uri) == b"a bill nobody touches"
    assert local_store.read(aside_ref.uri) == b"a bill the sweep set aside"
    leftovers = [p.name for p in (local_store.root / "raw" / "bills").glob("*/.tmp-*")]
    assert leftovers == []


def test_a_temporary_file_that_cannot_be_cleared_does_not_stop_the_start(
    local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clearing is best effort: an entry it cannot remove (here a directory; a file another user owns in a
    shared DATA_DIR) is left, and the API and worker start anyway, clearing the rest."""
    put(local_store, b"a bill", job_id="job-1")
    stuck = local_store.root / "raw" / "bills" / "job-1" / ".tmp-a-directory"
    stuck.mkdir()
    left = write_left_halfway(local_store, "job-1")
    monkeypatch.setattr(shared.artifacts, "STALE_TEMP_AGE", timedelta(hours=-1))

    local_store.ensure_bucket()

    assert stuck.is_dir() and not left.exists()


def test_a_write_under_way_keeps_its_temporary_file_at_start(local_store: LocalArtifactStore) -> None:
    """Another process (the API, a second worker) starting while this one writes must not take its file."""
    writing = write_left_halfway(local_store, "job-1")
    local_store.ensure_bucket()
    assert writing.read_bytes() == b"half a bi"


def disk_full(src: str | Path, dst: str | Path) -> None:
    """``os.replace`` on a disk that filled up under the write."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_write_that_fails_leaves_no_temporary_file(
    local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The metadata's temporary file outlived a failed write, until the next process start cleared it."""
    with monkeypatch.context() as failing, pytest.raises(OSError, match="No space left"):
        failing.setattr(os, "replace", disk_full)
        put(local_store, b"a bill")

    job_dir = local_store.root / "raw" / "bills" / "job-1"
    assert [p.name for p in job_dir.iterdir() if p.name.startswith(".tmp-")] == []
