"""``/docs``: Swagger UI from a pinned release, each file checked against its hash (Subresource Integrity).

FastAPI's own page loads ``swagger-ui-dist@5`` from a CDN, whatever release ``@5`` resolves to that day, unchecked,
on the origin where an admin pastes their key into *Authorize*: a CDN or package compromised could read it (a security
probe). The hashes are the release's files as npm publishes them (``npm pack swagger-ui-dist@5.36.0``), which the CDN
serves byte for byte; a file that differs is not run.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.36.0"
SWAGGER_JS = f"{SWAGGER_UI}/swagger-ui-bundle.js"
SWAGGER_JS_HASH = "sha384-fUpRgC19yPykTqzdrUbdAg8NTiu16NEKf9U12J+IJWCg8/1mEI8f2+PEIz60Wyd+"
SWAGGER_CSS = f"{SWAGGER_UI}/swagger-ui.css"
SWAGGER_CSS_HASH = "sha384-z/AtSaOHGn5MJ5auAHXUypohywlIWLBZo1jeGmhdpVIbCnFhxAH92cwdV41oyINc"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.scope.get("root_path", "") + request.app.openapi_url,
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=SWAGGER_JS,
        swagger_css_url=SWAGGER_CSS,
        swagger_favicon_url="data:,",  # none fetched from elsewhere
    )
    html = bytes(page.body).decode()
    checked = html.replace(
        f'<script src="{SWAGGER_JS}">',
        f'<script src="{SWAGGER_JS}" integrity="{SWAGGER_JS_HASH}" crossorigin="anonymous">',
    ).replace(
        f'href="{SWAGGER_CSS}">',
        f'href="{SWAGGER_CSS}" integrity="{SWAGGER_CSS_HASH}" crossorigin="anonymous">',
    )
    if checked.count("integrity=") != 2:  # FastAPI changed its page: serve none rather than an unchecked one
        raise RuntimeError("the Swagger UI page's script and stylesheet were not found to check")
    return HTMLResponse(checked, headers={"Referrer-Policy": "no-referrer"})
