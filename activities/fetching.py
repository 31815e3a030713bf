"""Fetch: pin the bill at its source (connector locator + content hash)."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.connectors.base import AccountInfo, BillNotAvailable, ConnectorRegistry
from shared.bill import Provider
from shared.models import FetchedBill, FetchRequest

logger = logging.getLogger(__name__)

MAX_NO_BILL_ATTEMPTS = 4
"""A provider with no bill yet is asked this many times (a database outage is retried longer)."""


class FetchActivities:
    def __init__(self, pool: asyncpg.Pool, connectors: ConnectorRegistry) -> None:
        self._pool = pool
        self._connectors = connectors

    @activity.defn
    async def fetch_bill(self, request: FetchRequest) -> FetchedBill:
        """Safe to rerun: the locator is derived from the job id, and reading it has no effect."""
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
            document = await asyncio.to_thread(connector.read, source_uri)
        except BillNotAvailable as missing:
            if activity.info().attempt >= MAX_NO_BILL_ATTEMPTS:
                raise ApplicationError(str(missing), type="BillNotAvailable", non_retryable=True) from missing
            raise
        logger.info("bill fetched", extra={"job_id": request.job_id, "step": "fetch_bill", "bytes": len(document.data)})
        return FetchedBill(
            source_uri=source_uri,
            sha256=hashlib.sha256(document.data).hexdigest(),
            size=len(document.data),
            content_type=document.content_type,
            provider=account.provider,
            account_number=account.account_number,
        )
