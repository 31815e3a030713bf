"""Messages of the human-review loop: the decision a reviewer sends and what they get back."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from shared.bill import NormalizedBill, Provider, Text, Text2000
from shared.models import JobStatus, PeriodSeen, WorkflowMessage

REVIEWER_MAX_LENGTH = 200


class ReviewAction(StrEnum):
    APPROVE = "approve"
    CORRECT = "correct"
    REJECT = "reject"

    @property
    def done(self) -> str:
        """The action as done, for people: "approved", "corrected", "rejected"."""
        return _DONE[self]


_DONE = {ReviewAction.APPROVE: "approved", ReviewAction.CORRECT: "corrected", ReviewAction.REJECT: "rejected"}


class ReviewStatus(StrEnum):
    PENDING = "PENDING"
    ESCALATED = "ESCALATED"
    DONE = "DONE"
    EXPIRED = "EXPIRED"
    CANCELED = "CANCELED"


class ReviewDecision(WorkflowMessage):
    """A reviewer's decision, sent by signal (``review_decision``) or update (``submit_review``)."""

    action: ReviewAction
    revision: str = Field(min_length=1, max_length=64)
    bill: NormalizedBill | None = None
    reviewer: Text = Field(default="unknown", max_length=REVIEWER_MAX_LENGTH)
    note: Text2000 | None = None
    override: bool = False
    """With ``correct``: store the bill as entered though plausibility checks fail (the note says why)."""
    period_seen: PeriodSeen | None = None
    """Set by the API on a correction or an approval (not a reopened bill's): the bill it found stored for the decided
    bill's period, or none. Not part of the decision's update id: a repeat is the same decision whatever was stored
    meanwhile."""

    @model_validator(mode="after")
    def _correct_needs_bill(self) -> ReviewDecision:
        if self.action is ReviewAction.CORRECT and self.bill is None:
            raise ValueError("a 'correct' decision needs the full corrected bill")
        if self.override and (self.action is not ReviewAction.CORRECT or not self.note):
            raise ValueError("override goes with 'correct' and a note saying why the bill is right as entered")
        return self


class ReviewAck(BaseModel):
    job_id: str
    status: JobStatus


class ReviewTaskOpen(BaseModel):
    job_id: str
    reasons: list[str]
    bill: NormalizedBill | None
    artifact_uri: str
    revision: str
    status: ReviewStatus = ReviewStatus.PENDING
    taking_back: bool = False
    """A run an operator reset takes its task back (``take_back_review``): only from the run it replaced, never
    over what this run's own steps wrote since (an escalation's newer revision, a decision)."""
    reopens: str | None = None
    """The revision of this run's task decided last, opened again because persist held its correction (a bill stored
    for the corrected period since the API checked it): a task this run decided is opened again only so, that one."""


class ReviewTaskUpdate(BaseModel):
    job_id: str
    status: ReviewStatus
    revision: str


class ReviewAudit(BaseModel):
    job_id: str
    decision: ReviewDecision
    before: NormalizedBill | None
    revision: str


class CorrectionCheck(BaseModel):
    """A corrected bill that arrived by signal, to be checked before the workflow takes it."""

    job_id: str
    bill: NormalizedBill
    account_number: str | None = None
    """The job's account as fetched: a correction for another account is refused (None: not known)."""
    provider: Provider | None = None
    """The account's provider: a bill of another is refused (None: the account has none, or a run of an earlier
    release asked)."""
    override: bool = False
    """The reviewer stores the bill as entered: only the checks no bill may fail apply."""
    approving: bool = False
    """``bill`` is the extraction a reviewer approved as read: only the checks no bill may fail are asked, and
    of those not ``extraction.checks.APPROVABLE_UNREAD`` (the plausibility checks it failed are why it is in review)."""


class CorrectionVerdict(BaseModel):
    failing: list[str]
    """The checks the corrected bill fails ([] when it passes): those ``submit_review``'s validator runs."""
