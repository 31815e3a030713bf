"""``GET /jobs/{id}`` says which running step Temporal is retrying, and why its last attempt failed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from api.auth import Role, create_key
from api.services import retries
from api.services.retries import STEP_ACTIVITIES, Retrying, with_retries
from shared.models import StepRecord
from shared.settings import Settings
from tests.api.idle_jobs import idle_queue, start_jobs
from tests.helpers import wait_until
from worker.main import build_worker, pipeline_activities
from worker.resources import Resources
from workflows import bill_ingestion

PORTAL_DOWN = "the portal did not answer (injected): HTTPSConnectionPool(host='10.9.8.7', port=8443): Read timed out"
"""As a client library words an outage: where its service is, which a customer's key is not shown."""


@activity.defn(name="fetch_bill")
async def portal_down(request: Any) -> Any:
    raise ApplicationError(PORTAL_DOWN)  # retryable, as a connector's outage is


async def test_a_step_temporal_retries_shows_its_attempt_and_last_error(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """The workflow hears of a step's retries only once they are spent: a job retrying its fetch read as one merely
    slow, its step with no error, while the server was on its third attempt."""
    settings = idle_queue(app_settings)
    (job,) = await start_jobs(resources.pool, client, settings, 1)
    viewer = await create_key(resources.pool, name="customer-viewer", role=Role.VIEWER, customer_id=job["customer_id"])
    customer_viewer = {"Authorization": f"Bearer {viewer.key}"}
    activities = [fn for fn in pipeline_activities(resources, settings) if fn.__name__ != "fetch_bill"]

    async def retried_fetch() -> dict[str, Any] | None:
        body = (await http.get(f"/jobs/{job['id']}")).json()
        fetch = next((step for step in body["steps"] if step["name"] == "fetch_bill"), None)
        return fetch if fetch is not None and (fetch["attempt"] or 0) >= 2 else None

    try:
        async with build_worker(client, resources, settings, activities=[*activities, portal_down]):
            step = await wait_until(retried_fetch, within=30, what="the fetch's second attempt")
            body = (await http.get(f"/jobs/{job['id']}")).json()
            customers = (await http.get(f"/jobs/{job['id']}", headers=customer_viewer)).json()
        # No worker left to answer the progress query (killed, say): the server's pending step is shown. It read
        # "steps": [] and no current step, as if nothing were happening.
        unanswered = (await http.get(f"/jobs/{job['id']}")).json()
    finally:
        await client.get_workflow_handle(job["workflow_id"]).terminate(reason="test over")
    assert (step["attempt_error"], step["finished_at"]) == (PORTAL_DOWN, None)
    # A key bound to the job's customer reads what failed, not where the service is (a security probe, 70B).
    (seen,) = [s for s in customers["steps"] if s["name"] == "fetch_bill"]
    assert seen["attempt_error"] == (
        "the portal did not answer (injected): HTTPSConnectionPool(host=<internal>, port=<internal>): Read timed out"
    )
    assert (body["status"], body["current_step"]) == ("RUNNING", "fetch_bill")
    assert (unanswered["status"], unanswered["current_step"]) == ("RUNNING", "fetch_bill")
    (pending,) = [s for s in unanswered["steps"] if s["name"] == "fetch_bill"]
    assert pending["attempt"] >= 2 and pending["attempt_error"] == PORTAL_DOWN


async def test_a_job_no_worker_has_taken_yet_reads_as_waiting_for_one(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """Handed to Temporal while no worker ran (all down, or restarting), a job read PENDING with no step at all, as
    if the API's dispatcher still held it (an operator's probe): the server's workflow task waiting for a worker is
    its step."""
    settings = idle_queue(app_settings)
    (job,) = await start_jobs(resources.pool, client, settings, 1)
    try:
        body = (await http.get(f"/jobs/{job['id']}")).json()
    finally:
        await client.get_workflow_handle(job["workflow_id"]).terminate(reason="test over")
    assert (body["status"], body["current_step"]) == ("PENDING", "waiting_for_worker"), body
    (step,) = body["steps"]
    assert step["name"] == "waiting_for_worker" and step["finished_at"] is None
    assert abs(datetime.fromisoformat(step["started_at"]) - datetime.fromisoformat(body["created_at"])).seconds < 30


async def test_a_step_no_worker_takes_says_so(
    http: httpx.AsyncClient,
    client: Client,
    resources: Resources,
    app_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A step whose activity no worker takes (the workers died, or run no activities): it read as running, or with its
    last failure alone ("ArtifactStoreUnavailable ..." long after the store was back, an operator's drill), where the
    worker was what was missing. Said whether the workflow answers (a worker running workflows only) or not."""
    monkeypatch.setattr(retries, "UNCLAIMED_AFTER", timedelta(seconds=1))
    settings = idle_queue(app_settings)
    (job,) = await start_jobs(resources.pool, client, settings, 1)

    async def unclaimed() -> dict[str, Any] | None:
        body = (await http.get(f"/jobs/{job['id']}")).json()
        running = [step for step in body["steps"] if step["finished_at"] is None]
        said = [step for step in running if (step["attempt_error"] or "").startswith("no worker has taken it since ")]
        return body if said else None

    try:
        async with build_worker(client, resources, settings, activities=[]):  # workflows, no activity taken
            answered = await wait_until(unclaimed, within=30, what="the step said waiting for a worker")
        unanswered = await wait_until(unclaimed, within=30, what="the server's pending step said so")
    finally:
        await client.get_workflow_handle(job["workflow_id"]).terminate(reason="test over")
    for body in (answered, unanswered):
        assert (body["status"], body["current_step"]) == ("PENDING", "mark_job_running"), body
        (step,) = [step for step in body["steps"] if step["name"] == "mark_job_running"]
        assert step["attempt"] is None and step["attempt_error"].endswith("UTC (none running, or all busy)"), step


STEP_CALL = re.compile(r'self\._step\(\s*"(?P<step>\w+)",\s*\w+\.(?P<activity>\w+)')
"""A step of ``BillIngestionWorkflow`` and the activity it runs, as its source writes them."""


def test_every_step_is_matched_to_the_activity_it_runs() -> None:
    """A step named otherwise than its activity ("expire_review" runs close_review_task) never showed its retries."""
    source = Path(bill_ingestion.__file__).read_text()
    steps = {(m["step"], m["activity"]) for m in STEP_CALL.finditer(source)}
    assert len(steps) >= 12, "the workflow's steps were not found in its source"
    assert {(step, STEP_ACTIVITIES.get(step, step)) for step, _ in steps} == steps


def test_two_running_steps_of_one_activity_show_no_retry_they_cannot_be_told_apart() -> None:
    now = datetime.now(UTC)
    steps = [
        StepRecord(name="open_review_task", started_at=now),
        StepRecord(name="take_back_review", started_at=now),
        StepRecord(name="expire_review", started_at=now),
    ]
    retrying = {"open_review_task": Retrying(3, "down"), "close_review_task": Retrying(2, "busy")}
    shown = with_retries(steps, retrying)
    assert [(s.attempt, s.attempt_error) for s in shown] == [(None, None), (None, None), (2, "busy")]
