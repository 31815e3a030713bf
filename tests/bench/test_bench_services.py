"""Which Postgres and Temporal a bench writes to: said before it seeds anything, and in its table's first line."""

from __future__ import annotations

import pytest

from bench import report
from bench.harness import where_it_runs
from bench.run import config_of, parse_args
from shared.settings import Settings
from stack.local import CO_LOCATED_BATCH_NICE


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

    header = report.table(config_of(parse_args([]), "run-1", None), None, None, None)[0]

    assert "temporal memory, postgres external, warehouse memory," in header, header


def test_the_results_say_the_niceness_the_worker_ran_at(monkeypatch: pytest.MonkeyPatch) -> None:
    """A WORKER_NICE exported in the shell reaches the bench's workers as make run's does (``--env`` wins over it);
    the JSON said 10 whatever the shell had. A dev server the bench did not start has no niceness of ours."""
    monkeypatch.setenv("WORKER_NICE", "0")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")

    exported = config_of(parse_args([]), "run-1", Settings())["worker_settings"]
    overridden = config_of(parse_args(["--env", "WORKER_NICE=5"]), "run-1", Settings())["worker_settings"]

    assert (exported["worker_nice"], overridden["worker_nice"]) == (0, 5)
    assert exported["dev_server_nice"] is None
    monkeypatch.delenv("WORKER_NICE")
    monkeypatch.delenv("TEMPORAL_ADDRESS")
    assert config_of(parse_args([]), "run-1", Settings())["worker_settings"]["worker_nice"] == CO_LOCATED_BATCH_NICE
