"""Warm each pooled connection for a start before the API serves: its lookups prepared, its inserts run once.

asyncpg prepares a statement the first time a connection runs it (a Parse/Describe round trip, and
the codecs for its result), then keeps it in that connection's cache. The API opens all its
connections at start (``create_pool(open_all=True)``), but a burst of starts still found them cold:
with 32 clients, each of the twenty connections prepared each lookup during the first requests,
which took 60-90 ms against ~30 once warm. ``python -m bench.api_alone --requests 1000 --rounds 2``,
clean clones, interleaved: the first round's p99 55-63 ms with this (nine runs), 62-81 without (six).
``Connection.prepare`` does not help (session 36 tried it): its statements bypass that cache.
A connection asyncpg replaces later (after ``max_queries``, 50,000, or a broken one) starts cold again: one at a time,
which costs its next few requests a round trip each, not a burst of twenty.

The insert is cold on the server's side too: a Postgres backend parses it, opens the table's nine indexes for
writing and prepares each of its two foreign-key checks the first time it runs it, and on a fresh pool all
twenty backends did that within the first burst: 32 starts sent together to a fresh API (no worker, two runs) cost
Postgres 38 ms of CPU each time, 22 and 28 with this, 12-20 for the same API's later bursts. So each connection runs
the inserts once (a connector start's, which reads the account itself, the same paid for from a rate limit's bucket,
and an upload's), for a customer and account of its own with negative ids (``BIGSERIAL`` never hands those out), in
a transaction it rolls back: nothing is committed, no sequence moves, and in normal operation nothing reaches the
server's log.
"""

from __future__ import annotations

import logging
import re
import uuid

import asyncpg

from api.auth import KEY_BY_HASH
from api.services.accounts import ACCOUNT_BY_ID
from api.services.connector_jobs import START_CONNECTOR_JOB, START_CONNECTOR_JOB_FOR_A_TOKEN, START_JOB_ACTION
from api.services.jobs import INSERT_JOB, JOB_BY_IDEMPOTENCY_KEY
from shared.bill import Provider
from shared.models import JobStatus, JobType
from shared.temporal import workflow_id_for

START_LOOKUPS = (KEY_BY_HASH, ACCOUNT_BY_ID, JOB_BY_IDEMPOTENCY_KEY)
"""The key's, the account's and the Idempotency-Key's job (see ``JOB_BY_IDEMPOTENCY_KEY`` for who looks it up).
Read-only, so running one with NULL arguments is harmless: NULL equals nothing, and it finds no row."""

WARM_UP_ACCOUNT = """
    WITH customer AS (INSERT INTO customers (id, name) VALUES ($1, 'api warm-up, rolled back') RETURNING id)
    INSERT INTO utility_accounts (id, customer_id, provider, account_number) SELECT id, id, $2, 'warm-up' FROM customer
"""
"""A customer and its account (``$2``'s), both with id ``$1``, for the inserts' foreign keys and the connector start's
account read to find."""

WARM_UP_PROVIDER = Provider.PGE
"""Any provider: the warm-up account's, and the one the connector start's insert is told a connector fetches."""

WARM_UP_LIMITS = "SELECT set_config('lock_timeout', '1s', true), set_config('statement_timeout', '5s', true)"
"""For the warm-up's transaction only: past these, that connection is left cold rather than the start held up."""

_PARAMETER = re.compile(r"\$(\d+)")

logger = logging.getLogger(__name__)


async def warm_connections(pool: asyncpg.Pool) -> None:
    """Run each lookup, and the inserts rolled back, once on every connection the pool holds (call before serving:
    it holds them all)."""
    held: list[asyncpg.pool.PoolConnectionProxy] = []
    try:
        for _ in range(pool.get_size()):
            held.append(await pool.acquire())
        for connection in held:
            for lookup in START_LOOKUPS:
                await connection.fetch(lookup, *[None] * _parameter_count(lookup))
            await _insert_rolled_back(connection)
    finally:
        for connection in held:
            await pool.release(connection)


async def _insert_rolled_back(connection: asyncpg.pool.PoolConnectionProxy) -> None:
    """The rows' id (and the bucket's key) is minus the backend's process id, unique among live connections, so API
    processes warming up together never wait on each other. A warm-up that fails (a lock held past
    ``WARM_UP_LIMITS``, that id taken for good by a row put in by hand) leaves its connection cold and the API
    starting: it only saves time."""
    warm_up_id = -connection.get_server_pid()
    connector_job_id, limited_job_id, upload_job_id = (str(uuid.uuid4()) for _ in range(3))

    def connector_start(job_id: str) -> tuple[object, ...]:
        """A connector start's ``$1``-``$10`` (``api.services.connector_jobs``) for the warm-up's account."""
        return (
            job_id,
            warm_up_id,
            workflow_id_for(job_id),
            JobType.CONNECTOR,
            JobStatus.PENDING,
            None,
            None,
            {},
            warm_up_id,
            [WARM_UP_PROVIDER],
        )

    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute(WARM_UP_LIMITS)
        await connection.execute(WARM_UP_ACCOUNT, warm_up_id, WARM_UP_PROVIDER)
        await connection.fetchrow(START_CONNECTOR_JOB, *connector_start(connector_job_id))
        await connection.fetchrow(
            INSERT_JOB,
            upload_job_id,
            warm_up_id,
            warm_up_id,
            workflow_id_for(upload_job_id),
            JobType.UPLOAD,
            JobStatus.PENDING,
            None,
            None,
            {},
            False,
        )
        await connection.fetchrow(
            START_CONNECTOR_JOB_FOR_A_TOKEN,
            *connector_start(limited_job_id),
            warm_up_id,  # its bucket's key: no key has a negative id either
            START_JOB_ACTION,
            1.0,
        )
    except (asyncpg.PostgresError, TimeoutError) as error:
        logger.warning(
            "a pooled connection's start inserts were not warmed up: its first starts parse them",
            extra={"error": f"{type(error).__name__}: {error}"[:300]},
        )
    finally:
        await transaction.rollback()


def _parameter_count(statement: str) -> int:
    return max((int(number) for number in _PARAMETER.findall(statement)), default=0)
