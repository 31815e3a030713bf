"""Everything a full ingestion writes to the logs: masked, and tagged with job, workflow and step.

The API, the worker (activities and workflows) and Temporal's own loggers run in this process,
so one capture sees them all: the project's handler (``configure_logging``) is pointed at a
buffer for the duration, at DEBUG, and file descriptors 1 and 2 take whatever bypasses ``logging``.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from shared.logs import configure_logging
from shared.models import SETTLED_STATUSES
from shared.review import ReviewAction, ReviewDecision
from shared.settings import LogFormat, LogLevel, Settings
from tests.helpers import wait_for_status
from tests.security.test_encrypted_history import (
    ACCOUNT_NUMBER,
    BILL_LINE,
    CUSTOMER_NAME,
    REVIEW_NOTE,
    approve,
    create_sensitive_account,
    sensitive_bill_text,
    upload,
)
from workflows.bill_ingestion import BillIngestionWorkflow

MASKED_ACCOUNT = "****" + ACCOUNT_NUMBER[-4:]
CORE_STEPS = {"mark_job_running", "store_raw_bill", "extract_bill", "validate_bill", "mark_job_finished"}
CONNECTOR_STEPS = CORE_STEPS | {"fetch_bill"}
REVIEWED_UPLOAD_STEPS = CORE_STEPS | {"open_review_task", "record_review_decision", "persist_bill"}


@contextmanager
def captured_logs(settings: Settings) -> Iterator[io.StringIO]:
    """The project's own handler, filters and formatter, writing to a buffer at DEBUG; restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging(
        settings.model_copy(update={"log_level": LogLevel.DEBUG, "log_format": LogFormat.JSON}), stream=buffer
    )
    try:
        yield buffer
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        for handler in [h for h in handlers if h not in root.handlers]:
            root.addHandler(handler)
        root.setLevel(level)


@contextmanager
def captured_output() -> Iterator[Callable[[], str]]:
    """What bypasses ``logging``: ``sys.stdout``/``sys.stderr`` writes and file descriptors 1 and 2
    (Temporal Core's Rust logs, C extensions). A module fixture cannot use ``capfd``, so by hand."""
    python = io.StringIO()
    with tempfile.TemporaryFile() as native, redirect_stdout(python), redirect_stderr(python):
        saved = [os.dup(1), os.dup(2)]
        os.dup2(native.fileno(), 1)
        os.dup2(native.fileno(), 2)

        def read() -> str:
            native.seek(0)
            return python.getvalue() + native.read().decode(errors="replace")

        try:
            yield read
        finally:
            for fd, original in zip((1, 2), saved, strict=True):
                os.dup2(original, fd)
                os.close(original)


async def settle(http: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    """Wait for the job; approve it if it asks for a review."""
    job = await wait_for_status(http, job_id, SETTLED_STATUSES, within=90)
    return await approve(http, job_id, note=REVIEW_NOTE) if job["status"] == "NEEDS_REVIEW" else job


async def wait_for_record(buffer: io.StringIO, needle: str, *, count: int = 1, within: float = 10) -> None:
    """The job's status lands in Postgres just before its last log line: wait for that line."""
    deadline = time.monotonic() + within
    while buffer.getvalue().count(needle) < count:
        assert time.monotonic() < deadline, f"fewer than {count} log lines with {needle!r}"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def ingestion_logs(
    http: httpx.AsyncClient, client: Client, app_settings: Settings, admin_key: str
) -> dict[str, Any]:
    """A connector job and a reviewed upload of the same account, with every log line they caused."""
    with captured_output() as unlogged, captured_logs(app_settings) as buffer:
        account = await create_sensitive_account(http)
        started = await http.post("/jobs", json={"utility_account_id": account["id"]})
        assert started.status_code == 201, started.text
        connector = await settle(http, started.json()["id"])

        upload_id = await upload(http, account["id"], sensitive_bill_text())
        waiting = await wait_for_status(http, upload_id, SETTLED_STATUSES, within=90)
        assert waiting["status"] == "NEEDS_REVIEW", waiting
        # A stale decision by signal: the workflow drops it and says so through workflow.logger.
        stale = ReviewDecision(action=ReviewAction.APPROVE, revision="stale", reviewer="script", note=REVIEW_NOTE)
        await client.get_workflow_handle(waiting["workflow_id"]).signal(BillIngestionWorkflow.review_decision, stale)
        await wait_for_record(buffer, "review signal ignored")
        uploaded = await approve(http, upload_id, note=REVIEW_NOTE)
        assert uploaded["status"] == "SUCCEEDED", uploaded

        # Callers do put secrets in URLs: the access log line must mask them.
        await http.get("/health", params={"api_key": admin_key, "account_number": ACCOUNT_NUMBER})
        await wait_for_record(buffer, '"job finished"', count=2)
        output = buffer.getvalue() + unlogged()
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return {"connector": connector, "upload": uploaded, "records": records, "output": output}


def test_no_account_number_key_name_or_bill_text(ingestion_logs: dict[str, Any], admin_key: str) -> None:
    output = ingestion_logs["output"]
    leaks = {
        "account number": [ACCOUNT_NUMBER, ACCOUNT_NUMBER.replace("-", ""), ACCOUNT_NUMBER.replace("-", " ")],
        "API key": [admin_key, admin_key.removeprefix("mm_")],
        "customer name": [CUSTOMER_NAME],
        "bill text": [BILL_LINE, "Quillfeather", "Electric Delivery"],
        "review note": [REVIEW_NOTE],
    }
    found = {what: [s for s in needles if s in output] for what, needles in leaks.items()}
    assert found == {what: [] for what in leaks}, "sensitive data in the logs"
    assert MASKED_ACCOUNT in output, "the account number reached the logs masked to its last four"
    assert "api_key=[REDACTED]" in output, "the API key reached the logs redacted"


def test_every_line_is_one_json_record(ingestion_logs: dict[str, Any]) -> None:
    records = ingestion_logs["records"]
    assert len(records) > 20
    assert all({"ts", "level", "logger", "message"} <= record.keys() for record in records)
    assert not [r for r in records if {"temporal_activity", "temporal_workflow"} & r.keys()]


@pytest.mark.parametrize(("job", "steps"), [("connector", CONNECTOR_STEPS), ("upload", REVIEWED_UPLOAD_STEPS)])
def test_activity_lines_carry_job_workflow_and_step(ingestion_logs: dict[str, Any], job: str, steps: set[str]) -> None:
    ingested = ingestion_logs[job]
    lines = [r for r in ingestion_logs["records"] if r["logger"].startswith("activities.")]
    mine = [r for r in lines if r.get("job_id") == ingested["id"]]
    assert steps <= {r.get("step") for r in mine}
    untagged = [r for r in mine if r.get("workflow_id") != ingested["workflow_id"] or not r.get("run_id")]
    assert untagged == [], "activity lines without their workflow"
    assert all(isinstance(r.get("attempt"), int) for r in mine)


@pytest.mark.parametrize("job", ["connector", "upload"])
def test_a_jobs_story_begins_with_its_creation_by_whom(ingestion_logs: dict[str, Any], job: str) -> None:
    """Its first line was the dispatcher's batch (``job_ids``): who created it, for which account, said nowhere (a
    support engineer's probe, 75A)."""
    ingested = ingestion_logs[job]
    mine = [r for r in ingestion_logs["records"] if r.get("job_id") == ingested["id"]]
    assert mine and mine[0]["message"] == "job created", mine[:2]
    assert (mine[0]["workflow_id"], mine[0]["step"]) == (ingested["workflow_id"], "create_job")
    assert isinstance(mine[0]["key_id"], int) and mine[0]["utility_account_id"] == ingested["utility_account_id"]


def test_a_decision_and_a_jobs_end_are_told_in_full(ingestion_logs: dict[str, Any]) -> None:
    """The API said nothing of a decision it answered (a refused one was found nowhere), and "job finished" named
    no bill, duplicate or error: a support engineer read them from the database (75A)."""
    upload = ingestion_logs["upload"]
    mine = [r for r in ingestion_logs["records"] if r.get("job_id") == upload["id"]]
    [answered] = [r for r in mine if r["message"] == "review decision answered"]
    assert (answered["workflow_id"], answered["step"]) == (upload["workflow_id"], "submit_review")
    assert (answered["action"], answered["job_status"]) == ("approve", "SUCCEEDED")
    assert isinstance(answered["key_id"], int)
    [finished] = [r for r in mine if r["message"] == "job finished"]
    assert (finished["status"], finished.get("error")) == ("SUCCEEDED", None)
    assert finished["bill_id"] == upload["result"]["bill_id"] and finished.get("duplicate_of") is None


def test_workflow_and_api_lines_are_tagged(ingestion_logs: dict[str, Any]) -> None:
    upload = ingestion_logs["upload"]
    records = ingestion_logs["records"]
    [ignored] = [r for r in records if r["logger"] == "temporalio.workflow" and r.get("job_id") == upload["id"]]
    assert ignored["message"] == "review signal ignored"
    assert ignored["workflow_id"] == upload["workflow_id"] and ignored.get("run_id")
    access = [r["message"] for r in records if r["logger"] == "uvicorn.access"]
    assert any(f"/reviews/{upload['id']}" in line for line in access)
