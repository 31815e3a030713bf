"""Settings refused at start: what the error shows, and the values refused."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.cors import codec_origins
from shared.settings import EVERY_SITE, Settings, misspelled_settings, refusal
from tests.helpers import run_entry_point
from workflows.policies import EXTRACT

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
        ("WORKER_GRACEFUL_SHUTDOWN_SECONDS", "inf", "worker_graceful_shutdown_seconds"),
        ("WORKER_GRACEFUL_SHUTDOWN_SECONDS", "1e14", "worker_graceful_shutdown_seconds"),
        ("REVIEW_SLA", "99999999999999", "longer than any length of time Python holds"),
        ("REVIEW_TIMEOUT", "99999999999999", "longer than any length of time Python holds"),
        ("UPLOAD_MAX_BYTES", "0", "upload_max_bytes"),
    ],
)
def test_sizes_a_process_cannot_run_with_are_refused_at_start(
    only: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    """Taken as given, each stopped the worker or the API once connected, as an SDK or asyncpg traceback."""
    only.setenv(variable, value)
    with pytest.raises(ValidationError, match=re.escape(said)):
        Settings()


@pytest.mark.parametrize(
    ("value", "length"),
    [
        ("36h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("7d", timedelta(days=7)),
        ("3600", timedelta(hours=1)),
        ("PT2H", timedelta(hours=2)),
        ("P7D", timedelta(days=7)),
    ],
)
def test_a_length_of_time_is_read_with_its_unit_as_the_sweep_takes_one(
    only: pytest.MonkeyPatch, value: str, length: timedelta
) -> None:
    """``REVIEW_SLA=36h`` was refused ("invalid character in hour"), while the sweep's ``--older-than`` takes it."""
    only.setenv("REVIEW_SLA", value)
    only.setenv("REVIEW_TIMEOUT", "P30D")
    assert Settings().review_sla == length


def test_a_length_of_time_not_read_says_what_is() -> None:
    """pydantic's own words for "2 hours" were '"day" identifier in duration not correctly formatted'."""
    with pytest.raises(ValidationError) as error:
        Settings(review_sla="2 hours")  # as the environment gives it: a string
    assert "seconds (3600), a number and its unit (90m, 36h, 7d, 1h30m) or ISO 8601 (PT1H, P7D)" in str(error.value)


PRODUCTION_SECRETS = {
    "ENV": "production",
    "DATABASE_URL": "postgresql://minimeter@db/minimeter",
    "PAYLOAD_KEYS": "k1:" + base64.b64encode(b"\x01" * 32).decode(),
}

OWN_CLOUD = {"GCS_BUCKET": "acme-raw-bills", "GCP_PROJECT": "acme"}


def test_production_names_every_setting_it_refuses_at_once(only: pytest.MonkeyPatch) -> None:
    """Refused one at a time, four settings missing took four restarts to find."""
    only.setenv("ENV", "production")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value).split("; ") == [
        "PAYLOAD_KEYS must be set when ENV=production",
        "DATABASE_URL must be set when ENV=production",
        "GCS_BUCKET must be set to a bucket of your own (bucket names are global) when ENV=production, not the default",
        "GCP_PROJECT must be set to a project of your own (of GCS_BUCKET and BQ_DATASET) when ENV=production, not the"
        " default",
    ]


@pytest.mark.parametrize(
    ("given", "refused"),
    [
        ({}, "GCS_BUCKET must be set to a bucket of your own (bucket names are global) when ENV=production"),
        ({"GCS_BUCKET": "minimeter-raw-bills"}, "GCS_BUCKET must be set"),  # the default, written out
        ({"GCS_BUCKET": "acme-raw-bills"}, "GCP_PROJECT must be set to a project of your own"),
        ({"ARTIFACT_STORE": "local"}, "GCP_PROJECT must be set"),
        # A missing bucket is created in the project: real GCS alone needs it too.
        ({"ARTIFACT_STORE": "gcs", "ANALYTICS": "disabled", "GCS_BUCKET": "acme-new"}, "GCP_PROJECT must be set"),
    ],
)
def test_production_refuses_the_placeholder_bucket_and_project(
    only: pytest.MonkeyPatch, given: dict[str, str], refused: str
) -> None:
    """The default bucket is named in this public repository and bucket names are global: a forgotten
    GCS_BUCKET stored bills in whoever owns it."""
    for name, value in (PRODUCTION_SECRETS | given).items():
        only.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value).startswith(refused)


@pytest.mark.parametrize(
    "given",
    [
        {"GCS_BUCKET": "acme-raw-bills", "GCP_PROJECT": "acme"},
        {"ARTIFACT_STORE": "local", "ANALYTICS": "disabled", "DATA_DIR": "/mnt/shared"},
        {"GCS_BUCKET": "acme-raw-bills", "GCP_PROJECT": "acme", "ANALYTICS": "local"},
        {"ARTIFACT_STORE": "local", "ANALYTICS": "local", "DATA_DIR": "/mnt/shared"},
        {"STORAGE_EMULATOR_HOST": "http://127.0.0.1:9023", "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9050"},
    ],
)
def test_production_takes_named_cloud_resources_or_none_at_all(only: pytest.MonkeyPatch, given: dict[str, str]) -> None:
    for name, value in (PRODUCTION_SECRETS | given).items():
        only.setenv(name, value)
    assert Settings().env == "production"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("RATE_LIMIT_PER_MINUTE", "-1", "RATE_LIMIT_PER_MINUTE: Input should be greater than or equal to 0"),
        ("MAX_PDF_PAGES", "0", "MAX_PDF_PAGES: Input should be greater than or equal to 1"),
        ("STARTUP_WAIT_SECONDS", "inf", "STARTUP_WAIT_SECONDS: Input should be a finite number"),
        ("STARTUP_WAIT_SECONDS", "-1", "STARTUP_WAIT_SECONDS: Input should be greater than or equal to 0"),
    ],
)
def test_values_that_quietly_meant_something_else_are_refused_by_name_and_range(
    only: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    """A negative rate limit turned it off as 0 does, 0 pages rejected every PDF, and ``inf`` waited for ever for a
    Temporal that was not coming: each taken without a word."""
    only.setenv(variable, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value) == said


def test_values_at_the_edge_of_their_range_are_kept(only: pytest.MonkeyPatch) -> None:
    only.setenv("RATE_LIMIT_PER_MINUTE", "0")  # off, as the README says
    only.setenv("MAX_PDF_PAGES", "1")
    only.setenv("STARTUP_WAIT_SECONDS", "0")
    settings = Settings()
    assert (settings.rate_limit_per_minute, settings.max_pdf_pages, settings.startup_wait_seconds) == (0, 1, 0)


@pytest.mark.parametrize("blank", [" ", "\t\n"])
def test_production_refuses_blank_payload_keys_at_start(only: pytest.MonkeyPatch, blank: str) -> None:
    """Blank passed as set, and the worker and the API failed connecting to Temporal, as a traceback."""
    for name, value in {**PRODUCTION_SECRETS, **OWN_CLOUD, "PAYLOAD_KEYS": blank}.items():
        only.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value) == "PAYLOAD_KEYS must be set when ENV=production"


def test_production_refuses_gemini_extraction_without_a_key(only: pytest.MonkeyPatch) -> None:
    """It sent every bill to review (``gemini_not_configured``); ``auto`` without a key is the rules, as before."""
    for name, value in {**PRODUCTION_SECRETS, "GCS_BUCKET": "acme-bills", "GCP_PROJECT": "acme"}.items():
        only.setenv(name, value)
    only.setenv("EXTRACTOR", "gemini")
    with pytest.raises(ValidationError, match="EXTRACTOR=gemini needs GEMINI_API_KEY when ENV=production"):
        Settings()
    only.setenv("GEMINI_API_KEY", GEMINI_KEY)
    assert Settings().gemini_configured
    only.delenv("GEMINI_API_KEY")
    only.setenv("EXTRACTOR", "auto")
    assert not Settings().gemini_configured


def test_production_refuses_local_artifacts_in_each_process_own_directory(only: pytest.MonkeyPatch) -> None:
    """In compose the API and the workers are containers without a shared volume: each upload was stored in the
    API's ``.data``, every such job failed at extraction (the worker has no such file) and the raw bill was lost
    with the container."""
    for name, value in (PRODUCTION_SECRETS | {"ARTIFACT_STORE": "local", "ANALYTICS": "disabled"}).items():
        only.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value).startswith("ARTIFACT_STORE=local needs DATA_DIR set")
    only.setenv("DATA_DIR", "/mnt/shared")  # a mount every API and worker process shares: taken
    assert Settings().artifact_store == "local"


def test_every_refusal_is_named_at_once_whatever_else_is_refused(only: pytest.MonkeyPatch) -> None:
    """A value refused alone (``LOG_LEVEL=verbose``) hid the cross checks, and each cross check the next: a production
    deployment with a mistyped level, an SLA past its timeout and four settings missing took three starts to see
    them all (an inheriting engineer's probe, 70A)."""
    for name, value in {"ENV": "production", "LOG_LEVEL": "verbose", "REVIEW_SLA": "P9D", "DB_POOL_MIN": "30"}.items():
        only.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    named = refusal(error.value).split("; ")
    assert named[0].startswith("LOG_LEVEL: Input should be")
    assert named[1:] == [
        "REVIEW_SLA (9 days, 0:00:00) must be shorter than REVIEW_TIMEOUT (7 days, 0:00:00)",
        "DB_POOL_MIN (30) must not exceed DB_POOL_MAX (20)",
        "PAYLOAD_KEYS must be set when ENV=production",
        "DATABASE_URL must be set when ENV=production",
        "GCS_BUCKET must be set to a bucket of your own (bucket names are global) when ENV=production, not the default",
        "GCP_PROJECT must be set to a project of your own (of GCS_BUCKET and BQ_DATASET) when ENV=production, not the"
        " default",
    ]
    only.setenv("LOG_LEVEL", "info")  # the cross checks alone: still all at once
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value).split("; ") == named[1:]


@pytest.mark.parametrize(
    "given",
    [
        {"ENV": "production", "ARTIFACT_STORE": "locall", "DATA_DIR": "/srv/shared"},  # meant local: no bucket checks
        {"EXTRACTOR": "rule", "GEMINI_API_KEY": GEMINI_KEY, "GEMINI_TIMEOUT_SECONDS": "170"},  # meant rules: no Gemini
    ],
)
def test_no_cross_check_is_judged_on_a_refused_values_default(only: pytest.MonkeyPatch, given: dict[str, str]) -> None:
    """Judged with a mistyped ARTIFACT_STORE at its default (gcs), the bucket was refused as a placeholder; with a
    mistyped EXTRACTOR at its default (auto), the Gemini call's time: refusals that would not apply to what was meant
    (a review of session 70's change, 70C)."""
    for name, value in given.items():
        only.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    named = refusal(error.value)
    assert "GCS_BUCKET" not in named and "GCP_PROJECT" not in named and "GEMINI_TIMEOUT_SECONDS" not in named, named


def test_the_placeholder_bucket_stops_the_worker_with_one_line() -> None:
    done = run_entry_point("worker", **PRODUCTION_SECRETS, GCP_PROJECT="acme")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "minimeter: refused configuration: GCS_BUCKET must be set to a bucket of your own"
        " (bucket names are global) when ENV=production, not the default"
    )


@pytest.mark.parametrize(
    ("given", "refused"),
    [
        ({"GEMINI_TIMEOUT_SECONDS": "0"}, "GEMINI_TIMEOUT_SECONDS: Input should be greater than 0"),
        ({"GEMINI_TIMEOUT_SECONDS": "-5"}, "GEMINI_TIMEOUT_SECONDS: Input should be greater than 0"),
        ({"PDF_PARSE_TIMEOUT_SECONDS": "0"}, "PDF_PARSE_TIMEOUT_SECONDS: Input should be greater than 0"),
        (
            {"GEMINI_TIMEOUT_SECONDS": "170"},
            "GEMINI_TIMEOUT_SECONDS (170) plus PDF_PARSE_TIMEOUT_SECONDS (20) must stay under the extract step's 180 s",
        ),
        (
            {"GEMINI_TIMEOUT_SECONDS": "150", "PDF_PARSE_TIMEOUT_SECONDS": "30"},
            "GEMINI_TIMEOUT_SECONDS (150) plus PDF_PARSE_TIMEOUT_SECONDS (30) must stay under",
        ),
    ],
)
def test_a_gemini_timeout_that_cannot_work_is_refused(
    only: pytest.MonkeyPatch, given: dict[str, str], refused: str
) -> None:
    """0 became a 1 ms timeout (every call failed); past the extract activity's start-to-close Temporal
    abandoned each attempt while its thread went on calling Gemini."""
    only.setenv("GEMINI_API_KEY", GEMINI_KEY)
    for name, value in given.items():
        only.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value).startswith(refused)


def test_the_gemini_bound_is_the_extract_steps_own(only: pytest.MonkeyPatch) -> None:
    """Read from the policy, so raising EXTRACT's start-to-close raises the bound with it."""
    only.setenv("GEMINI_API_KEY", GEMINI_KEY)
    room = EXTRACT.start_to_close.total_seconds() - Settings.model_fields["pdf_parse_timeout_seconds"].default
    assert Settings(gemini_timeout_seconds=room - 1).gemini_timeout_seconds == room - 1
    with pytest.raises(ValidationError, match="must stay under the extract step"):
        Settings(gemini_timeout_seconds=room)


@pytest.mark.parametrize("given", [{"EXTRACTOR": "rules", "GEMINI_API_KEY": GEMINI_KEY}, {}])
def test_a_long_pdf_parse_is_taken_where_gemini_is_never_called(
    only: pytest.MonkeyPatch, given: dict[str, str]
) -> None:
    for name, value in (given | {"PDF_PARSE_TIMEOUT_SECONDS": "170"}).items():
        only.setenv(name, value)
    assert Settings().pdf_parse_timeout_seconds == 170


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("inf", "PDF_PARSE_TIMEOUT_SECONDS: Input should be a finite number"),
        ("nan", "PDF_PARSE_TIMEOUT_SECONDS: Input should be a finite number"),
        ("1e10", "PDF_PARSE_TIMEOUT_SECONDS (1e+10) must stay under the extract step's 180 s"),
        ("180", "PDF_PARSE_TIMEOUT_SECONDS (180) must stay under the extract step's 180 s"),
    ],
)
@pytest.mark.parametrize("given", [{"EXTRACTOR": "rules"}, {}], ids=["rules", "no-gemini-key"])
def test_a_pdf_parse_limit_that_cannot_work_is_refused_without_gemini_too(
    only: pytest.MonkeyPatch, given: dict[str, str], value: str, refused: str
) -> None:
    """Where Gemini is never called nothing bounded it: "inf" (no limit) was taken, and every PDF's parse then
    failed (the wait overflowed), retried for 30 minutes; past the step's 180 s, an abandoned parse kept a slot."""
    for name, setting in (given | {"PDF_PARSE_TIMEOUT_SECONDS": value}).items():
        only.setenv(name, setting)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value).startswith(refused)


@pytest.mark.parametrize("unsafe", EVERY_SITE)
def test_the_api_refuses_an_origin_letting_every_site_in_as_the_settings_do(
    only: pytest.MonkeyPatch, unsafe: str
) -> None:
    """One rule, one message: the API checks again as it builds the app (settings copied without validation)."""
    only.setenv("CORS_ORIGINS", f"http://localhost:8233,{unsafe}")
    with pytest.raises(ValidationError) as at_start:
        Settings()
    with pytest.raises(ValueError) as in_app:
        codec_origins(["http://localhost:8233", unsafe])
    assert refusal(at_start.value) == str(in_app.value).replace("CORS_ORIGINS ", "CORS_ORIGINS: ", 1)


@pytest.mark.parametrize("blank", [" ", "\t\n"])
def test_a_blank_gemini_key_is_no_key(only: pytest.MonkeyPatch, blank: str) -> None:
    """It counted as set: ``auto`` sent every untrusted bill to Gemini with it, each failing for 30 minutes of
    retries instead of being read offline, and ``EXTRACTOR=gemini`` passed production's guard."""
    only.setenv("GEMINI_API_KEY", blank)
    settings = Settings()
    assert settings.gemini_api_key is None and not settings.gemini_configured
    for name, value in {**PRODUCTION_SECRETS, "GCS_BUCKET": "acme-bills", "GCP_PROJECT": "acme"}.items():
        only.setenv(name, value)
    only.setenv("EXTRACTOR", "gemini")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value) == "EXTRACTOR=gemini needs GEMINI_API_KEY when ENV=production"


@pytest.mark.parametrize(
    "name",
    [
        "DATABASE_URL",
        "TEMPORAL_API_KEY",
        "GEMINI_BASE_URL",
        "STORAGE_EMULATOR_HOST",
        "BIGQUERY_EMULATOR_HOST",
        "TEMPORAL_TLS_SERVER_NAME",
    ],
)
def test_a_blank_optional_value_is_unset_as_an_empty_one_is(only: pytest.MonkeyPatch, name: str) -> None:
    """A blank ``TEMPORAL_API_KEY`` turned TLS on and sent an empty key; a blank emulator host was dialled."""
    only.setenv(name, " \n")
    assert getattr(Settings(), name.lower()) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TEMPORAL_ADDRESS", "temporal.example:7233"),
        ("TEMPORAL_NAMESPACE", "acme.a1b2c"),
        ("TEMPORAL_TASK_QUEUE", "bills"),
        ("TEMPORAL_UI_URL", "http://ui.example:8080"),
        ("API_HOST", "0.0.0.0"),
        ("GEMINI_MODEL", "gemini-2.5-pro"),
        ("GCS_BUCKET", "acme-raw-bills"),
        ("GCP_PROJECT", "acme"),
        ("BQ_DATASET", "acme_bills"),
    ],
)
def test_a_name_or_address_with_a_default_drops_its_outer_whitespace_and_blank_is_the_default(
    only: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """``TEMPORAL_UI_URL`` with a pasted newline put it in every job's Web UI link, and a blank one was kept as the
    link; ``API_HOST`` with one let the API migrate, then fail naming no variable (an inheriting engineer's probe,
    70A)."""
    only.setenv(name, f" {value}\n")
    assert getattr(Settings(), name.lower()) == value
    only.setenv(name, " \t")
    assert getattr(Settings(), name.lower()) == Settings.model_fields[name.lower()].default


def test_a_settings_choice_is_read_in_any_case(only: pytest.MonkeyPatch) -> None:
    """As ``LOG_LEVEL=info`` is: ``ENV=PRODUCTION`` was refused (an inheriting engineer's probe, 70A)."""
    given = {"ENV": "Test", "EXTRACTOR": "RULES", "ARTIFACT_STORE": "Local", "ANALYTICS": "DISABLED"}
    for name, value in given.items():
        only.setenv(name, value)
    settings = Settings()
    assert (settings.env, settings.extractor, settings.artifact_store, settings.analytics) == (
        "test",
        "rules",
        "local",
        "disabled",
    )
    only.setenv("ENV", "staging")
    with pytest.raises(ValidationError, match="env"):
        Settings()


def test_production_refuses_a_blank_database_url(only: pytest.MonkeyPatch) -> None:
    for name, value in {**PRODUCTION_SECRETS, **OWN_CLOUD, "DATABASE_URL": "  "}.items():
        only.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value) == "DATABASE_URL must be set when ENV=production"


def test_a_secret_keeps_no_outer_whitespace(only: pytest.MonkeyPatch) -> None:
    """A key pasted with its line's newline (a Kubernetes secret made with ``echo``) was sent with it."""
    only.setenv("GEMINI_API_KEY", f"{GEMINI_KEY}\n")
    key = Settings().gemini_api_key
    assert key is not None and key.get_secret_value() == GEMINI_KEY


@pytest.mark.parametrize(
    "address", ["temporal.example.com", "temporal.example.com:", "temporal:port", "https://temporal.example.com:7233"]
)
def test_a_temporal_address_without_a_port_is_refused(only: pytest.MonkeyPatch, address: str) -> None:
    """The SDK dialled 80 (443 with TLS) and the worker waited out STARTUP_WAIT_SECONDS for a server never there."""
    only.setenv("TEMPORAL_ADDRESS", address)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert refusal(error.value) == (
        "TEMPORAL_ADDRESS: needs host:port, e.g. temporal.example.com:7233 (no scheme: TEMPORAL_TLS turns TLS on)"
    )


@pytest.mark.parametrize("address", ["localhost:7233", "temporal:7233", "10.0.0.7:7233", "[::1]:7233"])
def test_a_temporal_host_and_port_is_kept(only: pytest.MonkeyPatch, address: str) -> None:
    only.setenv("TEMPORAL_ADDRESS", address)
    assert Settings().temporal_address == address


def test_a_temporal_address_without_a_port_stops_the_worker_with_one_line() -> None:
    done = run_entry_point("worker", TEMPORAL_ADDRESS="temporal.example.com")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "minimeter: refused configuration: TEMPORAL_ADDRESS: needs host:port, e.g. temporal.example.com:7233"
        " (no scheme: TEMPORAL_TLS turns TLS on)"
    )


def test_a_misspelled_setting_is_named_with_the_one_meant() -> None:
    environ = {
        "TEMPORAL_ADRESS": "temporal:7233",
        "WORKER_GRACEFUL_SHUTDOWN_SECOND": "5",
        "GCS_BUCKET": "b",
        "HOME": "/",
        "SECRET_MANAGER_PROJCT": "p",  # unread, production refused for a PAYLOAD_KEYS that was in Secret Manager
        "SECRET_MANAGER_PREFIX": "mm-",
    }
    assert misspelled_settings(environ) == [
        ("SECRET_MANAGER_PROJCT", "SECRET_MANAGER_PROJECT"),
        ("TEMPORAL_ADRESS", "TEMPORAL_ADDRESS"),
        ("WORKER_GRACEFUL_SHUTDOWN_SECOND", "WORKER_GRACEFUL_SHUTDOWN_SECONDS"),
    ]


def test_a_worker_warns_of_a_misspelled_setting_at_start() -> None:
    """``TEMPORAL_ADRESS`` was ignored without a word: the worker waited on 127.0.0.1:7233 and gave up."""
    done = run_entry_point(
        "worker", ENV="test", TEMPORAL_ADRESS="temporal.example:7233", STARTUP_WAIT_SECONDS="0", LOG_FORMAT="json"
    )
    assert done.returncode != 0  # nothing listens at the default address
    warnings = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{") and "ADRESS" in line]
    assert [w["message"] for w in warnings] == [
        "TEMPORAL_ADRESS is not a MiniMeter setting, and is ignored: did you mean TEMPORAL_ADDRESS?"
    ]
