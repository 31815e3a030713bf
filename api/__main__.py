"""``python -m api``: serve the API with uvicorn (settings from the environment)."""

from shared.lean import skip_unused_optional_imports

skip_unused_optional_imports()

import uvicorn  # noqa: E402 - after the line above, on purpose

from shared.logs import configure_logging  # noqa: E402
from shared.settings import settings_or_exit  # noqa: E402


def main() -> None:
    """With ``API_PROCESSES`` > 1 uvicorn spawns that many processes, and each imports this module
    again (not as ``__main__``): hence the guard below, and the import trimming above it."""
    settings = settings_or_exit()
    configure_logging(settings)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_processes,
        log_config=None,
    )


if __name__ == "__main__":
    main()
