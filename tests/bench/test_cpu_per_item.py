"""The run's CPU per item by process group: where a bill costs more than a no-op workflow, and how the ratio
splits into the work a bill adds and the time the pipeline kept the machine busy."""

from __future__ import annotations

import pytest

from bench import report
from bench.ceiling import CeilingResult
from bench.pipeline import PipelineResult
from tests.bench.conftest import ceiling_result, pipeline_result


def sampled(window: float, **cpu_seconds: float) -> dict[str, dict[str, float]]:
    """A phase's resources as the sampler sums them up: each group's CPU seconds over a ``window`` of seconds."""
    usage = {"cpu_pct_avg": 0.0, "peak_tree_rss_mb": 100.0}
    machine = {"busy_pct": 199.0, "outside_bench_pct": 9.0, "cores": 2.0, "seconds": window}
    return {name: {"cpu_seconds": s, **usage} for name, s in cpu_seconds.items()} | {"machine": machine}


def measured_run() -> tuple[CeilingResult, PipelineResult]:
    """Two no-op rounds of 50 s, ours 91 and 99.2 s of CPU (190.2% busy together), and a pipeline that ingested
    800 bills (200 FAILED) with 113.6 s of CPU over 64 s (177.5% busy)."""
    before, after = ceiling_result(1000, 1000), ceiling_result(1000, 1000)
    before.resources = sampled(50.0, worker=40.0, temporal=50.0, bench=1.0)
    after.resources = sampled(50.0, worker=42.0, temporal=56.0, bench=1.2)
    before.after = after
    pipeline = pipeline_result(1000, {"SUCCEEDED": 790, "DUPLICATE": 10, "FAILED": 200})
    pipeline.resources = sampled(64.0, worker=56.0, api=1.6, temporal=48.0, postgres=2.4, emulators=4.0, bench=1.6)
    return before, pipeline


def test_cpu_per_no_op_of_both_rounds_and_per_ingested_bill_and_our_busy_share() -> None:
    ceiling, pipeline = measured_run()
    cpu = report.cpu_per_item(ceiling, pipeline)
    assert cpu is not None
    assert cpu.ceiling == {"worker": 41.0, "temporal": 53.0, "bench": 1.1}  # 2,000 no-ops over both rounds
    # Per bill that got through: the CPU the FAILED ones took is what the ingested ones cost.
    assert cpu.pipeline == {
        "worker": 70.0,
        "api": 2.0,
        "temporal": 60.0,
        "postgres": 3.0,
        "emulators": 5.0,
        "bench": 2.0,
    }
    assert cpu.more == pytest.approx(
        {"worker": 29.0, "api": 2.0, "temporal": 7.0, "postgres": 3.0, "emulators": 5.0, "bench": 0.9}
    )
    # Our CPU per second of the windows: the machine's 199% (others' 9% in it) is not what the phases did.
    assert (cpu.ceiling_busy_pct, cpu.pipeline_busy_pct) == (190.2, 177.5)
    assert cpu.work == pytest.approx(95.1 / 142.0)
    assert cpu.busy == pytest.approx(177.5 / 190.2)
    assert cpu.budget_ms == pytest.approx(95.1 / 0.8)
    figures = {k: v for k, v in cpu.as_json().items() if k not in ("ceiling", "pipeline", "more")}
    assert figures == {
        "ceiling_total": 95.1,
        "pipeline_total": 142.0,
        "ceiling_busy_pct": 190.2,
        "pipeline_busy_pct": 177.5,
        "work_ratio": 0.67,
        "busy_ratio": 0.933,
        "budget_ms_per_bill": 118.9,
    }


def test_a_ceiling_measured_once_counts_its_one_round() -> None:
    """``--ceiling-once``: no round after the pipeline to pool."""
    ceiling, pipeline = measured_run()
    ceiling.after = None
    cpu = report.cpu_per_item(ceiling, pipeline)
    assert cpu is not None
    assert cpu.ceiling == {"worker": 40.0, "temporal": 50.0, "bench": 1.0}
    assert cpu.ceiling_busy_pct == 182.0  # 91 s of CPU over 50 s


def test_the_table_lists_each_group_the_ratios_split_and_the_budget() -> None:
    ceiling, pipeline = measured_run()
    lines = report.table(CONFIG, ceiling, pipeline, None)
    at = lines.index(f"{'CPU ms per item':<16}{'ceiling':>9}{'pipeline':>10}{'more':>8}")
    assert lines[at + 1 : at + 12] == [
        "  worker             41.0      70.0   +29.0",
        "  api                 0.0       2.0    +2.0",  # no API in the ceiling
        "  temporal           53.0      60.0    +7.0",
        "  postgres            0.0       3.0    +3.0",
        "  emulators           0.0       5.0    +5.0",
        "  bench               1.1       2.0    +0.9",
        "  all                95.1     142.0   +46.9",
        "ours busy            190%      178%",
        "pipeline ÷ ceiling 0.80 ≈ work 0.67 (CPU per no-op workflow ÷ per bill) × busy 0.93 (ours busy,"
        " pipeline ÷ ceiling) = 0.62",
        "  a bill costs 142 ms; 0.8 allows 119 with ours as busy as in the ceiling",
        "",
    ]


def test_without_both_phases_or_with_nothing_done_there_is_nothing_to_split() -> None:
    ceiling, pipeline = measured_run()
    assert report.cpu_per_item(None, pipeline) is None
    assert report.cpu_per_item(ceiling, None) is None
    assert report.cpu_per_item(ceiling, pipeline_result(10, {"FAILED": 10})) is None  # no bill got through
    unsampled = pipeline_result(10, {"SUCCEEDED": 10})
    unsampled.resources = sampled(0.0, worker=0.0)
    assert report.cpu_per_item(ceiling, unsampled) is None  # no CPU, no window: no division by zero
    assert not any(line.startswith("ours busy") for line in report.table(CONFIG, None, pipeline, None))


CONFIG = {
    "run_id": "r",
    "bills": 1000,
    "clients": 32,
    "workers": 1,
    "temporal": "memory",
    "postgres": "embedded",
    "warehouse": "memory",
    "env_overrides": {},
}
