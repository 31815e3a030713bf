"""``GET /jobs/{id}`` says which running step Temporal is retrying, and why its last attempt failed."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from shared.settings import Settings
from tests.api.idle_jobs import idle_queue, start_jobs
from tests.helpers import wait_until
from worker.main import build_worker, pipeline_activities
from worker.resources import Resources


@activity.defn(name="fetch_bill")
async def portal_down(request: Any) -> Any:
    raise ApplicationError("the portal did not answer (injected)")  # retryable, as a connector's outage is


async def test_a_step_temporal_retries_shows_its_attempt_and_last_error(
    http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    """The workflow hears of a step's retries only once they are spent: a job retrying its fetch read as one merely
    slow, its step with no error, while the server was on its third attempt."""
    settings = idle_queue(app_settings)
    (job,) = await start_jobs(resources.pool, client, settings, 1)
    activities = [fn for fn in pipeline_activities(resources, settings) if fn.__name__ != "fetch_bill"]

    async def retried_fetch() -> dict[str, Any] | None:
        body = (await http.get(f"/jobs/{job['id']}")).json()
        fetch = next((step for step in body["steps"] if step["name"] == "fetch_bill"), None)
        return fetch if fetch is not None and (fetch["attempt"] or 0) >= 2 else None

    try:
        async with build_worker(client, resources, settings, activities=[*activities, portal_down]):
            step = await wait_until(retried_fetch, within=30, what="the fetch's second attempt")
            body = (await http.get(f"/jobs/{job['id']}")).json()
    finally:
        await client.get_workflow_handle(job["workflow_id"]).terminate(reason="test over")
    assert (step["attempt_error"], step["finished_at"]) == ("the portal did not answer (injected)", None)
    assert (body["status"], body["current_step"]) == ("RUNNING", "fetch_bill")
