"""The Makefile's targets work in a fresh checkout, where ``.data/`` does not exist yet."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT


@pytest.fixture()
def fresh_checkout(tmp_path: Path) -> Path:
    """The repository's files without its ``.data/`` (nothing has run here yet)."""
    for entry in REPO_ROOT.iterdir():
        if entry.name not in {".data", ".git"}:
            (tmp_path / entry.name).symlink_to(entry)
    return tmp_path


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_eval_in_a_fresh_checkout_writes_its_report(fresh_checkout: Path) -> None:
    """It ran the whole eval set, then failed writing ``.data/eval.json`` and lost the figures."""
    done = subprocess.run(
        ["make", "-o", ".venv/.installed", "eval", f"PY={sys.executable}"],
        cwd=fresh_checkout,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((fresh_checkout / ".data" / "eval.json").read_text())
    assert report
