"""GeminiExtractor: the model reads the bill (PDF, image or text) into the wire schema.

Transient failures (429, 5xx, timeouts) raise ``GeminiUnavailable`` and are retried by
Temporal, so the SDK's own retries are off. A refused key, project or model raises
``GeminiMisconfigured``, retried too (for up to 30 minutes): a fix in that time saves the jobs.
Gemini refusing one document (another 4xx) raises ``GeminiRejected``, and answers that are
cut off or do not parse become ``MalformedModelOutput``: reasons for review, never a crash.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

import httpx
import httpx2
from google import genai
from google.genai import errors, types
from google.protobuf import duration_pb2
from pydantic import ValidationError

from extraction.document import TEXT, Document
from extraction.gemini_errors import GeminiError, GeminiMisconfigured, GeminiRejected, GeminiUnavailable
from extraction.prompt import build_prompt
from extraction.wire import MalformedModelOutput, WireBill, to_bill
from shared.bill import NormalizedBill, Provider
from shared.settings import Settings

logger = logging.getLogger(__name__)

MAX_OUTPUT_TOKENS = 8192
"""Room for the answer itself; a thinking budget (``GEMINI_THINKING_BUDGET``) is added on top, since
Gemini counts thinking tokens against the output limit: without that a model may think until the
answer is cut off (finish_reason MAX_TOKENS)."""
# google-genai 3.x defaults to v1; pin v1beta, where structured output is complete (and the
# path the team's fakes and notes expect: /v1beta/models/{model}:generateContent).
API_VERSION = "v1beta"
_TRANSIENT_STATUS = frozenset({408, 409, 429, 499, 500, 502, 503, 504})
"""499 CANCELLED too: Gemini's answer under heavy load, or to a generation past the server timeout we send; 409
ABORTED, Google's word for a conflict that passes."""
_MISCONFIGURED_STATUS = frozenset({401, 403, 404, 405, 501})
"""A key refused or lacking rights, a model retired; a GEMINI_BASE_URL at a server that does not take the call (405,
501: not Gemini's API), which sent every bill to review as ``gemini_rejected`` with no word about the deployment."""
_MISCONFIGURED_REASONS = frozenset({"API_KEY_INVALID"})  # Gemini says 400 to a bad key
# google-genai sends with httpx2 by default and httpx when asked to; both time out alike.
_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx2.TransportError, httpx.TransportError)


@dataclass(frozen=True)
class GeminiConfig:
    api_key: str = field(repr=False)  # a config in a log line or a traceback never shows the key
    model: str
    base_url: str | None
    timeout_seconds: float
    thinking_budget: int = 0
    """0 for models that can answer without thinking (copying fields needs none); a model that cannot
    (gemini-2.5-pro) refuses 0 with a 400 and needs a budget of its own."""

    @classmethod
    def from_settings(cls, settings: Settings) -> GeminiConfig:
        if settings.gemini_api_key is None:
            raise GeminiRejected("GEMINI_API_KEY is not set")
        return cls(
            api_key=settings.gemini_api_key.get_secret_value(),
            model=settings.gemini_model,
            base_url=settings.gemini_base_url,
            timeout_seconds=settings.gemini_timeout_seconds,
            thinking_budget=settings.gemini_thinking_budget,
        )


@lru_cache(maxsize=4)
def _client(config: GeminiConfig) -> genai.Client:
    """One client (and connection pool) per configuration, shared by worker threads."""
    return genai.Client(
        api_key=config.api_key,
        http_options=types.HttpOptions(
            base_url=config.base_url,
            api_version=API_VERSION,
            timeout=max(1, int(config.timeout_seconds * 1000)),
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )


class GeminiExtractor:
    """Extract a bill with Gemini structured output."""

    def __init__(self, config: GeminiConfig) -> None:
        self._config = config
        self._client = _client(config)

    @classmethod
    def from_settings(cls, settings: Settings) -> GeminiExtractor:
        return cls(GeminiConfig.from_settings(settings))

    def extract(self, document: Document, *, provider: Provider | None) -> NormalizedBill | None:
        """The bill, or None when the model says this is not a utility bill.

        Raises GeminiUnavailable or GeminiMisconfigured (retry later), GeminiRejected, or MalformedModelOutput.
        """
        response = self._generate(document, provider)
        wire = _parse(response)
        if not wire.is_utility_bill:
            return None
        # The convention the rules read the text in: the model may copy the bill's "1.234,56".
        return to_bill(wire, provider=provider, text=document.text)

    def _generate(self, document: Document, provider: Provider | None) -> types.GenerateContentResponse:
        if document.content_type == TEXT:
            content = types.Part.from_text(text=document.text)
        else:
            content = types.Part.from_bytes(data=document.data, mime_type=document.content_type)
        prompt = types.Part.from_text(text=build_prompt(provider))
        config = types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=WireBill,
            max_output_tokens=MAX_OUTPUT_TOKENS + self._config.thinking_budget,
            thinking_config=types.ThinkingConfig(thinking_budget=self._config.thinking_budget),
            temperature=0.0,
        )
        try:
            return self._client.models.generate_content(
                model=self._config.model,
                contents=[
                    types.Content(role="user", parts=[content, prompt]),
                ],
                config=config,
            )
        except errors.APIError as error:
            raise _classify(error, self._config.model) from error
        except _TRANSPORT_ERRORS as error:
            raise GeminiUnavailable(f"gemini transport: {type(error).__name__}") from error
        except json.JSONDecodeError as error:
            # A 200 whose body is no JSON: cut off on the way, or a proxy's page. Untyped, it failed the
            # activity as a bare JSONDecodeError; it is the moment's problem, so retried like a 503.
            raise GeminiUnavailable("gemini answered with a body that is not JSON") from error
        except ValidationError as error:
            # JSON, but not a GenerateContentResponse the SDK can build ("text": 5): an answer, not the moment's
            # problem. Untyped, it was retried for 30 minutes and then failed the job; a person reads the bill.
            raise MalformedModelOutput("gemini's response does not match the API's shape") from error


def _classify(error: errors.APIError, model: str) -> GeminiError:
    """Whose problem an error answer is: the moment's, the deployment's, or this document's."""
    summary = f"gemini {error.code} {error.status}: {error.message}"
    details = _error_details(error)
    if error.code in _TRANSIENT_STATUS:
        # A quota's name tells a minute's burst from a day's allowance, which no retry within the step's 30 minutes
        # gets back; the delay Gemini asks for is honoured (``activities.extraction``), not the policy's backoff.
        violations = [v for d in details if isinstance(d.get("violations"), list) for v in d["violations"]]
        quotas = sorted({str(v["quotaId"]) for v in violations if isinstance(v, dict) and v.get("quotaId")})
        delay = next((_seconds(d["retryDelay"]) for d in details if isinstance(d.get("retryDelay"), str)), None)
        said = [f"quota {', '.join(quotas)}"] if quotas else []
        if delay is not None:
            said.append(f"retry in {delay.total_seconds():g}s")
        return GeminiUnavailable(f"{summary} ({'; '.join(said)})" if said else summary, retry_delay=delay)
    reasons = {str(d["reason"]) for d in details if d.get("reason")}
    if _about_the_deployment(error, reasons):
        # Never the key itself: only what Gemini said about it.
        logger.error(
            "gemini refuses this deployment's key, model or project; extraction retries for up to 30 minutes"
            " (then the job fails): fix GEMINI_API_KEY, GEMINI_MODEL, GEMINI_THINKING_BUDGET or GEMINI_BASE_URL",
            extra={
                "gemini_code": error.code,
                "gemini_status": error.status,
                "gemini_reasons": sorted(reasons),
                "model": model,
            },
        )
        return GeminiMisconfigured(summary)
    return GeminiRejected(summary)


_ABOUT_THE_REQUEST = ("thinking", "models/", "generation_config", "generationconfig", "invalid json payload")
"""Words of a 400 that every request gets: one naming thinking (a model that cannot turn it off refuses a budget of
0), the model ("JSON mode is not enabled for models/gemma-3-27b-it"), or the request's shape ("Invalid JSON payload
received. Unknown name ... at 'generation_config'": a proxy or API version that does not know a field we send)."""


def _about_the_deployment(error: errors.APIError, reasons: set[str]) -> bool:
    """A refusal every request would get: the key, the project (region, billing), the model, or the request's shape."""
    if error.code in _MISCONFIGURED_STATUS or reasons & _MISCONFIGURED_REASONS:
        return True
    message = (error.message or "").lower()
    return error.status == "FAILED_PRECONDITION" or any(words in message for words in _ABOUT_THE_REQUEST)


def _error_details(error: errors.APIError) -> list[dict[str, Any]]:
    """The error's details: ErrorInfo's ``reason`` ("API_KEY_INVALID"), RetryInfo's ``retryDelay`` ("37s"),
    QuotaFailure's ``violations``."""
    body = error.details if isinstance(error.details, dict) else {}
    inner = body.get("error", body)
    details = inner.get("details") if isinstance(inner, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _seconds(duration: str) -> timedelta | None:
    """A protobuf Duration as JSON writes it ("37s", "1.5s"), or None: one not written so, or not ahead."""
    parsed = duration_pb2.Duration()
    try:
        parsed.FromJsonString(duration)
    except ValueError:
        return None
    delay = parsed.ToTimedelta()
    return delay if timedelta(0) < delay < timedelta(seconds=10**7) else None


def _parse(response: types.GenerateContentResponse) -> WireBill:
    candidates = response.candidates or []
    if not candidates:
        blocked = response.prompt_feedback.block_reason if response.prompt_feedback else None
        if blocked is None:  # an empty body, or a gateway's {"error": ...} under a 200: the moment's problem
            raise GeminiUnavailable("gemini answered with no candidates and no reason")
        raise MalformedModelOutput(f"prompt blocked: {blocked}")
    finish = candidates[0].finish_reason
    if finish is not None and finish != types.FinishReason.STOP:
        # MAX_TOKENS leaves truncated JSON; SAFETY and friends leave none.
        raise MalformedModelOutput(f"finish_reason={finish}")
    try:
        return WireBill.model_validate_json(response.text or "")
    except ValidationError as error:
        raise MalformedModelOutput.refused("response does not match the schema", error) from error
