"""Cross-origin access for the Temporal Web UI's codec calls, and for nothing else.

The codec endpoint is the only route a browser calls from another origin. CORS with
credentials on every route let a page on an allowed origin (the Web UI, or any site
sharing it) read the review pages, their CSRF tokens and raw bills with the reviewer's
session cookie, since SameSite ignores ports and sibling subdomains.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.settings import refuse_every_site

CODEC_PREFIX = "/codec/"


def codec_origins(origins: list[str]) -> list[str]:
    """``CORS_ORIGINS``, refused as ``Settings`` refuses them: checked again here, since settings made without
    validation (``model_copy(update=...)``) skip the check at start."""
    try:
        return refuse_every_site(origins)
    except ValueError as unsafe:
        raise ValueError(f"CORS_ORIGINS {unsafe}") from None


class CodecCORS:
    """``CORSMiddleware`` for paths under ``/codec/``; every other path passes through untouched."""

    def __init__(self, app: ASGIApp, *, allow_origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=codec_origins(allow_origins),
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Namespace"],
            # An SSO proxy in front of /codec (README) authenticates the Web UI by its cookie.
            allow_credentials=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(CODEC_PREFIX):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
