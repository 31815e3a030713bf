"""A local fake of BigQuery's ``tables.get`` and ``tables.patch``, with the service's etag check.

A patch carries ``If-Match: <etag>`` (the official client sends the etag of the table it read);
BigQuery answers 412 when the table changed since. ``patched_by_another`` makes the next patch
lose that race, as when a second worker patched the table first.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local_server import LocalFake, answer_json


class FakeTables(LocalFake):
    """One table, ``fields`` its schema and ``description`` its own; ``patches`` counts the patch requests that
    arrived. ``refusing``: every patch is answered 400, as BigQuery answers one it does not take."""

    def __init__(
        self, project: str, dataset: str, table: str, fields: list[dict[str, Any]], description: str | None = None
    ) -> None:
        self.reference = {"projectId": project, "datasetId": dataset, "tableId": table}
        self.fields = fields
        self.description = description
        self.etag = 1
        self.patches = 0
        self.patched_by_another: list[dict[str, Any]] | None = None
        self.refusing = False
        super().__init__(self._handler(), name="fake-tables")

    def resource(self) -> dict[str, Any]:
        described = {"description": self.description} if self.description else {}
        schema = {"fields": self.fields}
        return {"tableReference": self.reference, "schema": schema, "etag": str(self.etag), **described}

    def patch(self, if_match: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.patches += 1
        if self.refusing:
            return 400, {"error": {"code": 400, "message": "Invalid schema update.", "status": "INVALID_ARGUMENT"}}
        if self.patched_by_another is not None:  # the other process's patch lands first
            self.fields, self.patched_by_another = self.patched_by_another, None
            self.etag += 1
        if if_match is not None and if_match != str(self.etag):
            return 412, {
                "error": {"code": 412, "message": "Precondition check failed.", "status": "FAILED_PRECONDITION"}
            }
        self.fields = body["schema"]["fields"]
        self.description = body.get("description", self.description)
        self.etag += 1
        return 200, self.resource()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answer_json(self, 200, fake.resource())

            def do_PATCH(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer_json(self, *fake.patch(self.headers.get("If-Match"), json.loads(raw)))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
