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
from tests.file_order_plugin import FileDurations, read_file_durations, slowest_files_first

FILES = {"tests/test_a.py": 3, "tests/test_b.py": 1, "tests/test_c.py": 2}
"""Test files and how many tests each has: by count, the one-test file comes last."""
PLUGINS_OFF = ["-p", "no:bqemulator", "-p", "no:cacheprovider"]
RECORD = ["--store-durations"]
CHANGED_UNDER_THE_RUN = {"tests/test_c.py": 60.0, "tests/test_gone.py": 99.0}
CONFTEST = f"""
import json

import pytest


@pytest.hookimpl(trylast=True, optionalhook=True)
def pytest_configure_node(node):
    # The record changes once the run has read it (another run's --store-durations ending, a checkout): a worker
    # reading it now would order its collection otherwise than one that read it before, and xdist would abort.
    (node.config.rootpath / "tests" / "durations.json").write_text(json.dumps({{"files": {CHANGED_UNDER_THE_RUN!r}}}))
"""


def own_basetemp(tmp_path: Path) -> list[str]:
    """A nested run's basetemp under the test's own: with the default one, pytest makes its root
    (``/tmp/pytest-of-<user>``) 0700 again, and the outer run's embedded Postgres, which runs as another user
    under that root, loses its data directory (CI: a PANIC, then every later test of that worker failed)."""
    return [f"--basetemp={tmp_path / 'pt'}"]


def make_test_arguments(workers: int) -> list[str]:
    """What ``make test`` passes pytest, on ``workers`` workers and no ``PYTEST_ARGS``."""
    line = next(line for line in (REPO_ROOT / "Makefile").read_text().splitlines() if "-m pytest" in line)
    words = [str(workers) if w == "$(TEST_WORKERS)" else w for w in shlex.split(line)]
    return [w for w in words[words.index("pytest") + 1 :] if not w.startswith("$(")]


def test_make_test_runs_the_slowest_recorded_file_first_and_can_record_them_anew(tmp_path: Path) -> None:
    """Ordered by test count, the one-test file that takes 30 s was handed out last, and ran alone at the end.
    The record is read once, by the controller, whatever it becomes during the run; ``--store-durations`` records
    the files run and keeps the others' seconds. Only the light plugin is loaded, not ``tests.conftest``."""
    for name, count in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(f"def test_{i}() -> None:\n    pass\n\n\n" for i in range(count)))
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    durations = tmp_path / "tests" / "durations.json"
    durations.write_text(json.dumps({"files": {"tests/test_b.py": 30.0, "tests/test_gone.py": 99.0}}))
    arguments = make_test_arguments(workers=1)  # one worker runs the files exactly in the order they were handed out
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.file_order_plugin",
            *PLUGINS_OFF,
            *arguments,
            *RECORD,
            "-vv",
            *own_basetemp(tmp_path),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ran = re.findall(r"PASSED (tests/test_\w\.py)::", proc.stdout)
    assert len(ran) == sum(FILES.values()), proc.stdout

    assert list(dict.fromkeys(ran)) == ["tests/test_b.py", "tests/test_a.py", "tests/test_c.py"]
    recorded = read_file_durations(durations)
    assert set(recorded) == {"tests/test_gone.py", *FILES}, recorded
    assert recorded["tests/test_gone.py"] == 99.0 and recorded["tests/test_c.py"] < 60.0
    assert not [p.name for p in durations.parent.iterdir() if p.name.endswith(".tmp")]


def test_the_record_is_replaced_whole_never_rewritten_in_place(tmp_path: Path) -> None:
    """Truncated and then written, a worker of another run reading it in between read an empty record."""
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"files": {"tests/test_a.py": 5.0, "tests/test_b.py": 1.0}}))
    recorder = FileDurations(path)
    recorder.seconds = {"tests/test_b.py": 7.04}

    with path.open() as reading:  # opened before the write: it sees the old record whole, or the new one whole
        recorder.pytest_sessionfinish()
        assert json.loads(reading.read())["files"] == {"tests/test_a.py": 5.0, "tests/test_b.py": 1.0}

    assert read_file_durations(path) == {"tests/test_b.py": 7.0, "tests/test_a.py": 5.0}
    assert list(path.parent.iterdir()) == [path]


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


def test_without_a_record_the_files_go_by_their_test_count() -> None:
    nodeids = ["a.py::t1", "a.py::t2", "a.py::t3", "b.py::t1", "c.py::t1", "c.py::t2"]

    order = [nodeids[i] for i in slowest_files_first(nodeids, {})]

    assert order == ["a.py::t1", "a.py::t2", "a.py::t3", "c.py::t1", "c.py::t2", "b.py::t1"]
