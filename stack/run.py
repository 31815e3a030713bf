"""``make run``: the whole local stack in the foreground, then one demo ingestion.

Starts the Temporal dev server (SQLite under .data/), embedded Postgres, the GCS
and BigQuery emulators, the worker and the API, each as a child process; prints
the demo job's result; Ctrl-C stops everything (the worker gracefully).
"""

from __future__ import annotations

import sys
import time

from shared.settings import Settings, settings_or_exit
from shared.temporal import exit_past_the_sdk
from stack.demo import run_demo, say
from stack.local import LocalStack, StackOptions, finish_stopping_undisturbed, stop_on_sigterm
from stack.services import StackError


def main() -> None:
    stop_on_sigterm()
    settings = settings_or_exit()
    stack = LocalStack(
        StackOptions(
            data_dir=settings.data_dir, temporal_db=settings.data_dir / "temporal.db", api_port=settings.api_port
        )
    )
    failed = False
    try:
        _run(stack, settings)
    except KeyboardInterrupt:
        say("stopping")
    except (StackError, TimeoutError) as error:  # a port in use, a server dead or slow at birth, a child exited:
        # the message says it all, with the log to read
        for line in str(error).splitlines():  # each child that exited on its own line
            say(f"error: {line}")
        failed = True
    finally:
        finish_stopping_undisturbed()
        stack.close()
        say("stopped")
    if failed:
        sys.exit(1)


def _run(stack: LocalStack, settings: Settings) -> None:
    """Start everything, run the demo, then wait until a child exits (or Ctrl-C)."""
    t0 = time.monotonic()
    stack.start_services()
    say(f"Temporal {stack.env['TEMPORAL_ADDRESS']}, Web UI {_web_ui(stack, settings)}")
    say("Postgres: " + ("DATABASE_URL" if settings.database_url else f"embedded, data in {settings.data_dir}"))
    if stack.gcs and stack.bigquery:
        say(f"GCS emulator {stack.gcs.url}, BigQuery emulator {stack.bigquery.url}")
    key = stack.admin_key()
    if stack.new_admin_key:
        say(f"created an admin API key (shown once; saved to {settings.data_dir / 'admin.key'}): {key}")
    stack.start_worker()
    stack.start_api()
    say(f"API {stack.api_url} (OpenAPI at {stack.api_url}/docs); logs in {stack.logs}")
    run_demo(stack.api_url, key, stack.settings(), running=lambda: stack.exited() is None)
    if stack.exited() is None:
        say(f"ready in {time.monotonic() - t0:.1f}s. Ctrl-C stops everything.")
    while (exited := stack.exited()) is None:
        time.sleep(0.5)
    raise StackError(exited)  # nothing stopped it on purpose: exit non-zero, so a supervisor or CI sees it


def _web_ui(stack: LocalStack, settings: Settings) -> str:
    """The dev server's Web UI, or, for a server of ``TEMPORAL_ADDRESS``, the one ``TEMPORAL_UI_URL`` names: the
    default named a UI nothing here had started (72C)."""
    if stack.temporal is not None or "temporal_ui_url" in settings.model_fields_set:
        return settings.temporal_ui_url
    return "not started here: set TEMPORAL_UI_URL to your server's, for the jobs' links"


if __name__ == "__main__":
    # The demo made a Temporal client: exit past the SDK's teardown crash (a fatal error printed at a stop).
    try:
        main()
    except SystemExit as stop:
        exit_past_the_sdk(stop.code)
    exit_past_the_sdk(0)
