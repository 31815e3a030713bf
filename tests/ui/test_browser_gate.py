"""The browser tests without a browser: skipped with the reason shown, except in CI, where they fail."""

from __future__ import annotations

import os
import re
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


def every_browser_test(run: subprocess.CompletedProcess[str], outcome: str) -> bool:
    """Whether every test the run collected (its header's ``collected N items``, all of them browser tests) ended
    ``outcome`` and none otherwise, as its last line counts them: not a count to raise with each new test."""
    found = re.search(r"^collected (\d+) items?", run.stdout, re.MULTILINE)
    assert found is not None and int(found[1]) > 0, run.stdout[-3000:]
    counts = {word.rstrip("s"): int(n) for n, word in re.findall(r"(\d+) ([a-z]+)", run.stdout.splitlines()[-1])}
    counts.pop("warning", None)
    return counts == {outcome.rstrip("s"): int(found[1])}


@pytest.mark.timeout(300)
def test_in_ci_a_missing_browser_fails_the_browser_tests(tmp_path: Path) -> None:
    run = run_browser_tests_without_chromium(tmp_path, CI="true")

    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert every_browser_test(run, "error"), run.stdout[-3000:]
    assert "CI=true, where the browser tests must run" in run.stdout, run.stdout[-3000:]


@pytest.mark.timeout(300)
def test_elsewhere_a_missing_browser_skips_them_saying_why(tmp_path: Path) -> None:
    run = run_browser_tests_without_chromium(tmp_path)

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert every_browser_test(run, "skipped"), run.stdout[-3000:]
    assert "no Chromium" in run.stdout, run.stdout[-3000:]


def run_ci_script(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``.ci/run`` as root with a PATH of the tools it needs, apt-get failing (no network, say) and a ``make`` that
    only records its arguments; returns the run and the make commands it reached."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "id", "dirname"):
        (tools / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    made = tmp_path / "made"
    stubs = {"apt-get": "exit 100", "make": f'echo "$*" >> {made}'}
    for tool, body in stubs.items():
        (tools / tool).write_text(f"#!/bin/sh\n{body}\n")
        (tools / tool).chmod(0o755)
    run = subprocess.run(
        [str(tools / "bash"), ".ci/run"],
        cwd=REPO_ROOT,
        env={"PATH": str(tools), "HOME": str(tmp_path)} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return run, made.read_text().splitlines() if made.exists() else []


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_browser_that_cannot_be_installed_stops_the_run(tmp_path: Path, ci: str) -> None:
    """No Chromium on PATH nor Playwright's, and apt-get failing: ``.ci/run`` says so and never runs the tests,
    under either spelling of CI that the browser tests' gate counts as CI."""
    if os.geteuid() != 0:
        pytest.skip(".ci/run installs Chromium only as root")

    run, made = run_ci_script(tmp_path, CI=ci)

    assert run.returncode == 1, run.stdout + run.stderr
    assert "chromium could not be installed" in run.stderr, run.stderr
    assert "test" not in made, made


def test_in_ci_playwrights_browser_needs_no_install(tmp_path: Path) -> None:
    """Only Playwright's download, which the browser tests drive as well: ``.ci/run`` goes straight to the tests,
    though apt-get would fail (it stopped there, and the tests that could run never did)."""
    if os.geteuid() != 0:
        pytest.skip(".ci/run installs Chromium only as root")
    chrome = tmp_path / "ms-playwright" / "chromium-1187" / "chrome-linux" / "chrome"
    chrome.parent.mkdir(parents=True)
    chrome.write_text("")
    chrome.chmod(0o755)

    run, made = run_ci_script(tmp_path, CI="true", PLAYWRIGHT_BROWSERS_PATH=str(tmp_path / "ms-playwright"))

    assert run.returncode == 0, run.stdout + run.stderr
    assert "test" in made, (made, run.stderr)
