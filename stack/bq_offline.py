"""Start bqemulator offline: ``python -m stack.bq_offline start --rest-port 9050 ...``.

Why this wrapper exists (bqemulator 1.4.0, duckdb 2.0.0):

* At startup ``DuckDBEngine._load_spatial`` runs ``INSTALL spatial`` and refuses to
  start when DuckDB's extension repository is unreachable. MiniMeter stores no
  GEOGRAPHY, so the wrapper skips that load; ``ST_*`` queries would fail, which we
  never issue.
* It then runs ``INSTALL avro`` (best effort) unless ``BQEMU_ENABLE_FORMAT_EXTENSIONS``
  is false: a download from extensions.duckdb.org at run time, and offline a wait for
  the network before the emulator answers (DuckDB's HTTP timeouts, where egress is
  dropped rather than refused). MiniMeter loads no Avro, so the wrapper turns it off
  unless that variable says otherwise.
* Its upload route whitelists media content types, but google-cloud-bigquery sends
  the media part of a multipart load job as ``*/*``; the wrapper adds that type.
* After every write it copies the whole table into a time-travel snapshot
  (``CREATE TABLE … AS SELECT *``), kept for 7 days: streaming N batches costs O(N²)
  and holds every copy (600 bills without them: 23 → 13 ms of its CPU per bill, both
  emulators 347 → 222 MB; 10,000 bills streamed in 3-bill batches now leave it at ~250 MB
  with flat CPU per bill, where a bench with the copies saw 8.5 GB). MiniMeter never
  queries ``FOR SYSTEM_TIME AS OF``, so the wrapper keeps the change event (it clears
  the query cache) and skips the copy; a time-travel query then reads the live table.
  ``CREATE SNAPSHOT TABLE`` still snapshots.
* A table patch that adds columns (``tables.patch``/``update``, which is how the
  official client's ``update_table`` adds one) changes only its catalog, so the next
  ``insertAll`` fails on a DuckDB table that lacks them; the wrapper adds them there too.

The patches are applied at import time and touch nothing else; every argument is
passed to bqemulator's own CLI unchanged.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any

from bqemulator import cli
from bqemulator.api.dependencies import AppContext, get_context
from bqemulator.api.routes import tables, upload
from bqemulator.catalog.models import SnapshotMeta
from bqemulator.domain.events import TableDataChanged
from bqemulator.storage.engine import DuckDBEngine
from bqemulator.storage.sql_identifiers import quoted_table_ref
from bqemulator.storage.type_map import bq_schema_to_duckdb_columns
from bqemulator.versioning.snapshots import SnapshotManager
from fastapi import Depends, Request
from fastapi.routing import APIRoute

logger = logging.getLogger(__name__)

CLIENT_MEDIA_TYPE = "*/*"
NO_FORMAT_EXTENSIONS = ("BQEMU_ENABLE_FORMAT_EXTENSIONS", "false")


def _skip_spatial(self: DuckDBEngine) -> None:
    logger.info("bq_offline: DuckDB spatial extension not loaded (no GEOGRAPHY support)")


def _announce_change_without_snapshot(
    self: SnapshotManager, project_id: str, dataset_id: str, table_id: str
) -> SnapshotMeta | None:
    """``record_change`` without the table copy: subscribers still hear of the write."""
    self._events.publish(TableDataChanged(project_id, dataset_id, table_id))
    return None


_TABLE_PATH = "/projects/{project_id}/datasets/{dataset_id}/tables/{table_id}"


async def _patch_table_and_its_columns(
    project_id: str,
    dataset_id: str,
    table_id: str,
    request: Request,
    ctx: Annotated[AppContext, Depends(get_context)],
) -> dict[str, Any]:
    """bqemulator's table patch, then the columns it added to the catalog added to the DuckDB table."""
    before = ctx.catalog.get_table(project_id, dataset_id, table_id)
    known = {field.name for field in before.schema_.fields} if before is not None else set()
    answer = await tables.patch_table(project_id, dataset_id, table_id, request, ctx)
    after = ctx.catalog.get_table(project_id, dataset_id, table_id)
    added = [tables._field_to_rest(f) for f in (after.schema_.fields if after else []) if f.name not in known]
    if added:
        target = quoted_table_ref(project_id, dataset_id, table_id)
        async with ctx.engine.write_lock():
            for name, duckdb_type in bq_schema_to_duckdb_columns(added):
                ctx.engine.execute(f'ALTER TABLE {target} ADD COLUMN IF NOT EXISTS "{name}" {duckdb_type}')
    return answer


def _route_table_patches_through_duckdb() -> None:
    for route in list(tables.router.routes):
        if (
            isinstance(route, APIRoute)
            and route.path == tables.router.prefix + _TABLE_PATH
            and (route.methods or set()) & {"PATCH", "PUT"}
        ):
            tables.router.routes.remove(route)
            tables.router.add_api_route(_TABLE_PATH, _patch_table_and_its_columns, methods=sorted(route.methods or ()))


def apply_patches() -> None:
    """Start without network, accept the official client's load uploads, no copy per write,
    columns a table patch adds land in the table too."""
    DuckDBEngine._load_spatial = _skip_spatial  # type: ignore[method-assign]
    SnapshotManager.record_change = _announce_change_without_snapshot  # type: ignore[method-assign]
    if CLIENT_MEDIA_TYPE not in upload._PERMITTED_MEDIA_CONTENT_TYPES:
        upload._PERMITTED_MEDIA_CONTENT_TYPES = (  # type: ignore[assignment]
            *upload._PERMITTED_MEDIA_CONTENT_TYPES,
            CLIENT_MEDIA_TYPE,
        )
    _route_table_patches_through_duckdb()


apply_patches()


def main() -> None:
    """Run bqemulator's CLI (``start``, ``version``, ...) with the patches in place, and no Avro download."""
    os.environ.setdefault(*NO_FORMAT_EXTENSIONS)
    cli.main()


if __name__ == "__main__":
    main()
