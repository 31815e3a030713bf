"""``/health``: is Temporal reachable, is Postgres reachable (no key needed)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.role_first import AuthorizeBeforeBody

router = APIRouter(tags=["health"], route_class=AuthorizeBeforeBody)


@router.get(
    "/health",
    responses={503: {"description": "a dependency is down", "content": {"application/json": {}}}},
)
async def health(state: StateDep) -> JSONResponse:
    """Liveness of the API and its two hard dependencies."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(state.pool.fetchval("SELECT 1"), timeout=3)
        checks["postgres"] = "ok"
    except Exception:  # noqa: BLE001 - reported, not raised
        checks["postgres"] = "unreachable"
    try:
        await asyncio.wait_for(state.client.service_client.check_health(), timeout=3)
        checks["temporal"] = "ok"
    except Exception:  # noqa: BLE001
        checks["temporal"] = "unreachable"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)


# Load balancers probe with HEAD; the same check, kept out of the schema so the operation id stays unique.
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)
