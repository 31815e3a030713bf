"""A query parameter no route takes is refused (422), not ignored.

Ignored, a filter the API does not have reads as one it applied: ``GET /jobs?utility_account_id=5`` answered every
job the key may see, and ``?customer=5`` (for ``customer_id``) or ``?statuses=FAILED`` every job of every status. A
script acting on that page (exporting an account's jobs, retrying the failed ones) acts on all of them. The JSON API's
routers take this dependency; the UI's pages, which links from mail may reach with tracking parameters, do not.
"""

from __future__ import annotations

from fastapi import Request, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


def _taken(route: APIRoute) -> frozenset[str]:
    """The names a route reads from the query string, its dependencies' too (~9 us: not cached, as Starlette's
    routes cannot be dict keys, and only a request with a query string asks)."""
    fields = get_flat_params(route.dependant)
    return frozenset(field.alias for field in fields if isinstance(field.field_info, params.Query))


async def refuse_unknown_query_params(request: Request) -> None:
    """422 naming each query parameter the route does not take, as FastAPI names a bad one."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    taken = _taken(route)
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in taken]
    if unknown:
        accepted = ", ".join(sorted(taken)) or "none"
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": f"this route takes no query parameter {name!r} (it takes: {accepted})",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )
