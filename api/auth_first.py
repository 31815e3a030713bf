"""Authenticate and authorize a request that carries a body before anything reads that body.

FastAPI reads and parses a route's body before it solves the route's dependencies, so
without this a caller with no key could have the API parse a megabyte of JSON (twenty
for the codec server, a form upload for ``POST /bills``) before answering 401, and a key
of the wrong role before answering 403. Here the 401 comes from the headers alone (the 403
from ``api.role_first``, which knows each route's roles); the route's own ``require`` check
then reuses the principal found, so a key is looked up once per request as before.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import authenticate_request
from api.problems import Problem, answer_problem, database_down_response, is_database_down
from api.ui.middleware import is_ui_path

logger = logging.getLogger(__name__)

BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthenticateBeforeBody:
    """401 before the body for every request that has one, but the review UI's (its forms sign in)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODILESS or is_ui_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            await authenticate_request(request)
        except Problem as refused:
            await answer_problem(request, refused)(scope, receive, send)
            return
        except Exception as error:
            if is_database_down(error):  # answered now: the route would wait for Postgres all over again
                await database_down_response(request, error)(scope, receive, send)
                return
            logger.debug("authentication before the body failed; the route will try again", exc_info=True)
        await self.app(scope, receive, send)
