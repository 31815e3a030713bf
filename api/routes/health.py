"""``/health``: is Temporal reachable, is Postgres reachable (no key needed); ``/health/live``: does the API answer.

Two probes, since an orchestrator acts on them differently: a failed readiness probe takes the process out of the
load balancer until it passes; a failed liveness probe restarts it. With ``/health`` as both, a Postgres or Temporal
outage restarted every API process over and over, though a restart mends neither (each retries its connections on
its own), and each start then waited ``STARTUP_WAIT_SECONDS`` for them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import StateDep
from api.role_first import AuthorizeBeforeBody

router = APIRouter(tags=["health"], route_class=AuthorizeBeforeBody)


class Readiness(BaseModel):
    """What ``/health`` answers, 200 or 503 alike: a probe's body names what is down."""

    status: Literal["ok", "degraded"]
    postgres: Literal["ok", "unreachable"]
    temporal: Literal["ok", "unreachable"]


class Liveness(BaseModel):
    status: Literal["ok"]


READINESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Readiness},
    503: {"model": Readiness, "description": "a dependency is down"},
}


PROBE_SECONDS = 3.0
_abandoned: set[asyncio.Future[object]] = set()
"""Probes given up on, kept referenced until they end (a task only the event loop holds may be collected)."""


async def _answers_within(probe: Awaitable[object], seconds: float) -> bool:
    """Whether ``probe`` succeeds within ``seconds``. One that does not is cancelled and left to end in its own
    time, not waited for: cancelling a query on a hung Postgres waits for asyncpg's cleanup, and ``wait_for`` waited
    with it, so a load balancer's probe was answered after 33 s, not 3."""
    task = asyncio.ensure_future(probe)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        _abandoned.add(task)
        task.add_done_callback(_forget)
        return False
    return not task.cancelled() and task.exception() is None


def _forget(task: asyncio.Future[object]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: asyncio would log it as never retrieved


@router.get("/health", responses=READINESS_RESPONSES)
async def health(state: StateDep) -> JSONResponse:
    """Readiness: the API and its two hard dependencies answer (503 naming the one that does not)."""
    postgres, temporal = await asyncio.gather(
        _answers_within(state.pool.fetchval("SELECT 1"), PROBE_SECONDS),
        _answers_within(state.client.service_client.check_health(), PROBE_SECONDS),
    )
    checks = {"postgres": "ok" if postgres else "unreachable", "temporal": "ok" if temporal else "unreachable"}
    ok = postgres and temporal
    return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)


@router.get("/health/live", response_model=Liveness)
async def live() -> dict[str, str]:
    """Liveness: the process's event loop answers. Nothing else is asked, so an outage elsewhere restarts nothing."""
    return {"status": "ok"}


# The readiness check under the name orchestrators' examples give it, besides /health.
router.add_api_route(
    "/health/ready",
    health,
    methods=["GET"],
    responses=READINESS_RESPONSES,
)
# Load balancers probe with HEAD; the same checks, kept out of the schema so the operation ids stay unique.
for path, probe in (("/health", health), ("/health/ready", health), ("/health/live", live)):
    router.add_api_route(path, probe, methods=["HEAD"], include_in_schema=False)
