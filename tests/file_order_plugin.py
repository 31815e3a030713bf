"""Under xdist, the test files recorded slowest run first (``tests/durations.json``); ``--store-durations`` records
them. Light on purpose (json, os, pytest): a run that only checks the order loads this, not ``tests.conftest``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

DURATIONS_FILE = "tests/durations.json"
"""Seconds per test file (from ``pytest --store-durations``), relative to the rootdir: xdist runs the slowest first."""
SECONDS_PER_UNKNOWN_TEST = 0.5
"""A file with no recorded time is estimated at this per test, above the suite's mean (2,875 tests, 2 x ~520 s:
~0.36 s), so a new file starts early rather than ends the run on one worker alone."""
WORKER_INPUT_KEY = "file_durations"
DURATIONS = pytest.StashKey[dict[str, float]]()


def read_file_durations(path: Path) -> dict[str, float]:
    """The recorded seconds per file; empty when the file is missing or unreadable (the order then falls back to
    the test counts, as xdist's own)."""
    try:
        files = json.loads(path.read_text())["files"]
        return {str(name): float(seconds) for name, seconds in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write_file_durations(path: Path, seconds: dict[str, float], *, source: str) -> None:
    """Written aside and moved in place: a reader (a worker of another run, an editor) never sees it half written."""
    files = {name: round(s, 1) for name, s in sorted(seconds.items(), key=lambda kv: -kv[1])}
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        aside.write_text(json.dumps({"source": source, "files": files}, indent=1) + "\n")
        os.replace(aside, path)
    finally:
        aside.unlink(missing_ok=True)


def slowest_files_first(nodeids: list[str], durations: dict[str, float]) -> list[int]:
    """Indexes of ``nodeids`` reordered so that the files expected to take longest come first, each file's tests
    kept together and in order. Under ``--dist loadfile`` the suite's end is the last file to finish: one long file
    handed out last ran alone on one worker while the other sat idle."""
    counts: dict[str, int] = {}
    for nodeid in nodeids:
        counts[nodeid.split("::")[0]] = counts.get(nodeid.split("::")[0], 0) + 1
    first_seen = {name: i for i, name in enumerate(counts)}

    def expected(index: int) -> tuple[float, int]:
        name = nodeids[index].split("::")[0]
        return -durations.get(name, counts[name] * SECONDS_PER_UNKNOWN_TEST), first_seen[name]

    return sorted(range(len(nodeids)), key=expected)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-durations",
        action="store_true",
        help=f"record the seconds of each test file run in {DURATIONS_FILE}, which orders the files under xdist",
    )


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    # Read once, here: xdist aborts a run whose workers collected different lists, order included, and a file
    # read by each worker on its own can change between their reads (a --store-durations run ending, a checkout).
    config.stash[DURATIONS] = read_file_durations(config.rootpath / DURATIONS_FILE)
    if config.getoption("store_durations", False):
        config.pluginmanager.register(FileDurations(config.rootpath / DURATIONS_FILE), "minimeter-file-durations")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist's controller, before it starts each worker: the durations it read go to every worker alike."""
    node.workerinput[WORKER_INPUT_KEY] = node.config.stash[DURATIONS]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the files recorded slowest first (the Makefile turns xdist's own reordering by test count
    off): that put the 40-second one-test files last, each running alone at the end of the suite. A file not
    recorded is estimated from its test count."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return  # one process: the order does not change how long it takes
    order = slowest_files_first([item.nodeid for item in items], workerinput.get(WORKER_INPUT_KEY, {}))
    items[:] = [items[i] for i in order]


class FileDurations:
    """``--store-durations``: the seconds of each file's setups, calls and teardowns, summed in the controller."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = report.nodeid.split("::")[0]
        self.seconds[name] = self.seconds.get(name, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        """Merged into what is recorded: a run of some files leaves the others' seconds as they were."""
        write_file_durations(
            self.path,
            {**read_file_durations(self.path), **self.seconds},
            source="pytest --store-durations: setup + call + teardown per file (a worker's first file pays startup)",
        )
