"""The stack a bench runs on: ``stack.local.LocalStack`` in a temp dir, on free ports.

``TEMPORAL_ADDRESS`` / ``DATABASE_URL`` (and the emulator hosts) in the environment
are used instead of starting those services, as ``LocalStack`` does (``where_it_runs``
says so before anything is written). Every run gets its own task queues, so a shared
server never hands a bench task to another worker.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import psutil

from stack.local import LocalStack, StackOptions, stop_process

BENCH_ENV = {
    "EXTRACTOR": "rules",  # offline extractor: no Gemini calls in a benchmark
    "RATE_LIMIT_PER_MINUTE": "0",  # the per-key start limit would throttle the clients
    "LOG_FORMAT": "json",
}

EXTERNAL_SERVICES = {
    "TEMPORAL_ADDRESS": "Temporal",
    "DATABASE_URL": "Postgres",
    "STORAGE_EMULATOR_HOST": "the GCS emulator",
    "BIGQUERY_EMULATOR_HOST": "the BigQuery emulator",
}
"""The variables naming a service the stack uses instead of starting its own (empty is unset, as in the stack)."""


def where_it_runs(environ: Mapping[str, str] = os.environ) -> str:
    """Printed before the run seeds anything: with ``DATABASE_URL`` exported in the shell, the bench's
    customers and a job per bill go to that database (its value, a password maybe, is never printed)."""
    external = [f"{service} ({name})" for name, service in EXTERNAL_SERVICES.items() if environ.get(name)]
    if not external:
        return "a private stack: every service started here, on free ports"
    return f"using {', '.join(external)} from the environment: the bench's customers, accounts and jobs go there"


class BenchStack:
    def __init__(
        self,
        data_dir: Path,
        *,
        run_id: str,
        env: dict[str, str],
        temporal_in_memory: bool,
        warehouse_in_memory: bool = True,
    ) -> None:
        self.run_id = run_id
        self.task_queue = f"bench-{run_id}"
        self.noop_task_queue = f"bench-noop-{run_id}"
        options = StackOptions(
            data_dir=data_dir,
            temporal_db=None if temporal_in_memory else data_dir / "temporal.db",
            bigquery_in_memory=warehouse_in_memory,
            temporal_port=None,
            ui_port=None,
            api_port=None,
            gcs_port=None,
            bq_port=None,
            env={**BENCH_ENV, "TEMPORAL_TASK_QUEUE": self.task_queue, **env},
        )
        self.local = LocalStack(options)
        self.noop_workers: list[subprocess.Popen[bytes]] = []
        self.admin_key = ""

    def start_services(self) -> None:
        self.local.start_services()
        self.admin_key = self.local.admin_key()

    @property
    def env(self) -> dict[str, str]:
        return self.local.env

    @property
    def database_url(self) -> str:
        return self.local.env["DATABASE_URL"]

    @property
    def api_url(self) -> str:
        return self.local.api_url

    def _spawn(self, module: str, log_name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """As the stack spawns its own (``LocalStack._spawn``): the bench kept each log open, one more per round."""
        return self.local._spawn(module, log_name, env)

    def start_noop_workers(self, count: int, *, round_name: str = "") -> str:
        """``count`` no-op workers on the round's own task queue, which is returned."""
        task_queue = f"{self.noop_task_queue}-{round_name}" if round_name else self.noop_task_queue
        for i in range(count):
            env = {"BENCH_NOOP_TASK_QUEUE": task_queue, **self.local.worker_env}
            log = f"noop-worker-{round_name or 'first'}-{i}.log"
            self.noop_workers.append(self._spawn("bench.noop_worker", log, env))
        return task_queue

    def stop_noop_workers(self) -> None:
        for proc in self.noop_workers:
            stop_process(proc)
        self.noop_workers = []

    def start_pipeline(self, workers: int, *, prototype: dict[str, str] | None = None) -> None:
        """``workers`` worker processes (``bench.proto_worker`` when prototype settings are given), then the API."""
        for i in range(workers):
            if prototype:
                env = {**prototype, **self.local.worker_env}
                self.local.workers.append(self._spawn("bench.proto_worker", f"proto-worker-{i}.log", env))
            else:
                self.local.start_worker()
        self.local.start_api()

    def start_floor_api(self) -> None:
        """``bench.floor_app`` in the API's place, on its port (``bench.api_alone --floor``), started as the
        API is: spawned on a picked port and merely waited for, it could find another process's listener
        there (and measure that) or die unseen until the wait gave up."""
        self.local.start_api(module="bench.floor_app", log_name="floor-api.log")

    def stop_pipeline(self) -> None:
        """Stop the API and the workers (the ceiling runs again after the pipeline, alone)."""
        if self.local.api is not None:
            stop_process(self.local.api)
            self.local.api = None
        for proc in self.local.workers:
            stop_process(proc)
        self.local.workers = []

    def process_groups(self) -> dict[str, list[int]]:
        """Root pids by role, for the sampler (roles without a local process are left out)."""
        groups: dict[str, list[int]] = {
            "worker": [p.pid for p in self.local.workers + self.noop_workers if p.poll() is None],
        }
        if self.local.api is not None:
            groups["api"] = [self.local.api.pid]
        if self.local.temporal is not None:
            groups["temporal"] = [self.local.temporal.pid]
        postmaster = self.local.options.data_dir / "postgres" / "postmaster.pid"
        if not os.environ.get("DATABASE_URL") and postmaster.exists():  # empty is unset, as in the stack
            groups["postgres"] = [int(postmaster.read_text().split()[0])]
        emulators = [
            child.pid
            for child in psutil.Process().children()
            if any(tag in " ".join(child.cmdline()) for tag in ("fake-gcs", "bq_offline"))
        ]
        if emulators:
            groups["emulators"] = emulators
        groups["bench"] = [os.getpid()]
        return groups

    def close(self) -> None:
        self.stop_noop_workers()
        self.local.close()
