"""The rollup on BigQuery ends within rollup_analytics' start-to-close: a query still running then is cancelled."""

from __future__ import annotations

import logging
import re
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from google.api_core.exceptions import Forbidden

from shared.analytics.bigquery import ROLLUP_BUDGET_SECONDS, AnalyticsOutOfTime, BigQuerySink
from tests.fakes.local_server import LocalFake, answer_json
from workflows import policies


class _QueuedForSlots(LocalFake):
    """BigQuery's jobs API with every query job left running (queued for slots) until it is cancelled.

    ``answering_inserts`` cleared: a job is received, then its insert's answer never comes (lost, or slow).
    The dataset ``d`` and its jobs are in ``location``; ``cancelled_in`` the location each cancel named."""

    def __init__(self, location: str = "US") -> None:
        self.location = location
        self.cancelled: list[str] = []
        self.cancelled_in: list[str | None] = []
        self.inserted: list[str] = []
        self.answering_inserts = threading.Event()
        self.answering_inserts.set()
        self.cancel_status = 200
        self.insert_status = 200
        """Not 200: an insert is taken, then answered so (its answer lost on the way); the same job sent again, 409."""
        super().__init__(self._handler(), name="bq-slow")

    def __exit__(self, *exc: object) -> None:
        self.answering_inserts.set()  # a held insert's thread ends
        super().__exit__(*exc)

    def job(self, job_id: str) -> dict[str, Any]:
        state = "DONE" if job_id in self.cancelled else "RUNNING"
        reference = {"projectId": "p", "jobId": job_id, "location": self.location}
        return {"jobReference": reference, "configuration": {"query": {}}, "status": {"state": state}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if cancel := re.search(r"/jobs/([^/?]+)/cancel", self.path):
                    if fake.cancel_status != 200:
                        answer_json(self, fake.cancel_status, {"error": {"code": fake.cancel_status}})
                        return
                    fake.cancelled.append(cancel[1])
                    fake.cancelled_in.append(parse_qs(urlsplit(self.path).query).get("location", [None])[0])
                    answer_json(self, 200, {"job": fake.job(cancel[1])})
                else:  # jobs.insert: the client names the job
                    job_id = re.search(rb'"jobId":\s*"([^"]+)"', body)
                    assert job_id is not None
                    again = job_id[1].decode() in fake.inserted
                    fake.inserted.append(job_id[1].decode())
                    fake.answering_inserts.wait(30)
                    if again:
                        answer_json(self, 409, {"error": {"code": 409, "errors": [{"reason": "duplicate"}]}})
                    elif fake.insert_status != 200:
                        reason = "backendError" if fake.insert_status >= 500 else "accessDenied"
                        error = {"code": fake.insert_status, "errors": [{"reason": reason}]}
                        answer_json(self, fake.insert_status, {"error": error})
                    else:
                        answer_json(self, 200, fake.job(job_id[1].decode()))

            def do_GET(self) -> None:
                if urlsplit(self.path).path.endswith("/datasets/d"):
                    reference = {"projectId": "p", "datasetId": "d"}
                    answer_json(self, 200, {"datasetReference": reference, "location": fake.location})
                    return
                job_id = re.search(r"/(?:jobs|queries)/([^/?]+)", self.path)
                assert job_id is not None
                job = fake.job(job_id[1])
                if "/queries/" in self.path:
                    answer_json(self, 200, {"jobReference": job["jobReference"], "jobComplete": False})
                else:
                    answer_json(self, 200, job)

            def log_message(self, *_: object) -> None:
                pass

        return Handler


def test_the_rollup_budget_fits_its_activitys_start_to_close() -> None:
    # The budget, then up to 10 s asking the dataset's location (ensure_schema did not learn it) and 10 s to cancel.
    assert policies.ROLLUP.start_to_close.total_seconds() > ROLLUP_BUDGET_SECONDS + 30


@pytest.mark.timeout(60)
def test_a_rollup_query_past_its_budget_is_cancelled_before_the_attempt_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sync activity without heartbeats cannot be stopped: an attempt Temporal timed out would go on
    waiting for its MERGE, which would run beside the retry's. The sink ends it within its own budget."""
    monkeypatch.setattr("shared.analytics.bigquery.ROLLUP_BUDGET_SECONDS", 1.0)
    with _QueuedForSlots() as warehouse:
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)

        with pytest.raises(AnalyticsOutOfTime, match="cancelled"):
            sink.rollup(date(2024, 1, 1), date(2024, 2, 29))

        assert len(warehouse.cancelled) == 1


@pytest.mark.timeout(60)
def test_a_query_whose_insert_outlives_the_budget_is_cancelled_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """BigQuery took the job but its answer did not come in time: the job runs all the same, so it is
    cancelled by the id the client gave it, and the caller told ``AnalyticsOutOfTime`` (it went up unconverted)."""
    monkeypatch.setattr("shared.analytics.bigquery.ROLLUP_BUDGET_SECONDS", 1.0)
    with _QueuedForSlots() as warehouse:
        warehouse.answering_inserts.clear()
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)

        with pytest.raises(AnalyticsOutOfTime, match="cancelled"):
            sink.rollup(date(2024, 1, 1), date(2024, 2, 29))

        assert warehouse.inserted and set(warehouse.cancelled) == set(warehouse.inserted)


@pytest.mark.timeout(60)
def test_a_query_whose_insert_was_sent_again_waits_for_its_job_then_cancels_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BigQuery took the insert but its answer was a 503, so the client sent it again and got 409: the job is
    this query's (its id is new to the call). It went up as ``Conflict`` and the MERGE ran on beside the
    activity's retry; now it is waited for, as any query is, and cancelled at the budget."""
    monkeypatch.setattr("shared.analytics.bigquery.ROLLUP_BUDGET_SECONDS", 5.0)
    with _QueuedForSlots() as warehouse:
        warehouse.insert_status = 503
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)

        with pytest.raises(AnalyticsOutOfTime, match="cancelled"):
            sink.rollup(date(2024, 1, 1), date(2024, 2, 29))

        assert len(warehouse.inserted) == 2 and len(set(warehouse.inserted)) == 1, "one job, sent twice"
        assert warehouse.cancelled == warehouse.inserted[:1]


@pytest.mark.timeout(60)
def test_a_query_taken_then_refused_is_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error after BigQuery took the job (here a 403 to its insert) leaves the job running: it is cancelled
    before the error goes up, so the activity's retry does not run beside it."""
    with _QueuedForSlots() as warehouse:
        warehouse.insert_status = 403
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)

        with pytest.raises(Forbidden):
            sink.rollup(date(2024, 1, 1), date(2024, 2, 29))

        assert warehouse.inserted and warehouse.cancelled == warehouse.inserted


@pytest.mark.timeout(60)
def test_a_job_in_a_single_region_dataset_is_cancelled_where_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The insert's answer, which says where BigQuery placed the job, never came: the cancel names the dataset's
    location all the same, as BigQuery requires of a job outside the US and EU multi-regions (404 otherwise)."""
    monkeypatch.setattr("shared.analytics.bigquery.ROLLUP_BUDGET_SECONDS", 1.0)
    with _QueuedForSlots(location="us-central1") as warehouse:
        warehouse.answering_inserts.clear()
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)

        with pytest.raises(AnalyticsOutOfTime, match="cancelled"):
            sink.rollup(date(2024, 1, 1), date(2024, 2, 29))

        assert warehouse.inserted and set(warehouse.cancelled) == set(warehouse.inserted)
        assert warehouse.cancelled_in == ["us-central1"] * len(warehouse.cancelled)


@pytest.mark.timeout(60)
def test_a_job_that_cannot_be_cancelled_is_logged_by_its_bigquery_id(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``job_id`` in MiniMeter's logs is always a MiniMeter job: BigQuery's job goes under ``bq_job_id``."""
    monkeypatch.setattr("shared.analytics.bigquery.ROLLUP_BUDGET_SECONDS", 1.0)
    with _QueuedForSlots() as warehouse, caplog.at_level(logging.WARNING, logger="shared.analytics.bigquery"):
        warehouse.cancel_status = 403
        sink = BigQuerySink(project="p", dataset="d", endpoint=warehouse.url)

        with pytest.raises(AnalyticsOutOfTime):
            sink.rollup(date(2024, 1, 1), date(2024, 2, 29))

    [warning] = [record for record in caplog.records if "could not cancel" in record.getMessage()]
    assert getattr(warning, "bq_job_id", None) == warehouse.inserted[0]
    assert not hasattr(warning, "job_id")
