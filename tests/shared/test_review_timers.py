"""REVIEW_SLA and REVIEW_TIMEOUT are refused at start when they cannot work together."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from shared.settings import Settings


@pytest.mark.parametrize(
    ("sla", "timeout", "complaint"),
    [
        ("P1D", "P1D", "shorter than REVIEW_TIMEOUT"),  # escalated a second before it expires
        ("P8D", "P7D", "shorter than REVIEW_TIMEOUT"),  # never escalated
        ("PT0S", "P7D", "at least one second"),  # every task escalated at once
        ("PT0.5S", "P7D", "at least one second"),  # whole seconds reach the workflow: 0
    ],
)
def test_review_timers_that_cannot_work_are_refused(
    monkeypatch: pytest.MonkeyPatch, sla: str, timeout: str, complaint: str
) -> None:
    monkeypatch.setenv("REVIEW_SLA", sla)
    monkeypatch.setenv("REVIEW_TIMEOUT", timeout)
    with pytest.raises(ValidationError, match=complaint):
        Settings()


def test_review_timers_in_order_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_SLA", "PT4H")
    monkeypatch.setenv("REVIEW_TIMEOUT", "P2D")
    settings = Settings()
    assert (settings.review_sla, settings.review_timeout) == (timedelta(hours=4), timedelta(days=2))


@pytest.mark.parametrize(
    ("sla", "timeout", "expected"),
    [
        ("3600", "86400", (timedelta(hours=1), timedelta(days=1))),
        ("1.5", "PT1M", (timedelta(seconds=1.5), timedelta(minutes=1))),
        ("01:00:00", "P1D", (timedelta(hours=1), timedelta(days=1))),
    ],
    ids=["seconds", "fractional-and-iso", "clock-and-iso"],
)
def test_review_timers_read_seconds_as_the_readme_says(
    monkeypatch: pytest.MonkeyPatch, sla: str, timeout: str, expected: tuple[timedelta, timedelta]
) -> None:
    monkeypatch.setenv("REVIEW_SLA", sla)
    monkeypatch.setenv("REVIEW_TIMEOUT", timeout)
    settings = Settings()
    assert (settings.review_sla, settings.review_timeout) == expected


def test_other_durations_read_seconds_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOB_DISPATCH_STALE_AFTER", "7200")
    monkeypatch.setenv("JOB_RECONCILE_AFTER", "600")
    settings = Settings()
    durations = (settings.job_dispatch_stale_after, settings.job_reconcile_after)
    assert durations == (timedelta(hours=2), timedelta(minutes=10))
