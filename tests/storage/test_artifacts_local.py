"""LocalArtifactStore: the GCS guarantees on a filesystem, and no way out of its root."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

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
