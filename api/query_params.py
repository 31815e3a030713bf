"""A query parameter no route takes is refused (422), not ignored.

Ignored, a filter the API does not have reads as one it applied: ``GET /jobs?utility_account_id=5`` answered every
job the key may see, and ``?customer=5`` (for ``customer_id``) or ``?statuses=FAILED`` every job of every status. A
script acting on that page (exporting an account's jobs, retrying the failed ones) acts on all of them. The JSON API's
routers take this dependency; the UI's pages, which links from mail may reach with tracking parameters, do not.
An upload's form is held to the same rule (``refuse_unknown``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import Request, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import ImmutableMultiDict


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
    refuse_unknown(request.query_params, _taken(route), location="query", refusal="this route takes no query parameter")


def refuse_unknown(sent: ImmutableMultiDict[str, Any], taken: Collection[str], *, location: str, refusal: str) -> None:
    """A 422 naming each name ``sent`` (a query's or a form's) that is not ``taken``, and those that are: ignored,
    a filter or field the API does not read reads as one it used."""
    unknown = [name for name in dict.fromkeys(sent.keys()) if name not in taken]
    if unknown:
        accepted = ", ".join(sorted(taken)) or "none"
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": (location, name),
                    "msg": f"{refusal} {name!r} (it takes: {accepted})",
                    "input": sent[name],
                }
                for name in unknown
            ]
        )
