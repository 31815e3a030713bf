"""Reviewer sign-in sessions and their CSRF tokens, kept in Postgres.

The browser's ``mm_session`` cookie (``__Host-mm_session`` over HTTPS) carries only a random session id; the API key it
stands for never leaves the server. Postgres holds the SHA-256 of both, never either
value, so a database read yields no cookie and no key. Every API process (several
behind one port, replicas behind a load balancer, a restarted one) sees the same
sessions. Logout deletes the row, so it ends the session everywhere at once; a revoked
key stops working at once because every request re-authenticates the key behind it.

CSRF tokens are an HMAC of the session id (or of the sign-in form's nonce) under a key
created once in ``app_secrets`` and read by every process: a page can echo its token
back, another site cannot compute it without the HttpOnly cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from api.auth import hash_key
from shared.settings import Environment, Settings

SESSION_COOKIE = "mm_session"
LOGIN_COOKIE = "mm_login"
"""A pre-sign-in nonce binding the login form's CSRF token to this browser."""
LOGIN_FORM_SECONDS = 3600
"""How long a sign-in form's token signs in, counted from the issue time written inside it."""
LOGIN_NONCE_SECONDS = 12 * 3600
"""How long the nonce cookie lasts: longer than a form, so a form left open past its hour still names this
browser, and its draft (whose token is bound to the nonce) can come back with the form."""
CLOCK_SKEW_SECONDS = 60
"""How far the app's instances' clocks may differ: a sign-in token issued later than this from now is not ours."""

SESSION_TTL_SECONDS = 8 * 3600
CSRF_SECRET_NAME = "ui_csrf"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Session:
    id: str = field(repr=False)
    """The cookie's value: known only while serving a request that presented it."""
    key_hash: str = field(repr=False)
    expires_at: datetime


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def shared_secret(pool: asyncpg.Pool, name: str) -> bytes:
    """The named secret, created by whichever process asks first; the same bytes for all."""
    await pool.execute(
        "INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        name,
        secrets.token_bytes(32),
    )
    value = await pool.fetchval("SELECT value FROM app_secrets WHERE name = $1", name)
    return bytes(value)


class SessionStore:
    """Session id -> API key hash, with an absolute expiry; expired rows go at the next sign-in."""

    def __init__(self, pool: asyncpg.Pool, secret: bytes, *, ttl_seconds: int = SESSION_TTL_SECONDS) -> None:
        self._pool = pool
        self._secret = secret
        self._ttl = ttl_seconds

    @classmethod
    async def open(cls, pool: asyncpg.Pool, *, ttl_seconds: int = SESSION_TTL_SECONDS) -> SessionStore:
        return cls(pool, await shared_secret(pool, CSRF_SECRET_NAME), ttl_seconds=ttl_seconds)

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    async def create(self, key: str) -> Session:
        """A fresh id on every sign-in, so an id planted before sign-in is never promoted."""
        session_id, key_hash = secrets.token_urlsafe(32), hash_key(key)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM ui_sessions WHERE expires_at <= now()")
            expires_at = await conn.fetchval(
                "INSERT INTO ui_sessions (id_hash, key_hash, expires_at) VALUES ($1, $2, now() + $3::interval)"
                " RETURNING expires_at",
                _id_hash(session_id),
                key_hash,
                timedelta(seconds=self._ttl),
            )
        return Session(id=session_id, key_hash=key_hash, expires_at=expires_at)

    async def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        row = await self._pool.fetchrow(
            "SELECT key_hash, expires_at FROM ui_sessions WHERE id_hash = $1 AND expires_at > now()",
            _id_hash(session_id),
        )
        return Session(id=session_id, key_hash=row["key_hash"], expires_at=row["expires_at"]) if row else None

    async def find(self, session_ids: list[str]) -> list[Session]:
        """The live sessions among ``session_ids``, in one query however many a Cookie header names."""
        wanted = {_id_hash(session_id): session_id for session_id in session_ids}
        rows = await self._pool.fetch(
            "SELECT id_hash, key_hash, expires_at FROM ui_sessions"
            " WHERE id_hash = ANY($1::text[]) AND expires_at > now()",
            list(wanted),
        )
        return [Session(id=wanted[r["id_hash"]], key_hash=r["key_hash"], expires_at=r["expires_at"]) for r in rows]

    async def drop(self, session_id: str) -> None:
        await self._pool.execute("DELETE FROM ui_sessions WHERE id_hash = $1", _id_hash(session_id))

    async def flash(self, session: Session, message: str) -> None:
        """A message for the next page this session shows; once, however often it is said before then: a decision
        sent twice (a double click, a resend) is one decision, and said twice it read as two."""
        await self._pool.execute(
            "UPDATE ui_sessions SET flashes = flashes || jsonb_build_array($2::text)"
            " WHERE id_hash = $1 AND NOT flashes @> jsonb_build_array($2::text)",
            _id_hash(session.id),
            message,
        )

    async def pop_flashes(self, session: Session) -> list[str]:
        """The pending messages, each shown once (two pages loading at once never both get one)."""
        flashes = await self._pool.fetchval(
            """
            WITH taken AS (SELECT id_hash, flashes FROM ui_sessions WHERE id_hash = $1 FOR UPDATE)
            UPDATE ui_sessions s SET flashes = '[]' FROM taken
            WHERE s.id_hash = taken.id_hash AND taken.flashes <> '[]'
            RETURNING taken.flashes
            """,
            _id_hash(session.id),
        )
        return [str(m) for m in flashes or []]

    def csrf_token(self, binding: str) -> str:
        return hmac.new(self._secret, binding.encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, binding: str, token: object) -> bool:
        """Whether ``token`` is ours for ``binding``; any text a form may post (``compare_digest`` raises on a
        non-ASCII string, and ours are hex)."""
        return isinstance(token, str) and token.isascii() and hmac.compare_digest(self.csrf_token(binding), token)

    def login_token(self, nonce: str, *, issued_at: int | None = None) -> str:
        """The sign-in form's CSRF token: its issue time (Unix seconds, now by default) and our HMAC binding it to
        the nonce cookie, so a form's age can be told from its own token while the cookie outlives it."""
        issued = int(time.time()) if issued_at is None else issued_at
        return f"{issued}.{self.csrf_token(login_binding(nonce, issued))}"

    def login_token_issued_at(self, nonce: str, token: object) -> int | None:
        """When ``token`` says it was issued, if it is ours for the sign-in form of ``nonce`` (whenever that is)."""
        issued, _, mac = token.partition(".") if isinstance(token, str) else ("", "", "")
        if not (issued.isascii() and issued.isdigit() and len(issued) <= 12):
            return None
        return int(issued) if self.csrf_valid(login_binding(nonce, int(issued)), mac) else None


def login_token_age(issued: int | None) -> int | None:
    """Seconds since a sign-in token was issued (``SessionStore.login_token_issued_at``); None for a token not
    ours (then its issue time says nothing), or issued later than a clock's skew from now."""
    if issued is None:
        return None
    age = int(time.time()) - issued
    return age if age >= -CLOCK_SKEW_SECONDS else None


_LOGIN_TOKEN = re.compile(r"[0-9]{1,12}\.[0-9a-f]{64}")


def looks_like_login_token(token: str) -> bool:
    """Whether ``token`` has the form of a sign-in token of ours (issue time, HMAC), for whichever nonce."""
    return _LOGIN_TOKEN.fullmatch(token) is not None


def session_binding(session: Session) -> str:
    return f"session:{session.id}"


def login_binding(nonce: str, issued_at: int) -> str:
    return f"login:{nonce}:{issued_at}"


def draft_binding(nonce: str, next_path: str, draft: str) -> str:
    """A decision form carried through the sign-in form of ``nonce`` back to the task page ``next_path``.

    Only the answer to that post signs one (with a nonce of its own), so a draft posted straight to the
    sign-in form by any other page has no valid token."""
    digests = (hashlib.sha256(part.encode()).hexdigest() for part in (next_path, draft))
    return ":".join(("draft", nonce, *digests))


def sessions_for(app: Any) -> SessionStore:
    """The store the app's lifespan opened."""
    store: SessionStore = app.state.minimeter.sessions
    return store


def current_session(request: Request) -> Session | None:
    """The session the middleware resolved from the cookie, if any."""
    session: Session | None = getattr(request.state, "ui_session", None)
    return session


def is_secure(request: Request) -> bool:
    """Whether the reviewer's browser reaches this app over HTTPS: anywhere but plain HTTP to a loopback name.

    Not the ``Host`` alone: a proxy that sends its upstream's (nginx's default ``Host $proxy_host`` with
    ``proxy_pass http://127.0.0.1:8000``) would make every deployment look like localhost. So also the scheme
    (uvicorn takes ``X-Forwarded-Proto`` from ``FORWARDED_ALLOW_IPS``), and, with ``ENV=production``, any
    request a proxy forwarded. A browser on this machine reaching a production stack straight over
    ``http://localhost`` (compose's) keeps plain cookies: Safari stores no Secure cookie from plain HTTP,
    localhost included, and could not sign in."""
    if request.url.scheme == "https" or request.url.hostname not in LOCAL_HOSTS:
        return True
    settings: Settings = request.app.state.minimeter.settings
    return settings.env is Environment.PRODUCTION and _forwarded(request)


def secure_cookies_dropped(request: Request) -> bool:
    """Whether the browser posted from a plain-HTTP page of a host other than localhost (its ``Origin``), where this
    app's cookies are Secure (``is_secure``): browsers keep no Secure cookie from such a page, so no sign-in can work
    there. Behind a TLS proxy the app sees http too, but the browser's ``Origin`` says https."""
    origin = urlsplit(request.headers.get("origin", ""))
    return origin.scheme == "http" and origin.hostname not in LOCAL_HOSTS and is_secure(request)


def _forwarded(request: Request) -> bool:
    """Whether a proxy says it forwarded the request (``Forwarded``, ``X-Forwarded-*``)."""
    return any(name == "forwarded" or name.startswith("x-forwarded-") for name in request.headers)


def cookie_name(request: Request, name: str) -> str:
    """``__Host-`` wherever the cookie is Secure (everywhere but plain-HTTP local development).

    A browser takes a ``__Host-`` cookie only from this host over HTTPS, so a page on a sibling subdomain or on
    plain HTTP cannot set that very name. It can set a look-alike (``read_cookie`` refuses those)."""
    return f"__Host-{name}" if is_secure(request) else name


def _cookie_pairs(request: Request) -> list[tuple[str, str]]:
    """The Cookie header's name-value pairs as sent, names trimmed of spaces and tabs only."""
    pairs = []
    for chunk in "; ".join(request.headers.getlist("cookie")).split(";"):
        name, _, value = chunk.partition("=") if "=" in chunk else ("", "", chunk)
        pairs.append((name.strip(" \t"), value.strip(" \t")))
    return pairs


def cookie_and_look_alike_values(request: Request, name: str) -> list[str]:
    """The values the Cookie header sends under the cookie's name or a look-alike of it, in the order sent."""
    wanted = cookie_name(request, name).casefold()
    return [value for key, value in _cookie_pairs(request) if key.strip().casefold() == wanted]


def cookie_shadowed(request: Request, name: str) -> bool:
    """Whether the cookie comes twice, or beside a look-alike (``\\xa0__Host-mm_session``, ``MM_SESSION``).

    A ``__Host-`` name only this host can set, but a sibling subdomain can set a look-alike for the whole site."""
    return len(cookie_and_look_alike_values(request, name)) > 1


def read_cookie(request: Request, name: str) -> str | None:
    """The cookie's value, or None when it is absent or shadowed (then the reviewer is sent to sign in).

    Not Starlette's ``request.cookies``: it strips every name with ``str.strip()`` (``\\xa0__Host-mm_session``
    reads as ``__Host-mm_session``) and keeps the last of two, so the reviewer could decide in the session of
    whoever set the look-alike, under that key's name."""
    wanted = cookie_name(request, name)
    values = [value for key, value in _cookie_pairs(request) if key == wanted]
    return values[0] if len(values) == 1 and not cookie_shadowed(request, name) else None


def same_site(name: str) -> Literal["lax", "strict"]:
    """Lax for the session: a task's link followed from chat or mail (another site) opens the task for a
    signed-in reviewer, where Strict showed the sign-in form and signing in again left their other tabs' forms
    expired. Lax still keeps the cookie off other sites' posts, frames and fetches, and every post carries a
    CSRF token and is refused from another origin (``origin.py``); no page changes anything on a GET.
    The sign-in nonce stays Strict: only a page of this site's own ever needs it."""
    return "lax" if name == SESSION_COOKIE else "strict"


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    """HttpOnly always, SameSite as ``same_site`` says; Secure (and ``__Host-``) except on plain-HTTP localhost
    development."""
    response.set_cookie(
        cookie_name(request, name),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite=same_site(name),
        secure=is_secure(request),
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        cookie_name(request, name), path="/", httponly=True, samesite=same_site(name), secure=is_secure(request)
    )
