"""Runtime configuration: every knob is an environment variable with an embedded default.

With nothing set, MiniMeter runs fully locally (dev server, embedded Postgres,
emulators, offline extractor). Setting the same variables points the same code
at real Temporal, Cloud SQL, GCS, BigQuery and Gemini.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Set
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
_SECONDS = re.compile(r"\s*\d+(\.\d+)?\s*")
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\s:/@\[\]]+):(?P<port>\d{1,5})")
"""A name or an IPv4 address, or an IPv6 one in brackets, then a port: what the Temporal client dials."""


_IN_UNITS = re.compile(r"(?:(?P<days>\d+)d)?(?:(?P<hours>\d+)h)?(?:(?P<minutes>\d+)m)?(?:(?P<seconds>\d+)s)?")
"""``36h``, ``90m``, ``7d``, ``1h30m``: as ``worker.sweep_raw_bills --older-than`` takes a length of time."""
LENGTH_OF_TIME = "a length of time: seconds (3600), a number and its unit (90m, 36h, 7d, 1h30m) or ISO 8601 (PT1H, P7D)"


def _as_host_port(address: str) -> str | None:
    """``host:port`` with a port from 1 to 65535, stripped; None for anything else (a scheme, a path, no port)."""
    match = _HOST_PORT.fullmatch(address.strip())
    return match[0] if match is not None and 1 <= int(match["port"]) <= 65535 else None


def _length_of_time(value: Any, read: ValidatorFunctionWrapHandler) -> Any:
    """``3600`` in the environment is seconds, as the README says, and ``36h`` is 36 hours; pydantic alone reads
    only ISO 8601 (``PT1H``) or ``HH:MM:SS`` from a string, and refused ``2h`` with ""day" identifier in duration
    not correctly formatted"."""
    if isinstance(value, str) and _SECONDS.fullmatch(value):
        try:
            return timedelta(seconds=float(value))
        except OverflowError:  # not a ValueError: it went up past pydantic as a traceback, not a refused setting
            raise ValueError(f"{value.strip()} seconds is longer than any length of time Python holds") from None
    units = _IN_UNITS.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if units is not None and any(units.groupdict().values()):
        try:
            return timedelta(**{unit: int(amount) for unit, amount in units.groupdict().items() if amount})
        except OverflowError:
            raise ValueError(f"{value.strip()} is longer than any length of time Python holds") from None
    try:
        return read(value)
    except ValidationError:
        raise ValueError(LENGTH_OF_TIME) from None


Duration = Annotated[timedelta, WrapValidator(_length_of_time)]
"""A length of time from the environment: seconds (``3600``), with its unit (``36h``), ISO 8601 (``PT1H``, ``P7D``)
or ``HH:MM:SS``."""


def _json_or_commas(value: Any) -> Any:
    """``CORS_ORIGINS=http://localhost:8080`` is how a person writes one origin; pydantic-settings alone
    reads only a JSON list (``["http://localhost:8080"]``), and refused the plain form at start-up."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:  # its message, never the value (it may be a misplaced secret)
            raise ValueError(f"a JSON list that does not parse ({error.msg} at character {error.pos})") from None
    return [part.strip() for part in value.split(",") if part.strip()]


StrList = Annotated[list[str], NoDecode, BeforeValidator(_json_or_commas)]
"""A list from the environment: a JSON list, or comma-separated values."""


def _blank_is_unset(value: Any) -> Any:
    """``GEMINI_API_KEY=" "`` is no key, as ``GEMINI_API_KEY=`` is: ``env_ignore_empty`` drops only the empty
    value, and a blank one counted as set (``auto`` then sent every untrusted bill to Gemini, each failing
    after 30 minutes of retries). No value here has meaningful outer whitespace: a pasted newline is dropped."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        return value.strip() or None
    return value


OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_blank_is_unset)]
"""A secret that may be unset: blank is unset."""
OptionalText = Annotated[str | None, BeforeValidator(_blank_is_unset)]
"""A name or an address that may be unset: blank is unset."""


def _blank_is_default(value: Any) -> Any:
    """As ``_blank_is_unset``, for a name or an address with a default: blank is that default. A pasted newline in
    ``TEMPORAL_UI_URL`` ended up in every job's Web UI link, and one in ``API_HOST`` failed the API's start after its
    migrations, naming no variable."""
    if isinstance(value, str):
        if not value.strip():
            raise PydanticUseDefault()
        return value.strip()
    return value


Text = Annotated[str, BeforeValidator(_blank_is_default)]
"""A name or an address with a default: blank is the default, outer whitespace dropped."""


EVERY_SITE = ("*", "null")
"""CORS origins that let any site in: with credentials, Starlette answers ``*`` by echoing the caller's origin,
and ``null`` is the origin of every sandboxed page."""


def refuse_every_site(origins: list[str]) -> list[str]:
    """``origins``, refused when one lets any site a logged-in operator visits read decrypted payloads."""
    for origin in EVERY_SITE:
        if origin in origins:
            raise ValueError(
                f"may not contain {origin!r}: it lets any site read decrypted payloads (the codec answers with the"
                " SSO proxy's cookie), so list the origins of the Temporal Web UI (e.g. https://temporal.example.com)"
                " instead"
            )
    return origins


class AnyCase(StrEnum):
    """A setting's choice, read in any case as ``LOG_LEVEL`` is: ``ENV=PRODUCTION`` was refused."""

    @classmethod
    def _missing_(cls, value: object) -> AnyCase | None:
        return cls._value2member_map_.get(value.lower()) if isinstance(value, str) else None  # type: ignore[return-value]


class Environment(AnyCase):
    DEVELOPMENT = "development"
    TEST = "test"
    """The test suite's: as ``development``."""
    PRODUCTION = "production"


class ExtractorMode(AnyCase):
    AUTO = "auto"
    RULES = "rules"
    GEMINI = "gemini"


class ArtifactStoreKind(AnyCase):
    GCS = "gcs"
    LOCAL = "local"


class AnalyticsKind(AnyCase):
    BIGQUERY = "bigquery"
    LOCAL = "local"
    DISABLED = "disabled"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @classmethod
    def _missing_(cls, value: object) -> LogLevel | None:
        """``LOG_LEVEL=info`` is meant as INFO; ``LOG_LEVEL=verbose`` is refused at start-up."""
        return cls.__members__.get(value.upper()) if isinstance(value, str) else None


class LogFormat(AnyCase):
    JSON = "json"
    CONSOLE = "console"


_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
"""A Cloud Storage bucket's name (https://cloud.google.com/storage/docs/buckets#naming), but for its rarer rules."""
_DATASET_NAME = re.compile(r"[A-Za-z0-9_]{1,1024}")
"""A BigQuery dataset's name, without its project (``GCP_PROJECT``)."""


class Settings(BaseSettings):
    """One settings object per process, read from the environment once."""

    # hide_input_in_errors: a refused setting's error would otherwise print the values read, the whole
    # GEMINI_API_KEY or DATABASE_URL among them, to stderr before logging could mask anything.
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, env_ignore_empty=True, hide_input_in_errors=True
    )

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = REPO_ROOT / ".data"
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = Field(default=LogFormat.JSON, description="json or console")

    # Temporal
    temporal_address: Text = "localhost:7233"
    temporal_namespace: Text = "default"
    temporal_task_queue: Text = "minimeter-ingestion"
    temporal_tls: bool = False
    temporal_api_key: OptionalSecret = None
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    """The client certificate and its private key (PEM files) for mTLS, as Temporal Cloud's
    certificate-authenticated namespaces require: both or neither; either turns TLS on."""
    temporal_tls_ca: Path | None = None
    """The certificate authority (PEM) that signed a self-hosted server's certificate, when it is not
    one the system trusts; turns TLS on."""
    temporal_tls_server_name: OptionalText = None
    """The name to verify the server's certificate against, when the address is not it (an IP, a
    load balancer); turns TLS on."""
    temporal_ui_url: Text = "http://localhost:8233"

    # Postgres (embedded server when unset)
    database_url: OptionalSecret = None
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=20, ge=1)
    api_db_timeout_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """How long an API request waits for a pooled connection, and then for each statement, before it answers 503:
    a Postgres that hangs (a partition, a stuck failover) held requests for the statements' 30 s and more."""

    startup_wait_seconds: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    """How long the worker and the API wait at start for Temporal and Postgres to answer (0: not at all);
    ``inf`` is refused (a process that never gives up hides an outage from its supervisor)."""

    # API
    api_host: Text = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_processes: int = Field(default=1, ge=1)
    """``python -m api`` serves this many processes on one port (uvicorn's workers): each has its
    own pool, Temporal client and dispatcher; sign-in sessions and rate limits live in Postgres."""
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    """0 or less refused every upload (413) and every connector's bill (``DocumentRejected``, not retried)."""
    request_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Every other request body (JSON, forms): a review correction is a few kilobytes."""
    api_key_cache_seconds: float = Field(default=1.0, ge=0, le=10, allow_inf_nan=False)
    """How long each API process trusts a key it found without asking Postgres again (``api.recent_keys``): a key
    revoked or expired is refused within this long; 0 asks on every request."""
    rate_limit_per_minute: int = Field(default=600, ge=0)
    """Per API key; 0 turns it off (a negative value did too, silently)."""
    job_dispatch_max_running: int = Field(default=64, ge=1)
    """Jobs started on Temporal and not yet finished or waiting for review, across all API processes.
    About the workers' activity slots (64 each): more only queues tasks on the server (200 ran 1,000
    bills 15% slower, 128 6% slower); throughput is capped at this many ÷ one job's time. Raise it
    with more workers."""
    job_dispatch_batch: int = Field(default=64, ge=1)
    """Jobs one dispatcher starts per round (at most ``STARTS_AT_ONCE`` start calls at a time)."""
    job_dispatch_quiet_ms: int = Field(default=50, ge=0)
    """The dispatcher's first round after it was idle waits until its process has accepted no job for this long
    (a burst of starts answered first: the round spends the event loop the requests need, and sets the worker
    and Temporal going on the cores the API shares with them); 0 never waits. The rounds that follow while jobs
    wait (for room, or for the next batch) do not wait."""
    job_dispatch_max_wait_ms: int = Field(default=1000, ge=0)
    """How long that round waits at most for the pause while starts keep coming; 0 never waits."""
    job_dispatch_stale_after: Duration = timedelta(hours=1)
    """A job started this long ago no longer counts as running (its workflow may have been terminated)."""
    job_reconcile_after: Duration = timedelta(minutes=10)
    """Open jobs unchanged this long are checked against Temporal (each at most once per period):
    a workflow ended from outside (Terminate in the Web UI) has its job recorded as ended."""
    job_reconcile_batch: int = Field(default=100, ge=1)
    """Jobs one reconciliation round checks (one describe call each)."""
    auth_disabled: bool = False
    cors_origins: StrList = Field(default_factory=lambda: ["http://localhost:8233"])
    """The codec's allowed origins; ``*`` and ``null`` are refused (any site could read decrypted payloads)."""

    # Payload encryption: "kid:base64key[,kid:base64key]"; first is used to encrypt.
    payload_keys: OptionalSecret = None
    payload_compression: bool = True
    """Compress payloads of 256 bytes or more before sealing them. Every release since reads them either
    way, so upgrading from one that cannot read them: roll out with ``false``, then turn it on."""

    # Extraction
    extractor: ExtractorMode = ExtractorMode.AUTO
    gemini_api_key: OptionalSecret = None
    gemini_model: Text = "gemini-2.5-flash"
    gemini_base_url: OptionalText = None
    gemini_timeout_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    """One Gemini call: positive (0 became a 1 ms timeout, failing every call), and with
    ``pdf_parse_timeout_seconds`` under the extract step's start-to-close (``_extract_step_problems``)."""
    gemini_thinking_budget: int = Field(default=0, ge=0, le=32768)
    """Thinking tokens per extraction: 0 (the default model answers without thinking); a model that
    cannot turn thinking off (gemini-2.5-pro) needs at least 128. Added to the output limit."""
    max_pdf_pages: int = Field(default=50, ge=1)
    """0 or less rejected every PDF."""
    pdf_parse_timeout_seconds: float = Field(default=20.0, gt=0, allow_inf_nan=False)
    """One PDF's parse: finite (``inf``, "no limit", failed every PDF: the wait overflowed) and under the extract
    step's start-to-close, with or without Gemini (``_extract_step_problems``)."""

    # Raw bills and analytics
    artifact_store: ArtifactStoreKind = ArtifactStoreKind.GCS
    gcs_bucket: Text = "minimeter-raw-bills"
    storage_emulator_host: OptionalText = None
    gcp_project: Text = "minimeter-local"
    analytics: AnalyticsKind = AnalyticsKind.BIGQUERY
    bq_dataset: Text = "minimeter"
    bigquery_emulator_host: OptionalText = None
    analytics_batch_max_bills: int = Field(default=100, ge=1)
    """Bills one worker writes to the warehouse in one request per table, at most."""
    analytics_batch_max_wait_ms: int = Field(default=500, ge=0)
    """How long the first bill of a batch may wait while others keep joining it (steady load). Every job
    holds its dispatcher place while it waits: at 2,000 the jobs in flight finished together, one batch
    a wave, and the machine idled while they waited (1,000 bills 10.5 → 12.4 bills/s at 500; README)."""
    analytics_batch_quiet_ms: int = Field(default=150, ge=0)
    """A batch no bill joined for this long is written: a lone bill waits only this."""

    # Provider connectors
    mock_connector: bool | None = None
    """Fetch bills with the mock connector (generated bills, the only connector shipped so far).
    Unset: on everywhere but ``ENV=production``, where ``POST /jobs`` is refused (upload bills instead)
    so synthetic bills never land among real ones."""

    # Human review
    review_sla: Duration = timedelta(hours=24)
    """A task still open this long is escalated; at least a second, and shorter than ``review_timeout``."""
    review_timeout: Duration = timedelta(days=7)
    """A task still open this long expires (the job ends REVIEW_EXPIRED)."""
    review_claim_lapse_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    """How long a reviewer's claim on a task holds after they last loaded or sent its page (``review_claims``);
    0 would free every claim at once, so a colleague's open page would never count. At most a week (the default
    ``review_timeout``): a lapse reaching back past Postgres's earliest date made every review page a 500."""

    # Worker
    # Bounded here: out of range, each stopped the worker only once connected, as an SDK or asyncpg
    # traceback, where a refused setting is one line naming it (README).
    worker_max_concurrent_activities: int = Field(default=64, ge=1)
    worker_max_concurrent_workflow_tasks: int = Field(default=32, ge=2)
    """At least two: the SDK refuses fewer while it keeps workflows cached."""
    worker_activity_threads: int = Field(default=64, ge=1)
    worker_graceful_shutdown_seconds: float = Field(default=30.0, ge=0, le=86_400, allow_inf_nan=False)
    """``inf`` or ``1e14`` stopped the worker once connected, as a traceback (no such timedelta); a day at most."""
    worker_recent_artifacts_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    """Raw bills a worker keeps in memory after storing them, so extraction need not download
    them again (0 turns it off). Objects are content-addressed: a kept copy never goes stale."""
    worker_metrics_address: OptionalText = None
    """host:port where the worker serves Prometheus metrics at ``/metrics`` (unset: none): the SDK's (task
    latencies, slots, failures, schedule-to-start: the queue's backlog) and MiniMeter's (``shared.job_metrics``,
    ``worker.backlog_metrics``). Each worker process needs an address of its own."""
    worker_metrics_backlog_seconds: float = Field(default=15.0, ge=0.1, le=3600, allow_inf_nan=False)
    """How often a worker serving metrics reads the jobs and review tasks waiting in Postgres for its gauges."""
    worker_nice: int = Field(default=0, ge=0, le=19)
    """Lower the worker's CPU priority (Unix nice) where it shares a machine with the API:
    background work yields to interactive requests. The local stack sets 10 (and runs the dev
    server at 10 too). See ``shared.priority`` for why the session's value matters."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values, then the environment, then Google Secret Manager (when configured and
        ``asks_secret_manager``)."""
        from shared.secrets import SecretManagerSource

        if not cls.asks_secret_manager:
            return (init_settings, env_settings, file_secret_settings)
        # Secret Manager answers only for the secrets the environment lacks (unset, empty or blank), so it may
        # come first: after it, a blank variable (``GEMINI_API_KEY= ``) hid the stored key.
        return (init_settings, SecretManagerSource(settings_cls), env_settings, file_secret_settings)

    asks_secret_manager: ClassVar[bool] = True
    """False for ``_SettingsBeside``: a start asks Secret Manager once."""

    @model_validator(mode="after")
    def _every_cross_check_at_once(self) -> Settings:
        """Every refusal that weighs settings against each other, in one line: refused one at a time, four missing
        settings took four restarts to find (and ``settings_or_exit`` names these beside a value refused alone)."""
        if not self.judges_cross_checks:
            return self
        problems = self.cross_check_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    judges_cross_checks: ClassVar[bool] = True
    """False for ``_SettingsBeside``, which asks ``cross_check_problems`` for those it can judge."""

    def cross_check_problems(self, unknown: Set[str] = frozenset()) -> list[str]:
        """The cross checks' refusals, but those of checks reading a setting in ``unknown`` (one refused alone and
        judged at its default: a mistyped ``ARTIFACT_STORE`` would have the bucket checked as if on GCS)."""
        checks: list[tuple[set[str], Callable[[], Iterator[str]]]] = [
            ({"review_sla", "review_timeout"}, self._review_timer_problems),
            ({"db_pool_min", "db_pool_max"}, self._pool_bound_problems),
            ({"job_dispatch_stale_after", "job_reconcile_after"}, self._job_period_problems),
            ({"temporal_tls_cert", "temporal_tls_key"}, self._tls_pair_problems),
            (
                {"pdf_parse_timeout_seconds", "gemini_timeout_seconds", "extractor", "gemini_api_key"},
                self._extract_step_problems,
            ),
        ]
        if self.env is Environment.PRODUCTION:  # a refused ENV is at its default, development: none of these
            checks += [
                (
                    {"auth_disabled", "payload_keys", "database_url", "extractor", "gemini_api_key"},
                    self._unsafe_in_production,
                ),
                (
                    {"artifact_store", "storage_emulator_host", "analytics", "bigquery_emulator_host"}
                    | {"gcs_bucket", "gcp_project"},
                    self._placeholder_cloud_names,
                ),
                ({"artifact_store", "data_dir"}, self._unshared_local_artifacts),
            ]
        return [problem for reads, check in checks if not reads & unknown for problem in check()]

    def _review_timer_problems(self) -> Iterator[str]:
        # Whole seconds reach the workflow: 0 would escalate every task at once, and an SLA at or past
        # the timeout would escalate a task a moment before it expires, or never.
        if self.review_sla < timedelta(seconds=1):
            yield f"REVIEW_SLA must be at least one second (got {self.review_sla})"
        elif self.review_sla >= self.review_timeout:
            yield f"REVIEW_SLA ({self.review_sla}) must be shorter than REVIEW_TIMEOUT ({self.review_timeout})"

    def _pool_bound_problems(self) -> Iterator[str]:
        if self.db_pool_min > self.db_pool_max:  # asyncpg refused the pool only when a process opened it
            yield f"DB_POOL_MIN ({self.db_pool_min}) must not exceed DB_POOL_MAX ({self.db_pool_max})"

    def _job_period_problems(self) -> Iterator[str]:
        # 0 would count no job as running (lifting JOB_DISPATCH_MAX_RUNNING) or check every open job
        # on every round; a negative period means the same, less visibly.
        for name in ("job_dispatch_stale_after", "job_reconcile_after"):
            if getattr(self, name) < timedelta(seconds=1):
                yield f"{name.upper()} must be at least one second (got {getattr(self, name)})"

    @field_validator("worker_metrics_address")
    @classmethod
    def _metrics_host_and_port(cls, address: str | None) -> str | None:
        # The SDK's exporter binds a socket address: a host name (localhost) failed the worker's start.
        if address is None:
            return None
        host_port = _as_host_port(address)
        try:
            ipaddress.ip_address(host_port.rpartition(":")[0].strip("[]") if host_port else "")
        except ValueError:
            raise ValueError(
                "needs an IP address and a port to listen on, e.g. 0.0.0.0:9464, 127.0.0.1:9464 or [::]:9464"
                " (no host name, scheme or path)"
            ) from None
        return host_port

    @field_validator("temporal_address")
    @classmethod
    def _host_and_port(cls, address: str) -> str:
        # Without a port the SDK dials 80 (443 with TLS), and the worker and the API waited out
        # STARTUP_WAIT_SECONDS for a Temporal that was never there. A scheme (https://) the SDK has deprecated:
        # TLS is TEMPORAL_TLS's to turn on.
        if (host_port := _as_host_port(address)) is None:
            raise ValueError("needs host:port, e.g. temporal.example.com:7233 (no scheme: TEMPORAL_TLS turns TLS on)")
        return host_port

    @field_validator("gcs_bucket")
    @classmethod
    def _a_bucket_name(cls, name: str) -> str:
        # Checked by the client only when the worker or the API looked the bucket up: a 36-line traceback ending
        # "Bucket names must start and end with a number or letter", naming no variable (an operator's probe, 69C).
        if not (_BUCKET_NAME.fullmatch(name) and all(len(part) <= 63 for part in name.split("."))):
            raise ValueError(
                "not a bucket name: 3 to 63 lower-case letters, digits, dashes or underscores (dots too, up to"
                " 222), beginning and ending with a letter or a digit"
            )
        return name

    @field_validator("bq_dataset")
    @classmethod
    def _a_dataset_name(cls, name: str) -> str:
        if not _DATASET_NAME.fullmatch(name):
            raise ValueError("not a dataset name: letters, digits and underscores, up to 1,024 (no project)")
        return name

    @field_validator("temporal_tls_cert", "temporal_tls_key", "temporal_tls_ca")
    @classmethod
    def _readable_file(cls, path: Path | None) -> Path | None:
        # Read only when connecting: a wrong path, or a key mounted for another user (0600), failed the
        # worker and the API there, as a traceback, instead of being refused at start by name.
        if path is not None and not (path.is_file() and os.access(path, os.R_OK)):
            raise ValueError("no file this process can read there")
        return path

    @field_validator("cors_origins")
    @classmethod
    def _no_origin_lets_every_site_in(cls, origins: list[str]) -> list[str]:
        # Checked by the API too (api/cors.py), but only as it built the app: `python -m api` died there as a
        # traceback through uvicorn's factory, not with the one line naming the variable.
        return refuse_every_site(origins)

    @field_validator("gemini_api_key", "temporal_api_key")
    @classmethod
    def _a_key_a_header_can_carry(cls, key: SecretStr | None) -> SecretStr | None:
        # Sent in an HTTP header: a key pasted with a typographic quote started, then every Gemini extraction failed
        # on a UnicodeEncodeError naming no variable, retried for 30 minutes (an operator's probe, 72C).
        if key is not None and not all("!" <= char <= "~" for char in key.get_secret_value()):
            raise ValueError(
                "has characters an HTTP header cannot carry (a space, or a quote pasted with it?): set the key alone"
            )
        return key

    @field_validator("payload_keys")
    @classmethod
    def _key_ring_parses(cls, keys: SecretStr | None) -> SecretStr | None:
        # Parsed only when connecting to Temporal, a malformed ring stopped the worker and the API there,
        # as a traceback in a log line, and ``make run`` only said a child had exited.
        if keys is not None and keys.get_secret_value().strip():
            from shared.codec import parse_key_ring  # imports this module: not at the top

            parse_key_ring(keys.get_secret_value())  # its errors name the key's position, never its material
        return keys

    def _tls_pair_problems(self) -> Iterator[str]:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            yield "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (mTLS needs both)"

    def _unsafe_in_production(self) -> Iterator[str]:
        if self.auth_disabled:
            yield "AUTH_DISABLED=true is refused when ENV=production"
        if not self.payload_keys_set:
            # Blank (whitespace) passed here and failed at connect, as a traceback.
            yield "PAYLOAD_KEYS must be set when ENV=production" + _nor_in_secret_manager("payload_keys")
        if self.database_url is None:
            yield "DATABASE_URL must be set when ENV=production" + _nor_in_secret_manager("database_url")
        if self.extractor is ExtractorMode.GEMINI and not self.gemini_configured:
            # Taken, every bill went to review as gemini_not_configured: a key forgotten, or its secret
            # absent from Secret Manager (an absent secret is unset), left reviewers every bill to read.
            yield "EXTRACTOR=gemini needs GEMINI_API_KEY when ENV=production" + _nor_in_secret_manager("gemini_api_key")

    def _placeholder_cloud_names(self) -> Iterator[str]:
        # Bucket names are global and the default one is in this public repository: a production deployment
        # that forgot GCS_BUCKET stored bills in whoever owns it (a 403 on the lookup counts as "it exists").
        real_gcs = self.artifact_store is ArtifactStoreKind.GCS and not self.storage_emulator_host
        real_bigquery = self.analytics is AnalyticsKind.BIGQUERY and not self.bigquery_emulator_host
        # The project is GCS's too: a missing bucket is created in it.
        for name, used, what in (
            ("gcs_bucket", real_gcs, "a bucket of your own (bucket names are global)"),
            ("gcp_project", real_gcs or real_bigquery, "a project of your own (of GCS_BUCKET and BQ_DATASET)"),
        ):
            if used and getattr(self, name) == type(self).model_fields[name].default:
                yield f"{name.upper()} must be set to {what} when ENV=production, not the default"

    def _unshared_local_artifacts(self) -> Iterator[str]:
        # The API stores uploads and the workers read them: in compose they are containers without a shared
        # volume, so each upload job failed at extraction, and its raw bill went with the API's container.
        if self.artifact_store is ArtifactStoreKind.LOCAL and "data_dir" not in self.model_fields_set:
            yield (
                "ARTIFACT_STORE=local needs DATA_DIR set to a mount every API and worker process shares"
                " when ENV=production (or use ARTIFACT_STORE=gcs)"
            )

    def _extract_step_problems(self) -> Iterator[str]:
        # Past the extract activity's start-to-close Temporal abandons the attempt and starts another,
        # while the abandoned thread goes on parsing (a parse slot taken) or calling Gemini: the PDF parse
        # and the call fit in one attempt.
        from workflows.policies import EXTRACT  # plain constants, no workflow: here, not at the top (layering)

        limit = EXTRACT.start_to_close.total_seconds()
        gemini_called = self.extractor is not ExtractorMode.RULES and self.gemini_configured
        if self.pdf_parse_timeout_seconds >= limit:
            yield (
                f"PDF_PARSE_TIMEOUT_SECONDS ({self.pdf_parse_timeout_seconds:g}) must stay under the extract"
                f" step's {limit:g} s"
            )
        elif gemini_called and self.gemini_timeout_seconds + self.pdf_parse_timeout_seconds >= limit:
            yield (
                f"GEMINI_TIMEOUT_SECONDS ({self.gemini_timeout_seconds:g}) plus PDF_PARSE_TIMEOUT_SECONDS"
                f" ({self.pdf_parse_timeout_seconds:g}) must stay under the extract step's {limit:g} s"
            )

    @property
    def mock_connector_on(self) -> bool:
        return self.mock_connector if self.mock_connector is not None else self.env is not Environment.PRODUCTION

    @property
    def payload_keys_set(self) -> bool:
        """Whether ``PAYLOAD_KEYS`` holds keys: a blank one (a compose file's ``PAYLOAD_KEYS=``) is unset, and payloads
        are sealed with the key file under ``DATA_DIR`` (``shared.codec.load_key_ring``)."""
        return self.payload_keys is not None and bool(self.payload_keys.get_secret_value().strip())

    @property
    def gemini_configured(self) -> bool:
        # A blank key is unset once read; stripped here too for a copy made without validation (model_copy).
        return self.gemini_api_key is not None and bool(self.gemini_api_key.get_secret_value().strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, created once."""
    return Settings()


def refusal(error: ValidationError | SettingsError) -> str:
    """What was refused, one line, by the variables' names (``LOG_LEVEL``, not ``log_level``), never the values."""
    if isinstance(error, SettingsError):  # a value the environment source could not decode (malformed JSON)
        return re.sub(r'field "(\w+)"', lambda m: m[1].upper(), str(error))
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where.upper()}: {message}" if where else message)
    return "; ".join([*parts, *_cross_checks_beside(error)])


def _cross_checks_beside(error: ValidationError) -> list[str]:
    """The cross checks' refusals (``Settings.cross_check_problems``) where values were refused alone: pydantic runs
    them only once every value passed, so a mistyped ``LOG_LEVEL`` hid a production deployment's missing
    ``PAYLOAD_KEYS`` and ``DATABASE_URL`` until the next start. The settings are read again with each refused value at
    its default, and only the checks reading none of them are judged. Secret Manager is not asked again (one read a
    start): where it is configured, the checks reading a secret are not judged either."""
    from shared.secrets import SECRET_FIELDS, SecretManagerConfig  # as settings_customise_sources imports them

    refused = {str(item["loc"][0]) for item in error.errors(include_input=False, include_url=False) if item["loc"]}
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
        if name in refused
    }
    if not defaults:
        return []
    unknown = set(defaults) | (set(SECRET_FIELDS) if SecretManagerConfig().project else set())
    try:
        beside = _SettingsBeside(**defaults)
    except (ValidationError, SettingsError):
        return []
    return beside.cross_check_problems(unknown)


class _SettingsBeside(Settings):
    """The settings read again beside a refused value: from the environment alone, the cross checks left unjudged."""

    judges_cross_checks: ClassVar[bool] = False
    asks_secret_manager: ClassVar[bool] = False


def misspelled_settings(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(variable, the setting it is likely meant for) for each variable of ``environ`` that is no setting but
    reads nearly as one: ``TEMPORAL_ADRESS``, ``WORKER_GRACEFUL_SHUTDOWN_SECOND``. Unread, each left its setting at
    the default without a word: a worker waited a minute on 127.0.0.1:7233."""
    from shared.secrets import SecretManagerConfig  # as settings_customise_sources imports it: where needed

    secret_manager = {f"SECRET_MANAGER_{name.upper()}" for name in SecretManagerConfig.model_fields}
    known = {name.upper() for name in Settings.model_fields} | secret_manager
    found: list[tuple[str, str]] = []
    for variable in sorted(environ):
        upper = variable.upper()
        if upper in known:
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=MISSPELLING_CUTOFF)
        if close:
            found.append((variable, close[0]))
    return found


MISSPELLING_CUTOFF = 0.85
"""How alike (``difflib``'s ratio) a variable and a setting's name are for the one to be taken for the other misspelt:
``TEMPORAL_ADRESS`` and ``TEMPORAL_ADDRESS`` are 0.97 alike, ``GEMINI_KEY`` and ``GEMINI_API_KEY`` 0.83."""


def warn_misspelled_settings(environ: Mapping[str, str] = os.environ) -> None:
    """A warning at start for each ``misspelled_settings``, once logging is configured."""
    for variable, meant in misspelled_settings(environ):
        logger.warning(
            f"{variable} is not a MiniMeter setting, and is ignored: did you mean {meant}?",
            extra={"variable": variable, "setting": meant},
        )


def settings_or_exit() -> Settings:
    """The settings, for an entry point: a refused one ends the process with one line naming the variable.

    A traceback through pydantic's internals buried that line, in a log pipeline expecting JSON
    lines among them, and gave an operator the fields' Python names to look for."""
    try:
        return get_settings()
    except (ValidationError, SettingsError) as error:
        raise SystemExit(f"minimeter: refused configuration: {refusal(error)}") from None


def _nor_in_secret_manager(field: str) -> str:
    """Where Secret Manager was asked for ``field``, when it was (``SECRET_MANAGER_PROJECT``): a secret under another
    prefix or project was refused as "DATABASE_URL must be set", saying nothing of the secret looked up (74B)."""
    from shared.secrets import SecretManagerConfig, secret_name  # as settings_customise_sources imports them

    config = SecretManagerConfig()
    if not config.project:
        return ""
    return f" (nor in Secret Manager: projects/{config.project}/secrets/{secret_name(field, config.prefix)})"
