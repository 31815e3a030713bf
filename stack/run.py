"""``make run``: the whole local stack in the foreground, then one demo ingestion.

Starts the Temporal dev server (SQLite under .data/), embedded Postgres, the GCS
and BigQuery emulators, the worker and the API, each as a child process; prints
the demo job's result; Ctrl-C stops everything (the worker gracefully).
"""

from __future__ import annotations

import time

from shared.settings import get_settings
from stack.demo import run_demo, say
from stack.local import LocalStack, StackOptions, finish_stopping_undisturbed, stop_on_sigterm


def main() -> None:
    stop_on_sigterm()
    settings = get_settings()
    t0 = time.monotonic()
    first_run = not (settings.data_dir / "admin.key").exists()
    stack = LocalStack(
        StackOptions(
            data_dir=settings.data_dir, temporal_db=settings.data_dir / "temporal.db", api_port=settings.api_port
        )
    )
    try:
        stack.start_services()
        say(f"Temporal {stack.env['TEMPORAL_ADDRESS']}, Web UI {settings.temporal_ui_url}")
        say("Postgres: " + ("DATABASE_URL" if settings.database_url else f"embedded, data in {settings.data_dir}"))
        if stack.gcs and stack.bigquery:
            say(f"GCS emulator {stack.gcs.url}, BigQuery emulator {stack.bigquery.url}")
        key = stack.admin_key()
        if first_run:
            say(f"created an admin API key (shown once; saved to {settings.data_dir / 'admin.key'}): {key}")
        worker = stack.start_worker()
        api = stack.start_api()
        say(f"API {stack.api_url} (OpenAPI at {stack.api_url}/docs); logs in {stack.logs}")
        run_demo(stack.api_url, key, stack.settings(), running=lambda: worker.poll() is None and api.poll() is None)
        say(f"ready in {time.monotonic() - t0:.1f}s. Ctrl-C stops everything.")
        while worker.poll() is None and api.poll() is None:
            time.sleep(0.5)
        say("a child process exited; stopping")
    except KeyboardInterrupt:
        say("stopping")
    finally:
        finish_stopping_undisturbed()
        stack.close()
        say("stopped")


if __name__ == "__main__":
    main()
