"""The GCS client's own waits must end inside the attempts Temporal gives the steps that call it."""

from __future__ import annotations

from activities.connectors.documents import SOURCE_READ_SECONDS
from shared.artifacts import GCS_TIMEOUT
from workflows import policies


def test_a_silent_gcs_fails_the_attempt_before_temporal_times_it_out() -> None:
    """Fetch reads its source first (up to SOURCE_READ_SECONDS), then archives: a GCS wait longer than what is
    left would end as a start-to-close timeout, its thread still on the socket while the retry runs."""
    connect, read = GCS_TIMEOUT
    left_after_the_source = policies.FETCH.start_to_close.total_seconds() - SOURCE_READ_SECONDS
    assert connect + read < left_after_the_source
    assert connect + read < policies.STORAGE.start_to_close.total_seconds()
