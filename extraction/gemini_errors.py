"""Gemini's failures, apart from its client: the activity tells them apart without loading google-genai (~50 MB)."""

from __future__ import annotations

from datetime import timedelta


class GeminiError(Exception):
    """Base of Gemini failures."""


class GeminiUnavailable(GeminiError):
    """Rate-limited, overloaded or too slow: worth retrying later; ``retry_delay`` when Gemini said how much later."""

    def __init__(self, message: str, *, retry_delay: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_delay = retry_delay


class GeminiMisconfigured(GeminiError):
    """The deployment is wrong (bad key, retired model): retried for up to 30 minutes, then the job fails."""


class GeminiRejected(GeminiError):
    """Gemini refused this document (a 4xx not about the deployment): a person reads the bill."""
