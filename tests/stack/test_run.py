"""``make run`` (``stack.run``) ends non-zero when a process of the stack exits on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

import stack.run
from shared.settings import Environment, Settings

EXIT = "worker exited (code 1); see .data/logs/worker-0.log"


class _StackWhoseWorkerDies:
    """Starts nothing; its worker has exited by the time the demo is done."""

    gcs = bigquery = temporal = None
    new_admin_key = False
    api_url = "http://127.0.0.1:8000"
    logs = Path(".data/logs")
    closed = False

    def __init__(self, options: object) -> None:
        self.env = {"TEMPORAL_ADDRESS": "127.0.0.1:7233"}
        self._settings = Settings(env=Environment.TEST)

    def start_services(self) -> None: ...
    def start_worker(self) -> None: ...
    def start_api(self) -> None: ...

    def admin_key(self) -> str:
        return "mm_key"

    def settings(self) -> Settings:
        return self._settings

    def exited(self) -> str | None:
        return EXIT

    def close(self) -> None:
        type(self).closed = True


def test_a_child_that_exits_makes_make_run_fail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exited 0, so a supervisor or a CI job took a dead stack for a clean stop."""
    monkeypatch.setattr(stack.run, "LocalStack", _StackWhoseWorkerDies)
    monkeypatch.setattr(stack.run, "settings_or_exit", lambda: Settings(env=Environment.TEST, data_dir=tmp_path))
    monkeypatch.setattr(stack.run, "run_demo", lambda *args, **kwargs: None)
    # Not this process's signal handlers: Ctrl-C must still stop pytest.
    monkeypatch.setattr(stack.run, "stop_on_sigterm", lambda: None)
    monkeypatch.setattr(stack.run, "finish_stopping_undisturbed", lambda: None)
    with pytest.raises(SystemExit) as ended:
        stack.run.main()
    assert ended.value.code == 1
    assert _StackWhoseWorkerDies.closed
    said = capsys.readouterr().out.splitlines()
    assert f"minimeter | error: {EXIT}" in said
    # Its Temporal is another's (TEMPORAL_ADDRESS; no dev server started): no link to a UI nothing here started.
    web_ui = "Web UI not started here: set TEMPORAL_UI_URL to your server's, for the jobs' links"
    assert f"minimeter | Temporal 127.0.0.1:7233, {web_ui}" in said
