"""The suite's own threads use the global ``random`` while Hypothesis draws (tests/security/test_schemathesis.py
fuzzes the in-process API from a thread): Hypothesis took that for a strategy using ``random`` and warned."""

from __future__ import annotations

import random
import threading
import warnings

import hypothesis
from hypothesis import strategies as st
from hypothesis.errors import HypothesisDeprecationWarning


def another_thread_uses_random(value: int) -> int:
    """What the worker's GCS client does for each upload (its multipart boundary), here during the draw."""
    thread = threading.Thread(target=random.random)
    thread.start()
    thread.join()
    return value


def test_another_threads_use_of_random_during_a_draw_is_no_warning() -> None:
    @hypothesis.settings(max_examples=3, database=None, deadline=None)
    @hypothesis.given(st.integers().map(another_thread_uses_random))
    def draws(value: int) -> None:
        pass

    with warnings.catch_warnings(record=True) as caught:
        # Shown every time unless a filter before this one says otherwise (tests/conftest.py's).
        warnings.filterwarnings("always", category=HypothesisDeprecationWarning, append=True)
        draws()

    assert [str(w.message) for w in caught if issubclass(w.category, HypothesisDeprecationWarning)] == []
