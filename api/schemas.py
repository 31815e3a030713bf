"""Request and response bodies of the REST API (families share a prefix: ``JobCreate``, ``JobPublic``)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.analytics import MonthlyTotal
from shared.bill import (
    CENT,
    MONEY_FIELDS,
    QUANTITY_STEP,
    LineItem,
    NormalizedBill,
    Provider,
    Text,
    Text200,
    Text2000,
    UsageReading,
    past_its_places,
)
from shared.models import Decision, JobStatus, JobType, StepRecord
from shared.review import ReviewAction, ReviewStatus

BodyId = Annotated[int, Field(ge=1, le=2**63 - 1, strict=True)]
"""A database id in a JSON body: a JSON integer only. Lax parsing took ``true`` for id 1, so a client's
slip started a job on, or attached an account to, whichever row happens to be number 1."""


def _held_by_postgres(moment: datetime) -> datetime:
    """A time Postgres can compare with: 0001-01-01T00:00+14:00 falls in year 0 in UTC, 9999-12-31T23:59-14:00 in
    year 10000, and asyncpg, converting either, failed the request with a 500."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range: in UTC it must fall within the years 1 to 9999") from None
    return moment


_OFFSET_READ_AS_SPACE = re.compile(r":\d{2}(?:\.\d+)? \d{2}(?::?\d{2})?$")
"""A time whose ``+00:00`` came through a URL's query unencoded: a ``+`` there is read as a space."""


_A_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)\s*")
"""What pydantic's lax datetime reads as seconds since 1970, however it was meant."""


def _an_iso_time(value: object) -> object:
    """``?created_after=2026-12-07T13:00:00+00:00`` pasted into a URL was refused as "unexpected extra characters",
    which does not say that the ``+`` became a space (an integrator's probe, 72A). A number is refused: pydantic read
    ``?created_before=20261208`` (a date typed compactly) as Unix seconds, 1970-08-23, and the list came back empty."""
    if isinstance(value, str) and _OFFSET_READ_AS_SPACE.search(value):
        raise ValueError(
            "a '+' in a URL's query is read as a space: write the offset's '+' as %2B, or the time in UTC with Z"
        )
    if isinstance(value, int | float) or (isinstance(value, str) and _A_NUMBER.fullmatch(value)):
        raise ValueError("a number is not a time here: write an ISO 8601 time with its zone, as 2026-12-08T00:00:00Z")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_an_iso_time), AfterValidator(_held_by_postgres)]
"""A time with its zone, as a filter takes it."""


class ApiModel(BaseModel):
    """A body of the API: each field's docstring is its description in ``/openapi.json`` and ``/docs``, where a
    client learns what ``total_billed`` is when currencies differ, or ``next_cursor`` on the last page."""

    model_config = ConfigDict(use_attribute_docstrings=True)


def visible_text(text: str) -> str:
    """``text`` without whitespace and invisible format characters (Unicode category Cf: zero-width spaces and
    joiners, word joiners, byte-order marks), which a name made only of looks blank wherever it is shown."""
    return "".join(char for char in text if not char.isspace() and unicodedata.category(char) != "Cf")


def _visible_name(name: str) -> str:
    """A name of spaces, or of zero-width characters, would store a customer nobody can tell apart from the next
    one."""
    if not visible_text(name):
        raise ValueError("a customer's name must not be blank (spaces and invisible characters alone are blank)")
    return name.strip()


CustomerName = Annotated[Text, Field(min_length=1, max_length=200), AfterValidator(_visible_name)]


def _blank_label_is_none(label: str | None) -> str | None:
    """A label cleared in a form arrives as ``""``: no label, as ``null``, not one that shows as nothing."""
    return label.strip() if label is not None and visible_text(label) else None


AccountLabel = Annotated[Text200 | None, AfterValidator(_blank_label_is_none)]
"""An account's label: outer whitespace dropped, a blank one (spaces, invisible characters) none."""


class CustomerCreate(ApiModel):
    model_config = ConfigDict(extra="forbid")
    name: CustomerName
    email: EmailStr | None = None


class PatchBody(ApiModel):
    """A ``PATCH`` body: the fields sent change, the others stay as they are (``null`` removes a value)."""

    model_config = ConfigDict(extra="forbid")

    def changes(self) -> dict[str, Any]:
        """The columns to set, by name, as JSON values: the fields the request sent."""
        return self.model_dump(mode="json", include=self.model_fields_set)


class CustomerUpdate(PatchBody):
    """What ``PATCH /customers/{id}`` changes."""

    name: CustomerName | None = None
    """The customer's new name (it cannot be removed)."""
    email: EmailStr | None = None
    """The customer's new e-mail; ``null`` removes it."""

    @field_validator("name")
    @classmethod
    def _kept(cls, name: str | None) -> str | None:
        """Run only on a name sent: one sent as ``null`` would leave a customer nobody can tell apart."""
        if name is None:
            raise ValueError("a customer's name can be changed, not removed")
        return name


class CustomerPublic(ApiModel):
    id: int
    name: str
    email: str | None
    created_at: datetime
    updated_at: datetime | None = None
    """When a ``PATCH`` last changed the customer (``null``: never)."""


class UtilityAccountCreate(ApiModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: BodyId
    provider: Provider | None = None
    account_number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 \-]*$")
    label: AccountLabel = None


class UtilityAccountUpdate(PatchBody):
    """What ``PATCH /utility-accounts/{id}`` changes. Not the account number: another number is another account."""

    label: AccountLabel = None
    """The account's new label; ``null`` or a blank one removes it."""
    provider: Provider | None = None
    """The provider of an account registered without one, whose bills its connector may then fetch (``POST /jobs``).
    A provider once set stays: its bills were read as that provider's (a 409 ``provider_set``)."""


class UtilityAccountPublic(ApiModel):
    id: int
    customer_id: int
    provider: Provider | None
    account_number_masked: str
    label: str | None
    created_at: datetime
    updated_at: datetime | None = None
    """When a ``PATCH`` last changed the account (``null``: never)."""


class IdPage(ApiModel):
    """A page of a list ordered by id, oldest first (``api.services.id_cursor``)."""

    total: int
    """How many the key may see under the filters, on every page."""
    limit: int
    next_cursor: str | None = None
    """Pass as ``cursor`` for the page after this one; one created meanwhile comes on a later page, none is skipped or
    shown twice (None: no more)."""


class CustomerPage(IdPage):
    items: list[CustomerPublic]


class UtilityAccountPage(IdPage):
    items: list[UtilityAccountPublic]


class JobCreate(ApiModel):
    model_config = ConfigDict(extra="forbid")
    utility_account_id: BodyId


class ArtifactPublic(ApiModel):
    uri: str | None
    """Where the raw bill is stored (gs://bucket/object; a local store's by its object name); to a key bound to a
    customer, the API's link to it (``/jobs/{id}/artifact?sha256=``), never the bucket's name and layout, and null to
    such a key whose role does not open raw bills (a viewer's)."""
    sha256: str
    size: int
    content_type: str


class JobResult(ApiModel):
    """What the job ended with. Fields a later release adds read through (``extra``)."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="allow")
    job_id: str | None = None
    status: JobStatus | None = None
    decision: Decision | None = None
    """The extraction's verdict: accepted as read, sent to a reviewer, or refused unread."""
    reasons: list[str] = Field(default_factory=list)
    bill_id: str | None = None
    duplicate_of: str | None = None
    """The job that stored this very bill before (the job ended DUPLICATE)."""
    revises: str | None = None
    """The job whose stored bill this one, a re-issued statement for its period, replaced."""
    total_amount: Decimal | None = None
    """The bill's amount due, unpaid balances of earlier bills included: not what the period cost. Its own charges,
    line items, period and usage are ``GET /bills/{bill_id}``'s."""
    currency: str | None = None
    artifact: ArtifactPublic | None = None
    error: str | None = None
    reviewer: str | None = None
    """Who decided the review (the key's identity), when a person did: to a key bound to a customer, the name of its
    own customer's key, anyone else as "MiniMeter reviewer"."""
    note: str | None = None
    """The reviewer's note: to a key bound to a customer, account numbers masked as the logs mask them."""


class JobPublic(ApiModel):
    id: str
    status: JobStatus
    customer_id: int
    utility_account_id: int
    job_type: JobType
    workflow_id: str
    web_ui_url: str | None = Field(
        description="the job's workflow in the Temporal Web UI, for operators; null to a key bound to a customer: the"
        " Web UI is reachable from the host or behind SSO alone"
    )
    attempts: int = Field(
        description="workflow runs that started the job: 0 while it waits to start, 1 once started, more only after"
        " an operator's reset"
    )
    error: str | None
    reasons: list[str]
    reason_details: list[ReasonDetail] | None = Field(
        default=None,
        description="each of reasons in words, as GET /reviews/{job_id} gives them to a reviewer: a customer's key,"
        " which cannot read the task, saw bare codes (GET /jobs/{id} only; none in a list)",
    )
    current_step: str | None = None
    steps: list[StepRecord]
    """The steps run, each with its attempts and times. In a list (``GET /jobs``) those stored when the job ended
    (none while it runs); ``GET /jobs/{id}`` asks the running workflow for its live ones."""
    result: JobResult | None
    revised_by: str | None = Field(
        default=None,
        description="the job whose re-issued statement for the same period, or whose correction of the bill reopened,"
        " replaced the bill this one stored: the bill (result.bill_id) holds that job's figures now",
    )
    created_at: datetime
    updated_at: datetime
    duration_ms: int | None


class JobPage(ApiModel):
    items: list[JobPublic]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = None
    """Pass as ``cursor`` for the page after this one; stable while new jobs arrive (None: no more)."""


class BillPublic(ApiModel):
    id: str
    job_id: str
    utility_account_id: int
    bill_period_start: date | None
    bill_period_end: date | None
    due_date: date | None
    total_amount: Decimal | None
    """The amount due, unpaid balances of earlier bills included."""
    current_charges: Decimal | None
    """This bill's own charges."""
    currency: str
    created_at: datetime


class BillDetail(BillPublic):
    """One stored bill as validated (or as a reviewer corrected it): the figures the warehouse holds, read through
    the API by whoever may see its customer."""

    customer_id: int
    provider: Provider | None
    provider_name: str | None = None
    """The utility as the bill names it, for a provider without a connector (``provider`` null): the warehouse's
    ``provider`` column gives this name then, and an export reconciled against it matched nothing."""
    account_number_masked: str | None
    """The account number the bill states, masked as accounts are (its last four characters)."""
    statement_date: date | None
    previous_balance: Decimal | None
    payments_received: Decimal | None
    line_items: list[LineItem]
    usage: list[UsageReading]
    revised_at: datetime | None
    """When a re-issued statement for this period replaced the version first stored (``job_id`` is then the
    re-issue's job); None for a bill as first stored."""


class DashboardPublic(ApiModel):
    customer: CustomerPublic
    accounts: list[UtilityAccountPublic]
    recent_bills: list[BillPublic]
    """The ten bills of the latest periods, each in its current version (``revised_at`` when it replaced the first)."""
    jobs_by_status: dict[str, int]
    """The customer's jobs by status: every upload, fetch and reopen, so a re-issue's job, a duplicate's and a
    reopen's count beside the job that first stored their bill. Not bills: ``bills_count`` counts those."""
    bills_count: int
    """The bills stored, each once whatever its versions."""
    total_billed: Decimal | None
    """All bills' charges added up, when they share one currency (``currency``); None when they do not; 0, with
    ``currency`` None, while the customer has no bills. Every bill stored, of any month: ``monthly`` covers the
    months since ``monthly_since`` alone, so its months add up to less where older bills are stored.

    A bill's charges are its ``current_charges`` (its amount due where it states none): an amount
    due carries the unpaid balance of the bill before, which would be counted twice."""
    currency: str | None
    total_billed_by_currency: dict[str, Decimal]
    """Each currency's bills added up apart: amounts in two currencies are never summed."""
    monthly: list[MonthlyTotal]
    monthly_since: date
    """The first month ``monthly`` covers (this month and the 23 before it, then any later month a bill a reviewer
    approved dated ahead ends in: ``monthly`` begins with it, newest first): a reader adding its months up found
    less than ``total_billed``, which counts a bill of any month, with nothing to say why (75A)."""
    monthly_source: str
    """``postgres``: the monthly figures are read with the totals above, from the same bills, so they agree.

    Never the analytics rollup, which the schedule rebuilds hourly and so lags every new or corrected
    bill (it gives the same figures once it has run: it is there for the warehouse's own readers)."""


class ReviewSummary(ApiModel):
    job_id: str
    status: ReviewStatus
    reasons: list[str]
    provider: Provider | None
    customer_id: int
    utility_account_id: int
    created_at: datetime
    age_seconds: int
    """How long the task has waited: until now while open, until it closed once closed."""
    revision: str
    closed_at: datetime | None = None
    claimed_by: str | None = None
    """The reviewer who has the task open in the review UI (a soft claim; None: nobody, or it lapsed)."""
    claimed_at: datetime | None = None
    """Since when they have had it open."""


class ReviewPage(ApiModel):
    items: list[ReviewSummary]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = None
    """Pass as ``cursor`` for the page after this one: no task is skipped while others are decided (None: no more)."""


class FieldChange(ApiModel):
    before: Any
    """The value as extracted (JSON: amounts and dates as strings, rows as lists)."""
    after: Any
    """The value as the reviewer corrected it."""


class ReviewDecisionTaken(ApiModel):
    """How a closed task was decided, so a client refused with a 409 can see whose decision stands."""

    action: ReviewAction
    reviewer: str
    """The deciding key's identity; to a key bound to a customer, as a job's ``result.reviewer`` names it."""
    note: str | None
    """To a key bound to a customer, as a job's ``result.note`` shows it (account numbers masked)."""
    decided_at: datetime
    changed_fields: list[str]
    """The fields a correction changed (none for an approval or a rejection)."""
    changes: dict[str, FieldChange] = Field(default_factory=dict)
    """A correction's changes, each field's value as extracted and as corrected: once decided, the task's ``bill`` is
    the corrected one, and the extraction was readable nowhere but the database."""
    overridden: list[str]
    """Plausibility checks the reviewer stored the bill despite."""
    job_status: JobStatus


class Reopening(ApiModel):
    """Who reopened a stored bill for review, and why (``POST /bills/{id}/reopen``)."""

    model_config = ConfigDict(use_attribute_docstrings=True)
    bill_id: str
    """The stored bill a correction replaces with a new version; an approval leaves it as it is."""
    reopened_by: str
    note: str


class ReplacedBill(ApiModel):
    """A stored bill a task's is compared with (one it would replace, or another copy of its statement):
    ``GET /bills/{bill_id}`` shows it."""

    job_id: str
    bill_id: str
    statement_date: date | None
    total_amount: Decimal | None
    currency: str


class StoredCopy(ReplacedBill):
    """The stored bill of a statement another copy of which reads otherwise, and how."""

    figures_read_otherwise: list[str]
    """The figures the task's bill and the stored bill disagree on, now (``total_amount``, ``line_items``, ``usage``,
    ...): none once the stored bill was corrected to agree."""


class OverlappedBill(ReplacedBill):
    """A stored bill of the account whose period shares days with a task's bill's."""

    bill_period_start: date
    bill_period_end: date
    days_shared: int
    """The days both periods cover, both ends counted: more than one statement's read dates move."""


class ReasonDetail(ApiModel):
    """One of ``reasons`` in a reviewer's words, as the review page says it."""

    model_config = ConfigDict(use_attribute_docstrings=True)
    code: str
    """The reason as ``reasons`` lists it (``balance_mismatch``, ``missing_field:due_date``)."""
    text: str
    """What it means and what to check; an arithmetic reason's sums with the bill's figures."""
    fields: list[str]
    """The bill's fields it points at (none for a reason about the whole document)."""


class ReviewTaskPublic(ReviewSummary):
    reason_details: list[ReasonDetail] = Field(default_factory=list)
    """Each of ``reasons``, explained: a bare code left a reviewer without the page to work out what it meant."""
    replaces: ReplacedBill | None = None
    """Set on an open task of a re-issue held over a reviewer's correction (reason ``replaces_corrected_bill``): the
    corrected bill that approving or correcting it replaces, to compare it with."""
    reads_otherwise_than: StoredCopy | None = None
    """Set on an open task of another copy of a stored statement whose figures differ from the stored bill's (reason
    ``reads_otherwise_than_stored``): that bill, which stands whatever the decision (approved, this copy ends
    ``DUPLICATE``; rejected, ``REJECTED``). If it is the one misread, reopen it (``POST /bills/{id}/reopen``)."""
    overlaps: OverlappedBill | None = None
    """Set on an open task whose bill's period overlaps a stored bill's of the account (the one sharing the most
    days), being another statement: approved, both stand and their shared days count twice (the dashboard's months,
    the warehouse's daily rows). Reason ``overlaps_stored_bill`` where persist held a bill read without doubt for it;
    any other task says so too. A re-issue that should replace the stored bill: reject this one, then reopen that one
    (``POST /bills/{id}/reopen``) and correct it to the re-issue's figures."""
    reopened: Reopening | None = None
    """Set on a stored bill's review (a ``reopen`` job): a rejection is refused, since nothing would be removed."""
    account_number_masked: str
    """The job's utility account number on file, masked as ``GET /utility-accounts/{id}`` shows it."""
    account_label: str | None = None
    bill: NormalizedBill | None
    artifact_url: str
    decision: ReviewDecisionTaken | None = None
    """Set once a reviewer's decision closed the task (not for one that expired or was cancelled)."""


class ReviewTaskInternal(ReviewTaskPublic):
    """A task as the review page reads it, in-process; the JSON API serves ``public()`` of it."""

    account_number: str
    """The job's utility account number as registered, in full: the page shows it whole beside the field (a
    correction without one takes it). The JSON API masks it (``public``), as it masks an account everywhere (any key of
    the role may call it, a script's too); the logs mask any field of this name. The task's ``bill`` keeps the
    number the bill printed, unmasked in both: a correction sent back whole must carry it, and a script's key
    signs in to the page that shows it anyway."""

    def public(self) -> ReviewTaskPublic:
        return ReviewTaskPublic.model_construct(**{name: getattr(self, name) for name in ReviewTaskPublic.model_fields})


class BillReopen(ApiModel):
    """Why a stored bill should be reviewed again: the reviewer who takes the task reads it."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    note: Text2000 = Field(pattern=r"\S")
    """What is wrong with the stored figures ("the due date is the disconnection notice's, not the bill's")."""


class ReviewDecisionCreate(ApiModel):
    """A decision as the API receives it; the reviewer is the caller's key, never this body."""

    model_config = ConfigDict(extra="forbid")
    action: ReviewAction
    revision: str = Field(min_length=1, max_length=64)
    bill: NormalizedBill | None = None
    """The full corrected bill: with ``correct`` only."""
    note: Text2000 | None = None
    override: bool = False
    """With ``correct`` and a note: the bill is right as entered although plausibility checks fail
    (an adjustment outside the charges, no meter reading, a long catch-up period)."""
    onto_stored_period: bool = False
    """With ``correct``: the corrected account and period are right although another job stored a bill for them (a
    409 ``period_stored`` otherwise). A later statement date then replaces that bill as a re-issue; any other is
    refused as its duplicate, and nothing of this bill is stored. With ``approve``: this re-issued statement, as
    extracted, is to replace the bill of its period although a reviewer corrected that one (a 409 ``period_stored``,
    ``stored_corrected``, otherwise)."""

    @field_validator("bill", mode="before")
    @classmethod
    def _no_unknown_bill_fields(cls, bill: Any) -> Any:
        """A misspelt field (``statement_dt``) would be dropped and the bill stored without it: refuse it.

        Here, not on ``NormalizedBill``: stored payloads and workflow histories are read through that."""
        if isinstance(bill, dict):
            unknown = _unknown_fields(NormalizedBill, bill, "")
            for name, model in (("line_items", LineItem), ("usage", UsageReading)):
                items = bill.get(name)
                for n, item in enumerate(items if isinstance(items, list) else []):
                    if isinstance(item, dict):
                        unknown += _unknown_fields(model, item, f"{name}[{n}].")
            if unknown:
                raise ValueError(f"fields a bill does not have: {', '.join(unknown)}")
            if past := _past_their_places(bill):
                raise ValueError(
                    f"amounts are written to the cent and quantities to four places, not rounded unseen: {past}"
                )
        return bill

    @model_validator(mode="after")
    def _bill_only_with_correct(self) -> ReviewDecisionCreate:
        # An approve or reject stores the extracted bill or none: a bill sent with it would be recorded
        # in the audit trail as if it had been stored.
        if self.bill is not None and self.action is not ReviewAction.CORRECT:
            raise ValueError(f"a bill is sent only with 'correct', not with {self.action.value!r}")
        return self

    @model_validator(mode="after")
    def _rejection_says_why(self) -> ReviewDecisionCreate:
        # As the review page asks: a rejection throws the bill away, and its note is all a lead reading the audit
        # (or the job's error) learns of why. Sent through the API, one without a note was taken.
        if self.action is ReviewAction.REJECT and self.note is None:
            raise ValueError("say why in the note when rejecting: the note is all the audit keeps of why")
        return self

    @field_validator("note")
    @classmethod
    def _blank_note_is_none(cls, note: str | None) -> str | None:
        """A note of blanks says nothing, yet it let an override through: it is no note, so ``ReviewDecision``
        refuses an override without one, as the review page does, and a rejection without one. Not refused itself:
        an approval needs no note, and clients sent ``""`` with it. Here, not on ``ReviewDecision``: workflow
        histories decode that, a signalled blank note among them."""
        return note if note is not None and visible_text(note) else None

    @field_validator("bill")
    @classmethod
    def _items_described(cls, bill: NormalizedBill | None) -> NormalizedBill | None:
        """A line item described by blanks names no charge (the review page refuses it); here for the reason above.
        Each refusal is located at its description, as a refusal of the item's other fields is."""
        items = bill.line_items if bill is not None else []
        blank = [
            InitErrorDetails(type=_BLANK_DESCRIPTION, loc=("line_items", n, "description"), input=item.description)
            for n, item in enumerate(items)
            if not visible_text(item.description)
        ]
        if blank:
            raise ValidationError.from_exception_data(cls.__name__, blank)
        return bill


_BLANK_DESCRIPTION = PydanticCustomError("blank_description", "a line item needs a description, not blanks")


def _past_their_places(bill: dict[str, Any]) -> str:
    """The figures of a sent bill with more places than it stores ("total_amount 12.345"), or nothing: a
    reviewer's 12.345 was stored as 12.35 without a word, where the review page refuses it."""
    sent = [(name, bill.get(name), CENT) for name in sorted(MONEY_FIELDS)]
    for name, step, key in (("line_items", CENT, "amount"), ("usage", QUANTITY_STEP, "quantity")):
        rows = bill.get(name)
        sent += [
            (f"{name}[{n}].{key}", row.get(key), step)
            for n, row in enumerate(rows if isinstance(rows, list) else [])
            if isinstance(row, dict)
        ]
    return ", ".join(f"{where} {value}" for where, value, step in sent if past_its_places(value, step))


def _unknown_fields(model: type[BaseModel], data: dict[str, Any], prefix: str) -> list[str]:
    return [f"{prefix}{key}" for key in data if key not in model.model_fields]


class ReviewDecisionResult(ApiModel):
    job_id: str
    status: JobStatus
    revises: str | None = Field(
        default=None,
        description="the job whose stored bill the decision's bill replaced: a statement for the same account and"
        " period, re-issued",
    )
    duplicate_of: str | None = Field(
        default=None, description="the job already holding this account's bill for the period: nothing was stored"
    )


class ReviewRefusal(StrEnum):
    """Why a decision was refused with a 409, as its problem's ``reason``: for clients to act on, and for the
    review page to say in its own words (the ``detail`` speaks to API clients, naming routes and revisions)."""

    STALE_REVISION = "stale_revision"
    """The task changed since it was read: the problem's ``revision`` is the task's now."""
    NOT_PENDING = "not_pending"
    """The job is not awaiting review: it ended, or is being closed, or a decision was taken (whose not known)."""
    TAKEN_FIRST = "taken_first"
    """Another decision was taken first: ``ReviewTakenFirst`` says whose and when."""
    PERIOD_STORED = "period_stored"
    """The correction's account and period are those of a bill another job stored (``stored_job_id``): a typo there
    would replace that bill, or throw this one away; or the approved statement, a re-issue, would replace a bill a
    reviewer corrected (``stored_corrected``). Sent again with ``onto_stored_period``, it goes ahead."""
    BILL_REOPENED = "bill_reopened"
    """The decision would replace a stored bill a reviewer reopened (``reopen_job_id``) and has not decided yet: their
    correction would be thrown away. Sent again once that task is decided, it goes ahead."""
    STORED_BILL_CHANGED = "stored_bill_changed"
    """A reopened bill's correction, where the bill was replaced since it was reopened (job ``stored_job_id``
    stored what it holds now): the correction was made on figures no longer stored."""


class ReviewTakenFirst(ApiModel):
    """The members of a ``taken_first`` 409 naming the decision taken first."""

    action: ReviewAction
    taken_by: str
    taken_at: datetime
    recorded: bool
    """False in the moment before the job reads RUNNING, while only the run's history has the decision."""
