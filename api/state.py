"""What the API process holds for its lifetime: one Temporal client, one pool, one artifact store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
from temporalio.client import Client

from api.ratelimit import RateLimiter
from api.recent_keys import RecentKeys
from api.services.dispatch import JobDispatcher
from api.services.reconcile import JobReconciler
from shared.artifacts import ArtifactStore
from shared.codec import EncryptionCodec
from shared.settings import Settings

if TYPE_CHECKING:  # api.ui imports the routes, which import this module
    from api.ui.session import SessionStore


@dataclass
class AppState:
    settings: Settings
    client: Client
    pool: asyncpg.Pool
    store: ArtifactStore
    codec: EncryptionCodec
    dispatcher: JobDispatcher
    sessions: SessionStore
    """Reviewer sign-in sessions, shared with every other API process through Postgres."""
    limiter: RateLimiter
    """Per-key budgets for starts and uploads, shared with every other API process through Postgres."""
    reconciler: JobReconciler
    """Records the end of jobs whose workflow was ended from outside: every period, and when a request finds one."""
    recent_keys: RecentKeys
    """The keys this process found within ``API_KEY_CACHE_SECONDS``: a burst under one key looks it up once."""
