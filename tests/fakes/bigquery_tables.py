"""A local fake of BigQuery's ``tables.get`` and ``tables.patch``, with the service's etag check.

A patch carries ``If-Match: <etag>`` (the official client sends the etag of the table it read);
BigQuery answers 412 when the table changed since. ``patched_by_another`` makes the next patch
lose that race, as when a second worker patched the table first.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeTables:
    """One table, ``fields`` its schema; ``patches`` counts the patch requests that arrived."""

    def __init__(self, project: str, dataset: str, table: str, fields: list[dict[str, Any]]) -> None:
        self.reference = {"projectId": project, "datasetId": dataset, "tableId": table}
        self.fields = fields
        self.etag = 1
        self.patches = 0
        self.patched_by_another: list[dict[str, Any]] | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-tables", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeTables:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def resource(self) -> dict[str, Any]:
        return {"tableReference": self.reference, "schema": {"fields": self.fields}, "etag": str(self.etag)}

    def patch(self, if_match: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.patches += 1
        if self.patched_by_another is not None:  # the other process's patch lands first
            self.fields, self.patched_by_another = self.patched_by_another, None
            self.etag += 1
        if if_match is not None and if_match != str(self.etag):
            return 412, {
                "error": {"code": 412, "message": "Precondition check failed.", "status": "FAILED_PRECONDITION"}
            }
        self.fields = body["schema"]["fields"]
        self.etag += 1
        return 200, self.resource()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer(200, fake.resource())

            def do_PATCH(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(*fake.patch(self.headers.get("If-Match"), json.loads(raw)))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
