"""The eval case of a reviewer's correction: what the pipeline must decide on the bill it corrects."""

from __future__ import annotations

from pathlib import Path

from eval.export_corrections import Correction, golden_case, write_case
from eval.run import evaluate
from eval.scoring import summarize
from extraction.rules.extractor import extract_with_rules
from shared.settings import ExtractorMode, Settings
from tests.extraction.test_pipeline import NO_CURRENT_CHARGES_LINE

DUE_IN_NINE_MONTHS = NO_CURRENT_CHARGES_LINE.replace("April 24, 2025", "December 24, 2025")
"""A true bill a reviewer may store past ``bad_due_date`` (an override): no bill failing it is accepted."""


def correction(job_id: str, text: str, overridden: tuple[str, ...]) -> Correction:
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None
    return Correction(job_id, read.bill, f"raw/bills/{job_id}/0.txt", "text/plain", overridden)


def test_a_bill_stored_by_override_is_a_case_the_pipeline_must_review(tmp_path: Path) -> None:
    """Exported as expecting an acceptance, it was a miss no pipeline may avoid ("review (golden accept)"),
    and accepting it, which must never happen, would have matched its golden decision."""
    write_case(tmp_path, golden_case(correction("a", NO_CURRENT_CHARGES_LINE, ()), NO_CURRENT_CHARGES_LINE.encode()))
    overridden = correction("b", DUE_IN_NINE_MONTHS, ("bad_due_date",))
    write_case(tmp_path, golden_case(overridden, DUE_IN_NINE_MONTHS.encode()))
    outcomes = evaluate(tmp_path, settings=Settings(extractor=ExtractorMode.RULES, gemini_api_key=None))
    assert [(o.file, o.decision, o.golden["decision"]) for o in outcomes] == [
        ("review_a.txt", "accept", "accept"),
        ("review_b.txt", "review", "review"),
    ]
    assert outcomes[1].golden["reasons"] == ["bad_due_date"] and outcomes[1].category == "adversarial"
    assert summarize(outcomes)["decision_agreement"] == 1.0
