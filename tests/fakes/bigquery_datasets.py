"""A local fake of BigQuery's ``datasets.get`` and ``datasets.insert``, with the service's permissions.

An identity granted ``roles/bigquery.dataEditor`` on one dataset may read that dataset, but inserting a
dataset needs ``bigquery.datasets.create`` on the project: BigQuery answers 403 to the insert, whether
or not the dataset exists (the 409 ``exists_ok`` expects comes only to those allowed to create).
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local_server import LocalFake, answer_json


class FakeDatasets(LocalFake):
    """One project's datasets: ``existing`` their ids; ``may_create`` whether the caller holds
    ``bigquery.datasets.create``; ``inserts`` counts the insert requests that arrived."""

    def __init__(self, project: str, existing: set[str], *, may_create: bool) -> None:
        self.project = project
        self.existing = set(existing)
        self.may_create = may_create
        self.inserts = 0
        super().__init__(self._handler(), name="fake-datasets")

    def resource(self, dataset: str) -> dict[str, Any]:
        return {"datasetReference": {"projectId": self.project, "datasetId": dataset}, "location": "US"}

    def get(self, dataset: str) -> tuple[int, dict[str, Any]]:
        if dataset not in self.existing:
            return 404, _error(404, f"Not found: Dataset {self.project}:{dataset}", "notFound")
        return 200, self.resource(dataset)

    def insert(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.inserts += 1
        dataset = body["datasetReference"]["datasetId"]
        if not self.may_create:
            message = f"Access Denied: Project {self.project}: User does not have bigquery.datasets.create permission"
            return 403, _error(403, message, "accessDenied")
        if dataset in self.existing:
            return 409, _error(409, f"Already Exists: Dataset {self.project}:{dataset}", "duplicate")
        self.existing.add(dataset)
        return 200, self.resource(dataset)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self
        prefix = f"/bigquery/v2/projects/{self.project}/datasets"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if not path.startswith(prefix + "/"):
                    answer_json(self, 404, _error(404, "no such path", "notFound"))
                    return
                answer_json(self, *fake.get(path.removeprefix(prefix + "/")))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.split("?", 1)[0] != prefix:
                    answer_json(self, 404, _error(404, "no such path", "notFound"))
                    return
                answer_json(self, *fake.insert(json.loads(raw)))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _error(code: int, message: str, reason: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "errors": [{"reason": reason, "message": message}]}}
