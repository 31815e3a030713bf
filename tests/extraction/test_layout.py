"""Wordings: the fast label search must find exactly what ``(?<!\\w)wording(?!\\w)`` with IGNORECASE finds."""

from __future__ import annotations

import re

import pytest

from extraction.rules.layout import Wordings, fold
from extraction.rules.vocabulary import GENERIC

WORDINGS = (r"amount\s+due", r"total\s+amount\s+due", r"account\s*#", r"payments?", r"acct\.?\s*(?:no\.?|#)")
TEXTS = (
    "Total Amount Due   $12.00   Amount due: 3",
    "PREVIOUS AMOUNT DUE  x  amount dueX  xamount due",
    "account #  Account#12  subaccount # acct.no 5 ACCT #",
    "Payments  payment  prepayments  PaymentsReceived  payments-thank you",
    "amount due" * 3,
    "",
    "İstanbul amount due  K account #",  # lower() changes İ's length; positions must still hold
)


def _reference(wordings: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(rf"(?:(?<![\w]){w}(?![\w]))" for w in wordings), re.IGNORECASE)


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("wordings", [WORDINGS, WORDINGS[:1], WORDINGS[3:4]])
def test_same_matches_as_the_look_behind_pattern(wordings: tuple[str, ...], text: str) -> None:
    found = [m.span() for m in Wordings.of(*wordings).finditer(fold(text))]
    assert found == [m.span() for m in _reference(wordings).finditer(text)]


@pytest.mark.parametrize("text", TEXTS)
def test_search_from_a_position_sees_the_character_before_it(text: str) -> None:
    wordings, reference = Wordings.of(*WORDINGS), _reference(WORDINGS)
    for pos in range(len(text) + 1):
        match, expected = wordings.search(fold(text), pos), reference.search(text, pos)
        assert (match.span() if match else None) == (expected.span() if expected else None)


def test_the_generic_vocabulary_compiles() -> None:
    for labels in GENERIC.values():
        assert labels.any_wording.search(fold("nothing here")) is None


def test_upper_case_wordings_are_refused() -> None:
    with pytest.raises(ValueError, match="lower case"):
        Wordings.of(r"Amount\s+Due")
    Wordings.of(r"\S+\s*\W")  # escapes are not letters


def test_fold_keeps_positions() -> None:
    for text in TEXTS:
        assert len(fold(text)) == len(text)
