"""Which page a browser says sent a request: one of this origin (scheme, host, port), or another.

SameSite keeps the cookies off other sites' posts, not off those of another port or a sibling
subdomain of this site: the origin, not the site, is what tells the reviewer's own pages from those.
``Sec-Fetch-Site`` first (every current browser sends it), else ``Origin`` (older browsers), compared with
the ``Host`` the request was sent to under https wherever the browser reaches the app over HTTPS
(``is_secure``): behind a TLS-terminating proxy uvicorn does not trust (``FORWARDED_ALLOW_IPS``) the app sees
http where the browser's Origin says https, and an http Origin there is a plain-HTTP page of the same host,
another origin. Only in plain-HTTP local development is the http origin this one.
"""

from __future__ import annotations

from starlette.requests import Request

from api.ui.session import is_secure

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _is_this_origin(request: Request, origin: str) -> bool:
    scheme = "https" if is_secure(request) else "http"
    return origin == f"{scheme}://{request.url.netloc}"


def from_this_origin(request: Request) -> bool:
    """Whether the browser says a page of this very origin sent the request; neither header (not a browser) is no."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("origin")
    return origin is not None and _is_this_origin(request, origin)


def from_another_origin(request: Request) -> bool:
    """Whether the browser says a page of another origin sent the request (``Origin: null`` included).

    Neither header is no: that is a script or an API client, which cannot send a reviewer's cookies, so
    no forgery. ``Sec-Fetch-Site: none`` is the reviewer's own doing (the address bar, a bookmark)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in {"same-origin", "none"}
    origin = request.headers.get("origin")
    return origin is not None and not _is_this_origin(request, origin)
