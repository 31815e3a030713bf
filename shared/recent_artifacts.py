"""Raw bills this worker just wrote or read, kept in memory so extraction skips a download.

``fetch_bill`` uploads a bill and ``extract_bill`` reads it back moments later,
usually in the same worker. Object names carry the content's SHA-256 and objects are
written once, so a name always means the same bytes: a copy kept here cannot go stale.
The cache is bounded by bytes and by entries; a miss just reads the store as before.

``store_raw_bill`` asks whether the bill ``fetch_bill`` archived is there, a request to
the bucket a bill; one this worker wrote a moment ago is, so that is answered from memory
too (``VOUCHED_FOR``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from cachetools import TTLCache

from shared.artifacts import DEFAULT_CHUNK_SIZE, ArtifactStore
from shared.bounded_cache import RECENT_ENTRIES, RecentCache
from shared.models import ArtifactRef

VOUCHED_FOR = timedelta(minutes=1)
"""How long a write here vouches that its object is in the store. ``store_raw_bill`` normally asks within
seconds of ``fetch_bill``'s write. Nothing of ours deletes a bill that young: the sweep takes none touched within
the hour (``worker.sweep_raw_bills.MIN_AGE``), and a write touches it. A person, or a bucket's lifecycle rule (its
age counts from the object's creation, which a write finding the object there does not move), may delete it within
the minute: the job then records a bill the store no longer has, as it could before when the deletion came just
after the store's answer. Past the minute, or for an object written elsewhere, ``exists`` asks the store."""


class RecentArtifacts:
    """An ``ArtifactStore`` that remembers the last ``max_entries`` objects it wrote or read, up to ``max_bytes``."""

    def __init__(
        self,
        store: ArtifactStore,
        *,
        max_bytes: int,
        max_entries: int = RECENT_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._recent: RecentCache[str, bytes] = RecentCache(max_bytes=max_bytes, max_entries=max_entries, getsizeof=len)
        self._vouched: TTLCache[str, bool] = TTLCache(
            maxsize=max(1, max_entries), ttl=VOUCHED_FOR.total_seconds(), timer=clock
        )
        """URIs written through this store within ``VOUCHED_FOR``, objects too large for ``_recent`` too."""
        self._vouched_lock = threading.Lock()  # TTLCache is not thread-safe; activities call from several threads

    @property
    def wrapped(self) -> ArtifactStore:
        """The store underneath: what another process (the API storing an upload) writes to."""
        return self._store

    def ensure_bucket(self) -> None:
        self._store.ensure_bucket()

    def put_once(
        self, *, job_id: str, data: bytes, content_type: str, ext: str, metadata: dict[str, str]
    ) -> ArtifactRef:
        ref = self._store.put_once(job_id=job_id, data=data, content_type=content_type, ext=ext, metadata=metadata)
        self._remember(ref.uri, data)
        with self._vouched_lock:
            self._vouched[ref.uri] = True
        return ref

    def read(self, uri: str) -> bytes:
        data = self._recent.get(uri)
        if data is None:
            data = self._store.read(uri)
            self._remember(uri, data)
        return data

    def iter_chunks(self, uri: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        return self._store.iter_chunks(uri, chunk_size)

    def exists(self, uri: str) -> bool:
        with self._vouched_lock:
            if uri in self._vouched:  # an expired entry is not "in"
                return True
        return self._store.exists(uri)

    def _remember(self, uri: str, data: bytes) -> None:
        if data:
            self._recent.put(uri, data)
