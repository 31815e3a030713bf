"""The committed eval set, run offline: accept precision and accept-rate thresholds.

Thresholds are on correctness, never on time: a wrong total accepted fails the build.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.run import bill_files, evaluate, main
from eval.scoring import Outcome, summarize
from shared.settings import ExtractorMode, Settings

BILLS = Path(__file__).resolve().parents[2] / "eval" / "bills"


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    settings = Settings(extractor=ExtractorMode.AUTO, gemini_api_key=None)
    return evaluate(BILLS, settings=settings)


def test_set_is_big_enough() -> None:
    assert len(list(bill_files(BILLS))) >= 60


def test_accept_precision_is_perfect(outcomes: list[Outcome]) -> None:
    summary = summarize(outcomes)
    assert summary["wrong_accepts"] == []
    assert summary["accept_precision"] == 1.0


def _accept_rate(outcomes: list[Outcome], category: str) -> float:
    mine = [o for o in outcomes if o.category == category and o.golden["decision"] == "accept"]
    assert mine
    return sum(o.decision == "accept" for o in mine) / len(mine)


def test_known_providers_mostly_accepted(outcomes: list[Outcome]) -> None:
    assert _accept_rate(outcomes, "known") >= 0.90


def test_unknown_providers_often_accepted(outcomes: list[Outcome]) -> None:
    assert _accept_rate(outcomes, "unknown") >= 0.60


def test_adversarial_cases_stopped_for_the_right_reason(outcomes: list[Outcome]) -> None:
    adversarial = [o for o in outcomes if o.category == "adversarial"]
    assert len(adversarial) >= 8
    for outcome in adversarial:
        assert outcome.decision == outcome.golden["decision"] != "accept", outcome.file
        assert set(outcome.golden["reasons"]) <= set(outcome.reasons), outcome.file


def test_found_bills_to_be_reviewed_are_reviewed_for_their_reason(outcomes: list[Outcome]) -> None:
    """Hand-written bills that broke the reader once; those no reader should store unasked (another currency, a
    budget's figures) must reach a person. The rest are scored by ``test_accept_precision_is_perfect``."""
    found = [o for o in outcomes if o.category == "found"]
    assert len(found) >= 150
    for outcome in (o for o in found if o.golden["decision"] == "review"):
        assert outcome.decision == "review", outcome.file
        assert set(outcome.golden["reasons"]) <= set(outcome.reasons), outcome.file


def test_a_field_a_golden_leaves_out_is_not_scored(outcomes: list[Outcome]) -> None:
    """A found bill's golden states its core fields alone: its customer's name is no miss of the reader's."""
    found = [o for o in outcomes if o.category == "found"]
    assert all("customer_name" not in o.golden["bill"] for o in found)
    scored = summarize(found)["field_accuracy"]
    assert scored["customer_name"] is None and scored["total_amount"] is not None


def test_cli_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subset = tmp_path / "bills"
    subset.mkdir()
    for path, golden in list(bill_files(BILLS))[:3]:
        (subset / path.name).write_bytes(path.read_bytes())
        (subset / golden.name).write_bytes(golden.read_bytes())
    out = tmp_path / "not-yet" / "out.json"  # a folder the run makes, not one it fails on at the end
    assert main([str(subset), "--json", str(out), "--extractor", "rules"]) == 0
    result = json.loads(out.read_text())
    assert len(result["bills"]) == 3
    assert {"file", "decision", "reasons", "bill", "seconds"} <= set(result["bills"][0])
    assert "accept precision" in capsys.readouterr().out


def test_cli_refuses_a_directory_without_bills(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path)])
    assert exited.value.code != 0
