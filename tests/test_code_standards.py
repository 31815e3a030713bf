"""The code standards, held by ``make test`` and so by CI: a tree that breaks ruff's lint or format or mypy fails
the build, not only a forgotten ``make lint``. The settings are ``pyproject.toml``'s, the versions
``constraints.txt``'s; ``make lint`` and ``make typecheck`` run the same tools alone, for a quicker answer."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from shared.settings import REPO_ROOT

STANDARDS = {
    "ruff-lint": (["ruff", "check", "."], r"All checks passed"),
    "ruff-format": (["ruff", "format", "--check", "."], r"[1-9]\d* files? already formatted"),
    "mypy": (["mypy", "."], r"no issues found in [1-9]\d* source files?"),
}
"""Each tool's arguments after ``python -m``, run in the repository's root where ``pyproject.toml`` configures it, and
what it prints when it passes: a configuration that checks no file would pass silently."""


@pytest.mark.parametrize(("arguments", "passed"), STANDARDS.values(), ids=STANDARDS.keys())
def test_the_tree_meets_the_standard(arguments: list[str], passed: str) -> None:
    """A cold mypy, as in every CI clone, takes ~30 s on two cores (``tests/durations.json`` starts this file early);
    its cache, ``.mypy_cache``, makes a rerun take seconds."""
    run = subprocess.run(
        [sys.executable, "-m", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False
    )

    output = run.stdout + run.stderr
    assert run.returncode == 0, f"`{' '.join(arguments)}` failed:\n{run.stdout[-6000:]}{run.stderr[-3000:]}"
    assert re.search(passed, output), f"`{' '.join(arguments)}` checked nothing:\n{output[-3000:]}"
