"""Phase 3: ``extraction.pipeline.analyze`` over the pipeline's own bills, in this process → bills/s."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from bench.stats import distribution
from eval.generate import sample_bill
from extraction.pipeline import analyze
from shared.bill import Provider
from shared.settings import ExtractorMode, Settings


@dataclass
class ExtractionResult:
    bills: int
    pages: int
    seconds: float
    decisions: dict[str, int]
    per_bill_ms: dict[str, float]

    @property
    def bps(self) -> float:
        return self.bills / self.seconds if self.seconds else 0.0

    @property
    def ms_per_page(self) -> float:
        return 1000 * self.seconds / self.pages if self.pages else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "bills": self.bills,
            "pages": self.pages,
            "seconds": round(self.seconds, 2),
            "bps": round(self.bps, 1),
            "ms_per_page": round(self.ms_per_page, 2),
            "decisions": self.decisions,
            "per_bill_ms": self.per_bill_ms,
        }


def run_extraction(jobs: Iterable[tuple[str, str, str]], *, total: int, progress: bool) -> ExtractionResult:
    """Regenerate each job's bill exactly as the mock connector does, and time ``analyze`` alone (one thread)."""
    settings = Settings(extractor=ExtractorMode.RULES)
    seconds = 0.0
    pages = 0
    timings: list[float] = []
    decisions: dict[str, int] = {}
    for job_id, provider, account_number in tqdm(jobs, total=total, desc="extraction", disable=not progress):
        hint = Provider(provider)
        data, _, _ = sample_bill(hint, seed=job_id, account_number=account_number)
        t0 = time.perf_counter()
        report = analyze(data, provider_hint=hint, settings=settings)
        elapsed = time.perf_counter() - t0
        seconds += elapsed
        timings.append(elapsed * 1000)
        pages += report.pages
        decisions[report.decision] = decisions.get(report.decision, 0) + 1
    return ExtractionResult(
        bills=len(timings), pages=pages, seconds=seconds, decisions=decisions, per_bill_ms=distribution(timings)
    )
