"""The connector interface: locate a bill for an account, then read its bytes by locator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared.bill import Provider


class BillNotAvailable(Exception):
    """The provider has no bill for this account (yet): retried, then the job fails."""


@dataclass(frozen=True)
class SourceDocument:
    source_uri: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class AccountInfo:
    id: int
    provider: Provider | None
    account_number: str


class Connector(Protocol):
    scheme: str

    def locate(self, account: AccountInfo, *, job_id: str) -> str:
        """A stable locator of the bill this job ingests (same job → same locator)."""
        ...

    def read(self, source_uri: str) -> SourceDocument:
        """The bill's bytes: read once by a fetch given the store; otherwise store reads them again, and must
        get identical bytes for the same locator.

        Runs in a worker thread, which fetch abandons past ``SOURCE_READ_SECONDS`` but cannot stop: so a
        connector bounds each of its own requests (connect and read timeouts, under that limit), or a portal
        that never answers keeps a thread of the worker's shared pool for good. Any error is retried, for up to
        the fetch step's hour (a portal down, a database failover): a refusal no retry mends (credentials
        revoked, the account closed) is ``ApplicationError(..., non_retryable=True)``, which fails the job at once,
        and a bill not there yet ``BillNotAvailable``."""
        ...


class ConnectorRegistry:
    """Connectors by provider (for fetching) and by URI scheme (for reading back)."""

    def __init__(self, default: Connector | None, by_provider: dict[Provider, Connector] | None = None) -> None:
        self._default = default
        self._by_provider = by_provider or {}
        fallback = {default.scheme: default} if default is not None else {}
        self._by_scheme = fallback | {c.scheme: c for c in self._by_provider.values()}

    def for_account(self, account: AccountInfo) -> Connector:
        connector = self._by_provider.get(account.provider) if account.provider else None
        if connector is None:
            connector = self._default
        if connector is None:
            raise BillNotAvailable(f"no connector fetches {account.provider or 'provider-less'} bills here")
        return connector

    def for_uri(self, source_uri: str) -> Connector:
        scheme = source_uri.split("://", 1)[0]
        try:
            return self._by_scheme[scheme]
        except KeyError:
            raise BillNotAvailable(f"no connector reads {scheme}:// sources") from None
