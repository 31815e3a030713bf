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


class MiniMeterAPI(FastAPI):
    """FastAPI, with the key's schemes in the document it generates (each operation names them: ``api.role_first``)."""

    def openapi(self) -> dict[str, Any]:
        schema = super().openapi()  # kept, or built again once routes were added: set the schemes either way
        schema.setdefault("components", {})["securitySchemes"] = key_schemes()
        return schema
