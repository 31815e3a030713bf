"""The connectors this deployment runs: the worker's registry and the API's check at ``POST /jobs`` read one list."""

from __future__ import annotations

from activities.connectors.base import Connector, ConnectorRegistry
from shared.bill import Provider
from shared.settings import Settings


def provider_connectors(settings: Settings) -> dict[Provider, Connector]:
    """Connectors of providers' own portals, by provider: none so far. One added here fetches its provider's bills
    in the worker, and ``POST /jobs`` takes that provider's accounts with the mock off (``fetches``)."""
    return {}


def connectors_for(settings: Settings) -> ConnectorRegistry:
    """The worker's registry: the provider connectors, and the mock for the rest where it is on (see
    ``MOCK_CONNECTOR``; off in production unless asked for)."""
    from activities.connectors.mock import MockConnector  # the sample bills' generator: the worker's import alone

    return ConnectorRegistry(
        default=MockConnector() if settings.mock_connector_on else None, by_provider=provider_connectors(settings)
    )


def fetches(settings: Settings, provider: Provider) -> bool:
    """Whether the worker's registry (``connectors_for``) fetches ``provider``'s bills: ``POST /jobs`` refuses an
    account no fetch could serve, without importing the mock's generator into the API."""
    return settings.mock_connector_on or provider in provider_connectors(settings)
