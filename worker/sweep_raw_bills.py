"""``python -m worker.sweep_raw_bills``: find, and with ``--delete`` remove, raw bills no job references.

Why: fetch archives a connector's bill before ``store_raw_bill`` records it, so a fetch attempt whose result
is lost (timed out after its upload, its worker gone) leaves a copy under ``raw/bills/{job_id}/`` that nothing
records; an upload whose job was never created (another request under its ``Idempotency-Key`` won with a
different file) leaves one too. Nothing else deletes them.

An object is kept when Postgres names it (by job and content hash, so a store moved to another root or
bucket name is never taken for unreferenced): an ``artifacts`` row, the job's upload (``start_request``) or
result, its review task; when its job has not ended (``PENDING``, ``RUNNING``, ``NEEDS_REVIEW``: a fetch
may store it any moment) or ended within ``--older-than`` (a run reset past its start leaves the job's old
ended status until it ends again); and when it was written or last taken up within ``--older-than``. Its age
is from its last touch: a write that finds it there (a client retrying an upload under the same
``Idempotency-Key``, a fetch of the same bytes) touches it before it inserts or records anything. Only then is
it an orphan. A delete names the version listed (GCS: generation and metageneration; on disk: the mtime), so
an object written again or touched since it was listed is left alone, and one already gone counts as nothing:
run it as often as you like, while jobs run. An object the bucket keeps (a retention policy not yet met, a hold) is
left and logged on stderr, and the sweep goes on; ``--delete`` also clears the local store's stale ``.tmp-`` files,
which a long-running worker never restarts to clear. The default grace, 30 days, is at least the Temporal history
retention the README recommends (720 h), so a run reset that far back still finds its copies; with ``--delete``, a
grace shorter than the namespace's retention, which the command asks Temporal for, is refused, as is any grace when
Temporal does not answer (``--ignore-retention`` overrides); a dry run deletes nothing, so it only warns, and lists.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Protocol

import asyncpg
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

from shared.artifacts import GcsArtifactStore, LocalArtifactStore, StoredObject, build_artifact_store
from shared.db import open_for_a_command
from shared.logs import configure_logging
from shared.models import ENDED_STATUSES
from shared.settings import Settings, settings_or_exit
from shared.temporal import connect_client, exit_past_the_sdk

PAGE = 500
"""Objects checked against Postgres in one query."""
MIN_AGE = timedelta(hours=1)
"""The least ``--older-than`` taken: an upload sits in the store a moment before its job row exists."""
DEFAULT_AGE = timedelta(days=30)
"""At least the namespace's history retention (720 h recommended): a reset run may re-fetch a copy that old."""
RETENTION_LOOKUP_TIMEOUT = timedelta(seconds=10)
"""How long the command waits for Temporal to say how long it keeps histories, connecting included: a command run
by hand or by cron should say Temporal does not answer, not hang (the SDK's own bound is 30 s a call)."""

_REFERENCED = """
SELECT o.name FROM unnest($1::text[], $2::uuid[], $3::text[]) AS o(name, job_id, sha256)
 WHERE EXISTS (SELECT 1 FROM artifacts a WHERE a.job_id = o.job_id AND a.sha256 = o.sha256)
    OR EXISTS (SELECT 1 FROM review_tasks r
                WHERE r.job_id = o.job_id AND right(r.artifact_uri, length(o.name) + 1) = '/' || o.name)
    OR EXISTS (SELECT 1 FROM ingestion_jobs j
                WHERE j.id = o.job_id
                  AND (j.status <> ALL($4::text[])
                       OR j.updated_at >= $5
                       OR j.start_request -> 'upload' ->> 'sha256' = o.sha256
                       OR j.result -> 'artifact' ->> 'sha256' = o.sha256))
"""


class SweptStore(Protocol):
    def list_raw(self) -> Iterator[StoredObject]: ...

    def delete(self, listed: StoredObject) -> bool: ...


@dataclass
class Swept:
    """What a run found: the unreferenced objects past the grace period, and those it deleted."""

    orphans: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    checked: int = 0


async def sweep(
    pool: asyncpg.Pool,
    store: SweptStore,
    *,
    older_than: timedelta,
    delete: bool,
    now: datetime | None = None,
    report: Callable[[str], None] | None = None,
) -> Swept:
    """List the store's raw bills, a page at a time, and find (with ``delete``, remove) those no job references.
    ``report`` is told each URI as it is found (dry run) or deleted, so a run that fails partway has said what
    it did."""
    if older_than < MIN_AGE:
        raise ValueError(f"--older-than must be at least {MIN_AGE}: an upload is stored before its job row")
    cutoff = (now or datetime.now(UTC)) - older_than
    if delete and isinstance(store, LocalArtifactStore):
        # A worker runs for months without a start to clear what its failed writes left: the sweep does it. A bill
        # a dead sweep had set aside is put back first, so this listing weighs it again.
        await asyncio.to_thread(store.clear_stale_temp_files)
    done = Swept()
    listing = store.list_raw()
    while page := await asyncio.to_thread(lambda: list(islice(listing, PAGE))):
        done.checked += len(page)
        old = [listed for listed in page if listed.touched_at < cutoff]
        if not old:
            continue
        rows = await pool.fetch(
            _REFERENCED,
            [listed.name for listed in old],
            [_uuid_or_none(listed.job_id) for listed in old],
            [listed.sha256 for listed in old],
            sorted(ENDED_STATUSES),
            cutoff,
        )
        referenced = {row["name"] for row in rows}
        for listed in old:
            if listed.name in referenced:
                continue
            done.orphans.append(listed.uri)
            if delete:
                if not await asyncio.to_thread(store.delete, listed):
                    continue  # gone already, or touched since it was listed
                done.deleted.append(listed.uri)
            if report is not None:
                report(listed.uri)
    return done


def _uuid_or_none(job_id: str) -> uuid.UUID | None:
    """Job ids are UUIDs; an object under any other name has no job (and so no reference) at all."""
    try:
        return uuid.UUID(job_id)
    except ValueError:
        return None


_AGE = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str) -> timedelta:
    """``7d``, ``36h`` or ``90m``."""
    match = _AGE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of days, hours or minutes (7d, 36h, 90m)")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def format_age(age: timedelta) -> str:
    """``age`` as ``--older-than`` takes it (``30d``, ``36h``, ``90m``), rounded up to the minute."""
    minutes = -(-age // timedelta(minutes=1))
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


class TemporalUnreachable(Exception):
    """Connecting to Temporal failed: the SDK says so only as a ``RuntimeError``, a type too broad to catch."""


async def _connect(settings: Settings) -> Client:
    """A client without the payload codec (a namespace's description carries no payloads)."""
    try:
        return await connect_client(settings, payloads=False)
    except (RuntimeError, OSError) as error:  # the SDK's connect failure; a TLS file unreadable since the start
        raise TemporalUnreachable(str(error)) from error


async def history_retention(settings: Settings) -> timedelta:
    """How long the namespace keeps a closed run's history, and so how long after its end ``temporal workflow
    reset`` can run a job's fetch again (re-fetching a copy the sweep may have deleted)."""
    client = await _connect(settings)
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=settings.temporal_namespace), timeout=RETENTION_LOOKUP_TIMEOUT
    )
    return described.config.workflow_execution_retention_ttl.ToTimedelta()


async def retention_problem(settings: Settings, older_than: timedelta) -> str | None:
    """Why ``older_than`` may be unsafe (one line naming both figures): shorter than Temporal's history retention,
    or that retention unknown, Temporal not answering (a namespace may keep histories longer than the 30-day
    default). None when it is safe."""
    where = f"namespace {settings.temporal_namespace!r} at {settings.temporal_address}"
    try:
        retention = await asyncio.wait_for(history_retention(settings), RETENTION_LOOKUP_TIMEOUT.total_seconds())
    except (TemporalUnreachable, RPCError, TimeoutError) as error:
        reason = f"{type(error).__name__}: {error}"[:300] if str(error) else type(error).__name__
        return (
            f"Temporal ({where}) did not say how long it keeps histories ({reason});"
            " run it again once Temporal answers, or give --ignore-retention"
        )
    if older_than < retention:
        return (
            f"--older-than {format_age(older_than)} is shorter than the history retention of {where},"
            f" {format_age(retention)}: a run reset within it may fetch again a copy the sweep deleted"
            f" (ArtifactNotFound); give --older-than {format_age(retention)} or more, or --ignore-retention"
        )
    return None


async def check_grace(settings: Settings, older_than: timedelta, *, delete: bool) -> None:
    """With ``--delete``, refuse (exit non-zero) a grace that may be unsafe: a sweep is never urgent (orphans only
    cost storage) where a wrong delete fails a reset job. A dry run deletes nothing: it warns, and lists."""
    problem = await retention_problem(settings, older_than)
    if problem is None:
        return
    if delete:
        raise SystemExit(f"minimeter: sweep refused: {problem}")
    sys.stderr.write(f"minimeter: warning (listing all the same; --delete would refuse): {problem}\n")


async def _main(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    # Logs go to stderr, with their fields (the bill a retention policy keeps, and why): stdout is the URI list.
    configure_logging(settings, stream=sys.stderr)
    if not args.ignore_retention:
        await check_grace(settings, args.older_than, delete=args.delete)
    store = build_artifact_store(settings)
    assert isinstance(store, GcsArtifactStore | LocalArtifactStore)  # the factory builds one or the other
    pool = await open_for_a_command(settings)
    try:
        # A CLI's output (pyproject lets only listed modules print): each URI on stdout as it is found or
        # deleted (flushed: a run that fails partway has said what it deleted), the summary on stderr.
        done = await sweep(pool, store, older_than=args.older_than, delete=args.delete, report=_print_uri)
    finally:
        await pool.close()
    if args.delete:
        summary = f"deleted {len(done.deleted)} that no job references"
    else:
        summary = f"{len(done.orphans)} no job references; run again with --delete to remove them"
    sys.stderr.write(
        f"checked {done.checked} raw bills; of those older than {format_age(args.older_than)}, {summary}\n"
    )
    return 0


def _print_uri(uri: str) -> None:
    sys.stdout.write(f"{uri}\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m worker.sweep_raw_bills",
        description="List (with --delete: delete) the raw bills no job references.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="list the unreferenced raw bills (the default)")
    mode.add_argument("--delete", action="store_true", help="delete them")
    parser.add_argument(
        "--older-than",
        type=parse_age,
        default=DEFAULT_AGE,
        help="grace period: 30d (default), 36h, 90m; at least 1h and, unless --ignore-retention, at least the"
        " Temporal namespace's history retention (asked of Temporal): --delete refuses a shorter one, or any when"
        " Temporal does not answer; a dry run warns and lists",
    )
    parser.add_argument(
        "--ignore-retention",
        action="store_true",
        help="neither ask Temporal its history retention nor hold --older-than to it: a job reset after its"
        " copies were deleted then fails (ArtifactNotFound)",
    )
    args = parser.parse_args()
    if args.older_than < MIN_AGE:
        parser.error(f"--older-than must be at least {MIN_AGE}")
    code: int | str | None = 1
    try:
        code = asyncio.run(_main(args))
    except SystemExit as stop:  # a refusal: its one line
        code = stop.code
    except Exception:  # noqa: BLE001 - its traceback, as Python would print it; then the same exit past the SDK
        traceback.print_exc()
    exit_past_the_sdk(code)


if __name__ == "__main__":
    main()
