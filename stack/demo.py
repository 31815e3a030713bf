"""The demo ingestion `make run` ends with: one bill through the REST API, then where it landed."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from shared.settings import AnalyticsKind, Settings
from shared.temporal import connect_client
from workflows.rollup import AnalyticsRollupWorkflow, RollupInput

TERMINAL = {"SUCCEEDED", "DUPLICATE", "FAILED", "NEEDS_REVIEW", "REJECTED", "REVIEW_EXPIRED"}


def say(message: str) -> None:
    print(f"minimeter | {message}", flush=True)


def _demo_account(http: httpx.Client, settings: Settings) -> dict[str, Any]:
    """The demo customer and account, created on the first run and reused after."""
    state_file = settings.data_dir / "demo.json"
    if state_file.exists():
        return dict(json.loads(state_file.read_text()))
    customer = http.post("/customers", json={"name": "Demo Customer", "email": "demo@example.com"}).json()
    account = http.post(
        "/utility-accounts",
        json={"customer_id": customer["id"], "provider": "pge", "account_number": "4401-2290-117"},
    ).json()
    demo = {"customer_id": customer["id"], "account_id": account["id"]}
    state_file.write_text(json.dumps(demo))
    return demo


async def _refresh_rollup(settings: Settings) -> None:
    """Run the analytics rollup once now (the schedule runs it hourly) so the dashboard has months."""
    client = await connect_client(settings)
    await client.execute_workflow(
        AnalyticsRollupWorkflow.run,
        RollupInput(window_days=3650),
        id=f"analytics-rollup-demo-{uuid.uuid4().hex[:8]}",
        task_queue=settings.temporal_task_queue,
    )


def _bigquery_rows(settings: Settings, job_id: str) -> list[dict[str, Any]]:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    endpoint = settings.bigquery_emulator_host
    client = (
        bigquery.Client(
            project=settings.gcp_project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=endpoint),
        )
        if endpoint
        else bigquery.Client(project=settings.gcp_project)
    )
    sql = (
        "SELECT bill_id, provider, bill_period_start, bill_period_end, total_amount, currency"
        f" FROM `{settings.gcp_project}.{settings.bq_dataset}.normalized_bills_latest` WHERE job_id = @job_id"
    )
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("job_id", "STRING", job_id)])
    rows = [dict(r.items()) for r in client.query(sql, job_config=config).result()]
    return [{k: v.quantize(Decimal("0.01")) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows]


def _table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["(no rows)"]
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    line = "+" + "+".join("-" * (widths[c] + 2) for c in cols) + "+"
    head = "|" + "|".join(f" {c:<{widths[c]}} " for c in cols) + "|"
    body = ["|" + "|".join(f" {r[c]!s:<{widths[c]}} " for c in cols) + "|" for r in rows]
    return [line, head, line, *body, line]


def run_demo(
    api: str, key: str, settings: Settings, *, running: Callable[[], bool] = lambda: True, within: float = 180
) -> None:
    """Ingest one demo bill through the REST API and print what happened and where it landed.

    Gives up waiting (and says so) when ``running`` turns false, a worker or the API having
    exited, or after ``within`` seconds: ``make run`` must not hang on a job nothing works on.
    """
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        demo = _demo_account(http, settings)
        started = time.monotonic()
        job = http.post("/jobs", json={"utility_account_id": demo["account_id"]}).json()
        while job["status"] not in TERMINAL:
            if not running():
                raise RuntimeError(f"a child process exited while the demo job was {job['status']}: see the logs")
            if time.monotonic() - started > within:
                say(f"demo job {job['id']} still {job['status']} after {within:.0f}s: see {job['web_ui_url']}")
                return
            time.sleep(0.2)
            job = http.get(f"/jobs/{job['id']}").json()
        result = job.get("result") or {}
        say(f"demo job id:      {job['id']}")
        say(f"final status:     {job['status']} ({time.monotonic() - started:.1f}s)")
        say(f"extracted total:  {result.get('total_amount')} {result.get('currency') or ''}")
        say(f"raw bill in GCS:  {(result.get('artifact') or {}).get('uri')}")
        say(f"Temporal Web UI:  {job['web_ui_url']}")
        if settings.analytics is AnalyticsKind.BIGQUERY and job["status"] == "SUCCEEDED":
            say("BigQuery> SELECT … FROM normalized_bills_latest WHERE job_id = '" + job["id"] + "'")
            for line in _table(_bigquery_rows(settings, job["id"])):
                say("  " + line)
        if settings.analytics is not AnalyticsKind.DISABLED:
            asyncio.run(_refresh_rollup(settings))
        dashboard = http.get(f"/customers/{demo['customer_id']}/dashboard").json()
        billed = " + ".join(f"{total} {currency}" for currency, total in dashboard["total_billed_by_currency"].items())
        say(
            f"dashboard: {dashboard['bills_count']} bills, {billed or 'nothing'} billed; "
            f"monthly ({dashboard['monthly_source']}): "
            + json.dumps([{k: m[k] for k in ("month", "currency", "total_cost", "kwh", "bills")} for m in dashboard["monthly"][:3]])
        )
