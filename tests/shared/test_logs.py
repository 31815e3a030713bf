"""Structured logs: JSON lines with job/workflow/step context, masked secrets, idempotent setup."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio import activity, workflow
from temporalio.testing import ActivityEnvironment

from api.auth import generate_key
from shared.logs import (
    NOISY_LOGGERS,
    ConsoleFormatter,
    JsonFormatter,
    configure_logging,
    log_context,
    mask_account,
    mask_text,
)
from shared.settings import REPO_ROOT, LogFormat, LogLevel, Settings
from tests.helpers import entry_point_env

API_KEY = "mm_Zx9-Qw_ErTy1234UiOpAsDf"
ACCOUNT = "4455-6677-8899"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    flags = activity.logger.activity_info_on_message, workflow.logger.workflow_info_on_message
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
    activity.logger.activity_info_on_message, workflow.logger.workflow_info_on_message = flags


@pytest.fixture
def output(restore_logging: None) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=stream)
    return stream


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line_carries_explicit_context(output: io.StringIO) -> None:
    logging.getLogger("activities.bills").info("bill persisted", extra={"job_id": "j-1", "step": "persist_bill"})

    [record] = _records(output)
    assert record["message"] == "bill persisted"
    assert record["level"] == "INFO"
    assert record["logger"] == "activities.bills"
    assert record["job_id"] == "j-1" and record["step"] == "persist_bill"
    assert record["ts"].endswith("Z") and datetime.fromisoformat(record["ts"]).utcoffset() is not None
    assert record["pid"] == os.getpid()


def test_activity_logs_are_flattened_from_temporal_context(output: io.StringIO) -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, workflow_id="bill-ingestion-job-42", workflow_run_id="run-7", activity_type="extract_bill", attempt=3
    )

    def activity_body() -> None:
        activity.logger.info("via temporal logger")
        logging.getLogger("activities.extraction").info("via stdlib logger")
        logging.getLogger("activities.extraction").info("explicit step", extra={"step": "ocr"})

    env.run(activity_body)

    temporal, stdlib, explicit = _records(output)
    for record in (temporal, stdlib):
        assert record["workflow_id"] == "bill-ingestion-job-42"
        assert record["run_id"] == "run-7"
        assert record["step"] == "extract_bill"
        assert record["attempt"] == 3
        assert record["job_id"] == "job-42"
        assert "temporal_activity" not in record
    assert temporal["message"] == "via temporal logger"  # details are fields, not message noise
    assert explicit["step"] == "ocr"


def test_the_shared_pools_logs_name_no_job_whatever_activity_started_their_task(output: io.StringIO) -> None:
    """asyncpg restores its pool in a task an activity's release started, inheriting that activity's context: a
    Postgres outage's "Failed to restore the pool connection floor" named a job that had ended before it began."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="bill-ingestion-job-42", activity_type="store_raw_bill")

    async def activity_body() -> None:
        async def pool_maintenance() -> None:
            logging.getLogger("asyncpg.pool").warning("Failed to restore the pool connection floor; retrying")
            logging.getLogger("activities.storage").info("the activity's own")

        await asyncio.create_task(pool_maintenance())

    asyncio.run(env.run(activity_body))

    pool, own = _records(output)
    assert pool["logger"] == "asyncpg.pool" and "job_id" not in pool and "workflow_id" not in pool
    assert own["job_id"] == "job-42" and own["step"] == "store_raw_bill"


def test_workflow_logger_extra_is_flattened(output: io.StringIO) -> None:
    details = {"workflow_id": "bill-ingestion-abc", "run_id": "r-1", "workflow_type": "BillIngestionWorkflow"}
    logging.getLogger("temporalio.workflow").info("review requested", extra={"temporal_workflow": details})

    [record] = _records(output)
    assert (record["workflow_id"], record["run_id"], record["job_id"]) == ("bill-ingestion-abc", "r-1", "abc")
    assert "temporal_workflow" not in record


def test_the_sdks_own_workflow_failures_carry_the_run_id(output: io.StringIO) -> None:
    """The SDK names the run only in its message ("... with run ID %s"): a payload the worker cannot open logged
    an ERROR with no field an operator could find the run by."""
    logging.getLogger("temporalio.worker._workflow").error(
        "Failed handling activation on workflow with run ID %s", "0199a1b2-run"
    )

    [record] = _records(output)
    assert record["run_id"] == "0199a1b2-run"
    assert record["message"] == "Failed handling activation on workflow with run ID 0199a1b2-run"


def test_log_context_tags_records_inside_the_block(output: io.StringIO) -> None:
    log = logging.getLogger("api.jobs")
    with log_context(job_id="j-9", step="upload"):
        log.info("inside")
    log.info("outside")

    inside, outside = _records(output)
    assert (inside["job_id"], inside["step"]) == ("j-9", "upload")
    assert "job_id" not in outside


def test_secrets_are_masked_in_message_args_extras_and_tracebacks(output: io.StringIO) -> None:
    log = logging.getLogger("api.auth")
    log.info(f"bill for account {ACCOUNT} with key {API_KEY}")
    log.info("account %s, header Authorization: Bearer %s", "1234567890123", "tok.en-value")
    log.info(
        "fetched",
        extra={
            "account_number": ACCOUNT,
            "api_key": "plain-secret",
            "headers": {"X-API-Key": API_KEY, "cookie": "session=abc"},
            "note": "password=hunter2 token: t0k3n",
            "dsn": "postgres://minimeter:s3cret-pw@db/minimeter",
            "bytes": 20971520,
            "api_key_id": "key-1",
        },
    )
    try:
        raise ValueError(f"bad account {ACCOUNT}")
    except ValueError:
        log.exception("failed")

    text = output.getvalue()
    for secret in (ACCOUNT, API_KEY, "1234567890123", "tok.en-value", "plain-secret", "hunter2", "t0k3n", "s3cret-pw"):
        assert secret not in text
    first, second, extras, failure = _records(output)
    assert "****8899" in first["message"] and "mm_[REDACTED]" in first["message"]
    assert second["message"] == "account ****0123, header Authorization: [REDACTED]"
    assert extras["account_number"] == "****8899"
    assert extras["headers"] == {"X-API-Key": "[REDACTED]", "cookie": "[REDACTED]"}
    assert extras["bytes"] == 20971520 and extras["api_key_id"] == "key-1"
    assert "****8899" in failure["exc_info"] and "ValueError" in failure["exc_info"]


def test_configure_is_idempotent(restore_logging: None) -> None:
    stream = io.StringIO()
    settings = Settings(log_format="json")
    configure_logging(settings, stream=stream)
    configure_logging(settings, stream=stream)

    logging.getLogger("worker").warning("once")

    ours = [h for h in logging.getLogger().handlers if getattr(h, "_minimeter_handler", False)]
    assert len(ours) == 1
    assert len(stream.getvalue().splitlines()) == 1
    assert logging.getLogger("httpx").level == logging.WARNING


def test_console_format_appends_context_and_masks(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="console"), stream=stream)

    logging.getLogger("worker").info("started for %s", ACCOUNT, extra={"job_id": "j-1", "step": "fetch_bill"})

    line = stream.getvalue()
    assert "started for ****8899" in line and "[job_id=j-1 step=fetch_bill]" in line


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("1234-5678-9012", "****9012"), ("AB 1234 5678", "****5678"), ("123", "****"), ("****9012", "****9012")],
)
def test_mask_account(raw: str, masked: str) -> None:
    assert mask_account(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("12345", "****45"), ("12-345", "****45"), ("AB1234", "****34"), ("1234567", "****4567"), ("****45", "****45")],
)
def test_a_short_account_number_shows_at_most_about_half(raw: str, masked: str) -> None:
    """The last four of a five-character number gave all but its first character away."""
    assert mask_account(raw) == masked


@pytest.mark.parametrize("gap", ["\u00a0", "\u2009", "\u202f", "\u2010", "\u2011", "\u2013", "\u2014", "\u2212"])
def test_digit_runs_split_by_unicode_spaces_or_dashes_are_masked(gap: str) -> None:
    """A no-break or thin space or a Unicode dash between the groups kept an account number whole in the logs."""
    number = gap.join(["4455", "6677", "8899"])
    assert mask_text(f"no bill for {number} yet") == "no bill for ****8899 yet"


@pytest.mark.parametrize("dash", ["\u2010", "\u2013", "\u2212"])
def test_a_date_written_with_unicode_dashes_is_left(dash: str) -> None:
    text = f"period {dash.join(['2024', '01', '15'])} to {dash.join(['2024', '02', '14'])}"
    assert mask_text(text) == text


@pytest.mark.parametrize("dash", ["\u2013", "\u2014", "\u2212"])
@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("card{dash}4111111111111111", "card{dash}****1111"),
        ("acct 1234567890{dash} due", "acct ****7890{dash} due"),
        ("ref 4111 2222 3333 4444{dash}", "ref ****4444{dash}"),
        ("paid{dash}4111 2222 3333 4444{dash}thanks", "paid{dash}****4444{dash}thanks"),
    ],
)
def test_a_number_beside_a_dash_of_prose_is_masked_whole(dash: str, raw: str, masked: str) -> None:
    """An en or em dash or a minus sign beside a number was taken for part of a longer dashed figure, so the
    number was left whole, or masked from its middle with its first groups shown."""
    assert mask_text(raw.format(dash=dash)) == masked.format(dash=dash)


@pytest.mark.parametrize(
    "figure",
    [
        "order ORD-12345678 shipped",
        "order ORD\u201012345678 shipped",
        "batch 12345678-b",
        "period 2024\u201301\u201315 1234 kWh",
        "job 3f2a1234\u20101234\u20104abc\u20109def\u2010123456789012",
    ],
)
def test_a_number_hyphenated_to_a_word_or_a_figure_is_left(figure: str) -> None:
    """A hyphen between a number and a word, or any dash after a figure's digits, still joins them into one code."""
    assert mask_text(figure) == figure


@pytest.mark.parametrize(
    "secret",
    [
        "PAYLOAD_KEYS=k1:c2VjcmV0LWtleS1ieXRlcw",
        "db_passwords: hunter2",
        "client_secrets='s3cr3t'",
        "session_cookies=abc.def",
        "api_token=t0k3n",
    ],
)
def test_mask_text_masks_secret_names_in_the_plural_too(secret: str) -> None:
    """A variable of several keys (``PAYLOAD_KEYS``) is as secret as one."""
    name, _, value = secret.partition("=") if "=" in secret else secret.partition(":")
    masked = mask_text(f"refused {secret} at start-up")
    assert value.strip(" '") not in masked and name in masked


@pytest.mark.parametrize(
    ("raw", "kept", "hidden"),
    [
        ("GET /jobs?account_number=AB-1234-XY&limit=5", "account_number=****34XY&limit=5", "AB-1234"),
        ("no bill for account no: 1234567 yet", "account no: ****4567 yet", "123"),
        ("postgresql://:hunter2@db:5432/app", "postgresql://:", "hunter2"),
        ("dial postgresql://app:p/ss0rd@db:5432/app failed", "postgresql://app:", "ss0rd"),  # written unescaped
        ("dial postgresql://app:pa@ss@db/app failed", "@db/app failed", "ss@"),
        ("GET /jobs?acct=1234-5678-90A9&limit=5", "acct=****90A9&limit=5", "5678"),  # letters defeat the digit rule
        ("GET /ui/login?next=%2Fui%3Faccount_number%3DAB-1234-XY", "account_number%3D****34XY", "AB-1234"),
        # An encoded & ends the value: the next parameter's "NING" was shown as the number's last four.
        ("GET /jobs?x=%2Fj%3Faccount_number%3d12345678%26status%3DRUNNING", "%3d****5678%26status%3DRUNNING", "1234"),
    ],
)
def test_mask_text_masks_account_numbers_by_name_and_passwords_without_a_user(raw: str, kept: str, hidden: str) -> None:
    """A named account number is masked whatever its shape (7 digits, letters and dashes), not only 8+ digits."""
    masked = mask_text(raw)
    assert kept in masked and hidden not in masked


def test_an_api_key_is_masked_inside_an_encoded_url_and_glued_to_a_word() -> None:
    """A sign-in link's ``next=/ui/reviews%3Fkey%3Dmm_...``: its ``%3D`` ends in a word character, so neither the key's
    shape (after a word boundary) nor ``key=`` (not encoded) masked it, and the access log kept the key whole."""
    key = generate_key()
    for line in (
        f"GET /ui/login?next=/ui/reviews%3Fkey%3D{key} HTTP/1.1",
        f"GET /ui/login?next=%2Fui%2Freviews%3Fx%3D{key}&y=1 HTTP/1.1",
        f"X{key}",
    ):
        assert key[3:] not in mask_text(line), line
    assert mask_text(f"X{key}") == "Xmm_[REDACTED]"


def _shaped(prefix: str, body: str) -> str:
    """A credential's shape, built here so that no secret scanner takes this file for one holding it."""
    return prefix + body


@pytest.mark.parametrize(
    "credential",
    [
        _shaped("AIza", "Sy" + "B7x-Kq9_fakeGeminiKey0123456789ab"),  # a Google (Gemini) API key
        _shaped("ya29", ".a0AfB_byFakeAccessToken0123456789"),  # an OAuth access token
        _shaped("1//0", "gFakeRefreshToken0123456789abcd"),  # an OAuth refresh token
        _shaped("eyJ", "hbGciOiJFUzI1NiJ9.eyJzdWIiOiJmYWtlIn0.c2lnbmF0dXJl"),  # a JWT (a Temporal Cloud key)
    ],
    ids=["google-api-key", "oauth-access-token", "oauth-refresh-token", "jwt"],
)
def test_a_credential_known_by_its_shape_is_masked_unnamed(credential: str) -> None:
    """An exception's text or a URL gives a key with no name before it: ``key=`` or ``Bearer`` masked it, bare it
    was written whole (a Gemini key in a proxy's error, a Temporal Cloud key in a settings dump)."""
    masked = mask_text(f"request to https://proxy.example/v1?{credential} failed: {credential} (retrying)")
    assert credential[4:16] not in masked and "failed:" in masked and "(retrying)" in masked


PEM_HEADER, PEM_FOOTER = "-----BEGIN " + "PRIVATE KEY-----", "-----END " + "PRIVATE KEY-----"
"""Built here, so that no secret scanner takes this file for one holding a key."""


@pytest.mark.parametrize("newline", ["\n", "\\n"], ids=["lines", "json-escaped"])
def test_a_private_key_is_masked_whole(newline: str) -> None:
    """A service-account JSON's ``private_key`` kept its body: only the first word was masked."""
    body = newline.join(["fakekeyline0one", "fakekeyline0two"])
    pem = f"{PEM_HEADER}{newline}{body}{newline}{PEM_FOOTER}{newline}"
    masked = mask_text(f'could not load {{"private_key": "{pem}", "client_email": "ops@example.iam"}}')
    assert "fakekeyline0" not in masked and "ops@example.iam" in masked
    assert "fakekeyline0" not in mask_text(f"truncated: {PEM_HEADER}{newline}{body}")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("word", ["a-", "1-", "api-", "account-"])
def test_masking_a_long_line_takes_linear_time(word: str) -> None:
    """Every access-log line is masked on the event loop: a pattern that could start at each word of a
    hyphenated URL took 5 s for 8 KB (quadratic), so a few long URLs, no key needed, stalled the API.
    256 KB took hours that way; linear, it takes well under a second (the timeout is only a guard)."""
    line = "GET /health?" + word * (256 * 1024 // len(word)) + " HTTP/1.1"
    assert mask_text(line).startswith("GET /health?")


@pytest.mark.parametrize(
    "harmless",
    [
        "period 2024-01-15 to 2024-02-14",
        "at 2024-01-15 10:30:00",
        "job 3f2a1234-1234-4abc-9def-123456789012",
        "sha256 0123456789abcdef0123456789",
        "total 1234.56 for 1234567 kWh",
        "tokens=1200 key_id=k1",
    ],
)
def test_mask_text_leaves_dates_ids_and_amounts(harmless: str) -> None:
    assert mask_text(harmless) == harmless


@pytest.mark.parametrize(("variable", "value"), [("LOG_FORMAT", "text"), ("LOG_LEVEL", "verbose")])
def test_a_log_setting_that_means_nothing_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """``LOG_FORMAT=text`` used to give JSON without a word, and a bad level failed only once logging began."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.lower()):
        Settings()


def test_log_settings_are_read_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "Console")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    settings = Settings()
    assert (settings.log_format, settings.log_level) == (LogFormat.CONSOLE, LogLevel.WARNING)


def test_console_lines_carry_utc_times_like_the_json_lines() -> None:
    """They carried local time with no zone: another process's JSON line, in UTC, could not be lined up."""
    record = logging.LogRecord("worker", logging.INFO, __file__, 1, "started", None, None)
    record.created = 1_780_000_000.25  # 2026-05-28T20:26:40.250Z
    line = ConsoleFormatter().format(record)
    assert line.startswith("2026-05-28T20:26:40.250Z INFO    worker: started")
    assert json.loads(JsonFormatter().format(record))["ts"] == "2026-05-28T20:26:40.250Z"


def test_a_python_warning_is_a_masked_json_line_too() -> None:
    """The SDK warns with ``warnings.warn`` (``WORKER_MAX_CONCURRENT_ACTIVITIES`` above ``WORKER_ACTIVITY_THREADS``):
    it reached stderr as raw text, two lines in a pipeline reading JSON ones, and unmasked."""
    code = (
        "import warnings; from shared.logs import configure_logging; from shared.settings import Settings;"
        " configure_logging(Settings()); warnings.warn('pool too small, api_key=wz-9k-secret-17')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=entry_point_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    [line] = [json.loads(text) for text in done.stdout.splitlines()]
    assert line["logger"] == "py.warnings" and line["level"] == "WARNING"
    assert "pool too small" in line["message"] and "wz-9k-secret-17" not in done.stdout
