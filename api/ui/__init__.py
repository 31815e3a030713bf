"""The reviewers' web UI: server-rendered pages over the review service functions.

Wire it with ``app.include_router(ui.router)`` and ``app.add_middleware(ui.UISessionMiddleware)``.
"""

from fastapi import APIRouter

from api.ui import login, routes
from api.ui.middleware import UISessionMiddleware

router = APIRouter()
router.include_router(login.router)
router.include_router(routes.router)

__all__ = ["UISessionMiddleware", "router"]
