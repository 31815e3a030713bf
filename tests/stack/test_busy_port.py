"""``make run`` on a busy port: one line naming it, exit 1; no traceback, no failed ``pg_ctl stop``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from shared.settings import REPO_ROOT
from stack.services import free_port

RUN_ON_PORTS = """
import functools
from stack import run
from stack.local import StackOptions

run.StackOptions = functools.partial(
    StackOptions, temporal_port={temporal}, ui_port={ui}, gcs_port={gcs}, bq_port={bq}, reuse_services=False
)
run.main()
"""


def test_a_busy_temporal_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """Postgres was never started (Temporal starts first), so there is nothing to stop."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        program = RUN_ON_PORTS.format(temporal=port, ui=free_port(), gcs=free_port(), bq=free_port())
        run = subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "DATA_DIR": str(tmp_path)},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 1
    assert f"minimeter | error: 127.0.0.1:{port} is already in use" in run.stdout
    assert run.stdout.splitlines()[-1] == "minimeter | stopped"
    assert "Traceback" not in run.stderr
    assert "pg_ctl" not in run.stdout + run.stderr
    assert not (tmp_path / "postgres").exists()
