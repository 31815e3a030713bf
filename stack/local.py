"""The local stack as child processes: used by `make run`, the benchmark and the chaos run.

Each service can be stopped and started again on the same ports and data, which is
what fault injection needs (kill a worker, bounce Postgres, restart Temporal).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.settings import Settings
from stack.emulators import BigQueryEmulator, GcsEmulator
from stack.services import (
    embedded_postgres_url,
    ensure_port_free,
    start_embedded_postgres,
    start_temporal_dev_server,
    stop_embedded_postgres,
    stop_process,
    wait_for_port,
)

__all__ = [
    "CO_LOCATED_BATCH_NICE",
    "LocalStack",
    "StackOptions",
    "finish_stopping_undisturbed",
    "stop_on_sigterm",
    "stop_process",
]

CO_LOCATED_BATCH_NICE = 10
"""How much nicer than the API the worker and the dev server run in the local stack (``WORKER_NICE``
overrides the worker's): the API answers people, the other two work through a queue."""


@dataclass
class StackOptions:
    data_dir: Path
    temporal_db: Path | None = None
    """SQLite file for the dev server; None keeps Temporal in memory."""
    bigquery_in_memory: bool = False
    """The BigQuery emulator's DuckDB in memory instead of under ``data_dir`` (nothing survives a stop)."""
    temporal_port: int = 7233
    ui_port: int = 8233
    api_port: int = 8000
    gcs_port: int = 9023
    bq_port: int = 9050
    use_emulators: bool = True
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment for the worker and API processes (e.g. WORKER_* tuning)."""
    reuse_services: bool = True
    """Use the services TEMPORAL_ADDRESS, DATABASE_URL and the emulator hosts name, when set.
    False starts all of them here (the chaos run must own what it breaks)."""


class LocalStack:
    """Start, stop and restart the pieces of a local MiniMeter."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.logs = options.data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env: dict[str, str] = {**os.environ, "DATA_DIR": str(options.data_dir), **options.env}
        self.temporal: subprocess.Popen[bytes] | None = None
        self.gcs: GcsEmulator | None = None
        self.bigquery: BigQueryEmulator | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.api: subprocess.Popen[bytes] | None = None
        self._pgdata = options.data_dir / "postgres"

    # --- infrastructure --------------------------------------------------------------

    @property
    def _external(self) -> Mapping[str, str]:
        return os.environ if self.options.reuse_services else {}

    def start_services(self) -> None:
        """Temporal (unless TEMPORAL_ADDRESS is set), Postgres (unless DATABASE_URL is), emulators."""
        external = self._external
        if "TEMPORAL_ADDRESS" not in external:
            self.start_temporal()
            self.env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{self.options.temporal_port}"
        if "DATABASE_URL" not in external:
            self.env["DATABASE_URL"] = embedded_postgres_url(self._pgdata, stop_on_exit=True)
        if self.options.use_emulators and "STORAGE_EMULATOR_HOST" not in external:
            self.gcs = GcsEmulator(
                data_dir=self.options.data_dir / "gcs", port=self.options.gcs_port, log_file=self.logs / "gcs.log"
            )
            self.gcs.start()
            self.env["STORAGE_EMULATOR_HOST"] = self.gcs.url
        if self.options.use_emulators and "BIGQUERY_EMULATOR_HOST" not in external:
            self.bigquery = BigQueryEmulator(
                data_dir=self.options.data_dir / "bigquery",
                port=self.options.bq_port,
                ephemeral=self.options.bigquery_in_memory,
                log_file=self.logs / "bigquery.log",
            )
            self.bigquery.start()
            self.env["BIGQUERY_EMULATOR_HOST"] = self.bigquery.url

    def start_temporal(self) -> None:
        self.temporal = start_temporal_dev_server(
            db_file=self.options.temporal_db,
            port=self.options.temporal_port,
            ui_port=self.options.ui_port,
            log_file=self.logs / "temporal.log",
            nice=CO_LOCATED_BATCH_NICE,
        )

    def stop_temporal(self) -> None:
        if self.temporal is not None:
            stop_process(self.temporal)
            self.temporal = None

    def stop_postgres(self) -> None:
        stop_embedded_postgres(self._pgdata)

    def start_postgres(self) -> None:
        start_embedded_postgres(self._pgdata)

    def settings(self) -> Settings:
        """Settings as the child processes see them."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            return Settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    # --- application processes ---------------------------------------------------------

    def _spawn(self, module: str, log_name: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        out = open(self.logs / log_name, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        return subprocess.Popen(
            [sys.executable, "-m", module],
            env={**self.env, **(extra_env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def worker_env(self) -> dict[str, str]:
        """Everything shares this machine: batch work yields to API requests."""
        return {"WORKER_NICE": self.env.get("WORKER_NICE", str(CO_LOCATED_BATCH_NICE))}

    def start_worker(self) -> subprocess.Popen[bytes]:
        proc = self._spawn("worker", f"worker-{len(self.workers)}.log", self.worker_env)
        self.workers.append(proc)
        return proc

    def start_api(self) -> subprocess.Popen[bytes]:
        ensure_port_free("127.0.0.1", self.options.api_port, "the API")
        self.api = self._spawn("api", "api.log", {"API_PORT": str(self.options.api_port)})
        wait_for_port("127.0.0.1", self.options.api_port, timeout=60, process=self.api)  # close() stops it
        return self.api

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.options.api_port}"

    def admin_key(self) -> str:
        """The stack's admin key: created once, kept in DATA_DIR/admin.key."""
        return asyncio.run(ensure_admin_key(self.settings()))

    def close(self) -> None:
        """Stop everything, application first (the worker gracefully), infrastructure last."""
        if self.api is not None:
            stop_process(self.api)
        for proc in self.workers:
            stop_process(proc)
        if self.bigquery is not None:
            self.bigquery.stop()
        if self.gcs is not None:
            self.gcs.stop()
        self.stop_temporal()
        if "DATABASE_URL" not in self._external:
            self.stop_postgres()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""``kill``, a supervisor or a CI timeout; a closed terminal or a dropped SSH session."""


def stop_on_sigterm() -> None:
    """Make SIGTERM and SIGHUP unwind like Ctrl-C.

    Python's default ends the process at once, skipping the ``finally`` that stops the
    stack: Temporal, Postgres, the emulators and the API (each in a session of its own)
    would run on, orphaned, holding their ports.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupt)


def finish_stopping_undisturbed() -> None:
    """Once stopping has begun, a second Ctrl-C, SIGTERM or SIGHUP must not cut it short."""
    for signum in (signal.SIGINT, *STOP_SIGNALS):
        signal.signal(signum, signal.SIG_IGN)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


async def ensure_admin_key(settings: Settings) -> str:
    """Create the first admin key once; later runs reuse ``DATA_DIR/admin.key`` (mode 0600)."""
    from api.auth import Role, create_key
    from shared.db import create_pool, migrate

    path = settings.data_dir / "admin.key"
    if path.exists():
        return path.read_text().strip()
    pool = await create_pool(settings)
    try:
        await migrate(pool)
        created = await create_key(pool, name="local-admin", role=Role.ADMIN)
    finally:
        await pool.close()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(created.key + "\n")
    return created.key
