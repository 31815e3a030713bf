"""Operator endpoints: the Temporal Web UI's codec server and the secrets presence check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from api.deps import AdminDep, StateDep
from api.problems import Problem, ProblemCode, problem_responses
from api.role_first import AuthorizeBeforeBody
from shared.codec import CodecRequestInvalid, PayloadDecryptionError, decode_payloads_json, encode_payloads_json

router = APIRouter(tags=["admin"], route_class=AuthorizeBeforeBody)


@router.post("/codec/decode", responses=problem_responses(400))
async def codec_decode(state: StateDep, _: AdminDep, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Decrypt payloads for the Temporal Web UI (remote codec protocol; admin only)."""
    try:
        return await decode_payloads_json(state.codec, body)
    except CodecRequestInvalid as error:
        raise Problem(400, str(error), code=ProblemCode.MALFORMED_BODY) from None
    except PayloadDecryptionError as error:  # tampered, or sealed with a key no longer in PAYLOAD_KEYS
        raise Problem(422, str(error), code=ProblemCode.PAYLOAD_UNDECRYPTABLE) from None


@router.post("/codec/encode", responses=problem_responses(400))
async def codec_encode(state: StateDep, _: AdminDep, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Encrypt payloads (remote codec protocol; admin only)."""
    try:
        return await encode_payloads_json(state.codec, body)
    except CodecRequestInvalid as error:
        raise Problem(400, str(error), code=ProblemCode.MALFORMED_BODY) from None


@router.get("/secrets/check")
async def secrets_check(state: StateDep, _: AdminDep) -> dict[str, bool]:
    """Which secrets are configured: presence only, never values. ``payload_keys`` is ``PAYLOAD_KEYS``; without it
    (outside production) payloads are sealed all the same, with the key file under ``DATA_DIR``
    (``payload_key_file``): a local stack read "payload_keys: false" as payloads not encrypted."""
    s = state.settings
    return {
        "database_url": s.database_url is not None,
        "payload_keys": s.payload_keys_set,
        "payload_key_file": not s.payload_keys_set,
        "gemini_api_key": s.gemini_configured,
        "temporal_api_key": s.temporal_api_key is not None,
    }
