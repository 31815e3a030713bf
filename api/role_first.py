"""Refuse a key of the wrong role before anything reads the request's body.

Its own module, apart from ``api.auth_first``: every router imports it, and ``api.auth_first``
imports the review UI, whose routes import a router (a cycle that broke importing a router first).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from api.deps import authenticate_request, check_role, roles_required
from api.openapi import KEY_REQUIREMENT


class AuthorizeBeforeBody(APIRoute):
    """A route that answers 403 to a key of the wrong role before it reads the body (a middleware
    cannot: only the route knows the roles it admits). A viewer's 20 MB upload is never read.

    A route that checks a role names the key's headers in its OpenAPI operation too (``api.openapi``)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if roles_required(self.dependant):
            self.openapi_extra = {"security": KEY_REQUIREMENT, **(self.openapi_extra or {})}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        required = roles_required(self.dependant) if self.body_field is not None else []
        if not required:
            return handle

        async def authorize_then_handle(request: Request) -> Response:
            principal = await authenticate_request(request)
            for allowed in required:
                check_role(principal, allowed)
            return await handle(request)

        return authorize_then_handle
