"""End to end through HTTP: a real app, a real worker, Temporal and Postgres."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from api.auth import Principal, Role
from api.services.jobs import start_job
from bench.noop_steps import PATCHED_BEFORE, STEP_POLICIES, default_steps
from shared.analytics import BigQuerySink
from shared.models import JobType
from shared.settings import Settings
from tests.helpers import (
    account_digits,
    bill_text,
    create_account,
    reissue_text,
    upload_and_wait,
    wait_for_failed_run,
    wait_for_status,
)
from worker.resources import Resources

PIPELINE = [
    "mark_job_running",
    "fetch_bill",
    "store_raw_bill",
    "find_duplicate",
    "extract_bill",
    "validate_bill",
    "persist_bill",
    "publish_analytics",
    "mark_job_finished",
]


async def activity_types(client: Client, workflow_id: str) -> list[str]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def patches_by_next_step(events: list[HistoryEvent]) -> list[tuple[str, str]]:
    """(activity scheduled next, patch id) for each patch marker the run recorded, in order: where the no-op
    ceiling checks each patch. A patch checked after the last activity is paired with "end"."""
    found: list[tuple[str, str]] = []
    pending: list[str] = []
    for e in events:
        marker = e.marker_recorded_event_attributes
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and marker.marker_name == "core_patch":
            pending.append(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            step = e.activity_task_scheduled_event_attributes.activity_type.name
            found += [(step, patch) for patch in pending]
            pending = []
    return found + [("end", patch) for patch in pending]


def policy_by_step(events: list[HistoryEvent]) -> dict[str, tuple[float, float, float, int]]:
    """Each scheduled step's start-to-close, heartbeat, first retry interval and attempt limit, in seconds."""
    policies: dict[str, tuple[float, float, float, int]] = {}
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            a = e.activity_task_scheduled_event_attributes
            policies[a.activity_type.name] = (
                a.start_to_close_timeout.ToTimedelta().total_seconds(),
                a.heartbeat_timeout.ToTimedelta().total_seconds(),
                a.retry_policy.initial_interval.ToTimedelta().total_seconds(),
                a.retry_policy.maximum_attempts,
            )
    return policies


def ceiling_policy(step: str) -> tuple[float, float, float, int]:
    policy = STEP_POLICIES[step]
    initial = policy.retry.initial_interval
    return (
        policy.start_to_close.total_seconds(),
        policy.heartbeat.total_seconds() if policy.heartbeat else 0.0,
        initial.total_seconds() if initial else 0.0,
        policy.retry.maximum_attempts,
    )


async def test_connector_job_succeeds_with_rows_and_history(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str
) -> None:
    account = await create_account(http, provider="pge", account_number=f"PGE-{unique}")
    started = await http.post("/jobs", json={"utility_account_id": account["id"]})
    assert started.status_code == 201, started.text
    job = started.json()
    assert job["status"] in {"PENDING", "RUNNING"}
    assert job["web_ui_url"].endswith(job["workflow_id"])

    done = await wait_for_status(http, job["id"])
    assert done["status"] == "SUCCEEDED", done
    assert [s["name"] for s in done["steps"]] == PIPELINE[1:-1] or [s["name"] for s in done["steps"]] == PIPELINE[:-1]
    assert all(s["duration_ms"] is not None for s in done["steps"])
    assert done["result"]["total_amount"] is not None

    pool = resources.pool
    bill = await pool.fetchrow("SELECT * FROM bills WHERE job_id = $1", job["id"])
    assert bill is not None
    assert str(bill["total_amount"]) == done["result"]["total_amount"]
    assert await pool.fetchval("SELECT count(*) FROM bill_line_items WHERE bill_id = $1", bill["id"]) > 0
    assert await pool.fetchval("SELECT count(*) FROM bill_usage WHERE bill_id = $1", bill["id"]) > 0
    artifact = await pool.fetchrow("SELECT * FROM artifacts WHERE job_id = $1", job["id"])
    assert artifact["uri"].startswith("gs://") and artifact["uri"].endswith(f"{artifact['sha256']}.pdf")
    row = await pool.fetchrow("SELECT status, finished_at, duration_ms FROM ingestion_jobs WHERE id = $1", job["id"])
    assert row["status"] == "SUCCEEDED" and row["finished_at"] is not None and row["duration_ms"] >= 0

    assert await activity_types(client, job["workflow_id"]) == PIPELINE
    await assert_the_ceiling_mirrors(client, job["workflow_id"])


async def assert_the_ceiling_mirrors(client: Client, workflow_id: str) -> None:
    """bench.noop replays an accepted bill's steps, patch checks and policies: drifted from the real workflow,
    the ceiling measures another workflow than the pipeline runs, and the ratio means nothing."""
    events = list((await client.get_workflow_handle(workflow_id).fetch_history()).events)
    steps = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert steps == default_steps()
    assert patches_by_next_step(events) == [(step, PATCHED_BEFORE[step]) for step in steps if step in PATCHED_BEFORE]
    assert policy_by_step(events) == {step: ceiling_policy(step) for step in default_steps()}


async def test_same_idempotency_key_gives_one_job_and_one_workflow(
    http: httpx.AsyncClient, client: Client, resources: Resources, unique: str
) -> None:
    account = await create_account(http, provider="coned", account_number=f"CE-{unique}")
    headers = {"Idempotency-Key": f"key-{unique}"}
    responses = await asyncio.gather(
        *[http.post("/jobs", json={"utility_account_id": account["id"]}, headers=headers) for _ in range(5)]
    )
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    job_id = ids.pop()
    assert (
        await resources.pool.fetchval(
            "SELECT count(*) FROM ingestion_jobs WHERE utility_account_id = $1", account["id"]
        )
        == 1
    )
    await wait_for_status(http, job_id)
    runs = [w async for w in client.list_workflows(f"WorkflowId = 'bill-ingestion-{job_id}'")]
    assert len(runs) == 1


async def test_unknown_job_is_404_and_bad_body_is_422(http: httpx.AsyncClient) -> None:
    missing = await http.get("/jobs/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert (await http.get("/jobs/not-a-uuid")).status_code == 404
    bad = await http.post("/jobs", json={"utility_account_id": "abc"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "utility_account_id"]
    assert (await http.post("/jobs", json={})).status_code == 422
    assert (await http.post("/jobs", json={"utility_account_id": 999_999_999})).status_code == 404


async def test_failing_connector_ends_failed_after_retries(
    http: httpx.AsyncClient, client: Client, app_settings: Settings, resources: Resources, unique: str
) -> None:
    account = await create_account(http, provider=None, account_number=f"NONE-{unique}")
    refused = await http.post("/jobs", json={"utility_account_id": account["id"]})
    assert refused.status_code == 422 and "POST /bills" in refused.json()["detail"]
    # No connector has a bill for it: the same job started past the API's check fails in fetch_bill.
    job, _ = await start_job(
        pool=resources.pool,
        client=client,
        settings=app_settings,
        principal=Principal(key_id=0, name="connector-test", role=Role.ADMIN, customer_id=None),
        account=account,
        job_type=JobType.CONNECTOR,
        idempotency_key=None,
    )
    done = await wait_for_status(http, str(job["id"]), within=90)
    assert done["status"] == "FAILED"
    unserved = "the mock connector has no bills for accounts without a known provider"
    expected = f"fetch_bill failed: BillNotAvailable: {unserved}"  # the type once
    assert done["error"] == expected, done["error"]
    await wait_for_failed_run(client, job["workflow_id"])
    history = await client.get_workflow_handle(job["workflow_id"]).fetch_history()
    failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED]
    assert failed and failed[0].activity_task_failed_event_attributes.retry_state != 0
    started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    fetch_attempts = max(e.activity_task_started_event_attributes.attempt for e in started)
    assert fetch_attempts == 4  # MAX_NO_BILL_ATTEMPTS answers of "no bill": retried, then given up
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED


async def test_a_reissued_statement_replaces_the_stored_bill_everywhere(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The utility re-issues February with other charges and a later date: one bill, the new figures,
    in Postgres, the dashboard and the warehouse; the version it replaced is kept."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    original, reissue = bill_text(number, total="60.00"), reissue_text(number)
    # the first statement again, later: still a duplicate
    jobs = [await upload_and_wait(http, account, text) for text in (original, reissue, original)]

    first, revised, again = jobs
    assert (first["status"], revised["status"], again["status"]) == ("SUCCEEDED", "SUCCEEDED", "DUPLICATE")
    assert revised["result"]["revises"] == first["id"]
    # The job whose bill was replaced says by whom: its bill id now holds the re-issue's figures.
    assert (await http.get(f"/jobs/{first['id']}")).json()["revised_by"] == revised["id"]
    listed = (await http.get("/jobs", params={"customer_id": account["customer_id"]})).json()["items"]
    assert {job["id"]: job["revised_by"] for job in listed} == {
        first["id"]: revised["id"],
        revised["id"]: None,
        again["id"]: None,
    }
    assert revised["result"]["bill_id"] == first["result"]["bill_id"] == again["result"]["bill_id"]
    pool = resources.pool
    stored = await pool.fetch("SELECT * FROM bills WHERE utility_account_id = $1", account["id"])
    assert [(str(b["job_id"]), b["total_amount"], b["statement_date"]) for b in stored] == [
        (revised["id"], Decimal("50.00"), date(2026, 3, 12))
    ]
    kept = await pool.fetch("SELECT job_id, payload FROM bill_revisions WHERE bill_id = $1", stored[0]["id"])
    assert [(str(r["job_id"]), r["payload"]["total_amount"]) for r in kept] == [(first["id"], "60.00")]
    dashboard = (await http.get(f"/customers/{account['customer_id']}/dashboard")).json()
    assert (dashboard["bills_count"], dashboard["total_billed"]) == (1, "50.00")
    sink = resources.sink
    assert isinstance(sink, BigQuerySink), "the session's worker publishes to the BigQuery emulator"
    view = sink._ref("normalized_bills_latest")
    latest = await asyncio.to_thread(sink._run, f"SELECT total_amount FROM {view} WHERE bill_id = '{stored[0]['id']}'")
    assert [row["total_amount"] for row in latest] == [Decimal("50.00")]
