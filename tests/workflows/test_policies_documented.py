"""The README's retry table says what workflows/policies.py does: one source, checked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from workflows import policies
from workflows.policies import ActivityPolicy

README = (Path(__file__).parents[2] / "README.md").read_text()

DOCUMENTED = {
    "mark_job_running": policies.DATABASE,
    "persist_bill": policies.DATABASE,
    "fetch_bill": policies.FETCH,
    "store_raw_bill": policies.STORAGE,
    "extract_bill": policies.EXTRACT,
    "validate_bill": policies.VALIDATE,
    "check_corrected_bill": policies.CHECK,
    "publish_analytics": policies.ANALYTICS,
    "escalate_review": policies.NOTIFY,
    "rollup_analytics": policies.ROLLUP,
}


def _span(value: timedelta | None) -> str:
    if value is None:
        return "–"
    seconds = value.total_seconds()
    if seconds >= 180 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def row(policy: ActivityPolicy) -> str:
    retry = policy.retry
    return " | ".join(
        [
            _span(policy.start_to_close),
            _span(policy.heartbeat),
            _span(retry.initial_interval),
            f"{retry.backoff_coefficient:.1f}",
            _span(retry.maximum_interval),
            str(retry.maximum_attempts),
        ]
    )


@pytest.mark.parametrize("activity", list(DOCUMENTED))
def test_readme_row_matches_code(activity: str) -> None:
    line = next(line for line in README.splitlines() if line.startswith("| ") and activity in line.split("|")[1])
    assert f"| {row(DOCUMENTED[activity])} |" in line, line


def test_non_retryable_types_are_documented() -> None:
    for error_type in policies.NON_RETRYABLE:
        assert f"`{error_type}`" in README


@pytest.mark.parametrize("activity", ["mark_job_running", "store_raw_bill", "persist_bill", "escalate_review"])
def test_a_step_that_writes_postgres_outlives_a_database_failover(activity: str) -> None:
    """store_raw_bill records its object in Postgres, yet gave up after ten attempts (2.5 minutes): a longer
    failover failed every job caught there, while the steps before and after it waited."""
    policy = DOCUMENTED[activity]
    assert policy.retry.maximum_attempts == 0, "no attempt limit"
    assert policy.schedule_to_close is not None and policy.schedule_to_close >= timedelta(hours=1)
