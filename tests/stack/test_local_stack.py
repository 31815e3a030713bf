"""``LocalStack`` without its servers: which services it starts, and how long it waits for a worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import stack.local
from stack.local import LocalStack, StackOptions

SERVICES = {
    "TEMPORAL_ADDRESS": "temporal",
    "DATABASE_URL": "postgres",
    "STORAGE_EMULATOR_HOST": "gcs",
    "BIGQUERY_EMULATOR_HOST": "bigquery",
}


def _fake_emulator(kind: str, started: list[str]) -> type:
    class Emulator:
        url = f"http://{kind}.invalid"

        def __init__(self, **options: object) -> None:
            pass

        def start(self) -> None:
            started.append(kind)

    return Emulator


@pytest.mark.parametrize("empty", list(SERVICES))
def test_an_empty_variable_is_unset_and_its_service_is_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty: str
) -> None:
    """README: an empty variable counts as unset. Taken as set, nothing was started and the
    worker and API failed to connect to ``""``."""
    for name in SERVICES:
        monkeypatch.setenv(name, "" if name == empty else "set-elsewhere:1")
    started: list[str] = []
    monkeypatch.setattr(stack.local, "GcsEmulator", _fake_emulator("gcs", started))
    monkeypatch.setattr(stack.local, "BigQueryEmulator", _fake_emulator("bigquery", started))

    def embedded_postgres_url(pgdata: Path, **options: object) -> str:
        started.append("postgres")
        return "postgresql:///embedded"

    monkeypatch.setattr(stack.local, "embedded_postgres_url", embedded_postgres_url)
    monkeypatch.setattr(stack.local, "postmaster", lambda pgdata: None)
    local = LocalStack(StackOptions(data_dir=tmp_path))
    monkeypatch.setattr(local, "start_temporal", lambda: started.append("temporal"))

    local.start_services()

    assert started == [SERVICES[empty]]
    assert local.env[empty], "the children get the started service's address"


@pytest.mark.parametrize(("given", "expected"), [(None, "http://localhost:{port}"), ("https://ui.example", None)])
def test_the_api_links_to_the_web_ui_the_stack_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: str | None, expected: str | None
) -> None:
    """On a free port (tests, the bench, the chaos run), the API linked each job to the default's 8233, where no Web
    UI or another stack's listened (an integrator's probe). One the operator sets stays theirs."""
    for name in SERVICES:
        monkeypatch.setenv(name, "set-elsewhere:1")
    monkeypatch.delenv("TEMPORAL_ADDRESS")
    if given is None:
        monkeypatch.delenv("TEMPORAL_UI_URL", raising=False)
    else:
        monkeypatch.setenv("TEMPORAL_UI_URL", given)
    local = LocalStack(StackOptions(data_dir=tmp_path, temporal_port=None, ui_port=None))
    monkeypatch.setattr(local, "start_temporal", lambda: None)

    local.start_services()

    url = expected.format(port=local.ui_port) if expected else given
    assert local.settings().temporal_ui_url == url != "http://localhost:8233"


def test_a_worker_is_given_its_whole_graceful_shutdown_before_it_is_killed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``close()`` waited 40 s, whatever WORKER_GRACEFUL_SHUTDOWN_SECONDS gave the worker's activities."""
    local = LocalStack(StackOptions(data_dir=tmp_path, env={"WORKER_GRACEFUL_SHUTDOWN_SECONDS": "120"}))
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(local, "_spawn", lambda *args: subprocess.Popen(sleeper))
    waits: list[float] = []

    def stop_process(proc: subprocess.Popen[bytes], *, timeout: float = 40) -> int | None:
        waits.append(timeout)
        proc.kill()
        return proc.wait()

    monkeypatch.setattr(stack.local, "stop_process", stop_process)
    local.start_worker()
    local.close()
    [waited] = waits
    assert waited > 120
