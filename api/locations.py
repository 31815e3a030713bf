"""Where a created resource is read: a 201's ``Location`` (RFC 9110, section 10.2.2)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response, status

CREATED_LOCATION: dict[int | str, dict[str, Any]] = {
    201: {
        "headers": {
            "Location": {
                "description": "where to read what was created (a replay's 200 has none)",
                "schema": {"type": "string", "format": "uri"},
            }
        }
    }
}
"""OpenAPI's word for it, merged into a create route's ``responses``."""


def answer_created(request: Request, response: Response, route_name: str, **path_params: Any) -> None:
    """A 201 naming the route that reads it back, so a client follows a link rather than building a path."""
    response.status_code = status.HTTP_201_CREATED
    response.headers["Location"] = str(request.url_for(route_name, **path_params))
