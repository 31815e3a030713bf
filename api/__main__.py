"""``python -m api``: serve the API with uvicorn (settings from the environment)."""

from shared.lean import skip_unused_optional_imports

skip_unused_optional_imports()

import uvicorn  # noqa: E402 - after the line above, on purpose

from shared.logs import configure_logging  # noqa: E402
from shared.settings import get_settings  # noqa: E402

settings = get_settings()
configure_logging(settings)
uvicorn.run("api.main:create_app", factory=True, host=settings.api_host, port=settings.api_port, log_config=None)
