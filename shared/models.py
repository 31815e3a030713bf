"""Domain records and the typed inputs/outputs of workflows and activities.

Every Temporal payload is one of these small Pydantic models, so fields can be
added later without breaking recorded histories. Raw bill bytes never appear
here: workflows carry an ``ArtifactRef`` (claim check) instead.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr

from shared.bill import NormalizedBill, Provider


class JobStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    SUCCEEDED = "SUCCEEDED"
    DUPLICATE = "DUPLICATE"
    REJECTED = "REJECTED"
    REVIEW_EXPIRED = "REVIEW_EXPIRED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        return self not in {JobStatus.PENDING, JobStatus.RUNNING, JobStatus.NEEDS_REVIEW}


ENDED_STATUSES: frozenset[str] = frozenset(status.value for status in JobStatus if status.is_terminal)
"""Statuses a job never leaves (``JobStatus.is_terminal``): its workflow has ended."""

SETTLED_STATUSES: frozenset[str] = ENDED_STATUSES | {JobStatus.NEEDS_REVIEW.value}
"""Statuses a job is settled in as far as the pipeline goes: ended, or waiting for a person's review."""


class JobType(StrEnum):
    CONNECTOR = "connector"
    UPLOAD = "upload"
    REOPEN = "reopen"
    """A stored bill a reviewer reopened: reviewed as stored, replaced by a correction (``POST /bills/{id}/reopen``)."""


Decision = Literal["accept", "review", "reject"]


class ArtifactRef(BaseModel):
    """Where a raw bill lives in object storage: the claim check workflows carry."""

    model_config = ConfigDict(frozen=True)

    uri: str
    sha256: str
    size: int
    content_type: str


class StepRecord(BaseModel):
    name: str
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    duration_ms: int | None = None
    attempt_error: str | None = None
    """Why the step failed for good; while Temporal retries it, why its last attempt failed."""
    attempt: int | None = None
    """The attempt Temporal is on while it retries the step (2 and on). ``GET /jobs/{id}`` reads it from the server's
    pending activity, with ``attempt_error``: the workflow sees a step's retries only once they are spent."""


# --- workflow input/output ---------------------------------------------------------


class WorkflowMessage(BaseModel):
    """What a workflow acts on when someone outside sends it (its start input, a review decision).

    It remembers whether its payload came sealed with our payload keys: the codec tags a payload it
    found unencrypted, and ``shared.codec.SealAwarePayloadConverter`` marks the model decoded from it.
    A private attribute: never serialized, so a sender cannot set it.
    """

    _unsealed: bool = PrivateAttr(default=False)

    @property
    def unsealed(self) -> bool:
        """True when decoded from a payload nobody sealed with our keys (sent without the codec)."""
        return self._unsealed

    def mark_unsealed(self) -> None:
        self._unsealed = True


class RollupInput(WorkflowMessage):
    """Input of ``AnalyticsRollupWorkflow`` (here, not in its module: the sandbox would build it again per run)."""

    window_days: int = Field(default=62, ge=1, le=3660)
    """How far back bills may still change (late bills, review corrections)."""


class ReopenedBill(BaseModel):
    """A stored bill a reviewer asked to review again, and why: the job reviews it as stored instead of ingesting."""

    model_config = ConfigDict(frozen=True)

    bill_id: str
    reopened_by: str
    """Who reopened it (the key's name and id), never client-supplied."""
    note: str
    """What they found wrong, for the reviewer who takes the task."""


class StoredVersion(BaseModel):
    """One version of a stored bill: a correction replaces it only if it is still the bill's current one."""

    model_config = ConfigDict(frozen=True)

    bill_id: str
    stored_at: AwareDatetime


class IngestionRequest(WorkflowMessage):
    """Input of ``BillIngestionWorkflow``: what to ingest, never the bytes themselves."""

    job_id: str
    customer_id: int
    utility_account_id: int
    provider: Provider | None = None
    job_type: JobType = JobType.CONNECTOR
    upload: ArtifactRef | None = None
    """For uploads: where the API already stored the file."""
    review_sla_seconds: int = 24 * 3600
    review_timeout_seconds: int = 7 * 24 * 3600
    reopens: ReopenedBill | None = None
    """For a reopened bill (``JobType.REOPEN``): the bill to review as stored, instead of fetching one."""


class IngestionResult(BaseModel):
    job_id: str
    status: JobStatus
    decision: Decision | None = None
    reasons: list[str] = Field(default_factory=list)
    bill_id: str | None = None
    duplicate_of: str | None = None
    revises: str | None = None
    """The job whose stored bill this one, a re-issued statement for its period, replaced."""
    total_amount: Decimal | None = None
    currency: str | None = None
    artifact: ArtifactRef | None = None
    error: str | None = None
    reviewer: str | None = None
    note: str | None = None


class JobProgress(BaseModel):
    """What the ``progress`` query returns: the current step and the steps done."""

    job_id: str
    status: JobStatus
    current_step: str | None
    steps: list[StepRecord]
    reasons: list[str] = Field(default_factory=list)
    review_revision: str | None = None


# --- activity inputs/outputs -------------------------------------------------------


class JobRef(BaseModel):
    job_id: str
    first_run_id: str | None = None
    """The workflow's first execution run id: a reset keeps it, a new start under the job's id has its own.
    None in runs scheduled before it existed."""


class JobStatusUpdate(BaseModel):
    job_id: str
    status: JobStatus
    error: str | None = None
    result: IngestionResult | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    attempts: int | None = None
    first_run_id: str | None = None
    """As ``JobRef.first_run_id``: a run of another chain, which never took the job, writes no end over it."""


class FetchRequest(BaseModel):
    job_id: str
    utility_account_id: int
    provider: Provider | None
    upload: ArtifactRef | None = None


class FetchedBill(BaseModel):
    """A bill pinned at its source: a connector locator and its content hash."""

    source_uri: str
    sha256: str
    size: int
    content_type: str
    provider: Provider | None
    account_number: str | None = None
    """The utility account's number: the bill must be for this account."""


class StoreRequest(BaseModel):
    job_id: str
    fetched: FetchedBill


class ExtractRequest(BaseModel):
    job_id: str
    artifact: ArtifactRef
    provider: Provider | None


class ExtractionOutcome(BaseModel):
    bill: NormalizedBill | None
    reasons: list[str]
    extractor: str
    pages: int
    detail: str | None = None
    """Why the document was refused, where it was: the job's error says it ("a password-protected PDF: remove its
    password and upload it again"), not the reason's code alone."""


class ValidateRequest(BaseModel):
    job_id: str
    artifact: ArtifactRef
    extraction: ExtractionOutcome
    account_number: str | None = None
    """When known, a bill for another account goes to review (``account_mismatch``)."""


class ValidationOutcome(BaseModel):
    decision: Decision
    reasons: list[str]


class PeriodSeen(BaseModel):
    """What the API found stored for a decided bill's account and period as it let the decision through: the job
    whose bill it found (None: none stored). Two reviewers correcting two tasks onto one period at once both passed
    its 409 ``period_stored``, which runs apart from persist's lock: the later one replaced the other's bill, or ended
    its duplicate, unasked (a QA probe, 74C). Persist, under the account's lock, holds such a decision
    (``PersistOutcome.stored_since_decision``)."""

    stored_by_job: str | None = Field(default=None, max_length=64)


class PersistRequest(BaseModel):
    job_id: str
    customer_id: int
    utility_account_id: int
    artifact: ArtifactRef
    bill: NormalizedBill
    source: Literal["extraction", "review"] = "extraction"
    replaces: StoredVersion | None = None
    """A reviewer's correction of a reopened bill: it replaces that version of the bill, and no other."""
    held_over_corrections: bool = False
    """A re-issue of a bill a reviewer corrected is not stored (``PersistOutcome.held_over``): the extractor's reading
    of it would put the figures a person set aside unasked. Asked for a bill no reviewer has seen."""
    held_over_copies: bool = False
    """Nor another file of a stored statement that reads other figures (``PersistOutcome.reads_otherwise``). Asked
    apart, by workflows that know the hold's reason: one of an earlier release would give it as a corrected bill's."""
    held_over_overlaps: bool = False
    """Nor a bill whose period overlaps another stored bill of the account by over ``PERIOD_SLACK_DAYS`` days, not
    being the same statement (``PersistOutcome.overlaps``): a re-issue read on another day, a part of a stored month
    billed again, each counted its days twice. Asked for a bill no reviewer has seen."""
    period_seen: PeriodSeen | None = None
    """A reviewer's decision: what the API found stored for its bill's period. A correction meeting another job's
    bill stored since, or an approval a reviewer's correction it would replace, is held, nothing written
    (``PersistOutcome.stored_since_decision``). None: not asked (a signal's decision, a release before it)."""


class StoredBillQuery(BaseModel):
    job_id: str
    bill_id: str
    utility_account_id: int


class StoredBill(BaseModel):
    """A stored bill as a reopened job reviews it: its figures, its raw file and the version they are."""

    bill: NormalizedBill
    artifact: ArtifactRef
    version: StoredVersion
    job_id: str
    """The job that stored this version."""
    account_number: str | None
    """The account's number on file, which a correction is checked against."""


class DuplicateQuery(BaseModel):
    job_id: str
    utility_account_id: int
    sha256: str


class DuplicateFound(BaseModel):
    bill_id: str | None = None
    job_id: str | None = None
    """The earlier job that stored the same file for this account (None when it is new)."""
    total_amount: Decimal | None = None
    currency: str | None = None
    """The stored bill's amount due and currency, for the job's result: a DUPLICATE of the same file showed none,
    one of a rescan both (an analyst's probe). None in histories from before they were read."""


class PersistOutcome(BaseModel):
    bill_id: str
    duplicate_of_job: str | None = None
    """Set when an earlier job already stored this bill: nothing new was written."""
    revised_job: str | None = None
    """Set when this bill, a re-issued statement, replaced the one that job stored (same bill id)."""
    stored_at: AwareDatetime | None = None
    """When Postgres stored this version of the bill (None in histories from before it was kept)."""
    stored_bill: NormalizedBill | None = None
    """Set when Postgres keeps another bill than the one sent: this job's earlier reading (a run an operator reset),
    or, for a duplicate, the bill the earlier job stored, whose figures the result then gives beside its id."""
    held_over: str | None = None
    """Set, nothing written, when this bill, a re-issue, would replace the bill that job stored as a reviewer corrected
    it (``PersistRequest.held_over_corrections``): a reviewer decides first. Or, with ``reads_otherwise``, when it is
    another copy of the statement that job stored, read otherwise."""
    reads_otherwise: list[str] = []
    """Set with ``held_over`` for another file of a stored statement (its period, its statement date or none) whose
    figures, read without doubt, differ from the stored bill's: the figures it reads otherwise. It ended DUPLICATE,
    the difference said nowhere, though one of the two copies was misread (a finance auditor's probe, 74A); a reviewer
    looks first. The stored bill stands."""
    overlaps: bool = False
    """Set with ``held_over``, nothing written, when this bill's period overlaps the period of the bill that job
    stored (``PersistRequest.held_over_overlaps``): a reviewer decides whether both stand."""
    stored_since_decision: bool = False
    """Set with ``held_over``, nothing written, for a decision meeting the bill that job stored after the API found
    another, or none (``PersistRequest.period_seen``): the reviewer is asked again, as the API's 409 ``period_stored``
    asks had the bill been stored a moment sooner."""


class PublishRequest(BaseModel):
    job_id: str
    bill_id: str
    customer_id: int
    utility_account_id: int
    bill: NormalizedBill
    stored_at: AwareDatetime | None = None
    """The version's place in line in the warehouse: a re-issue stored after the original wins there
    too, even when the original's publish, retried through an outage, lands after it."""
    account_number: str | None = None
    """The job's account's number: masks the warehouse's copy of line items where the bill's was not read
    (None in histories from before it was sent, whose publish masks with the bill's own alone)."""
