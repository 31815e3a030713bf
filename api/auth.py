"""API keys and roles: who is calling, and what they may see.

Keys are random tokens shown once; Postgres stores only their SHA-256 (a key
has 256 bits of entropy, so a fast hash is enough). A key bound to a customer
sees only that customer's data; other customers' objects answer 404.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import asyncpg

from api.key_last_use import LAST_USE_RESOLUTION_SECONDS, LAST_USE_WRITES, RECORD_LAST_USE

logger = logging.getLogger(__name__)

KEY_PREFIX = "mm_"


class Role(StrEnum):
    ADMIN = "admin"
    INGEST = "ingest"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


RAW_BILL_READERS = (Role.INGEST, Role.REVIEWER)
"""The roles besides admin that open a job's raw bill (``GET /jobs/{id}/artifact``): a viewer reads a bill's
figures, never the document, which prints the full account number."""


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    role: Role
    customer_id: int | None
    key_hash: str = field(default="", repr=False)
    """The key's SHA-256 (never the key): unique to it for good, where ``key_id`` restarts with a new database."""
    expires_at: datetime | None = field(default=None, repr=False, compare=False)
    """When the key stops working (None: it never expires), so ``api.recent_keys`` remembers it no longer."""

    @property
    def identity(self) -> str:
        """How this caller appears in audit trails (never client-supplied)."""
        return f"{self.name} (key {self.key_id})"

    def identity_within(self, length: int) -> str:
        """``identity`` in at most ``length`` characters (an audit column's): a long key name is cut, never the id."""
        if len(self.identity) <= length:
            return self.identity
        suffix = f"… (key {self.key_id})"
        return self.name[: length - len(suffix)].rstrip() + suffix

    @property
    def reads_raw_bills(self) -> bool:
        return self.role in (Role.ADMIN, *RAW_BILL_READERS)

    def can_see_customer(self, customer_id: int) -> bool:
        return self.customer_id is None or self.customer_id == customer_id

    def list_filter(self, customer_id: int | None) -> tuple[bool, int | None]:
        """Whether a list asked for ``customer_id`` (None: any) may hold anything for this key, and the customer to
        filter it by: a key bound to a customer lists its own, and asking for another's gets an empty page (a list,
        not an object: no 404)."""
        if self.customer_id is None:
            return True, customer_id
        return customer_id in (None, self.customer_id), self.customer_id


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


async def create_key(
    pool: asyncpg.Pool,
    *,
    name: str,
    role: Role,
    customer_id: int | None = None,
    expires_at: datetime | None = None,
) -> CreatedKey:
    """Create a key; the plaintext is returned once and never stored. Past ``expires_at`` (None: never) it
    authenticates nothing, as a revoked key.

    An admin key is never bound to a customer: admin routes (new customers, the payload codec,
    the secrets check) act on every customer's data, so the binding would promise a limit that
    none of them can keep."""
    if role is Role.ADMIN and customer_id is not None:
        raise ValueError("an admin key acts on every customer: create it without a customer")
    key = generate_key()
    key_id = await pool.fetchval(
        "INSERT INTO api_keys (name, role, customer_id, key_hash, prefix, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        name,
        role,
        customer_id,
        hash_key(key),
        key[: len(KEY_PREFIX) + 4],
        expires_at,
    )
    return CreatedKey(id=int(key_id), key=key, name=name, role=role, customer_id=customer_id)


async def authenticate(pool: asyncpg.Pool, key: str) -> Principal | None:
    """The principal for a presented key, or None when unknown, revoked or expired."""
    return await authenticate_hash(pool, hash_key(key))


KEY_BY_HASH = (
    "SELECT id, name, role, customer_id, expires_at,"
    f" last_used_at < now() - interval '{LAST_USE_RESOLUTION_SECONDS} seconds' AS stale,"
    " last_used_at IS NULL AS never FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
    " AND (expires_at IS NULL OR expires_at > now())"
)
"""Every authenticated request's lookup (``api.warm_pool`` prepares it on each pooled connection)."""


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
        key_id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        customer_id=row["customer_id"],
        key_hash=key_hash,
        expires_at=row["expires_at"],
    )


async def revoke_key(pool: asyncpg.Pool, key_id: int) -> bool:
    status = await pool.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id)
    return bool(status.endswith(" 1"))
