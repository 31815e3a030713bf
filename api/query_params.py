"""A query parameter no route takes is refused (422), not ignored.

Ignored, a filter the API does not have reads as one it applied: ``GET /jobs?utility_account_id=5`` answered every
job the key may see, and ``?customer=5`` (for ``customer_id``) or ``?statuses=FAILED`` every job of every status. A
script acting on that page (exporting an account's jobs, retrying the failed ones) acts on all of them. The JSON API's
routers take this dependency; the UI's pages, which links from mail may reach with tracking parameters, do not.
An upload's form is held to the same rule (``refuse_unknown``). So is a parameter that takes one value sent more than
once: ``?customer_id=1&customer_id=2`` answered customer 2's jobs alone, as if the API had read both.
"""

from __future__ import annotations

import types
from collections.abc import Collection, Mapping
from typing import Any, Union, get_args, get_origin

from fastapi import Request, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import ImmutableMultiDict

from api.deps import authenticate_request, check_role, roles_required


def _taken(route: APIRoute) -> dict[str, bool]:
    """The names a route reads from the query string, its dependencies' too, each with whether it takes several
    values (~9 us: not cached, as Starlette's routes cannot be dict keys, and only a request with a query string
    asks)."""
    fields = get_flat_params(route.dependant)
    return {
        field.alias: _takes_many(field.field_info.annotation)
        for field in fields
        if isinstance(field.field_info, params.Query)
    }


def _takes_many(annotation: Any) -> bool:
    """Whether a query parameter's type is a list of values (``list[JobStatus] | None``), not one value."""
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return any(_takes_many(arg) for arg in get_args(annotation) if arg is not type(None))
    return origin in (list, set, frozenset, tuple)


async def refuse_unknown_query_params(request: Request) -> None:
    """422 naming each query parameter the route does not take, as FastAPI names a bad one, and each one sent more
    than once that takes one value."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    taken = _taken(route)
    try:
        refuse_unknown(request.query_params, taken, location="query", refusal="this route takes no query parameter")
        _refuse_repeated(request.query_params, taken)
    except RequestValidationError:
        # The key first, as for a body (``api.auth_first``): a caller with no key got a 422 listing the parameters a
        # route takes where every other request of theirs gets a 401 (75A).
        for allowed in roles_required(route.dependant):
            check_role(await authenticate_request(request), allowed)
        raise


def _refuse_repeated(sent: ImmutableMultiDict[str, Any], taken: Mapping[str, bool]) -> None:
    """A 422 naming each parameter that takes one value and was sent several: only the last was read."""
    repeated = [name for name in dict.fromkeys(sent.keys()) if not taken[name] and len(sent.getlist(name)) > 1]
    if repeated:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("query", name),
                    "msg": f"{name!r} takes one value and was sent {len(sent.getlist(name))} times"
                    f" ({', '.join(map(str, sent.getlist(name)))}): ask for each in its own request",
                    "input": sent.getlist(name),
                }
                for name in repeated
            ]
        )


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
