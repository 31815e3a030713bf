"""RecentArtifacts: a bill the worker just stored is read back from memory, within a byte bound, and vouched for
without asking the store for ``VOUCHED_FOR``."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

import pytest

from shared.artifacts import ArtifactNotFound, ArtifactStore, GcsArtifactStore, LocalArtifactStore
from shared.recent_artifacts import VOUCHED_FOR, RecentArtifacts
from tests.helpers import ManualClock

META = {"job_id": "job", "provider": "pge"}


def _put(store: ArtifactStore, job_id: str, data: bytes) -> str:
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
    local_store: LocalArtifactStore, bound: dict[str, Any], size: int, bills: int
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
    uri = _put(local_store, "job-2", b"uploaded")
    recent = RecentArtifacts(local_store, max_bytes=1024)

    assert recent.read(uri) == b"uploaded"
    _delete_underneath(uri)
    assert recent.read(uri) == b"uploaded"


def test_gcs_objects_round_trip_through_the_cache(gcs_store: GcsArtifactStore) -> None:
    recent = RecentArtifacts(gcs_store, max_bytes=1024)
    ref = recent.put_once(job_id="job-3", data=b"%PDF bill", content_type="application/pdf", ext="pdf", metadata=META)

    assert recent.read(ref.uri) == gcs_store.read(ref.uri) == b"%PDF bill"
    assert recent.exists(ref.uri)


def test_a_bill_written_here_is_vouched_for_until_the_window_closes(local_store: LocalArtifactStore) -> None:
    """``store_raw_bill`` asks whether the bill fetch just archived is there: this worker wrote it, so no request.
    Past ``VOUCHED_FOR`` the store is asked again, and a bill deleted meanwhile reads as gone."""
    clock = ManualClock()
    recent = RecentArtifacts(local_store, max_bytes=1024, clock=clock)
    uri = _put(recent, "job-written", b"written here")
    _delete_underneath(uri)

    clock.now += VOUCHED_FOR.total_seconds() - 1
    assert recent.exists(uri)  # answered from memory: the store no longer has it
    clock.now += 1
    assert not recent.exists(uri)


def test_a_bill_written_elsewhere_is_asked_of_the_store_each_time(local_store: LocalArtifactStore) -> None:
    """Another worker's bill: neither a read nor the store's answer is remembered, a yes or a no."""
    recent = RecentArtifacts(local_store, max_bytes=1024)
    there = _put(local_store, "job-other", b"another worker's")
    later = there.replace("job-other", "job-later")

    assert recent.read(there) == b"another worker's" and recent.exists(there)
    assert not recent.exists(later)
    _delete_underneath(there)
    assert _put(local_store, "job-later", b"another worker's") == later

    assert not recent.exists(there)
    assert recent.exists(later)


def test_only_the_last_bills_written_are_vouched_for(local_store: LocalArtifactStore) -> None:
    recent = RecentArtifacts(local_store, max_bytes=1024, max_entries=1)
    first, second = _put(recent, "job-first", b"first"), _put(recent, "job-second", b"second")
    for uri in (first, second):
        _delete_underneath(uri)

    assert not recent.exists(first)
    assert recent.exists(second)


def test_a_large_bill_is_vouched_for_though_not_kept(local_store: LocalArtifactStore) -> None:
    recent = RecentArtifacts(local_store, max_bytes=400)
    large = _put(recent, "job-large", b"L" * 101)  # over a quarter of the bound: its bytes are not kept
    _delete_underneath(large)

    assert recent.exists(large)


def test_a_gcs_bill_written_here_is_vouched_for_without_a_request(gcs_store: GcsArtifactStore) -> None:
    """Deleted from the bucket behind this worker's back: only memory can still say it is there; a store that
    did not write it asks the bucket."""
    recent = RecentArtifacts(gcs_store, max_bytes=1024)
    uri = _put(recent, "job-4", b"%PDF bill")
    (listed,) = list(gcs_store.list_raw())
    assert gcs_store.delete(listed)

    assert recent.exists(uri)
    assert not RecentArtifacts(gcs_store, max_bytes=1024).exists(uri)
