"""RecentArtifacts: a bill the worker just stored is read back from memory, within a byte bound."""

from __future__ import annotations

import os
from urllib.parse import urlparse

import pytest

from shared.artifacts import ArtifactNotFound, GcsArtifactStore, LocalArtifactStore
from shared.recent_artifacts import RecentArtifacts

META = {"job_id": "job", "provider": "pge"}


def _put(store: RecentArtifacts, job_id: str, data: bytes) -> str:
    return store.put_once(job_id=job_id, data=data, content_type="text/plain", ext="txt", metadata=META).uri


def _delete_underneath(uri: str) -> None:
    os.remove(urlparse(uri).path)


def test_a_stored_bill_is_read_back_without_the_store(local_store: LocalArtifactStore) -> None:
    recent = RecentArtifacts(local_store, max_bytes=1024)
    uri = _put(recent, "job-1", b"bill one")
    _delete_underneath(uri)  # only memory can answer now

    assert recent.read(uri) == b"bill one"


@pytest.mark.parametrize(
    ("bound", "size", "bills"),
    [
        ({"max_bytes": 400}, 100, 5),  # 100-byte bills: four fit
        # Bytes alone let 32 MiB of 3 KB bills keep ten thousand that nothing reads again.
        ({"max_bytes": 1024 * 1024, "max_entries": 3}, 10, 4),
    ],
    ids=["bytes", "entries"],
)
def test_the_oldest_bills_leave_first_once_the_bound_is_reached(
    local_store: LocalArtifactStore, bound: dict[str, int], size: int, bills: int
) -> None:
    recent = RecentArtifacts(local_store, **bound)
    uris = [_put(recent, f"job-{i}", bytes([65 + i]) * size) for i in range(bills)]
    for uri in uris:
        _delete_underneath(uri)

    with pytest.raises(ArtifactNotFound):
        recent.read(uris[0])
    assert [recent.read(u) for u in uris[1:]] == [bytes([65 + i]) * size for i in range(1, bills)]


def test_a_large_object_is_not_kept(local_store: LocalArtifactStore) -> None:
    recent = RecentArtifacts(local_store, max_bytes=400)
    small = _put(recent, "job-small", b"s" * 100)
    large = _put(recent, "job-large", b"L" * 101)  # over a quarter of the bound
    _delete_underneath(small)
    _delete_underneath(large)

    assert recent.read(small) == b"s" * 100  # the big one did not push it out
    with pytest.raises(ArtifactNotFound):
        recent.read(large)


def test_a_miss_reads_the_store_and_is_kept(local_store: LocalArtifactStore) -> None:
    uri = local_store.put_once(
        job_id="job-2", data=b"uploaded", content_type="text/plain", ext="txt", metadata=META
    ).uri
    recent = RecentArtifacts(local_store, max_bytes=1024)

    assert recent.read(uri) == b"uploaded"
    _delete_underneath(uri)
    assert recent.read(uri) == b"uploaded"


def test_gcs_objects_round_trip_through_the_cache(gcs_store: GcsArtifactStore) -> None:
    recent = RecentArtifacts(gcs_store, max_bytes=1024)
    ref = recent.put_once(job_id="job-3", data=b"%PDF bill", content_type="application/pdf", ext="pdf", metadata=META)

    assert recent.read(ref.uri) == gcs_store.read(ref.uri) == b"%PDF bill"
    assert recent.exists(ref.uri)
