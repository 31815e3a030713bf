"""What a run prints (table, ratios, the one summary line) and keeps (JSON, PNG)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.ceiling import CeilingResult
from bench.extraction_alone import ExtractionResult
from bench.pipeline import PipelineResult

TARGETS = {
    "pipeline_vs_ceiling": 0.8,
    "api_p99_ms": 50.0,
    "worker_rss_mb": 400.0,
    "extraction_ms_per_page": 50.0,
}


def ratios(
    ceiling: CeilingResult | None, pipeline: PipelineResult | None, extraction: ExtractionResult | None
) -> dict[str, float | None]:
    return {
        "pipeline_vs_ceiling": (
            round(pipeline.bps / ceiling.reference_wps, 3) if pipeline and ceiling and ceiling.reference_wps else None
        ),
        "pipeline_vs_extraction": (
            round(pipeline.bps / extraction.bps, 3) if pipeline and extraction and extraction.bps else None
        ),
    }


@dataclass(frozen=True)
class CpuPerItem:
    """CPU milliseconds each process group spent per no-op workflow and per ingested bill, and how busy our
    processes kept the machine in each phase.

    A phase's rate is the CPU it keeps busy over its CPU per item, so pipeline ÷ ceiling splits, by bookkeeping
    alone, into ``work`` (the no-op's CPU per workflow ÷ the pipeline's per bill: what a bill adds to the no-op's
    steps) times ``busy`` (our CPU per second in the pipeline ÷ in the ceiling: below 1, the pipeline left cores
    idle, waiting). The two call for different changes. The split holds to within the sampling windows (a phase's
    span is a little shorter) and the ceiling's mean of two rates (its CPU is pooled over both rounds)."""

    ceiling: dict[str, float]
    pipeline: dict[str, float]
    ceiling_busy_pct: float
    pipeline_busy_pct: float

    @property
    def ceiling_total(self) -> float:
        return sum(self.ceiling.values())

    @property
    def pipeline_total(self) -> float:
        return sum(self.pipeline.values())

    @property
    def more(self) -> dict[str, float]:
        """Per group, what a bill costs over a no-op workflow."""
        groups = dict.fromkeys([*self.pipeline, *self.ceiling])
        return {g: self.pipeline.get(g, 0.0) - self.ceiling.get(g, 0.0) for g in groups}

    @property
    def work(self) -> float:
        return self.ceiling_total / self.pipeline_total

    @property
    def busy(self) -> float:
        return self.pipeline_busy_pct / self.ceiling_busy_pct

    @property
    def budget_ms(self) -> float:
        """What a bill may cost for the target, with our processes as busy as in the ceiling."""
        return self.ceiling_total / TARGETS["pipeline_vs_ceiling"]

    def as_json(self) -> dict[str, Any]:
        return {
            "ceiling": self.ceiling,
            "pipeline": self.pipeline,
            "more": {g: round(ms, 1) for g, ms in self.more.items()},
            "ceiling_total": round(self.ceiling_total, 1),
            "pipeline_total": round(self.pipeline_total, 1),
            "ceiling_busy_pct": self.ceiling_busy_pct,
            "pipeline_busy_pct": self.pipeline_busy_pct,
            "work_ratio": round(self.work, 3),
            "busy_ratio": round(self.busy, 3),
            "budget_ms_per_bill": round(self.budget_ms, 1),
        }


def cpu_per_item(ceiling: CeilingResult | None, pipeline: PipelineResult | None) -> CpuPerItem | None:
    """The run's :class:`CpuPerItem`: None without both phases, or with nothing done or nothing sampled in one."""
    if ceiling is None or pipeline is None:
        return None
    rounds = [r.resources for r in (ceiling, ceiling.after) if r is not None]
    noop = _per_item(rounds, ceiling.completed + (ceiling.after.completed if ceiling.after else 0))
    bill = _per_item([pipeline.resources], pipeline.ok)
    ceiling_busy, pipeline_busy = _our_busy_pct(rounds), _our_busy_pct([pipeline.resources])
    if not sum(noop.values()) or not sum(bill.values()) or not ceiling_busy or not pipeline_busy:
        return None
    return CpuPerItem(ceiling=noop, pipeline=bill, ceiling_busy_pct=ceiling_busy, pipeline_busy_pct=pipeline_busy)


def _per_item(resources: list[dict[str, dict[str, float]]], items: int) -> dict[str, float]:
    """Each process group's CPU seconds over ``items``, in ms (``machine`` is no group)."""
    seconds: dict[str, float] = {}
    for groups in resources:
        for name, usage in _groups(groups):
            seconds[name] = seconds.get(name, 0.0) + usage["cpu_seconds"]
    return {name: round(1000 * s / items, 1) for name, s in seconds.items()} if items else {}


def _our_busy_pct(resources: list[dict[str, dict[str, float]]]) -> float | None:
    """Our processes' CPU per second of the windows sampled, in % (200% = two cores): others' load left out."""
    window = sum(groups.get("machine", {}).get("seconds", 0.0) for groups in resources)
    ours = sum(usage["cpu_seconds"] for groups in resources for _, usage in _groups(groups))
    return round(100 * ours / window, 1) if window else None


def _groups(resources: dict[str, dict[str, float]]) -> list[tuple[str, dict[str, float]]]:
    return [(name, usage) for name, usage in resources.items() if name != "machine" and "cpu_seconds" in usage]


def _cpu_lines(cpu: CpuPerItem, measured: float | None) -> list[str]:
    """The CPU table, the ratio's split, and the target's budget a bill (see :class:`CpuPerItem`)."""
    lines = ["", f"{'CPU ms per item':<16}{'ceiling':>9}{'pipeline':>10}{'more':>8}"]
    for group, more in cpu.more.items():
        lines.append(
            f"{'  ' + group:<16}{cpu.ceiling.get(group, 0.0):>9.1f}{cpu.pipeline.get(group, 0.0):>10.1f}{more:>+8.1f}"
        )
    total_more = cpu.pipeline_total - cpu.ceiling_total
    lines += [
        f"{'  all':<16}{cpu.ceiling_total:>9.1f}{cpu.pipeline_total:>10.1f}{total_more:>+8.1f}",
        f"{'ours busy':<16}{cpu.ceiling_busy_pct:>8.0f}%{cpu.pipeline_busy_pct:>9.0f}%",
        f"pipeline ÷ ceiling {_fmt(measured, 2)} ≈ work {cpu.work:.2f} (CPU per no-op workflow ÷ per bill)"
        f" × busy {cpu.busy:.2f} (ours busy, pipeline ÷ ceiling) = {cpu.work * cpu.busy:.2f}",
        f"  a bill costs {cpu.pipeline_total:.0f} ms; {TARGETS['pipeline_vs_ceiling']} allows"
        f" {cpu.budget_ms:.0f} with ours as busy as in the ceiling",
    ]
    return lines


def _fmt(value: float | None, digits: int = 1) -> str:
    return "na" if value is None else f"{value:.{digits}f}"


def summary_line(
    bills: int, ceiling: CeilingResult | None, pipeline: PipelineResult | None, extraction: ExtractionResult | None
) -> str:
    """The run's one-line result, always the last line printed (parsed by scripts and the smoke test).

    ``pipeline_bps`` counts the ``ok`` bills (SUCCEEDED or DUPLICATE) only; ``failed`` is the FAILED ones."""
    worker = pipeline.resources.get("worker", {}) if pipeline else {}
    return (
        f"bench: bills={bills}"
        f" pipeline_bps={_fmt(pipeline.bps if pipeline else None)}"
        f" ceiling_wps={_fmt(ceiling.reference_wps if ceiling else None)}"
        f" ratio={_fmt(ratios(ceiling, pipeline, extraction)['pipeline_vs_ceiling'], 2)}"
        f" api_p99_ms={_fmt(pipeline.api_ms.get('p99') if pipeline else None, 0)}"
        f" rss_mb={_fmt(worker.get('peak_tree_rss_mb'), 0)}"
        f" ok={pipeline.ok if pipeline else 'na'}"
        f" failed={pipeline.failed if pipeline else 'na'}"
    )


def table(
    config: dict[str, Any],
    ceiling: CeilingResult | None,
    pipeline: PipelineResult | None,
    extraction: ExtractionResult | None,
) -> list[str]:
    lines = [
        f"bench {config['run_id']}: {config['bills']} bills, {config['clients']} clients, "
        f"{config['workers']} worker process(es), temporal {config['temporal']}, postgres {config['postgres']}, "
        f"warehouse {config['warehouse']}, env {config['env_overrides']}",
        "",
        f"{'phase':<12}{'items':>8}{'done':>8}{'seconds':>9}{'rate/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}",
    ]
    if ceiling:
        lines.append(_ceiling_row("ceiling", ceiling))
    if pipeline:
        e = pipeline.e2e_ms
        lines.append(
            f"{'pipeline':<12}{pipeline.bills:>8}{pipeline.ok:>8}{pipeline.span.seconds:>9.1f}"
            f"{pipeline.bps:>9.1f}{e.get('p50', 0):>9.0f}{e.get('p95', 0):>9.0f}{e.get('p99', 0):>9.0f}"
        )
        for label, a in (
            ("  API POST", pipeline.api_ms),
            ("  after 1st", pipeline.api_after_first_wave_ms),
            ("  with jobs", pipeline.api_with_jobs_ms),
        ):
            quantiles = (
                f"{a['p50']:>9.1f}{a['p95']:>9.1f}{a['p99']:>9.1f}" if a.get("n") else f"{'–':>9}{'–':>9}{'–':>9}"
            )
            lines.append(f"{label:<12}{a.get('n', 0):>8}{'':>8}{'':>9}{'':>9}{quantiles}")
    if extraction:
        x = extraction.per_bill_ms
        lines.append(
            f"{'extraction':<12}{extraction.bills:>8}{extraction.bills:>8}{extraction.seconds:>9.1f}"
            f"{extraction.bps:>9.1f}{x.get('p50', 0):>9.1f}{x.get('p95', 0):>9.1f}{x.get('p99', 0):>9.1f}"
            f"   ({extraction.ms_per_page:.1f} ms/page, {extraction.pages} pages, {extraction.decisions})"
        )
    if ceiling and ceiling.after:
        lines.append(_ceiling_row("ceiling", ceiling.after) + "   (again, after the pipeline)")
    if ceiling:
        lines += ["", "ceiling: " + _resources(ceiling.resources)]
    if pipeline:
        lines += [
            "API POST after 1st: without each client's first start (the clients send those together as the run"
            " begins; each waits for all of them)",
            "API POST with jobs: the starts answered once the first dispatch round had begun, beside the rounds and the"
            " workflows they started (the first round waits for the burst to pause: at 1,000 bills few or none are)"
            + _first_round(pipeline.first_dispatch_s),
            "pipeline: " + _resources(pipeline.resources),
            f"while the clients started jobs (first {len(pipeline.starts_per_second)} s), CPU %: "
            + ", ".join(f"{k} {v:.0f}" for k, v in pipeline.cpu_while_starting.items()),
            f"statuses: {pipeline.statuses} ({pipeline.ok} ingested, the only ones bills/s counts);"
            f" API retries (429/5xx): {pipeline.api_retries}",
            "rows written: " + ", ".join(f"{k} {v}" for k, v in pipeline.rows_written.items()),
            "steps (p50/p95 ms, schedule→result): "
            + ", ".join(f"{k} {v['p50']:.0f}/{v['p95']:.0f}" for k, v in pipeline.steps_ms.items()),
        ]
    if ceiling and ceiling.after:
        lines.append("ceiling after the pipeline: " + _resources(ceiling.after.resources))
    r = ratios(ceiling, pipeline, extraction)
    cpu = cpu_per_item(ceiling, pipeline)
    if cpu is not None:
        lines += _cpu_lines(cpu, r["pipeline_vs_ceiling"])
    ceiling_note = (
        f" (ceiling {ceiling.reference_wps:.1f}/s: mean of before and after)" if ceiling and ceiling.after else ""
    )
    lines += [
        "",
        f"pipeline ÷ ceiling = {_fmt(r['pipeline_vs_ceiling'], 2)}{ceiling_note}"
        f" (target ≥ {TARGETS['pipeline_vs_ceiling']}); "
        f"pipeline ÷ extraction alone = {_fmt(r['pipeline_vs_extraction'], 2)}",
    ]
    return lines


def _first_round(seconds: float | None) -> str:
    return "; no job was dispatched" if seconds is None else f"; the first round began {seconds:.2f} s into the starts"


def _ceiling_row(name: str, ceiling: CeilingResult) -> str:
    c = ceiling.latency_ms
    return (
        f"{name:<12}{ceiling.workflows:>8}{ceiling.completed:>8}{ceiling.span.seconds:>9.1f}"
        f"{ceiling.wps:>9.1f}{c.get('p50', 0):>9.0f}{c.get('p95', 0):>9.0f}{c.get('p99', 0):>9.0f}"
    )


def _resources(resources: dict[str, dict[str, float]]) -> str:
    groups = [f"{k} {_usage(v)}" for k, v in resources.items() if k != "machine"]
    machine = resources.get("machine")
    if machine:
        groups.append(f"machine busy {machine['busy_pct']:.0f}% ({machine['outside_bench_pct']:.0f}% not ours)")
    return ", ".join(groups)


def _usage(v: dict[str, float]) -> str:
    rss = f"{v['peak_tree_rss_mb']:.0f} MB"
    if v.get("peak_root_rss_mb") and v["peak_root_rss_mb"] < v["peak_tree_rss_mb"] - 1:
        rss += f" ({v['peak_root_rss_mb']:.0f} MB without children)"
    if "peak_tree_pss_mb" in v:  # the pages children share with their parent counted once
        rss += f", PSS {v['peak_tree_pss_mb']:.0f} MB"
    interpreter = v.get("interpreter_pct_per_process")
    # A Python process's own threads share one GIL: near 100% its interpreter, not the machine, is what is full.
    gil = f" (interpreter {interpreter:.0f}% of a core per process)" if interpreter is not None else ""
    return f"{v['cpu_pct_avg']:.0f}% CPU{gil} / {rss}"


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")


def plot(path: Path, ceiling: CeilingResult | None, pipeline: PipelineResult | None, title: str) -> None:
    """Throughput over time (both phases), worker/server CPU, and latency distributions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 2, figsize=(13, 11))
    ax = axes[0][0]
    if ceiling:
        ax.plot(_smooth(ceiling.completions_per_second), label="ceiling completions/s (5 s avg)")
    if ceiling and ceiling.after:
        after = _smooth(ceiling.after.completions_per_second)
        ax.plot(after, label="ceiling after the pipeline", color="tab:blue", linestyle="--")
    if pipeline:
        ax.plot(_smooth(pipeline.completions_per_second), label="pipeline completions/s (5 s avg)")
        ax.plot(_smooth(pipeline.starts_per_second), label="pipeline POSTs/s (5 s avg)", alpha=0.5)
    ax.set(title="throughput over time", xlabel="seconds since first start", ylabel="per second")
    ax.legend()
    ax = axes[0][1]
    if pipeline:
        for name, series in pipeline.resource_series.items():
            if series:
                ax.plot([s[0] for s in series], [s[1] for s in series], label=f"{name} CPU %")
    ax.set(title="pipeline CPU by process group (200% = both cores)", xlabel="seconds", ylabel="CPU %")
    ax.legend(fontsize="small")
    ax = axes[1][0]
    if pipeline and pipeline.e2e_sample_ms:
        ax.hist([v / 1000 for v in pipeline.e2e_sample_ms], bins=60, alpha=0.7, label="pipeline POST→done")
    if ceiling and ceiling.latency_sample_ms:
        ax.hist([v / 1000 for v in ceiling.latency_sample_ms], bins=60, alpha=0.7, label="ceiling start→close")
    ax.set(title="end-to-end latency", xlabel="seconds", ylabel="workflows")
    ax.legend()
    ax = axes[1][1]
    if pipeline and pipeline.api_sample_ms:
        ax.hist(pipeline.api_sample_ms, bins=60, color="tab:green")
    ax.set(title="API POST /jobs latency", xlabel="ms", ylabel="requests")
    for bottom in axes[2]:
        bottom.remove()
    ax = fig.add_subplot(3, 1, 3)
    if pipeline:
        for name, minutes in pipeline.memory_per_minute().items():
            line = ax.plot(
                [m[0] for m in minutes], [m[1] for m in minutes], label=f"{name} RSS", marker="o", markersize=3
            )[0]
            ax.plot(
                [m[0] for m in minutes],
                [m[2] for m in minutes],
                label=f"{name} RSS without children",
                color=line.get_color(),
                linestyle="--",
                marker="o",
                markersize=3,
            )
    ax.set(title="pipeline memory (peak per minute)", xlabel="minutes", ylabel="MB")
    ax.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _smooth(values: list[int], window: int = 5) -> list[float]:
    out: list[float] = []
    total = 0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
