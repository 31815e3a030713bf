"""The run's CPU per item by process group: where a bill costs more than a no-op workflow, against the 0.8 budget."""

from __future__ import annotations

import pytest

from bench import report
from bench.ceiling import CeilingResult
from bench.pipeline import PipelineResult
from bench.stats import Span
from tests.bench.conftest import ceiling_result, pipeline_result


def cpu(busy_pct: float, **seconds: float) -> dict[str, dict[str, float]]:
    usage = {"cpu_pct_avg": 0.0, "peak_tree_rss_mb": 100.0}
    machine = {"busy_pct": busy_pct, "outside_bench_pct": 0.5, "cores": 2.0}
    return {name: {"cpu_seconds": s, **usage} for name, s in seconds.items()} | {"machine": machine}


def measured_run() -> tuple[CeilingResult, PipelineResult]:
    """A ceiling of two rounds (10 s at 180% busy, 30 s at 190%) and a pipeline that kept the machine 168.75% busy."""
    before, after = ceiling_result(1000, 1000), ceiling_result(1000, 1000)
    before.resources = cpu(180.0, worker=40.0, temporal=50.0, bench=1.0)
    after.resources = cpu(190.0, worker=42.0, temporal=56.0, bench=1.2)
    after.span = Span(first_start=200.0, last_finish=230.0)
    before.after = after
    pipeline = pipeline_result(1000, {"SUCCEEDED": 990, "DUPLICATE": 5, "FAILED": 5})
    pipeline.resources = cpu(168.75, worker=70.0, api=2.0, temporal=60.0, postgres=3.0, emulators=5.0, bench=2.0)
    return before, pipeline


def test_each_group_per_item_pools_the_ceilings_rounds_and_counts_every_settled_bill() -> None:
    ceiling, pipeline = measured_run()
    cpu_ms = report.cpu_per_item(ceiling, pipeline)
    assert cpu_ms is not None
    assert cpu_ms["ceiling"] == {"worker": 41.0, "temporal": 53.0, "bench": 1.1}  # 2,000 no-ops over both rounds
    assert cpu_ms["pipeline"] == {
        "worker": 70.0,
        "api": 2.0,
        "temporal": 60.0,
        "postgres": 3.0,
        "emulators": 5.0,
        "bench": 2.0,
    }
    assert cpu_ms["over_the_noop"] == {
        "worker": 29.0,
        "api": 2.0,
        "temporal": 7.0,
        "postgres": 3.0,
        "emulators": 5.0,
        "bench": 0.9,
    }
    assert (cpu_ms["ceiling_total"], cpu_ms["pipeline_total"]) == (95.1, 142.0)
    assert cpu_ms["cpu_ratio"] == pytest.approx(95.1 / 142.0, abs=0.001)
    # The ceiling's rounds weighted by their length: (10 × 180 + 30 × 190) / 40 = 187.5% busy, and the pipeline
    # kept the cores 0.9 as busy: it waited a tenth of the time the ceiling worked.
    assert cpu_ms["machine_busy_pct"] == {"ceiling": 187.5, "pipeline": 168.75}
    assert cpu_ms["busy_ratio"] == 0.9
    assert cpu_ms["predicted_ratio"] == pytest.approx(0.9 * 95.1 / 142.0, abs=0.001)
    assert cpu_ms["budget_ms_per_bill"] == pytest.approx(95.1 / 0.8, abs=0.05)  # 118.9: what 0.8 allows a bill
    assert cpu_ms["over_budget_ms"] == pytest.approx(142.0 - 95.1 / 0.8, abs=0.05)


def test_the_table_lists_each_group_and_the_budget() -> None:
    ceiling, pipeline = measured_run()
    lines = report.table(_config(), ceiling, pipeline, None)
    assert "  worker             41.0      70.0   +29.0" in lines
    assert "  api                 0.0       2.0    +2.0" in lines  # no API in the ceiling
    assert "  all                95.1     142.0   +46.9" in lines
    [busy] = [i for i, line in enumerate(lines) if line.startswith("machine busy")]
    assert lines[busy] == "machine busy         188%      169% (of 200%)"
    assert lines[busy + 1].endswith("= 0.67 × 0.90 = 0.60")
    assert (
        lines[busy + 2] == "  with the machine as busy as in the ceiling, 0.8 allows 119 ms a bill: 23 ms less than now"
    )


def test_without_both_phases_there_is_nothing_to_compare() -> None:
    ceiling, pipeline = measured_run()
    assert report.cpu_per_item(None, pipeline) is None
    assert report.cpu_per_item(ceiling, None) is None
    assert report.cpu_per_item(ceiling, pipeline_result(10, {})) is None  # no bill settled: no per-bill figure
    assert not any(line.startswith("machine busy") for line in report.table(_config(), None, pipeline, None))


def _config() -> dict[str, object]:
    return {
        "run_id": "r",
        "bills": 1000,
        "clients": 32,
        "workers": 1,
        "temporal": "memory",
        "postgres": "embedded",
        "warehouse": "memory",
        "env_overrides": {},
    }
