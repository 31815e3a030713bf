"""Per-key rate limits for expensive calls (job starts, uploads): token buckets in Postgres.

One row per (key, action), so every API process and replica draws on the same budget:
``API_PROCESSES=4`` does not make it four times larger. Taking a token is one statement
that locks the row, so concurrent requests cannot spend the same token twice.
"""

from __future__ import annotations

import math

import asyncpg


def _refilled(capacity: str, bucket: str = "rate_limit_buckets") -> str:
    """A bucket's tokens now (SQL): what it held plus ``capacity`` a minute since it changed, up to ``capacity``."""
    elapsed = f"EXTRACT(EPOCH FROM clock_timestamp() - {bucket}.updated_at)"
    return f"LEAST({capacity}, {bucket}.tokens + {elapsed} * {capacity} / 60)"


def take_token(key_id: str, action: str, capacity: str, *, if_any_row_of: str | None = None) -> str:
    """The statement that takes one token from a (key, action) bucket, returning the tokens left, or no row when
    the bucket is empty. Its arguments are SQL: parameters, so another statement can take the token inside it
    (``api.services.connector_jobs``), and then only if ``if_any_row_of`` (a relation of that statement) has a row.

    One statement that locks the bucket's row: concurrent takers cannot spend the same token twice."""
    rows = f"FROM {if_any_row_of} LIMIT 1" if if_any_row_of else ""
    refilled = _refilled(capacity, bucket="b")
    return f"""
INSERT INTO rate_limit_buckets AS b (key_id, action, tokens, updated_at)
SELECT {key_id}::bigint, {action}::text, {capacity}::float8 - 1, clock_timestamp() {rows}
ON CONFLICT (key_id, action) DO UPDATE
   SET tokens = {refilled} - 1,
       updated_at = clock_timestamp()
 WHERE {refilled} >= 1
RETURNING tokens
"""


_TAKE = take_token("$1", "$2", "$3")
_AVAILABLE = f"""
SELECT {_refilled("$3::float8")}
  FROM rate_limit_buckets WHERE key_id = $1 AND action = $2
"""

_REFUND = f"""
UPDATE rate_limit_buckets
   SET tokens = LEAST($3::float8, {_refilled("$3")} + 1),
       updated_at = clock_timestamp()
 WHERE key_id = $1 AND action = $2
"""


class RateLimiter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def acquire(self, key_id: int, action: str, *, per_minute: int) -> float | None:
        """Take a token; returns None when allowed, else the seconds to wait (Retry-After).

        A full bucket holds ``per_minute`` tokens and refills at ``per_minute`` a minute.
        """
        if per_minute <= 0:
            return None
        capacity = float(per_minute)
        if await self._pool.fetchval(_TAKE, key_id, action, capacity) is not None:
            return None
        available = await self._pool.fetchval(_AVAILABLE, key_id, action, capacity) or 0.0
        return max(1.0, math.ceil((1.0 - available) / (capacity / 60)))

    async def refund(self, key_id: int, action: str, *, per_minute: int) -> None:
        """Give back a token taken for a call that then did nothing (a full bucket stays full)."""
        if per_minute > 0:
            await self._pool.execute(_REFUND, key_id, action, float(per_minute))
