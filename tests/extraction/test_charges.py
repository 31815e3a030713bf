"""read_line_items: which rows of the charges table are this bill's charges."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extraction.rules.extractor import extract_with_rules
from tests.extraction.test_pipeline import NO_CURRENT_CHARGES_LINE

CHARGES = [("Energy", Decimal("60.00")), ("Customer charge", Decimal("25.00"))]
"""The charge rows of ``NO_CURRENT_CHARGES_LINE``."""


def _items(text: str) -> list[tuple[str, Decimal]]:
    bill = extract_with_rules([text], provider_hint=None).bill
    assert bill is not None
    return [(item.description, item.amount) for item in bill.line_items]


@pytest.mark.parametrize(
    "label", ["Arrears", "Past Due Amount", "Amount Past Due", "Past-due charges", "Overdue balance", "Overdue amount"]
)
def test_an_unpaid_amount_among_the_charges_is_no_charge(label: str) -> None:
    """ "Arrears $50.00" among the charges was read as one: the implied current charges ($135.00) counted what
    earlier bills left unpaid as this bill's cost."""
    text = NO_CURRENT_CHARGES_LINE.replace("   Customer charge", f"   {label:<16}$50.00\n   Customer charge")
    assert _items(text) == CHARGES


@pytest.mark.parametrize(
    "label", ["Late payment charge", "Late charge on past due amount", "Interest on arrears", "Past due fee"]
)
def test_a_charge_for_paying_late_is_a_charge(label: str) -> None:
    text = NO_CURRENT_CHARGES_LINE.replace("   Customer charge", f"   {label:<32}$5.00\n   Customer charge")
    assert _items(text) == [CHARGES[0], (label, Decimal("5.00")), CHARGES[1]]


@pytest.mark.parametrize(
    "label", ["Arrears Management Program credit", "AMP arrears forgiveness credit", "Arrears Forgiveness Credit"]
)
def test_an_arrears_programme_credit_is_a_charge(label: str) -> None:
    """A credit of an arrears programme lowers this bill's charges: dropped as an unpaid amount, the items overstated
    them."""
    text = NO_CURRENT_CHARGES_LINE.replace("   Customer charge", f"   {label:<36}($25.00)\n   Customer charge")
    assert _items(text) == [CHARGES[0], (label, Decimal("-25.00")), CHARGES[1]]
