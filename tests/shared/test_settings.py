"""Settings refused at start: what the error shows, and the values refused."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import Settings

GEMINI_KEY = "test-gemini-key-0123456789abcdef"  # any distinctive value: the test looks for it in the error


@pytest.fixture()
def only(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with none of the settings set, whatever the shell running the tests has."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("SECRET_MANAGER_PROJECT", raising=False)
    return monkeypatch


def test_a_refused_production_setting_does_not_print_the_secrets_read(only: pytest.MonkeyPatch) -> None:
    """The error goes to stderr before logging, and its masking, exist: it printed every value read."""
    only.setenv("ENV", "production")
    only.setenv("GEMINI_API_KEY", GEMINI_KEY)
    with pytest.raises(ValidationError, match="PAYLOAD_KEYS must be set") as refused:
        Settings()
    assert GEMINI_KEY[-12:] not in str(refused.value)


def test_a_malformed_value_is_named_not_printed(only: pytest.MonkeyPatch) -> None:
    only.setenv("TEMPORAL_TLS", "s3cret-pasted-in-the-wrong-variable")
    with pytest.raises(ValidationError, match="temporal_tls") as refused:
        Settings()
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize("name", ["JOB_DISPATCH_STALE_AFTER", "JOB_RECONCILE_AFTER"])
@pytest.mark.parametrize("value", ["0", "PT0S", "-PT1M", "PT0.5S"])
def test_job_periods_under_a_second_are_refused(only: pytest.MonkeyPatch, name: str, value: str) -> None:
    """0 would count no job as running (JOB_DISPATCH_MAX_RUNNING lifted) or check every open job every round."""
    only.setenv(name, value)
    with pytest.raises(ValidationError, match=f"{name} must be at least one second"):
        Settings()


def test_job_periods_of_a_second_or_more_are_kept(only: pytest.MonkeyPatch) -> None:
    only.setenv("JOB_DISPATCH_STALE_AFTER", "1")
    only.setenv("JOB_RECONCILE_AFTER", "PT5M")
    settings = Settings()
    assert (settings.job_dispatch_stale_after, settings.job_reconcile_after) == (
        timedelta(seconds=1),
        timedelta(minutes=5),
    )


@pytest.mark.parametrize("given", ["TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY"])
def test_a_client_certificate_without_its_key_is_refused(only: pytest.MonkeyPatch, tmp_path: Path, given: str) -> None:
    pem = tmp_path / "client.pem"
    pem.write_text("test client certificate\n")
    only.setenv(given, str(pem))
    with pytest.raises(ValidationError, match="TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together"):
        Settings()


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("DB_POOL_MIN", "30", "DB_POOL_MIN (30) must not exceed DB_POOL_MAX (20)"),
        ("DB_POOL_MAX", "0", "db_pool_max"),
        ("API_PORT", "70000", "api_port"),
        ("WORKER_MAX_CONCURRENT_ACTIVITIES", "0", "worker_max_concurrent_activities"),
        ("WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", "1", "worker_max_concurrent_workflow_tasks"),
        ("WORKER_ACTIVITY_THREADS", "0", "worker_activity_threads"),
        ("WORKER_GRACEFUL_SHUTDOWN_SECONDS", "-1", "worker_graceful_shutdown_seconds"),
    ],
)
def test_sizes_a_process_cannot_run_with_are_refused_at_start(
    only: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    """Taken as given, each stopped the worker or the API once connected, as an SDK or asyncpg traceback."""
    only.setenv(variable, value)
    with pytest.raises(ValidationError, match=re.escape(said)):
        Settings()
