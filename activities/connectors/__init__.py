"""Provider connectors: where a bill comes from, addressed by a ``source_uri``."""

from activities.connectors.base import BillNotAvailable, Connector, ConnectorRegistry, SourceDocument

__all__ = ["BillNotAvailable", "Connector", "ConnectorRegistry", "SourceDocument"]
