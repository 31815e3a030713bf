"""Helpers the bench tests share."""

from __future__ import annotations

from collections import Counter

from bench.ceiling import CeilingResult
from bench.pipeline import PipelineResult, failure_reason
from bench.stats import Span


def pipeline_result(
    bills: int,
    statuses: dict[str, int],
    span: Span = Span(first_start=100.0, last_finish=110.0),
    *,
    errors: list[str] | None = None,
) -> PipelineResult:
    """A pipeline round of ``bills`` that ended in ``statuses`` over ``span``, its FAILED jobs' ``errors`` as
    ``ingestion_jobs.error`` holds them; nothing else measured."""
    return PipelineResult(
        bills=bills,
        statuses=statuses,
        span=span,
        api_ms={},
        api_retries=0,
        e2e_ms={},
        steps_ms={},
        rows_written={},
        completions_per_second=[],
        starts_per_second=[],
        e2e_sample_ms=[],
        api_sample_ms=[],
        jobs=[],
        failure_reasons=Counter(failure_reason(error) for error in errors or []),
    )


def ceiling_result(workflows: int, completed: int, failed: int = 0) -> CeilingResult:
    """A no-op round of ``workflows`` of which ``completed`` completed and ``failed`` failed; nothing else measured."""
    return CeilingResult(
        workflows=workflows,
        completed=completed,
        failed=failed,
        span=Span(first_start=100.0, last_finish=110.0),
        start_ms={},
        latency_ms={},
        completions_per_second=[],
        steps=[],
        local_steps=[],
    )
