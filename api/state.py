"""What the API process holds for its lifetime: one Temporal client, one pool, one store."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from temporalio.client import Client

from api.ratelimit import RateLimiter
from api.services.dispatch import JobDispatcher
from shared.analytics import AnalyticsSink
from shared.artifacts import ArtifactStore
from shared.codec import EncryptionCodec
from shared.settings import Settings


@dataclass
class AppState:
    settings: Settings
    client: Client
    pool: asyncpg.Pool
    store: ArtifactStore
    sink: AnalyticsSink | None
    codec: EncryptionCodec
    dispatcher: JobDispatcher
    limiter: RateLimiter = field(default_factory=RateLimiter)
