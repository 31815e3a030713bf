"""``python -m api``: serve the API with uvicorn (settings from the environment)."""

from shared.lean import skip_unused_optional_imports

skip_unused_optional_imports()

import argparse  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

import uvicorn  # noqa: E402 - after the line above, on purpose
from uvicorn.config import STARTUP_FAILURE  # noqa: E402
from uvicorn.supervisors import Multiprocess  # noqa: E402

from shared.logs import configure_logging  # noqa: E402
from shared.settings import Settings, settings_or_exit  # noqa: E402

logger = logging.getLogger("api")


class Supervisor(Multiprocess):
    """uvicorn's supervisor of ``API_PROCESSES`` processes, noting whether it was told to stop.

    It also stops when a process fails to start, and either way returns: ``uvicorn.run`` exited 0 on an API
    that never started, which a supervisor restarting only failures (systemd's ``on-failure``) took for a stop."""

    told_to_stop = False

    def handle_int(self) -> None:
        self.told_to_stop = True
        super().handle_int()

    def handle_term(self) -> None:
        self.told_to_stop = True
        super().handle_term()


def refuse_an_address_taken(settings: Settings) -> None:
    """Exit with one line where ``API_HOST:API_PORT`` cannot be listened on (taken, or not this machine's): uvicorn
    binds only once the app has started, so the API ran its migrations and started its dispatcher before an ERROR of
    uvicorn's named no setting. Checked by binding it a moment: another process may still take it after."""
    family = socket.AF_INET6 if ":" in settings.api_host else socket.AF_INET
    try:
        socket.create_server((settings.api_host, settings.api_port), family=family).close()
    except OSError as error:
        logger.critical(
            f"api refused to start: API_HOST:API_PORT={settings.api_host}:{settings.api_port} cannot be listened on"
            f" ({error.strerror or error}): set a free port, on an address of this machine"
        )
        sys.exit(STARTUP_FAILURE)


def main() -> None:
    """With ``API_PROCESSES`` > 1 uvicorn spawns that many processes, and each imports this module
    again (not as ``__main__``): hence the guard below, and the import trimming above it."""
    # ``--help`` (or a stray argument) served the API on whatever DATABASE_URL and TEMPORAL_ADDRESS the shell held.
    parser = argparse.ArgumentParser(
        prog="python -m api",
        description="Serve MiniMeter's REST API with uvicorn on API_HOST:API_PORT (API_PROCESSES processes). It takes"
        " no arguments: every setting is an environment variable (README, Configuration).",
    )
    _, stray = parser.parse_known_args()
    if stray:  # uvicorn's own flags are the likeliest: name the variable each is (74B)
        parser.error(
            f"unrecognized arguments: {' '.join(stray)}: every setting is an environment variable"
            " (uvicorn's --workers is API_PROCESSES, --host API_HOST, --port API_PORT; README, Configuration)"
        )
    settings = settings_or_exit()
    configure_logging(settings)
    refuse_an_address_taken(settings)
    if settings.api_processes == 1:  # exits STARTUP_FAILURE itself when the app fails to start
        uvicorn.run(
            "api.main:create_app", factory=True, host=settings.api_host, port=settings.api_port, log_config=None
        )
        return
    config = uvicorn.Config(
        "api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_processes,
        log_config=None,
    )
    supervisor = Supervisor(config, sockets=[config.bind_socket()])  # as uvicorn.run does
    supervisor.run()
    if not supervisor.told_to_stop:  # it stopped because a process failed to start
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
