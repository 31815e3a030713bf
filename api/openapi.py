"""The API key in the OpenAPI document: its two headers as security schemes, required by each route that checks a role.

FastAPI documents a route's security from the security dependencies it solves on every request. The role checks
(``api.deps.require``) read the key's headers from the request instead, which costs a start less CPU, so this
module writes what FastAPI would have: the schemes once in ``components``, the requirement on each such operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder

from api.deps import KEY_SCHEMES

KEY_REQUIREMENT: list[dict[str, list[str]]] = [{scheme.scheme_name: []} for scheme in KEY_SCHEMES]
"""An operation's ``security``: either header will do."""


def key_schemes() -> dict[str, Any]:
    """``components.securitySchemes``, each scheme as FastAPI writes it."""
    return {
        scheme.scheme_name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True) for scheme in KEY_SCHEMES
    }


_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_LARGEST_ID = 2**63 - 1


def _integral_bounds(node: Any) -> None:
    """An integer's bounds as integers, in place: FastAPI's OpenAPI model holds them as floats, and an id's maximum
    2**63 - 1 came out 9.223372036854776e+18, which is 2**63 (a client generated from it sent 2**63 + 190 as valid,
    and got a 422)."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for bound in _BOUNDS:
                value = node.get(bound)
                if isinstance(value, float) and value.is_integer():
                    node[bound] = _LARGEST_ID if value >= _LARGEST_ID else int(value)
        for child in node.values():
            _integral_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _integral_bounds(child)


CLOSED_INPUTS = ("NormalizedBill-Input", "LineItem-Input", "UsageReading-Input")
"""A bill as a review decision sends it: a field it does not have is refused (``api.schemas.ReviewDecisionCreate``),
not by the models themselves, which read stored payloads and workflow histories too. Said in the document, so a
generated client refuses a misspelt field before sending it, as the server will."""


def _closed_inputs(schema: dict[str, Any]) -> None:
    for name in CLOSED_INPUTS:
        if (model := schema.get("components", {}).get("schemas", {}).get(name)) is not None:
            model["additionalProperties"] = False


class MiniMeterAPI(FastAPI):
    """FastAPI, with the key's schemes in the document it generates (each operation names them: ``api.role_first``),
    integers' bounds written as integers, and a review's bill closed to fields it does not have."""

    def openapi(self) -> dict[str, Any]:
        built = self.openapi_schema is None
        schema = super().openapi()  # kept, or built again once routes were added: set the schemes either way
        schema.setdefault("components", {})["securitySchemes"] = key_schemes()
        if built:
            _integral_bounds(schema)
            _closed_inputs(schema)
        return schema
