"""Fetch: pin the bill at its source (connector locator + content hash), typed by its bytes, and archive it
when given the store."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import failure_counts
from activities.connectors.base import AccountInfo, BillNotAvailable, ConnectorRegistry, SourceDocument
from activities.connectors.documents import MAX_SOURCE_BYTES, read_source
from activities.storage import extension_for
from shared.artifacts import ArtifactStore
from shared.bill import Provider
from shared.models import FetchedBill, FetchRequest

logger = logging.getLogger(__name__)

MAX_NO_BILL_ATTEMPTS = 4
"""A provider with no bill yet is asked this many times: attempts an outage failed (Postgres, the portal) do not count
(``activities.failure_counts``), and are retried for the step's hour."""
NO_BILL = "no_bill"


class FetchActivities:
    def __init__(
        self,
        pool: asyncpg.Pool,
        connectors: ConnectorRegistry,
        *,
        store: ArtifactStore | None = None,
        max_bytes: int = MAX_SOURCE_BYTES,
    ) -> None:
        """``store``: archive the bytes read here, so ``store_raw_bill``, finding them stored, only records
        them. Without it, store reads the source again and must get the very same bytes, which a portal
        rendering each PDF anew (its creation date, its /ID) never gives."""
        self._pool = pool
        self._connectors = connectors
        self._store = store
        self._max_bytes = max_bytes

    @activity.defn
    async def fetch_bill(self, request: FetchRequest) -> FetchedBill:
        """Safe to rerun: the locator is derived from the job id, reading it has no effect, and its bytes
        are stored create-once under their hash (a rerun reading other bytes stores them beside, unrecorded)."""
        row = await self._pool.fetchrow(
            "SELECT id, provider, account_number FROM utility_accounts WHERE id = $1", request.utility_account_id
        )
        if row is None:
            raise ApplicationError(
                f"utility account {request.utility_account_id} does not exist",
                type="UnknownAccount",
                non_retryable=True,
            )
        account = AccountInfo(
            id=row["id"],
            provider=Provider(row["provider"]) if row["provider"] else None,
            account_number=row["account_number"],
        )
        if request.upload is not None:
            ref = request.upload
            return FetchedBill(
                source_uri=ref.uri,
                sha256=ref.sha256,
                size=ref.size,
                content_type=ref.content_type,
                provider=request.provider,
                account_number=account.account_number,
            )
        try:
            connector = self._connectors.for_account(account)
        except BillNotAvailable as unserved:  # no connector for this provider here: retrying will not add one
            raise ApplicationError(str(unserved), type="BillNotAvailable", non_retryable=True) from unserved
        try:
            source_uri = connector.locate(account, job_id=request.job_id)
            document = await read_source(connector, source_uri, max_bytes=self._max_bytes)
        except BillNotAvailable as missing:
            if failure_counts.count(NO_BILL) >= MAX_NO_BILL_ATTEMPTS:
                raise ApplicationError(str(missing), type="BillNotAvailable", non_retryable=True) from missing
            raise
        logger.info("bill fetched", extra={"job_id": request.job_id, "step": "fetch_bill", "bytes": len(document.data)})
        if self._store is not None:
            source_uri = await _archived(self._store, request.job_id, account, document)
        return FetchedBill(
            source_uri=source_uri,
            sha256=hashlib.sha256(document.data).hexdigest(),
            size=len(document.data),
            content_type=document.content_type,
            provider=account.provider,
            account_number=account.account_number,
        )


async def _archived(store: ArtifactStore, job_id: str, account: AccountInfo, document: SourceDocument) -> str:
    """The bill's URI in object storage, written create-once (a rerun with the same bytes finds its own)."""
    ref = await asyncio.to_thread(
        store.put_once,
        job_id=job_id,
        data=document.data,
        content_type=document.content_type,
        ext=extension_for(document.content_type),
        metadata={"job_id": job_id, "provider": str(account.provider or "unknown")},
    )
    return ref.uri
