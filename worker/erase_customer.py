"""``python -m worker.erase_customer --customer-id N``: list, and with ``--erase`` delete, all MiniMeter holds of one
customer (a right-to-erasure request).

Why: a customer's name, service address, account numbers and bills sit in Postgres (its bills, their revisions,
review tasks and decisions with their notes), in object storage (the raw bills), in the warehouse and in Temporal's
histories (sealed, under the deployment's one key ring, so no key can be destroyed for one customer alone). Nothing
deleted any of it, and Postgres's foreign keys refused a customer's row deleted by hand (a privacy probe, 76A).

In order, so nothing writes again behind the erasure: the customer's keys are deleted (with their review UI sessions)
and its accepted jobs kept from starting; its running jobs are terminated; then its raw bills go from the store, its
rows from every warehouse table, its jobs' runs from Temporal, and last its rows from Postgres in one transaction, only
once no raw bill is left (the jobs' rows are how they are found). A job's attempt already under way when its run was
terminated may still finish its write (a raw bill, a warehouse row): every step is safe to repeat, so run it again;
what is left is listed after each run, and a run that finds nothing is the proof. BigQuery refuses to delete rows
still in its streaming buffer (published within about 90 minutes): the run says so, and exits non-zero.

Without ``--erase`` it only lists, by kind and count (never a name or a number), what the customer has.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field

import asyncpg
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from shared.analytics import AnalyticsSink, build_analytics_sink
from shared.artifacts import GcsArtifactStore, LocalArtifactStore, StoredObject, build_artifact_store
from shared.db import open_for_a_command
from shared.logs import configure_logging
from shared.settings import settings_or_exit
from shared.temporal import connect_client, exit_past_the_sdk, workflow_id_for

logger = logging.getLogger(__name__)

ERASED_REASON = "customer erased (python -m worker.erase_customer)"
"""What Temporal records as a terminated job's reason, until its run is deleted."""

_HELD_IN_POSTGRES = """
WITH jobs AS (SELECT id FROM ingestion_jobs WHERE customer_id = $1),
     bills_held AS (SELECT id FROM bills WHERE customer_id = $1),
     keys AS (SELECT id, key_hash FROM api_keys WHERE customer_id = $1)
SELECT 'customers' AS table_name, count(*) AS n FROM customers WHERE id = $1
UNION ALL SELECT 'utility_accounts', count(*) FROM utility_accounts WHERE customer_id = $1
UNION ALL SELECT 'ingestion_jobs', count(*) FROM jobs
UNION ALL SELECT 'artifacts', count(*) FROM artifacts WHERE job_id IN (SELECT id FROM jobs)
UNION ALL SELECT 'bills', count(*) FROM bills_held
UNION ALL SELECT 'bill_revisions', count(*) FROM bill_revisions
           WHERE job_id IN (SELECT id FROM jobs) OR bill_id IN (SELECT id FROM bills_held)
UNION ALL SELECT 'review_tasks', count(*) FROM review_tasks WHERE job_id IN (SELECT id FROM jobs)
UNION ALL SELECT 'review_decisions', count(*) FROM review_decisions WHERE job_id IN (SELECT id FROM jobs)
UNION ALL SELECT 'api_keys', count(*) FROM keys
UNION ALL SELECT 'ui_sessions', count(*) FROM ui_sessions WHERE key_hash IN (SELECT key_hash FROM keys)
"""
"""Each table's rows of the customer (``bill_line_items``, ``bill_usage`` and ``review_claims`` go with their bill
or task)."""

_DELETE_KEYS = (
    "DELETE FROM ui_sessions WHERE key_hash IN (SELECT key_hash FROM api_keys WHERE customer_id = $1)",
    "DELETE FROM rate_limit_buckets WHERE key_id IN (SELECT id FROM api_keys WHERE customer_id = $1)",
    "DELETE FROM api_keys WHERE customer_id = $1",
)
_STOP_STARTING = (
    *_DELETE_KEYS,
    # A job accepted and not yet started is never started: it waits here for the dispatcher's round under way, which
    # holds its row, and the runs are listed after it.
    "UPDATE ingestion_jobs SET dispatched_at = now() WHERE customer_id = $1 AND dispatched_at IS NULL",
)
"""First, so no key of the customer's starts a job, nor the dispatcher one it accepted, while its jobs are stopped and
its data deleted."""

_JOBS = "(SELECT id FROM ingestion_jobs WHERE customer_id = $1)"
_DELETE_ROWS = (
    *_DELETE_KEYS,  # again: a key an admin gave the customer meanwhile
    f"DELETE FROM review_decisions WHERE job_id IN {_JOBS}",
    f"DELETE FROM review_tasks WHERE job_id IN {_JOBS}",  # its claim with it (ON DELETE CASCADE)
    f"DELETE FROM bill_revisions WHERE job_id IN {_JOBS} OR bill_id IN (SELECT id FROM bills WHERE customer_id = $1)",
    "DELETE FROM bills WHERE customer_id = $1",  # its line items and usage with it (ON DELETE CASCADE)
    f"DELETE FROM artifacts WHERE job_id IN {_JOBS}",
    "DELETE FROM ingestion_jobs WHERE customer_id = $1",
    "DELETE FROM utility_accounts WHERE customer_id = $1",
    "DELETE FROM customers WHERE id = $1",
)
"""Children before the rows their foreign keys name: one transaction, so a failure leaves everything as it was. Last of
all the stores: the jobs' rows are how the raw bills are found, so they stay while one is left."""


@dataclass
class Held:
    """What MiniMeter holds of a customer, by kind and count."""

    postgres: dict[str, int]
    job_ids: list[str]
    raw_bills: list[StoredObject]
    warehouse: dict[str, int]
    runs: list[tuple[str, str]]
    """Each of the customer's workflow runs Temporal holds (workflow id, run id)."""
    running: int

    @property
    def nothing(self) -> bool:
        counts = [*self.postgres.values(), *self.warehouse.values(), len(self.raw_bills), len(self.runs)]
        return not any(counts)

    def lines(self) -> list[str]:
        held = [f"postgres {table}: {n}" for table, n in self.postgres.items()]
        held.append(f"raw bills: {len(self.raw_bills)}")
        held += [f"warehouse {table}: {n}" for table, n in self.warehouse.items()]
        held.append(f"temporal runs: {len(self.runs)} ({self.running} running)")
        return held


@dataclass
class Erased:
    """What an ``--erase`` run could not do (it goes on past each): why, one line each."""

    failed: list[str] = field(default_factory=list)


async def find(
    pool: asyncpg.Pool,
    store: GcsArtifactStore | LocalArtifactStore,
    sink: AnalyticsSink | None,
    client: Client,
    *,
    customer_id: int,
) -> Held:
    """What the customer has in each store (read only)."""
    rows = await pool.fetch(_HELD_IN_POSTGRES, customer_id)
    job_ids = [str(row["id"]) for row in await pool.fetch(_JOB_IDS, customer_id)]
    runs, running = await _runs(client, customer_id, job_ids)
    return Held(
        postgres={row["table_name"]: row["n"] for row in rows},
        job_ids=job_ids,
        raw_bills=await asyncio.to_thread(_raw_bills, store, job_ids),
        warehouse=await asyncio.to_thread(sink.customer_rows, customer_id) if sink is not None else {},
        runs=runs,
        running=running,
    )


_JOB_IDS = "SELECT id FROM ingestion_jobs WHERE customer_id = $1 ORDER BY id"


def _raw_bills(store: GcsArtifactStore | LocalArtifactStore, job_ids: Iterable[str]) -> list[StoredObject]:
    return [listed for job_id in job_ids for listed in store.list_raw(job_id)]


async def _runs(client: Client, customer_id: int, job_ids: Iterable[str]) -> tuple[list[tuple[str, str]], int]:
    """The customer's runs Temporal holds: those its search attribute lists, and each job's latest (a run whose
    visibility record lags). Each is asked for by its id, so a run deleted a moment ago, which visibility may list
    for a while, is not counted."""
    candidates = {(workflow_id_for(job_id), "") for job_id in job_ids}
    async for execution in client.list_workflows(f"CustomerId = {customer_id}"):
        candidates.add((execution.id, execution.run_id or ""))
    runs: dict[tuple[str, str], bool] = {}
    for workflow_id, run_id in candidates:
        described = await _described(client, workflow_id, run_id)
        if described is not None:  # else never started, or deleted already
            runs[(described.id, described.run_id or run_id)] = described.status is WorkflowExecutionStatus.RUNNING
    return sorted(runs), sum(runs.values())


async def erase(
    pool: asyncpg.Pool,
    store: GcsArtifactStore | LocalArtifactStore,
    sink: AnalyticsSink | None,
    client: Client,
    *,
    customer_id: int,
) -> Erased:
    """Delete all the customer has, store by store, in the module's order; each store's failure is said and the next
    store still erased (a second run takes up what the first could not), but Postgres, which indexes the raw bills,
    only once none is left."""
    done = Erased()
    async with pool.acquire() as conn, conn.transaction():
        for statement in _STOP_STARTING:
            await conn.execute(statement, customer_id)
    held = await find(pool, store, sink, client, customer_id=customer_id)  # with every job started that will be
    for workflow_id, run_id in held.runs:
        await _quietly(client.get_workflow_handle(workflow_id, run_id=run_id).terminate(reason=ERASED_REASON))
    raw_bills_left = await _delete_raw_bills(store, held)
    if raw_bills_left:
        done.failed.append(
            f"raw bills: {raw_bills_left} still stored (the bucket keeps them: a retention policy or a hold; or a write"
            " took one up again, or the store did not answer)"
        )
    if sink is not None:
        try:
            await asyncio.to_thread(sink.erase_customer, customer_id)
        except Exception as error:  # noqa: BLE001 - the warehouse's refusal is said, and the other stores erased
            done.failed.append(f"warehouse: {type(error).__name__}: {str(error)[:300]}")
    namespace = client.namespace
    for workflow_id, run_id in held.runs:
        execution = WorkflowExecution(workflow_id=workflow_id, run_id=run_id)
        request = DeleteWorkflowExecutionRequest(namespace=namespace, workflow_execution=execution)
        await _quietly(client.workflow_service.delete_workflow_execution(request))
    await _until_deleted(client, held.runs)
    if raw_bills_left:
        done.failed.append("postgres: kept, as the index of the raw bills left")
    else:
        try:
            async with pool.acquire() as conn, conn.transaction():
                for statement in _DELETE_ROWS:
                    await conn.execute(statement, customer_id)
        except asyncpg.PostgresError as error:
            done.failed.append(f"postgres: {type(error).__name__}: {error}")
    logger.info(
        "customer erased" if not done.failed else "customer erased in part",
        extra={"customer_id": customer_id, "jobs": len(held.job_ids), "failed": len(done.failed)},
    )
    return done


async def _delete_raw_bills(store: GcsArtifactStore | LocalArtifactStore, held: Held) -> int:
    """Delete each raw bill listed, then list the jobs' again: how many are still stored."""
    for listed in held.raw_bills:
        try:
            await asyncio.to_thread(store.delete, listed)  # False: kept, gone already, or written again
        except Exception:  # counted below, as every bill still stored is
            logger.warning("raw bill not deleted", extra={"uri": listed.uri}, exc_info=True)
    try:
        return len(await asyncio.to_thread(_raw_bills, store, held.job_ids))
    except Exception:  # noqa: BLE001 - a store that does not answer may still hold every one
        return len(held.raw_bills) or 1


DELETE_WAIT_SECONDS = 90.0
"""How long to wait for Temporal to delete the runs it was asked to: it deletes them in the background, 30 to 55 s
after the request on the dev server (a run described a moment after it is still there)."""


async def _until_deleted(client: Client, runs: Iterable[tuple[str, str]]) -> None:
    """Until Temporal no longer has any of ``runs``, or ``DELETE_WAIT_SECONDS`` passed (what is left is listed)."""
    left = list(runs)
    deadline = asyncio.get_running_loop().time() + DELETE_WAIT_SECONDS
    while left and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)
        left = [run for run in left if await _described(client, *run) is not None]


async def _described(client: Client, workflow_id: str, run_id: str) -> WorkflowExecutionDescription | None:
    """The run as Temporal holds it (``run_id`` empty: the workflow's latest), None when it holds none."""
    try:
        return await client.get_workflow_handle(workflow_id, run_id=run_id or None).describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return None
        raise


async def _quietly(call: Awaitable[object]) -> None:
    """Await a Temporal call whose NOT_FOUND (deleted already) or FAILED_PRECONDITION (ended already) is its goal."""
    try:
        await call
    except RPCError as error:
        if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise


async def _main(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    configure_logging(settings, stream=sys.stderr)
    store = build_artifact_store(settings)
    assert isinstance(store, GcsArtifactStore | LocalArtifactStore)  # the factory builds one or the other
    sink = build_analytics_sink(settings)
    client = await connect_client(settings, payloads=False)  # terminating and deleting read no payload
    pool = await open_for_a_command(settings)
    try:
        return await _run(pool, store, sink, client, customer_id=args.customer_id, erasing=args.erase)
    finally:
        await pool.close()


async def _run(
    pool: asyncpg.Pool,
    store: GcsArtifactStore | LocalArtifactStore,
    sink: AnalyticsSink | None,
    client: Client,
    *,
    customer_id: int,
    erasing: bool,
) -> int:
    held = await find(pool, store, sink, client, customer_id=customer_id)
    _say(f"customer {customer_id} holds:", held.lines())
    if sink is None:
        _say("the warehouse is not configured here (ANALYTICS=disabled): nothing is looked for, nor erased, there")
    if held.postgres.get("artifacts") and not held.raw_bills:
        # A shell without the workers' ARTIFACT_STORE or GCS_BUCKET lists another store: it would erase the rows
        # that find the raw bills, and leave the bills.
        _say("its jobs record raw bills, and this store holds none: give this command the workers' settings")
        return 1
    if not erasing:
        _say("nothing deleted; run again with --erase to delete it all" if not held.nothing else "nothing to erase")
        return 0
    done = await erase(pool, store, sink, client, customer_id=customer_id)
    left = await find(pool, store, sink, client, customer_id=customer_id)
    _say("left after erasing:", [line for line in left.lines() if not line.endswith(": 0") and " 0 (" not in line])
    for failure in done.failed:
        _say(f"not erased: {failure}")
    if done.failed or not left.nothing:
        _say("run it again (a write under way when its job was stopped, or rows BigQuery still buffers)")
        return 1
    _say(f"customer {customer_id} erased")
    return 0


def _say(line: str, details: Iterable[str] = ()) -> None:
    sys.stdout.write("\n".join([line, *(f"  {detail}" for detail in details)]) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m worker.erase_customer",
        description="List (with --erase: delete) everything MiniMeter holds of one customer.",
    )
    parser.add_argument("--customer-id", type=int, required=True, help="the customer's id")
    parser.add_argument("--erase", action="store_true", help="delete it all (without: list it, by kind and count)")
    args = parser.parse_args()
    exit_past_the_sdk(asyncio.run(_main(args)))


if __name__ == "__main__":
    main()
