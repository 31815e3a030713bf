"""Under ``make test``'s xdist, the files recorded slowest run first; a file not recorded, or no record at all,
is placed by its test count (xdist's own order), so a missing or stale ``tests/durations.json`` breaks nothing."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT
from tests.helpers import read_file_durations, slowest_files_first

FILES = {"tests/test_a.py": 3, "tests/test_b.py": 1, "tests/test_c.py": 2}
"""Test files and how many tests each has: by count, the one-test file comes last."""
CONFTEST = "from tests.conftest import pytest_addoption, pytest_collection_modifyitems, pytest_configure  # noqa\n"


def make_test_arguments(workers: int) -> list[str]:
    """What ``make test`` passes pytest, on ``workers`` workers and no ``PYTEST_ARGS``."""
    line = next(line for line in (REPO_ROOT / "Makefile").read_text().splitlines() if "-m pytest" in line)
    words = [str(workers) if w == "$(TEST_WORKERS)" else w for w in shlex.split(line)]
    return [w for w in words[words.index("pytest") + 1 :] if not w.startswith("$(")]


def files_in_the_order_run(tmp_path: Path, durations: str | None, *options: str) -> list[str]:
    """The files a one-worker xdist run with ``make test``'s arguments ran, in order."""
    for name, count in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(f"def test_{i}() -> None:\n    pass\n\n\n" for i in range(count)))
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    if durations is not None:
        (tmp_path / "tests" / "durations.json").write_text(durations)
    arguments = make_test_arguments(workers=1)  # one worker runs the files exactly in the order they were handed out
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:bqemulator", "-p", "no:cacheprovider", *arguments, *options, "-vv"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ran = re.findall(r"PASSED (tests/test_\w\.py)::", proc.stdout)
    assert len(ran) == sum(FILES.values()), proc.stdout
    return list(dict.fromkeys(ran))


def test_make_test_runs_the_slowest_recorded_file_first_and_can_record_them_anew(tmp_path: Path) -> None:
    """Ordered by test count, the one-test file that takes 30 s was handed out last, and ran alone at the end.
    ``--store-durations`` records the files run, and keeps the others' seconds."""
    durations = json.dumps({"files": {"tests/test_b.py": 30.0, "tests/test_gone.py": 99.0}})

    ran = files_in_the_order_run(tmp_path, durations, "--store-durations")

    assert ran == ["tests/test_b.py", "tests/test_a.py", "tests/test_c.py"]
    recorded = read_file_durations(tmp_path / "tests" / "durations.json")
    assert set(recorded) == {"tests/test_gone.py", *FILES}, recorded
    assert recorded["tests/test_gone.py"] == 99.0 and recorded["tests/test_b.py"] < 30.0


def test_without_a_record_make_test_orders_files_by_their_test_count(tmp_path: Path) -> None:
    assert files_in_the_order_run(tmp_path, None) == ["tests/test_a.py", "tests/test_c.py", "tests/test_b.py"]


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"files": 3}', '{"files": {"tests/x.py": "slow"}}'])
def test_an_unreadable_record_is_no_record(tmp_path: Path, content: str) -> None:
    path = tmp_path / "durations.json"
    path.write_text(content)

    assert read_file_durations(path) == {}
    assert read_file_durations(tmp_path / "missing.json") == {}


def test_each_files_tests_stay_together_and_in_order() -> None:
    nodeids = ["a.py::t1", "a.py::t2", "b.py::t1", "c.py::t1", "c.py::t2", "c.py::t3"]

    order = [nodeids[i] for i in slowest_files_first(nodeids, {"b.py": 10.0, "a.py": 0.1})]

    assert order == ["b.py::t1", "c.py::t1", "c.py::t2", "c.py::t3", "a.py::t1", "a.py::t2"]
