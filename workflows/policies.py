"""Every activity's timeouts and retry policy, in one readable place (README mirrors it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypedDict

from temporalio.common import RetryPolicy

NON_RETRYABLE = [
    "DocumentRejected",  # empty, corrupt or unsupported file: retrying cannot help
    "ArtifactConflict",  # the stored object has other content than ours
    "ArtifactNotFound",  # the raw bill is gone from the store (deleted): GCS and the local store never lag a write
    "InvalidArtifactName",  # the raw bill is outside the configured store (another bucket), or a hostile name
    "UnknownAccount",  # the job points at an account that does not exist
    "ExtractionInvalid",  # the extractor produced something unusable
    "GeminiRejected",  # Gemini refused the document (the engine sends it to review instead)
]


class LocalActivityOptions(TypedDict):
    start_to_close_timeout: timedelta
    schedule_to_close_timeout: timedelta | None
    retry_policy: RetryPolicy


class ActivityOptions(LocalActivityOptions):
    heartbeat_timeout: timedelta | None


@dataclass(frozen=True)
class ActivityPolicy:
    start_to_close: timedelta
    retry: RetryPolicy
    heartbeat: timedelta | None = None
    schedule_to_close: timedelta | None = None

    def options(self) -> ActivityOptions:
        """Every field as ``execute_activity``'s keywords: one spelling, so no call leaves one out
        (a policy without an attempt limit relies on its schedule-to-close)."""
        return {**self.local_options(), "heartbeat_timeout": self.heartbeat}

    def local_options(self) -> LocalActivityOptions:
        """As ``options``, for a local activity (which has no heartbeat)."""
        return {
            "start_to_close_timeout": self.start_to_close,
            "schedule_to_close_timeout": self.schedule_to_close,
            "retry_policy": self.retry,
        }


def _retry(initial: float, maximum: float, attempts: int, backoff: float = 2.0) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=initial),
        backoff_coefficient=backoff,
        maximum_interval=timedelta(seconds=maximum),
        maximum_attempts=attempts,
        non_retryable_error_types=NON_RETRYABLE,
    )


# Bookkeeping in Postgres: must outlive a database restart, failover or maintenance window. Every
# step is idempotent, and giving up costs more than waiting: a persist that committed but lost its
# answer would end FAILED with the bill stored and never published (the same file again is a
# DUPLICATE), and a finished job's last step would record a stored and published bill as FAILED.
# So no attempt limit, for up to an hour (the job RUNNING, its last failure in the Web UI).
DATABASE = ActivityPolicy(timedelta(seconds=15), _retry(0.5, 30, 0), schedule_to_close=timedelta(hours=1))
# Fetch reads Postgres (the account), the provider's portal and archives to object storage, so like the
# bookkeeping it has no attempt limit, for up to an hour: fifteen attempts (2.5 minutes) failed every job a longer
# database failover caught there. A portal with no bill yet gives up after MAX_NO_BILL_ATTEMPTS
# (activities/fetching.py); one that refuses for good says so with a non-retryable error (Connector.read).
FETCH = ActivityPolicy(timedelta(seconds=60), _retry(0.5, 10, 0), schedule_to_close=timedelta(hours=1))
# Object storage: transient 5xx and connection errors are common and safe to retry (the write is create-once).
# The step then records the object in Postgres, so it outlives a database failover as the bookkeeping does:
# ten attempts (two and a half minutes) failed every job caught at this step by a longer one.
STORAGE = ActivityPolicy(timedelta(seconds=60), _retry(1, 30, 0), schedule_to_close=timedelta(hours=1))
# Extraction may call Gemini (429/5xx): longer backoff, heartbeats so cancellation arrives. Gemini's
# overloads last minutes, not seconds: retry for up to 30 minutes (schedule-to-close), not six tries
# (a minute), before the job fails. A refused key or retired model (GeminiMisconfigured) is retried
# alike for the same 30 minutes; a document Gemini refuses goes to review (gemini_rejected).
EXTRACT = ActivityPolicy(
    timedelta(minutes=3), _retry(2, 60, 0), heartbeat=timedelta(seconds=30), schedule_to_close=timedelta(minutes=30)
)
# Validation checks the extraction against the document's text: the worker that just extracted
# it has the text in memory, any other reads the stored object again, so retry like storage, for up to an
# hour with no attempt limit (ten attempts, two and a half minutes, failed a job an object-store outage caught
# here that store_raw_bill would have outlived).
VALIDATE = ActivityPolicy(timedelta(seconds=60), _retry(1, 30, 0), schedule_to_close=timedelta(hours=1))
# Checking a reviewer's correction or approval sent by signal reads nothing: no outage to outlive, and a check that
# fails keeps failing, so a few attempts (two and a half minutes) before the job fails.
CHECK = ActivityPolicy(timedelta(seconds=60), _retry(1, 30, 10))
# Analytics sink: streaming inserts are idempotent by bill id, so retry generously. The bill is
# already stored in Postgres, and a job that failed here could not be sent again (the same file
# is a DUPLICATE): keep trying through a warehouse outage of up to a day, the job RUNNING (its
# pending attempts and last failure in the Web UI), rather than leave the warehouse without it.
# It heartbeats while its batch is slow, so a lost worker costs 30 s, not the 2-minute start-to-close.
ANALYTICS = ActivityPolicy(
    timedelta(minutes=2), _retry(1, 60, 0), heartbeat=timedelta(seconds=30), schedule_to_close=timedelta(hours=24)
)
# Review escalation: marks the task escalated in Postgres, then notifies. A failure fails the
# job, so it must outlive a database restart like the bookkeeping steps.
NOTIFY = ActivityPolicy(timedelta(seconds=30), _retry(0.5, 30, 0), schedule_to_close=timedelta(hours=1))
# A warehouse MERGE over two months may queue for slots: minutes, not seconds. The next
# scheduled run recomputes the same window, so a few attempts are enough.
ROLLUP = ActivityPolicy(timedelta(minutes=10), _retry(5, 120, 5))
