"""``make run``'s demo against an API that forgot its account or refuses a request: no ``KeyError``."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

import stack.demo
from shared.analytics.bigquery import BigQuerySink
from shared.settings import AnalyticsKind, Environment, Settings
from stack.demo import run_demo
from stack.emulators import BigQueryEmulator
from tests.helpers import serve

REFUSAL = "Temporal did not answer: try again"


def problem(status: int, detail: str, path: str) -> JSONResponse:
    body = {"type": "about:blank", "title": "Error", "status": status, "detail": detail, "instance": path}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def fresh_database_api(posted_jobs: list[dict[str, Any]], *, account_7_of: int | None = None) -> FastAPI:
    """An API on another database: its account 7 is unknown (or ``account_7_of`` another customer's),
    it makes customer 5 and account 8, and refuses jobs."""
    app = FastAPI()

    @app.get("/utility-accounts/{account_id}", response_model=None)
    async def read_account(account_id: int) -> JSONResponse | dict[str, Any]:
        if account_7_of is not None and account_id == 7:
            return {"id": 7, "customer_id": account_7_of, "provider": "pge", "account_number": "****1234"}
        return problem(404, f"utility account {account_id} not found", f"/utility-accounts/{account_id}")

    @app.post("/customers", status_code=201)
    async def create_customer() -> dict[str, int]:
        return {"id": 5}

    @app.post("/utility-accounts", status_code=201)
    async def create_account() -> dict[str, int]:
        return {"id": 8}

    @app.post("/jobs")
    async def create_job(body: dict[str, Any]) -> JSONResponse:
        posted_jobs.append(body)
        return problem(503, REFUSAL, "/jobs")

    return app


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "demo.json").write_text(json.dumps({"customer_id": 1, "account_id": 7}))
    return Settings(env=Environment.TEST, data_dir=tmp_path, analytics=AnalyticsKind.DISABLED)


@pytest.mark.parametrize("account_7_of", [None, 99], ids=["unknown", "another-customers"])
async def test_a_saved_account_the_api_does_not_know_is_created_again(
    settings: Settings, account_7_of: int | None
) -> None:
    posted_jobs: list[dict[str, Any]] = []
    async with serve(fresh_database_api(posted_jobs, account_7_of=account_7_of)) as url:
        await asyncio.to_thread(run_demo, url, "mm_key", settings)
    assert json.loads((settings.data_dir / "demo.json").read_text()) == {"customer_id": 5, "account_id": 8}
    assert posted_jobs == [{"utility_account_id": 8}], "never a job on another customer's account"


async def test_a_refused_request_stops_the_demo_in_one_line(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its problem+json ``status`` (an int) once passed for a job's and the loop crashed on ``job['id']``."""
    async with serve(fresh_database_api([])) as url:
        await asyncio.to_thread(run_demo, url, "mm_key", settings)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"minimeter | demo stopped: POST /jobs answered 503: {REFUSAL}"]


def settled_job_api() -> FastAPI:
    """An API whose job has succeeded as soon as it is started."""
    app = FastAPI()

    @app.get("/utility-accounts/{account_id}")
    async def read_account(account_id: int) -> dict[str, Any]:
        return {"id": account_id, "customer_id": 1, "provider": "pge", "account_number": "****1234"}

    @app.post("/jobs")
    async def create_job() -> dict[str, Any]:
        return {
            "id": "job-1",
            "status": "SUCCEEDED",
            "web_ui_url": "http://ui/job-1",
            "result": {"total_amount": "683.55", "currency": "USD"},
        }

    @app.get("/customers/{customer_id}/dashboard")
    async def dashboard(customer_id: int) -> dict[str, Any]:
        month = {"month": "2025-02-01", "currency": "USD", "total_cost": "607.36", "kwh": "1395.0000", "bills": 1}
        return {
            "bills_count": 1,
            "total_billed_by_currency": {"USD": "607.36"},
            "monthly_source": "postgres",
            "monthly": [month],
        }

    return app


async def test_the_demo_says_which_of_a_bills_two_amounts_each_figure_is(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It printed the bill's total, then the dashboard's smaller sum of current charges as "billed", with nothing
    to say why one bill's two figures differ (the amount due carries the balance the month before counted)."""
    async with serve(settled_job_api()) as url:
        await asyncio.to_thread(run_demo, url, "mm_key", settings)
    lines = capsys.readouterr().out.splitlines()
    assert "minimeter | amount due:       683.55 USD (the extracted total)" in lines
    assert lines[-1].startswith("minimeter | dashboard: 1 bill, 607.36 USD charged (each bill's current charges")


def stuck_job_api(error: str) -> FastAPI:
    """An API whose job stays at ``extract_bill``, its attempts failing with ``error``."""
    app = FastAPI()
    job = {
        "id": "job-2",
        "status": "RUNNING",
        "web_ui_url": "http://ui/job-2",
        "current_step": "extract_bill",
        "steps": [
            {"name": "fetch_bill", "attempt_error": None},
            {"name": "extract_bill", "attempt_error": error},
        ],
    }

    @app.get("/utility-accounts/{account_id}")
    async def read_account(account_id: int) -> dict[str, Any]:
        return {"id": account_id, "customer_id": 1, "provider": "pge", "account_number": "****1234"}

    @app.post("/jobs")
    async def create_job() -> dict[str, Any]:
        return job

    @app.get("/jobs/{job_id}")
    async def read_job(job_id: str) -> dict[str, Any]:
        return job

    return app


async def test_a_demo_job_that_does_not_settle_is_named_with_its_step_and_why(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said only "still RUNNING after 180s": a Gemini key pasted with its quotes retried extraction for 30
    minutes, the reason in ``GET /jobs/{id}`` and not in the demo's line (72C)."""
    error = "UnicodeEncodeError: 'ascii' codec can't encode character"
    async with serve(stuck_job_api(error)) as url:
        await asyncio.to_thread(run_demo, url, "mm_key", settings, within=0.5)
    said = capsys.readouterr().out.splitlines()[-1]
    assert said == (
        "minimeter | demo job job-2 still RUNNING after 0s, at extract_bill (its last attempt: "
        f"{error}): see http://ui/job-2"
    )


def test_a_dashboard_of_many_months_says_the_demo_shows_the_latest_alone(capsys: pytest.CaptureFixture[str]) -> None:
    """It printed three months beside "11 bills": figures that did not add up, with nothing to say why (72C)."""
    months = [
        {"month": f"2025-{m:02d}-01", "currency": "USD", "total_cost": "10.00", "kwh": "1", "bills": 1}
        for m in (5, 4, 3, 2, 1)
    ]
    dashboard = {"bills_count": 5, "total_billed_by_currency": {"USD": "50.00"}, "monthly_source": "postgres"}
    stack.demo._report_dashboard(dashboard | {"monthly": months})
    said = capsys.readouterr().out
    assert "monthly (postgres, the latest 3 of 5): " in said
    assert json.loads(said.split("of 5): ")[1]) == months[:3]


def test_a_bill_older_than_the_dashboards_months_is_said_to_be(capsys: pytest.CaptureFixture[str]) -> None:
    """The mock connector dates an account's bills since 2000: "monthly: []" beside "1 bill" looked like one lost."""
    bill = {"bill_period_start": "2004-03-08", "bill_period_end": "2004-04-07"}
    dashboard = {"bills_count": 1, "total_billed_by_currency": {"USD": "50.00"}, "monthly_source": "postgres"}
    stack.demo._report_dashboard(dashboard | {"monthly": [], "monthly_since": "2025-01-01", "recent_bills": [bill]})
    said = capsys.readouterr().out
    assert "monthly (postgres): none since 2025-01-01, the first month it covers" in said
    assert "2004-03-08 to 2004-04-07, is older" in said


async def test_a_failed_rollup_stops_the_demo_not_the_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a refused request was caught: a failed rollup workflow took ``make run`` and every child down."""
    (tmp_path / "demo.json").write_text(json.dumps({"customer_id": 1, "account_id": 7}))
    settings = Settings(env=Environment.TEST, data_dir=tmp_path, analytics=AnalyticsKind.LOCAL)

    async def failing_rollup(settings: Settings) -> None:
        raise WorkflowFailureError(cause=ApplicationError("no warehouse"))

    monkeypatch.setattr(stack.demo, "_refresh_rollup", failing_rollup)
    async with serve(settled_job_api()) as url:
        await asyncio.to_thread(run_demo, url, "mm_key", settings)
    last = capsys.readouterr().out.splitlines()[-1]
    cause = "(cause: ApplicationError: no warehouse)"
    assert last == f"minimeter | demo stopped: WorkflowFailureError: Workflow execution failed {cause}"


def test_a_bare_bigquery_emulator_host_is_read_as_the_app_reads_it(bigquery_emulator: BigQueryEmulator) -> None:
    """``BIGQUERY_EMULATOR_HOST=127.0.0.1:9050`` works for the app (``http://`` is implied); the demo's
    own query raised ``requests.InvalidSchema`` on it."""
    dataset = f"demo_{uuid.uuid4().hex[:8]}"
    BigQuerySink(project="minimeter-local", dataset=dataset, endpoint=bigquery_emulator.url).ensure_schema()
    bare = bigquery_emulator.url.removeprefix("http://")
    settings = Settings(env=Environment.TEST, bigquery_emulator_host=bare, bq_dataset=dataset)
    assert stack.demo._bigquery_rows(settings, "no-such-job") == []
