"""The code standards, held by ``make test`` and so by CI: ruff's lint and format and mypy over the whole tree, with
``pyproject.toml``'s settings and ``constraints.txt``'s versions. ``make lint`` and ``make typecheck`` run the same
tools alone, for a quicker answer while editing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.settings import REPO_ROOT

STANDARDS = {
    "ruff lint": ["ruff", "check", "."],
    "ruff format": ["ruff", "format", "--check", "."],
    "mypy": ["mypy", "."],
}
"""Each tool's arguments after ``python -m``, run in the repository's root, where ``pyproject.toml`` configures it."""


@pytest.mark.parametrize("arguments", STANDARDS.values(), ids=STANDARDS.keys())
def test_the_tree_meets_the_standard(arguments: list[str]) -> None:
    """A cold mypy takes about half a minute on two cores; its cache (``.mypy_cache``) makes a rerun take seconds."""
    run = subprocess.run(
        [sys.executable, "-m", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False
    )

    assert run.returncode == 0, f"`{' '.join(arguments)}` failed:\n{run.stdout[-6000:]}{run.stderr[-3000:]}"
