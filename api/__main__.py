"""``python -m api``: serve the API with uvicorn (settings from the environment)."""

import uvicorn

from shared.logs import configure_logging
from shared.settings import get_settings

settings = get_settings()
configure_logging(settings)
uvicorn.run("api.main:create_app", factory=True, host=settings.api_host, port=settings.api_port, log_config=None)
