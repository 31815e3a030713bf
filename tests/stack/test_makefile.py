"""The Makefile's targets work in a fresh checkout: no ``.data/`` yet, and maybe a ``python3`` older than 3.11."""

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


FAKE_PYTHON = """#!/bin/sh
# A stand-in interpreter: {version}. Logs each call; `-m venv DIR` makes a venv whose python is this script.
echo "$0 $*" >> "$CALLS"
case "$1" in
  -c) exit {check} ;;
  --version) echo "Python {version}"; exit 0 ;;
  -m) if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && exit {venv}; fi ;;
esac
exit {pip}
"""


def _interpreter(path: Path, *, new_enough: bool, has_pip: bool = True, venv_works: bool = True) -> Path:
    """Python 3.11 (every call succeeds, pip installing nothing) or 3.10 (its check and its pip fail).

    ``has_pip=False``: its pip fails (a venv whose ensurepip never ran); ``venv_works=False``: ``-m venv`` makes
    ``bin/python``, then fails, as Debian's Python does without its ``python3.X-venv`` package."""
    version, code = ("3.11", 0) if new_enough else ("3.10", 1)
    pip = code if has_pip else 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_PYTHON.format(version=version, check=code, pip=pip, venv=0 if venv_works else 1))
    path.chmod(0o755)
    return path


def _make(checkout: Path, goal: str, python: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", goal, f"PYTHON={python}"],
        cwd=checkout,
        env={"PATH": "/usr/bin:/bin", "CALLS": str(checkout / "calls.log")},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture()
def makefile_only(tmp_path: Path) -> Path:
    """The Makefile and the files its install depends on, with no venv: installs run the stand-ins only."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(REPO_ROOT / "Makefile", checkout)
    for name in ("pyproject.toml", "constraints.txt"):
        (checkout / name).touch()
    return checkout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_python_older_than_3_11_is_named_not_made_into_a_venv(makefile_only: Path, tmp_path: Path) -> None:
    """It made a 3.10 venv, whose installs then failed, and `make run PYTHON=python3.11` kept reusing it."""
    done = _make(makefile_only, "run", _interpreter(tmp_path / "python3.10", new_enough=False))
    assert done.returncode != 0
    assert "MiniMeter needs Python 3.11 or newer" in done.stderr and "make run PYTHON=python3.11" in done.stderr
    assert "python3.10 is Python 3.10" in done.stderr  # the version found, not only "too old"
    assert not (makefile_only / ".venv").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_python_not_found_is_named_so_not_called_too_old(makefile_only: Path, tmp_path: Path) -> None:
    """Its "not found" went to /dev/null: a missing python3.99 was "too old", and the advice to use python3.11
    went round in circles on a machine without one."""
    done = _make(makefile_only, "run", tmp_path / "python3.99")
    assert done.returncode != 0
    assert "python3.99 was not found" in done.stderr
    assert "PYTHON=python3.11" not in done.stderr
    assert not (makefile_only / ".venv").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_venv_of_an_older_python_is_made_again_with_the_one_given(makefile_only: Path, tmp_path: Path) -> None:
    old = _interpreter(makefile_only / ".venv" / "bin" / "python", new_enough=False)  # left by a first try
    new = _interpreter(tmp_path / "python3.11", new_enough=True)
    done = _make(makefile_only, ".venv/.installed", new)
    assert done.returncode == 0, done.stderr
    assert old.read_text() == new.read_text()  # the venv's python is now the one given
    calls = (makefile_only / "calls.log").read_text().splitlines()
    assert f"{new} -m venv .venv" in calls
    assert ".venv/bin/python -m pip install --quiet -c constraints.txt -e .[dev]" in calls
    assert (makefile_only / ".venv" / ".installed").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_venv_without_pip_is_made_again(makefile_only: Path, tmp_path: Path) -> None:
    """A first try whose ensurepip failed left a 3.11 venv without pip: reused, every later make failed in pip."""
    _interpreter(makefile_only / ".venv" / "bin" / "python", new_enough=True, has_pip=False)
    python = _interpreter(tmp_path / "python3.11", new_enough=True)
    done = _make(makefile_only, ".venv/.installed", python)
    assert done.returncode == 0, done.stderr
    assert f"{python} -m venv .venv" in (makefile_only / "calls.log").read_text().splitlines()
    assert (makefile_only / ".venv" / ".installed").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_failed_venv_is_removed_and_its_package_named(makefile_only: Path, tmp_path: Path) -> None:
    """Debian's Python without python3.X-venv makes ``bin/python``, then fails in ensurepip: the half-made venv
    stayed, and passed for a usable one once the package was installed."""
    done = _make(makefile_only, "run", _interpreter(tmp_path / "python3.11", new_enough=True, venv_works=False))
    assert done.returncode != 0
    assert "-venv" in done.stderr and "apt install" in done.stderr
    assert not (makefile_only / ".venv").exists()


FREEZE = """#!/bin/sh
# A stand-in venv python whose `pip freeze` prints one pin and exits {code}.
echo acme==1.0
exit {code}
"""


def _make_constraints(checkout: Path, *, freeze_exits: int) -> subprocess.CompletedProcess[str]:
    """``make constraints`` over a constraints.txt pinning ``old==0.9``, with a venv whose freeze exits so."""
    (checkout / "constraints.txt").write_text("# pins\nold==0.9\n")
    venv_python = checkout / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(FREEZE.format(code=freeze_exits))
    venv_python.chmod(0o755)
    return subprocess.run(
        ["make", "-o", ".venv/.installed", "constraints"],
        cwd=checkout,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_failed_freeze_leaves_constraints_as_they_were(makefile_only: Path) -> None:
    """The freeze wrote straight into constraints.txt: one that failed left it pinning nothing, or only some."""
    done = _make_constraints(makefile_only, freeze_exits=1)
    assert done.returncode != 0
    assert (makefile_only / "constraints.txt").read_text() == "# pins\nold==0.9\n"
    assert not (makefile_only / "constraints.txt.new").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_whole_freeze_replaces_constraints(makefile_only: Path) -> None:
    done = _make_constraints(makefile_only, freeze_exits=0)
    assert done.returncode == 0, done.stderr
    written = (makefile_only / "constraints.txt").read_text().splitlines()
    assert written[0].startswith("# Exact versions") and written[1:] == ["acme==1.0"]
    assert not (makefile_only / "constraints.txt.new").exists()
