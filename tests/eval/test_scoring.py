"""Accept precision: an accepted bill counts as right only when every core field equals the golden bill's."""

from __future__ import annotations

from typing import Any

import pytest

from eval.generate import sample_bill
from eval.scoring import Outcome, summarize
from shared.bill import Provider


def _accepted(bill: dict[str, Any], golden: dict[str, Any], *, golden_decision: str = "accept") -> Outcome:
    return Outcome(
        file="bill.pdf",
        decision="accept",
        reasons=[],
        bill=bill,
        seconds=0.1,
        pages=1,
        golden={"decision": golden_decision, "bill": golden},
    )


@pytest.mark.parametrize(
    ("field", "wrong"),
    [("current_charges", "1434.50"), ("currency", "CAD"), ("statement_date", "2020-01-01"), ("provider", "duke")],
)
def test_an_accepted_bill_wrong_only_in_a_published_field_is_a_wrong_accept(field: str, wrong: str) -> None:
    """Analytics reports current charges as the bill's cost, in the bill's currency, and publishes its statement
    date and provider: any of them wrong is a wrong figure in the dashboards."""
    _, _, bill = sample_bill(Provider.PGE, seed="scoring")
    golden = bill.model_dump(mode="json")
    assert golden[field] not in (None, wrong)
    assert summarize([_accepted(golden, golden)])["wrong_accepts"] == []
    summary = summarize([_accepted({**golden, field: wrong}, golden)])
    assert (summary["wrong_accepts"], summary["accept_precision"]) == (["bill.pdf"], 0.0)


def test_an_unknown_providers_published_name_is_scored() -> None:
    """Analytics publishes an unknown provider's printed name as the provider: a wrong one was a wrong accept
    counted as right."""
    _, _, bill = sample_bill(None, seed="scoring")
    golden = bill.model_dump(mode="json")
    assert golden["provider"] is None and golden["provider_name"]
    assert summarize([_accepted(golden, golden)])["wrong_accepts"] == []
    summary = summarize([_accepted({**golden, "provider_name": "Another Utility"}, golden)])
    assert (summary["wrong_accepts"], summary["accept_precision"]) == (["bill.pdf"], 0.0)


def test_another_meters_number_is_a_wrong_accept() -> None:
    """Analytics publishes each reading's meter: the gas reading accepted under the electric meter's number was
    counted as right (the usage compared by commodity, quantity and unit alone)."""
    _, _, bill = sample_bill(Provider.PGE, seed="scoring")
    golden = bill.model_dump(mode="json")
    reading = golden["usage"][0]
    assert reading["meter_number"]
    other = {**golden, "usage": [{**reading, "meter_number": "99999999"}, *golden["usage"][1:]]}
    assert summarize([_accepted(golden, golden)])["wrong_accepts"] == []
    summary = summarize([_accepted(other, golden)])
    assert (summary["wrong_accepts"], summary["accept_precision"]) == (["bill.pdf"], 0.0)


def test_accepting_a_bill_that_must_go_to_review_is_a_wrong_accept_however_well_read() -> None:
    """A bill whose charges do not add up is golden "review": accepted as printed, its fields all equal the golden
    bill's, and it counted as a right accept (precision 100%) when the check that stops it broke."""
    _, _, bill = sample_bill(Provider.PGE, seed="scoring")
    printed = bill.model_dump(mode="json")
    summary = summarize([_accepted(printed, printed, golden_decision="review")])
    assert (summary["wrong_accepts"], summary["accept_precision"]) == (["bill.pdf"], 0.0)
