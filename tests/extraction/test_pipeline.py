"""decide() and analyze(): the accept/review/reject contract."""

from __future__ import annotations

from eval.generate import sample_bill
from extraction.engine import Extraction
from extraction.pipeline import analyze, decide
from shared.bill import Provider
from shared.settings import Settings


def _extraction(reasons: list[str], *, with_bill: bool = True) -> Extraction:
    _, _, bill = sample_bill(Provider.PGE, seed=1)
    return Extraction(bill=bill if with_bill else None, reasons=reasons, extractor="rules:pge", pages=1)


def test_accept_only_without_any_reason() -> None:
    assert decide(_extraction([]), []) == ("accept", [])
    assert decide(_extraction(["conflicting_values:total_amount"]), []) == (
        "review",
        ["conflicting_values:total_amount"],
    )
    assert decide(_extraction([]), ["sum_mismatch", "sum_mismatch"]) == ("review", ["sum_mismatch"])


def test_no_bill_is_reviewed_and_unreadable_is_rejected() -> None:
    assert decide(_extraction(["not_a_bill"], with_bill=False), []) == ("review", ["not_a_bill"])
    assert decide(_extraction(["corrupt_file"], with_bill=False), []) == (
        "reject",
        ["corrupt_file"],
    )
    assert decide(_extraction([], with_bill=False), [])[0] == "review"


def test_analyze_accepts_a_sample(offline_settings: Settings) -> None:
    data, _, expected = sample_bill(Provider.CONED, seed="pipeline")
    report = analyze(data, provider_hint=Provider.CONED, settings=offline_settings)
    assert (report.decision, report.reasons, report.extractor) == ("accept", [], "rules:coned")
    assert report.bill is not None and report.bill.total_amount == expected.total_amount
    assert report.seconds > 0 and report.pages >= 1


def test_analyze_rejects_unreadable(offline_settings: Settings) -> None:
    report = analyze(b"", provider_hint=None, settings=offline_settings)
    assert (report.decision, report.reasons, report.bill) == ("reject", ["empty_file"], None)
