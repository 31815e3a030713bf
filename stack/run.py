"""``make run``: the whole local stack in the foreground, then one demo ingestion.

Starts the Temporal dev server (SQLite under .data/), embedded Postgres, the GCS
and BigQuery emulators, the worker and the API, each as a child process; prints
the demo job's result; Ctrl-C stops everything (the worker gracefully).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from shared.settings import Settings, get_settings
from stack.demo import run_demo, say
from stack.emulators import BigQueryEmulator, GcsEmulator
from stack.services import embedded_postgres_url, start_temporal_dev_server, wait_for_port

GCS_PORT = 9023
BQ_PORT = 9050


def _child(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
    return subprocess.Popen(
        [sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(proc: subprocess.Popen[bytes], name: str, *, timeout: float = 40) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=timeout)
        say(f"{name} stopped (exit {code})")
    except subprocess.TimeoutExpired:
        proc.kill()
        say(f"{name} killed after {timeout:.0f}s")


async def _admin_key(settings: Settings) -> str:
    """Create the first admin key once; later runs reuse .data/admin.key."""
    from api.auth import Role, create_key
    from shared.db import create_pool, migrate

    path = settings.data_dir / "admin.key"
    if path.exists():
        return path.read_text().strip()
    pool = await create_pool(settings)
    try:
        await migrate(pool)
        created = await create_key(pool, name="make-run-admin", role=Role.ADMIN)
    finally:
        await pool.close()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(created.key + "\n")
    say(f"created an admin API key (shown once; saved to {path}): {created.key}")
    return created.key


def main() -> None:
    settings = get_settings()
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    t0 = time.monotonic()
    env = dict(os.environ)
    with ExitStack() as stack:
        if "TEMPORAL_ADDRESS" not in os.environ:
            temporal = start_temporal_dev_server(db_file=data / "temporal.db", log_file=logs / "temporal.log")
            stack.callback(_stop, temporal, "temporal dev server")
            say("Temporal dev server on localhost:7233, Web UI http://localhost:8233")
        if settings.database_url is None:
            env["DATABASE_URL"] = embedded_postgres_url(data / "postgres", stop_on_exit=True)
            say(f"embedded Postgres in {data / 'postgres'}")
        if "STORAGE_EMULATOR_HOST" not in os.environ and settings.artifact_store == "gcs":
            gcs = GcsEmulator(data_dir=data / "gcs", port=GCS_PORT, log_file=logs / "gcs.log")
            gcs.start()
            stack.callback(gcs.stop)
            env["STORAGE_EMULATOR_HOST"] = gcs.url
            say(f"GCS emulator {gcs.url}")
        if "BIGQUERY_EMULATOR_HOST" not in os.environ and settings.analytics == "bigquery":
            bq = BigQueryEmulator(data_dir=data / "bigquery", port=BQ_PORT, log_file=logs / "bigquery.log")
            bq.start()
            stack.callback(bq.stop)
            env["BIGQUERY_EMULATOR_HOST"] = bq.url
            say(f"BigQuery emulator {bq.url}")

        os.environ.update(env)
        child_settings = Settings()
        key = asyncio.run(_admin_key(child_settings))
        worker = _child(["-m", "worker"], env, logs / "worker.log")
        stack.callback(_stop, worker, "worker")
        api = _child(["-m", "api"], env, logs / "api.log")
        stack.callback(_stop, api, "api")
        wait_for_port(settings.api_host, settings.api_port, timeout=60)
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        say(f"API {api_url} (OpenAPI at {api_url}/docs); logs in {logs}")
        run_demo(api_url, key, child_settings)
        say(f"ready in {time.monotonic() - t0:.1f}s. Ctrl-C stops everything.")
        try:
            while worker.poll() is None and api.poll() is None:
                time.sleep(0.5)
            say("a child process exited; stopping")
        except KeyboardInterrupt:
            say("stopping")


if __name__ == "__main__":
    main()
