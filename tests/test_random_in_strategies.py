"""Hypothesis warns when a strategy uses the global ``random``: the suite filters that warning nowhere, so a real
misuse shows. (tests/security/test_schemathesis.py gives the GCS client, whose threads drew from the global state
while its fuzz drew cases, a ``random.Random`` of its own instead.)"""

from __future__ import annotations

import random
import warnings

import hypothesis
from hypothesis import strategies as st
from hypothesis.errors import HypothesisDeprecationWarning


def uses_random(value: int) -> int:
    random.random()
    return value


def test_a_strategy_using_the_global_random_still_warns() -> None:
    @hypothesis.settings(max_examples=3, database=None, deadline=None)
    @hypothesis.given(st.integers().map(uses_random))
    def draws(value: int) -> None:
        pass

    with warnings.catch_warnings(record=True) as caught:
        # Appended: a filter the suite's configuration put before it still decides (none may hide this one).
        warnings.filterwarnings("always", category=HypothesisDeprecationWarning, append=True)
        draws()

    messages = [str(w.message) for w in caught if issubclass(w.category, HypothesisDeprecationWarning)]
    assert any("Do not use the `random` module inside strategies" in message for message in messages)
