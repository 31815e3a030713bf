"""A local fake of BigQuery's ``tabledata.insertAll``, answering as the documented service does.

bqemulator answers a row it cannot take with a 500 for the whole request; BigQuery answers
200 with per-row ``insertErrors``: ``invalid`` for the bad row and, unless the request set
``skipInvalidRows``, ``stopped`` for every other row, none of them written. A row is invalid
here when it names a column its table does not have (BigQuery's "no such field"), or when its
table's partitioning column holds a date BigQuery does not stream into: more than 1825 days
back or 366 days ahead ("outside the allowed bounds", as BigQuery answered in 2025).
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from shared.analytics import TABLES
from tests.fakes.local_server import LocalFake, answer_json

_PATH = re.compile(r"/bigquery/v2/projects/[^/]+/datasets/[^/]+/tables/(?P<table>[^/]+)/insertAll")
_COLUMNS = {spec.name: {c.name for c in spec.columns} for spec in TABLES}
STREAMS_BACK, STREAMS_AHEAD = timedelta(days=1825), timedelta(days=366)


class FakeInsertAll(LocalFake):
    """Keeps the rows it wrote, per table: ``written["normalized_bills"]``."""

    def __init__(self) -> None:
        self.written: dict[str, list[dict[str, Any]]] = {}
        self.delay = 0.0
        """Seconds each answer takes: a warehouse having a slow day."""
        self.partitioned_by = {spec.name: spec.partition_by for spec in TABLES}
        """Each table's partitioning column, as this release creates it; set one to play a table an
        earlier release created."""
        self._lock = threading.Lock()
        super().__init__(self._handler(), name="fake-insertall")

    def insert(self, table: str, body: dict[str, Any]) -> dict[str, Any]:
        rows = [r["json"] for r in body.get("rows", [])]
        problems = {i: why for i, row in enumerate(rows) if (why := self._problem(table, row))}
        invalid = set(problems)
        errors = [{"index": i, "errors": [{"reason": "invalid", "message": problems[i]}]} for i in sorted(invalid)]
        if invalid and not body.get("skipInvalidRows"):
            stopped = [{"index": i, "errors": [{"reason": "stopped"}]} for i in range(len(rows)) if i not in invalid]
            return {"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": errors + stopped}
        with self._lock:
            self.written.setdefault(table, []).extend(row for i, row in enumerate(rows) if i not in invalid)
        return {"kind": "bigquery#tableDataInsertAllResponse", **({"insertErrors": errors} if errors else {})}

    def _problem(self, table: str, row: dict[str, Any]) -> str | None:
        if set(row) - _COLUMNS[table]:
            return "no such field"
        column = self.partitioned_by.get(table)
        value = row.get(column) if column else None
        if value is None:
            return None
        when = datetime.fromisoformat(value)
        now = datetime.now(UTC)
        if now - STREAMS_BACK <= (when if when.tzinfo else when.replace(tzinfo=UTC)) <= now + STREAMS_AHEAD:
            return None
        return (
            f"Value {value} for partition column {column} of the destination table {table} is outside the allowed"
            " bounds. You can only stream to partitions of date range within 1825 days in the past and 366 days in"
            " the future relative to the current date."
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                match = _PATH.fullmatch(self.path.split("?", 1)[0])
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(fake.delay)
                status, answer = (200, fake.insert(match["table"], json.loads(raw))) if match else (404, {})
                answer_json(self, status, answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
