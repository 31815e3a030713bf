"""Cross-origin access for the Temporal Web UI's codec calls, and for nothing else.

The codec endpoint is the only route a browser calls from another origin. CORS with
credentials on every route let a page on an allowed origin (the Web UI, or any site
sharing it) read the review pages, their CSRF tokens and raw bills with the reviewer's
session cookie, since SameSite ignores ports and sibling subdomains.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CODEC_PREFIX = "/codec/"
EVERY_SITE = ("*", "null")
"""Origins that let any site in: with credentials, Starlette answers ``*`` by echoing the caller's origin,
and ``null`` is the origin of every sandboxed page."""


def codec_origins(origins: list[str]) -> list[str]:
    """``CORS_ORIGINS``, refused when it lets any site a logged-in operator visits read decrypted payloads."""
    for origin in EVERY_SITE:
        if origin in origins:
            raise ValueError(
                f"CORS_ORIGINS may not contain {origin!r}: the codec answers with the SSO proxy's cookie, so list the"
                " origins of the Temporal Web UI (e.g. https://temporal.example.com) instead"
            )
    return origins


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
