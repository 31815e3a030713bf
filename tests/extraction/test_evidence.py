"""The evidence check's search for a value a text prints (an account or meter number, a name)."""

from __future__ import annotations

import random
import re

import pytest

from extraction.evidence import Evidence, _printed_as_written

ACCOUNT_SEPARATORS = r"[\s\-./]*"
NAME_SEPARATORS = r"[\W_]*"


def spelled_by_pattern(value: str, separators: str, text: str) -> bool:
    """The rule itself, as one regular expression per value: the value's letters and digits in order, in any
    case, ``separators`` between them, and no ASCII letter or digit (in any case) right before or after."""
    chars = [re.escape(ch) for ch in value if ch.isalnum()]
    if not chars:
        return False
    pattern = r"(?<![A-Za-z0-9])" + separators.join(chars) + r"(?![A-Za-z0-9])"
    return re.search(pattern, text, re.IGNORECASE) is not None


# Letters IGNORECASE takes for ASCII ones (İ, ı, ſ, the Kelvin sign), others it does not, separators of both kinds
# and characters of neither.
ALPHABET = "aAbBkKzZsS019 -./_#,'\n\t\u2009\u00e9\u00c9\u0130\u0131\u212a\u017f\u00df\u00b2\u03c3\u03c2\u03a3"


def random_cases(seed: int, count: int) -> list[tuple[str, str]]:
    """(value, text) pairs; in about half the texts the value is printed as written, somewhere."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        value = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6)))
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30)))
        if value and rng.random() < 0.5:
            at = rng.randint(0, len(text))
            text = text[:at] + value + text[at:]
        cases.append((value, text))
    return cases


@pytest.mark.parametrize("seed", [1, 2])
def test_values_are_found_as_the_rule_finds_them(seed: int) -> None:
    """The check finds a value printed as written without compiling a pattern for it; every answer, found or not,
    is the pattern's (a value between letters IGNORECASE takes for ASCII ones, "ı1234ı", is not printed whole)."""
    found = 0
    for value, text in random_cases(seed, 2_500):
        evidence = Evidence(text)
        assert evidence.has_account(value) is spelled_by_pattern(value, ACCOUNT_SEPARATORS, text), (value, text)
        parts = [part for part in value.split(",") if any(ch.isalnum() for ch in part)]
        by_pattern = bool(parts) and all(spelled_by_pattern(part, NAME_SEPARATORS, text) for part in parts)
        assert evidence.has_words(value) is by_pattern, (value, text)
        found += by_pattern
    assert found > 300  # the cases print many of their values, not only miss them


def test_a_value_printed_as_written_is_found_without_its_pattern() -> None:
    assert _printed_as_written("1234-5678-90", ACCOUNT_SEPARATORS, "Acct 91234-5678-90, 1234-5678-90")
    assert not _printed_as_written("1234-5678-90", ACCOUNT_SEPARATORS, "Acct 1234 5678 90")  # the pattern's to say


def test_a_value_printed_inside_longer_figures_many_times_is_left_to_the_pattern() -> None:
    """A few occurrences are looked at, not thousands: each costs a step in Python, the pattern's search none."""
    text = "1" * 50 + " 1"
    assert not _printed_as_written("1", ACCOUNT_SEPARATORS, text)
    assert Evidence(text).has_account("1")


@pytest.mark.parametrize(
    ("value", "text", "printed"),
    [
        ("1234-5678-90", "Account 1234-5678-90 due", True),
        ("1234-5678-90", "Account 1234 5678 90 due", True),  # the pattern's spacing, not the value's
        ("1234-5678-90", "Account 91234-5678-90", False),
        ("1234-5678-90", "Account \u01311234-5678-90", False),  # IGNORECASE takes "ı" for "I"
        ("1234#5678", "Account 1234#5678", False),  # "#" is no separator: the pattern asks for 12345678
        ("1234#5678", "Account 12345678", True),
    ],
)
def test_an_account_printed_as_written_or_spaced_otherwise(value: str, text: str, printed: bool) -> None:
    assert Evidence(text).has_account(value) is printed


@pytest.mark.parametrize(
    ("value", "text", "printed"),
    [
        ("Jane Q. O'Brien", "Customer: Jane Q. O'Brien", True),
        ("Jane Q. O'Brien", "Customer: JANE Q OBRIEN", True),
        ("Jane Q. O'Brien", "Customer: Jane Q. O'Briend", False),
        ("O'Brien, Jane", "JANE O'BRIEN", True),  # each part printed, in any order
    ],
)
def test_a_name_printed_as_written_or_otherwise(value: str, text: str, printed: bool) -> None:
    assert Evidence(text).has_words(value) is printed
