"""Reviewer sign-in sessions and their CSRF tokens, held in this process's memory.

The browser's ``mm_session`` cookie carries only a random session id; the API key it
stands for never leaves the server. Trade-off: sessions die with the process and are
not shared between API replicas (sign in again after a restart, or pin reviewers to one
replica); moving the map to Postgres keyed by a hash of the id lifts both limits. In
exchange, logout really ends a session, and a revoked key stops working at once because
every request re-authenticates the key behind the session.

CSRF tokens are an HMAC of the session id under a per-process secret: a page can echo
its token back, another site cannot compute it without the HttpOnly cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "mm_session"
LOGIN_COOKIE = "mm_login"
"""A pre-sign-in nonce binding the login form's CSRF token to this browser."""

SESSION_TTL_SECONDS = 8 * 3600
MAX_SESSIONS = 10_000
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass
class Session:
    id: str
    key: str = field(repr=False)
    expires_at: float
    flashes: list[str] = field(default_factory=list)

    def pop_flashes(self) -> list[str]:
        """Messages for the next page shown, each shown once."""
        flashes, self.flashes = self.flashes, []
        return flashes


class SessionStore:
    """Session id -> API key, with an absolute expiry and a bound on how many are kept."""

    def __init__(
        self,
        *,
        ttl_seconds: float = SESSION_TTL_SECONDS,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_sessions
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    @property
    def ttl_seconds(self) -> int:
        return int(self._ttl)

    def create(self, key: str) -> Session:
        """A fresh id on every sign-in, so an id planted before sign-in is never promoted."""
        session = Session(id=secrets.token_urlsafe(32), key=key, expires_at=self._clock() + self._ttl)
        self._sessions[session.id] = session
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is not None and session.expires_at <= self._clock():
            del self._sessions[session_id]
            return None
        return session

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def csrf_token(self, binding: str) -> str:
        return hmac.new(self._secret, binding.encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, binding: str, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(self.csrf_token(binding), token)


def session_binding(session: Session) -> str:
    return f"session:{session.id}"


def login_binding(nonce: str) -> str:
    return f"login:{nonce}"


def sessions_for(app: Any) -> SessionStore:
    """The app's one store, created on first use so no lifespan wiring is needed."""
    store: SessionStore | None = getattr(app.state, "ui_sessions", None)
    if store is None:
        store = SessionStore()
        app.state.ui_sessions = store
    return store


def current_session(request: Request) -> Session | None:
    """The session the middleware resolved from the cookie, if any."""
    session: Session | None = getattr(request.state, "ui_session", None)
    return session


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    """HttpOnly and SameSite=Strict always; Secure except on plain-HTTP localhost development."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.hostname not in LOCAL_HOSTS,
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="strict", secure=request.url.hostname not in LOCAL_HOSTS
    )
