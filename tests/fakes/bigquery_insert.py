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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.analytics import TABLES

_PATH = re.compile(r"/bigquery/v2/projects/[^/]+/datasets/[^/]+/tables/(?P<table>[^/]+)/insertAll")
_COLUMNS = {spec.name: {c.name for c in spec.columns} for spec in TABLES}


class FakeInsertAll:
    """Keeps the rows it wrote, per table: ``written["normalized_bills"]``."""

    def __init__(self) -> None:
        self.written: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-insertall", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeInsertAll:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

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
                status, answer = (200, fake.insert(match["table"], json.loads(raw))) if match else (404, {})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
