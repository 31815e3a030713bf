"""A local fake of BigQuery's ``tabledata.insertAll``, answering as the documented service does.

bqemulator answers a row it cannot take with a 500 for the whole request; BigQuery answers
200 with per-row ``insertErrors``: ``invalid`` for the bad row and, unless the request set
``skipInvalidRows``, ``stopped`` for every other row, none of them written. A row is invalid
here when it names a column its table does not have (BigQuery's "no such field").
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from shared.analytics import TABLES
from tests.fakes.local_server import LocalFake, answer_json

_PATH = re.compile(r"/bigquery/v2/projects/[^/]+/datasets/[^/]+/tables/(?P<table>[^/]+)/insertAll")
_COLUMNS = {spec.name: {c.name for c in spec.columns} for spec in TABLES}


class FakeInsertAll(LocalFake):
    """Keeps the rows it wrote, per table: ``written["normalized_bills"]``."""

    def __init__(self) -> None:
        self.written: dict[str, list[dict[str, Any]]] = {}
        self.delay = 0.0
        """Seconds each answer takes: a warehouse having a slow day."""
        self._lock = threading.Lock()
        super().__init__(self._handler(), name="fake-insertall")

    def insert(self, table: str, body: dict[str, Any]) -> dict[str, Any]:
        rows = [r["json"] for r in body.get("rows", [])]
        invalid = {i for i, row in enumerate(rows) if set(row) - _COLUMNS[table]}
        errors = [{"index": i, "errors": [{"reason": "invalid", "message": "no such field"}]} for i in sorted(invalid)]
        if invalid and not body.get("skipInvalidRows"):
            stopped = [{"index": i, "errors": [{"reason": "stopped"}]} for i in range(len(rows)) if i not in invalid]
            return {"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": errors + stopped}
        with self._lock:
            self.written.setdefault(table, []).extend(row for i, row in enumerate(rows) if i not in invalid)
        return {"kind": "bigquery#tableDataInsertAllResponse", **({"insertErrors": errors} if errors else {})}

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
