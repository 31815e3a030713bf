"""API keys and roles: who is calling, and what they may see.

Keys are random tokens shown once; Postgres stores only their SHA-256 (a key
has 256 bits of entropy, so a fast hash is enough). A key bound to a customer
sees only that customer's data; other customers' objects answer 404.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import asyncpg

logger = logging.getLogger(__name__)

KEY_PREFIX = "mm_"


class Role(StrEnum):
    ADMIN = "admin"
    INGEST = "ingest"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    role: Role
    customer_id: int | None
    key_hash: str = field(default="", repr=False)
    """The key's SHA-256 (never the key): unique to it for good, where ``key_id`` restarts with a new database."""

    @property
    def identity(self) -> str:
        """How this caller appears in audit trails (never client-supplied)."""
        return f"{self.name} (key {self.key_id})"

    def can_see_customer(self, customer_id: int) -> bool:
        return self.customer_id is None or self.customer_id == customer_id


AUTH_DISABLED_PRINCIPAL = Principal(key_id=0, name="auth-disabled", role=Role.ADMIN, customer_id=None)


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedKey:
    id: int
    key: str
    name: str
    role: Role
    customer_id: int | None


async def create_key(pool: asyncpg.Pool, *, name: str, role: Role, customer_id: int | None = None) -> CreatedKey:
    """Create a key; the plaintext is returned once and never stored.

    An admin key is never bound to a customer: admin routes (new customers, the payload codec,
    the secrets check) act on every customer's data, so the binding would promise a limit that
    none of them can keep."""
    if role is Role.ADMIN and customer_id is not None:
        raise ValueError("an admin key acts on every customer: create it without a customer")
    key = generate_key()
    key_id = await pool.fetchval(
        "INSERT INTO api_keys (name, role, customer_id, key_hash, prefix) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        name,
        role,
        customer_id,
        hash_key(key),
        key[: len(KEY_PREFIX) + 4],
    )
    return CreatedKey(id=int(key_id), key=key, name=name, role=role, customer_id=customer_id)


async def authenticate(pool: asyncpg.Pool, key: str) -> Principal | None:
    """The principal for a presented key, or None when unknown or revoked."""
    return await authenticate_hash(pool, hash_key(key))


LAST_USE_RESOLUTION_SECONDS = 60
"""A key's ``last_used_at`` is kept to the minute: a request writes it only when it is older than that."""

KEY_BY_HASH = (
    "SELECT id, name, role, customer_id,"
    f" last_used_at < now() - interval '{LAST_USE_RESOLUTION_SECONDS} seconds' AS stale,"
    " last_used_at IS NULL AS never FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
)
"""Every authenticated request's lookup (``api.warm_pool`` prepares it on each pooled connection)."""

RECORD_LAST_USE = (
    "UPDATE api_keys SET last_used_at = now() WHERE id = $1"
    f" AND (last_used_at IS NULL OR last_used_at < now() - interval '{LAST_USE_RESOLUTION_SECONDS} seconds')"
)
"""Conditional, so of the requests that found the key stale at once in several processes, the first writes
and the others, once its row lock is theirs, find it fresh and write nothing."""


class LastUseWrites:
    """The keys whose last use this process wrote within the resolution, so a burst writes it once.

    Every request that found its key stale used to write it: the 32 requests a fresh benchmark sends
    together on a new key made 32 updates of one row, each waiting for the one before it to commit, and the
    same again every minute from the requests in flight on a busy key. 32 starts sent together to a fresh API
    (no worker, two runs each) cost Postgres 46 and 49 ms of CPU on a new key, 31 and 36 on one used before.
    """

    MAX_REMEMBERED = 1024
    """Past this many keys, the ones written longer ago than the resolution are forgotten first."""

    def __init__(
        self, *, seconds: float = LAST_USE_RESOLUTION_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._written: dict[str, float] = {}

    def claim(self, key_hash: str) -> bool:
        """True for the one request that is to write this key's last use now (``release`` it if that fails)."""
        now = self._clock()
        written = self._written.get(key_hash)
        if written is not None and now - written < self._seconds:
            return False
        if len(self._written) >= self.MAX_REMEMBERED:
            self._written = {k: t for k, t in self._written.items() if now - t < self._seconds}
        self._written[key_hash] = now
        return True

    def release(self, key_hash: str) -> None:
        self._written.pop(key_hash, None)


LAST_USE_WRITES = LastUseWrites()
"""This process's: keyed by the key's hash, unique to the key for good, so a process serving several
databases (the tests) never skips one key's write for another's."""


async def authenticate_hash(pool: asyncpg.Pool, key_hash: str) -> Principal | None:
    """``authenticate`` for a key known only by its hash (a reviewer's sign-in session)."""
    row = await pool.fetchrow(KEY_BY_HASH, key_hash)
    if row is None:
        return None
    if (row["stale"] or row["never"]) and LAST_USE_WRITES.claim(key_hash):
        try:
            await pool.execute(RECORD_LAST_USE, row["id"])
        except BaseException:  # not written: the next request writes it
            LAST_USE_WRITES.release(key_hash)
            raise
    return Principal(
        key_id=row["id"], name=row["name"], role=Role(row["role"]), customer_id=row["customer_id"], key_hash=key_hash
    )


async def revoke_key(pool: asyncpg.Pool, key_id: int) -> bool:
    status = await pool.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id)
    return bool(status.endswith(" 1"))
