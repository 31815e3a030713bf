"""The browser tests without a browser: skipped with the reason shown, except in CI, where they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT

BROWSER_TESTS = ["tests/ui/test_review_browser.py", "tests/ui/test_cross_origin_browser.py"]


def run_browser_tests_without_chromium(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest on the browser tests with nothing but the venv on PATH and a HOME without Playwright's download."""
    bare = {k: v for k, v in os.environ.items() if k not in ("CI", "PLAYWRIGHT_BROWSERS_PATH")}
    bare |= {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)} | env
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'pt'}", *BROWSER_TESTS],
        cwd=REPO_ROOT,
        env=bare,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.timeout(300)
def test_in_ci_a_missing_browser_fails_the_browser_tests(tmp_path: Path) -> None:
    run = run_browser_tests_without_chromium(tmp_path, CI="true")

    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "6 errors" in run.stdout and "skipped" not in run.stdout, run.stdout[-3000:]
    assert "CI=true, where the browser tests must run" in run.stdout, run.stdout[-3000:]


@pytest.mark.timeout(300)
def test_elsewhere_a_missing_browser_skips_them_saying_why(tmp_path: Path) -> None:
    run = run_browser_tests_without_chromium(tmp_path)

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "6 skipped" in run.stdout and "no Chromium" in run.stdout, run.stdout[-3000:]


def test_in_ci_a_browser_that_cannot_be_installed_stops_the_run(tmp_path: Path) -> None:
    """``.ci/run`` with apt-get failing (no network, say) and no Chromium on PATH: it says so and never runs make."""
    if os.geteuid() != 0:
        pytest.skip(".ci/run installs Chromium only as root")
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "id", "dirname"):
        (tools / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    (tools / "apt-get").write_text("#!/bin/sh\nexit 100\n")
    (tools / "apt-get").chmod(0o755)

    run = subprocess.run(
        [str(tools / "bash"), ".ci/run"],
        cwd=REPO_ROOT,
        env={"CI": "true", "PATH": str(tools)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 1, run.stdout + run.stderr
    assert "chromium could not be installed" in run.stderr, run.stderr
