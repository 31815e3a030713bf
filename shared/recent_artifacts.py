"""Raw bills this worker just wrote or read, kept in memory so extraction skips a download.

``store_raw_bill`` uploads a bill and ``extract_bill`` reads it back moments later,
usually in the same worker. Object names carry the content's SHA-256 and objects are
written once, so a name always means the same bytes: a copy kept here cannot go stale.
The cache is bounded by bytes and by entries; a miss just reads the store as before.
"""

from __future__ import annotations

from collections.abc import Iterator

from shared.artifacts import DEFAULT_CHUNK_SIZE, ArtifactStore
from shared.bounded_cache import RECENT_ENTRIES, RecentCache
from shared.models import ArtifactRef


class RecentArtifacts:
    """An ``ArtifactStore`` that remembers the last ``max_entries`` objects it wrote or read, up to ``max_bytes``."""

    def __init__(self, store: ArtifactStore, *, max_bytes: int, max_entries: int = RECENT_ENTRIES) -> None:
        self._store = store
        self._recent: RecentCache[str, bytes] = RecentCache(max_bytes=max_bytes, max_entries=max_entries, getsizeof=len)

    def ensure_bucket(self) -> None:
        self._store.ensure_bucket()

    def put_once(
        self, *, job_id: str, data: bytes, content_type: str, ext: str, metadata: dict[str, str]
    ) -> ArtifactRef:
        ref = self._store.put_once(job_id=job_id, data=data, content_type=content_type, ext=ext, metadata=metadata)
        self._remember(ref.uri, data)
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
        return self._store.exists(uri)

    def _remember(self, uri: str, data: bytes) -> None:
        if data:
            self._recent.put(uri, data)
