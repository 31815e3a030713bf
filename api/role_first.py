"""Refuse a key of the wrong role before anything reads the request's body.

Its own module, apart from ``api.auth_first``: every router imports it, and ``api.auth_first``
imports the review UI, whose routes import a router (a cycle that broke importing a router first).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import params
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from api.body_media import check_body_media
from api.deps import authenticate_request, check_role, roles_required
from api.json_names import EachNameOnce
from api.openapi import KEY_REQUIREMENT
from api.problems import problem_responses


class AuthorizeBeforeBody(APIRoute):
    """A route that answers 403 to a key of the wrong role before it reads the body (a middleware
    cannot: only the route knows the roles it admits). A viewer's 20 MB upload is never read. Nor is a
    body of a type the route cannot read: a 415 (``api.body_media``). A JSON body naming a field twice is a 422
    (``api.json_names``).

    A route that checks a role names the key's headers in its OpenAPI operation too (``api.openapi``)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # A body too large is a 413 (``api.uploads``), one of a type the route cannot read a 415.
        if get_dependant(path=path, call=endpoint).body_params:
            kwargs["responses"] = {**problem_responses(413, 415), **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)
        if roles_required(self.dependant):
            self.openapi_extra = {"security": KEY_REQUIREMENT, **(self.openapi_extra or {})}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        if self.body_field is None:
            return handle
        required = roles_required(self.dependant)
        form = isinstance(self.body_field.field_info, params.Form)

        async def authorize_then_handle(request: Request) -> Response:
            if required:
                principal = await authenticate_request(request)
                for allowed in required:
                    check_role(principal, allowed)
            check_body_media(request, form=form)  # the key first: a 415 tells a stranger nothing either
            return await handle(request if form else EachNameOnce(request.scope, request.receive))

        return authorize_then_handle
