"""A JSON body that names a field twice in one object is refused, not read last-wins.

``{"utility_account_id": 1, "utility_account_id": 2}`` started a job for account 2, and a decision naming
``action`` twice was taken as its last; a client's serializer with such a bug acted on the wrong account or
decision unseen. A query parameter sent twice is refused for the same reason (``api.query_params``).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request


class NameRepeated(ValueError):
    """An object in the body names ``name`` twice."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the JSON body names {name!r} twice in one object")
        self.name = name

    def error(self) -> dict[str, Any]:
        """The entry of the 422's ``errors`` saying so."""
        return {  # the body alone: the name may be an inner object's, no field of the request's
            "loc": ["body"],
            "msg": f"the JSON body names {self.name!r} twice in one object: send each field once",
            "type": "json_invalid",
        }


def _each_name_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name in fields:
            raise NameRepeated(name)
        fields[name] = value
    return fields


class EachNameOnce(Request):
    """A request whose JSON body is read with each name once per object (FastAPI reads it through ``json()``)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), object_pairs_hook=_each_name_once)
        return self._json
