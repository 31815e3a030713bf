"""Store raw: archive the fetched bill in object storage, create-once, and record it in Postgres."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from urllib.parse import urlsplit

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.connectors.base import BillNotAvailable, Connector, ConnectorRegistry
from activities.connectors.documents import MAX_SOURCE_BYTES, read_source
from shared.artifacts import ARTIFACT_SCHEMES, ArtifactStore
from shared.models import ArtifactRef, StoreRequest

logger = logging.getLogger(__name__)

EXTENSIONS = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "text/plain": "txt",
}


def extension_for(content_type: str) -> str:
    return EXTENSIONS.get(content_type, "bin")


async def record_artifact(pool: asyncpg.Pool, job_id: str, ref: ArtifactRef) -> None:
    """Upsert the ``artifacts`` row keyed by (job, sha256), dated now: the job's newest stored bill (what
    ``GET /jobs/{id}/artifact`` serves) is the one recorded last, a reset run's re-fetch of bytes an earlier
    run stored too (A, then B, then A again: A). A retry's second record only moves the date a moment on."""
    await pool.execute(
        """
        INSERT INTO artifacts (job_id, uri, sha256, size, content_type)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (job_id, sha256) DO UPDATE SET uri = EXCLUDED.uri, created_at = EXCLUDED.created_at
        """,
        job_id,
        ref.uri,
        ref.sha256,
        ref.size,
        ref.content_type,
    )


class StorageActivities:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: ArtifactStore,
        connectors: ConnectorRegistry,
        *,
        max_bytes: int = MAX_SOURCE_BYTES,
    ) -> None:
        self._pool = pool
        self._store = store
        self._connectors = connectors
        self._max_bytes = max_bytes

    @activity.defn
    async def store_raw_bill(self, request: StoreRequest) -> ArtifactRef:
        """Safe to rerun: the object is written create-once under its content hash (412 → verify). A bill
        already stored (an upload, or a connector's bill a fetch given the store archived) is only recorded."""
        fetched = request.fetched
        if await asyncio.to_thread(self._store.exists, fetched.source_uri):
            ref = ArtifactRef(
                uri=fetched.source_uri, sha256=fetched.sha256, size=fetched.size, content_type=fetched.content_type
            )
        else:
            # Typed by its bytes, never by the source's word: a run fetched by an earlier release carries that word.
            connector = self._connector_for(fetched.source_uri)
            document = await read_source(connector, fetched.source_uri, max_bytes=self._max_bytes)
            digest = hashlib.sha256(document.data).hexdigest()
            if digest != fetched.sha256:
                raise ApplicationError(
                    "the source changed between fetch and store", type="ArtifactConflict", non_retryable=True
                )
            ref = await asyncio.to_thread(
                self._store.put_once,
                job_id=request.job_id,
                data=document.data,
                content_type=document.content_type,
                ext=extension_for(document.content_type),
                metadata={"job_id": request.job_id, "provider": str(fetched.provider or "unknown")},
            )
        await record_artifact(self._pool, request.job_id, ref)
        logger.info("raw bill stored", extra={"job_id": request.job_id, "step": "store_raw_bill", "uri": ref.uri})
        return ref

    def _connector_for(self, source_uri: str) -> Connector:
        """The connector that reads ``source_uri`` again. A stored raw bill's URI no connector reads is an
        object gone from the store, and another source's is one this worker has no connector for (a run an earlier
        release fetched with the mock, now off): no retry helps either, so the step fails at once, saying why."""
        try:
            return self._connectors.for_uri(source_uri)
        except BillNotAvailable as unread:
            scheme = urlsplit(source_uri).scheme
            if scheme not in ARTIFACT_SCHEMES:  # not the URI itself: a connector's may carry the account number
                raise ApplicationError(
                    f"no connector on this worker reads {scheme}:// sources, where this run's fetch found the bill:"
                    " fetched by a release with a connector this one lacks (the mock, MOCK_CONNECTOR since off?)",
                    type="BillNotAvailable",
                    non_retryable=True,
                ) from unread
        raise ApplicationError(
            f"the raw bill {source_uri} is not in object storage: deleted since it was stored (a lifecycle rule,"
            " a cleanup), or stored in another bucket than this worker's (GCS_BUCKET must be the API's)",
            type="ArtifactNotFound",
            non_retryable=True,
        )
