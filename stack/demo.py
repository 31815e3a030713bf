"""The demo ingestion `make run` ends with: one bill through the REST API, then where it landed."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from shared.emulator import emulator_client_options, emulator_endpoint
from shared.models import SETTLED_STATUSES, RollupInput
from shared.settings import AnalyticsKind, Settings
from shared.temporal import connect_client
from workflows.rollup import AnalyticsRollupWorkflow


def say(message: str) -> None:
    print(f"minimeter | {message}", flush=True)


class DemoFailed(Exception):
    """A demo request failed: the demo stops there and says which request, and why, in one line."""


def _send(http: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    try:
        return http.request(method, path, json=body)
    except httpx.TransportError as error:
        raise DemoFailed(f"{method} {path} failed: {error!r}") from error


def _ok(response: httpx.Response) -> dict[str, Any]:
    """The body of a successful response; an error's body is a problem+json, not what was asked for."""
    if response.is_success:
        return dict(response.json())
    request = f"{response.request.method} {response.request.url.path}"
    raise DemoFailed(f"{request} answered {response.status_code}: {_detail(response)}")


def _detail(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    return str(problem.get("detail") or problem.get("title")) if isinstance(problem, dict) else str(problem)


def _call(http: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return _ok(_send(http, method, path, body))


def _saved_account_known(http: httpx.Client, demo: dict[str, Any]) -> bool:
    """Whether the API still has the saved account: a new database has not, and another database
    (DATABASE_URL) may hold an account of that id for some other customer."""
    response = _send(http, "GET", f"/utility-accounts/{demo['account_id']}")
    if response.status_code == 404:
        return False
    return bool(_ok(response).get("customer_id") == demo["customer_id"])


def _demo_account(http: httpx.Client, settings: Settings) -> dict[str, Any]:
    """The demo customer and account, created on the first run and reused while the API knows them."""
    state_file = settings.data_dir / "demo.json"
    if state_file.exists():
        saved = dict(json.loads(state_file.read_text()))
        if _saved_account_known(http, saved):
            return saved
    customer = _call(http, "POST", "/customers", {"name": "Demo Customer", "email": "demo@example.com"})
    account = _call(
        http,
        "POST",
        "/utility-accounts",
        {"customer_id": customer["id"], "provider": "pge", "account_number": "4401-2290-117"},
    )
    demo = {"customer_id": customer["id"], "account_id": account["id"]}
    state_file.write_text(json.dumps(demo))
    return demo


DEMO_ROLLUP_TIMEOUT = timedelta(minutes=2)
"""The demo's rollup takes seconds. Waited for without a limit, a worker that had died meanwhile left
``make run`` waiting forever, never reaching the loop that names an exited child and stops."""


async def _refresh_rollup(settings: Settings) -> None:
    """Run the analytics rollup once now (the schedule runs it hourly) so the dashboard has months."""
    client = await connect_client(settings)
    await client.execute_workflow(
        AnalyticsRollupWorkflow.run,
        RollupInput(window_days=3650),
        id=f"analytics-rollup-demo-{uuid.uuid4().hex[:8]}",
        task_queue=settings.temporal_task_queue,
        execution_timeout=DEMO_ROLLUP_TIMEOUT,
    )


def _bigquery_rows(settings: Settings, job_id: str) -> list[dict[str, Any]]:
    from google.cloud import bigquery

    # As the app reads the setting: a bare ``localhost:9050`` gets its ``http://``.
    endpoint = emulator_endpoint(settings.bigquery_emulator_host)
    options = emulator_client_options(endpoint) if endpoint else {}
    client = bigquery.Client(project=settings.gcp_project, **options)
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

    Gives up waiting (and says so) when ``running`` turns false, a child of the stack having
    exited, or after ``within`` seconds: ``make run`` must not hang on a job nothing works on.
    A failed request stops the demo with one line; the stack runs on.
    """
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        try:
            _demo(http, settings, running=running, within=within)
        except DemoFailed as failure:
            say(f"demo stopped: {failure}")
        except Exception as error:  # noqa: BLE001 - a failed rollup or warehouse query ends the demo, not the stack
            say(f"demo stopped: {_described(error)}")


def _described(error: BaseException) -> str:
    """The error and its causes in one line: a failed workflow says only "Workflow execution failed"."""
    text = f"{type(error).__name__}: {error}"
    return f"{text} (cause: {_described(error.__cause__)})" if error.__cause__ is not None else text


def _demo(http: httpx.Client, settings: Settings, *, running: Callable[[], bool], within: float) -> None:
    demo = _demo_account(http, settings)
    started = time.monotonic()
    job = _call(http, "POST", "/jobs", {"utility_account_id": demo["account_id"]})
    while job["status"] not in SETTLED_STATUSES:  # a review would wait for a person
        if not running():
            raise DemoFailed(f"a child process exited while the demo job was {job['status']}")
        if time.monotonic() - started > within:
            still = f"demo job {job['id']} still {job['status']} after {within:.0f}s"
            say(f"{still}{_where_it_is(job)}: see {job['web_ui_url']}")
            return
        time.sleep(0.2)
        job = _call(http, "GET", f"/jobs/{job['id']}")
    _report(job, settings, took=time.monotonic() - started)
    if settings.analytics is not AnalyticsKind.DISABLED:
        asyncio.run(_refresh_rollup(settings))
    _report_dashboard(_call(http, "GET", f"/customers/{demo['customer_id']}/dashboard"))


def _where_it_is(job: dict[str, Any]) -> str:
    """The step a job is at, and its last attempt's error: a demo job retrying a step (a Gemini key Google refuses)
    said only that it was still RUNNING, where ``GET /jobs/{id}`` had why (72C)."""
    step = job.get("current_step")
    if not step:
        return ""
    tries = [s for s in job.get("steps") or [] if s.get("name") == step]
    error = tries[-1].get("attempt_error") if tries else None
    return f", at {step}" + (f" (its last attempt: {error})" if error else "")


def _report(job: dict[str, Any], settings: Settings, *, took: float) -> None:
    result = job.get("result") or {}
    say(f"demo job id:      {job['id']}")
    say(f"final status:     {job['status']} ({took:.1f}s)")
    say(f"amount due:       {result.get('total_amount')} {result.get('currency') or ''} (the extracted total)")
    say(f"raw bill stored:  {(result.get('artifact') or {}).get('uri')}")  # in GCS, or on disk (ARTIFACT_STORE)
    say(f"Temporal Web UI:  {job['web_ui_url']}")
    if settings.analytics is AnalyticsKind.BIGQUERY and job["status"] == "SUCCEEDED":
        say("BigQuery> SELECT … FROM normalized_bills_latest WHERE job_id = '" + job["id"] + "'")
        for line in _table(_bigquery_rows(settings, job["id"])):
            say("  " + line)


SHOWN_MONTHS = 3
"""The dashboard's monthly rows the demo prints (the latest first): a stack run for months would print a page."""


def _report_dashboard(dashboard: dict[str, Any]) -> None:
    """The dashboard counts a bill's current charges, not its amount due (which carries the last bill's unpaid
    balance): the line says so, or a bill's two figures in the demo look like a mistake."""
    billed = " + ".join(f"{total} {currency}" for currency, total in dashboard["total_billed_by_currency"].items())
    every = dashboard["monthly"]
    monthly = [{k: m[k] for k in ("month", "currency", "total_cost", "kwh", "bills")} for m in every[:SHOWN_MONTHS]]
    cut = f", the latest {len(monthly)} of {len(every)}" if len(every) > len(monthly) else ""
    bills = dashboard["bills_count"]
    shown = json.dumps(monthly)
    latest = (dashboard.get("recent_bills") or [{}])[0]
    if not every and latest.get("bill_period_end"):
        # The mock connector dates one account's bills in its own months since 2000, as an archive would hold them:
        # "monthly: []" beside "1 bill" looked like a bill lost.
        shown = (
            f"none since {dashboard['monthly_since']}, the first month it covers (the bill's period,"
            f" {latest['bill_period_start']} to {latest['bill_period_end']}, is older: the mock connector dates an"
            " account's bills in its monthly periods since 2000)"
        )
    say(
        f"dashboard: {bills} bill{'' if bills == 1 else 's'}, {billed or 'nothing'} charged (each bill's current "
        f"charges, or its amount due where it states none); monthly ({dashboard['monthly_source']}{cut}): {shown}"
    )
