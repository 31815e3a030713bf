"""BillIngestionWorkflow: the life of one bill, from provider to warehouse.

mark running → fetch → store raw → find duplicate (the same file again for the
account ends the job here) → extract → validate → (human review; a correction or
approval sent by signal is checked by check_corrected_bill before it stands) → persist →
publish analytics → mark finished. Each step is an activity with the policy
declared in ``workflows.policies``; this module does no I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar, overload

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError
from temporalio.exceptions import TimeoutError as TemporalTimeout

with workflow.unsafe.imports_passed_through():
    import workflows.policies as policies  # not `from workflows import`: that form runs it again per workflow
    from activities.analytics import AnalyticsActivities
    from activities.bills import STORED_BILL_CHANGED, BillActivities
    from activities.extraction import ExtractionActivities
    from activities.fetching import FetchActivities
    from activities.jobs import JobActivities
    from activities.review import ReviewActivities
    from activities.storage import StorageActivities
    from extraction.checks import check_approval, check_correction, passes_with_override
    from shared import job_metrics
    from shared import search_attributes as sa
    from shared.bill import NormalizedBill, Provider
    from shared.models import (
        ArtifactRef,
        DuplicateQuery,
        ExtractionOutcome,
        ExtractRequest,
        FetchRequest,
        IngestionRequest,
        IngestionResult,
        JobProgress,
        JobRef,
        JobStatus,
        JobStatusUpdate,
        PersistOutcome,
        PersistRequest,
        PublishRequest,
        ReopenedBill,
        StepRecord,
        StoredBillQuery,
        StoredVersion,
        StoreRequest,
        ValidateRequest,
    )
    from shared.review import (
        CorrectionCheck,
        ReviewAck,
        ReviewAction,
        ReviewAudit,
        ReviewDecision,
        ReviewStatus,
        ReviewTaskOpen,
        ReviewTaskUpdate,
    )
    from shared.temporal import workflow_id_for
    from workflows.policies import ActivityPolicy

if TYPE_CHECKING:  # a class imported here would be built again in the sandbox for every run
    from datetime import date

    _ToStore = tuple[IngestionResult, NormalizedBill | None, Literal["extraction", "review"]]
    """What a job goes on to store, once read or reviewed: its result so far, the bill and whose reading it is."""

REOPENED_REASON = "reopened"
"""The review reason of a stored bill a reviewer reopened (``POST /bills/{id}/reopen``)."""
REPLACES_CORRECTION_REASON = "replaces_corrected_bill"
"""The review reason of a re-issue, read without doubt, that would replace a bill a reviewer corrected: the figures a
person set are not put aside unasked (``PersistRequest.held_over_corrections``)."""
READS_OTHERWISE_REASON = "reads_otherwise_than_stored"
"""The review reason of another copy of a stored statement, read without doubt, whose figures differ from the stored
bill's (``PersistOutcome.reads_otherwise``): one of the two was misread. The stored bill stands."""
OVERLAPS_REASON = "overlaps_stored_bill"
"""The review reason of a bill, read without doubt, whose period overlaps a stored bill's of the account by more days
than one statement's read dates move (``PersistOutcome.overlaps``): stored beside it, both counted the shared days.
Approved, both stand."""
PERIOD_STORED_SINCE_REASON = "period_stored_since_decision"
"""The review reason of a task opened again because its decision met a bill another job stored for the decided bill's
period after the API had checked it (``PersistOutcome.stored_since_decision``): the reviewer is asked, as the API's 409
``period_stored`` asks of a period stored sooner."""
PERIOD_STORED_SINCE = (
    "another job stored a bill for the decided bill's account and period while the decision was on its way: nothing"
    " was stored, and the task is open again"
)
"""The update's failure for such a decision (``PeriodStored``): the API answers it with its 409 ``period_stored``."""

DUPLICATE_CHECK_PATCH = "duplicate-check-before-extraction"
"""Recorded by every run that stores its raw bill since it: find_duplicate ends a file stored for the account before
(DUPLICATE), before extraction and a second review task. Earlier runs extracted it again."""
EARLY_REVIEW_PATCH = "review-accepts-decisions-while-task-opens"
"""Recorded by runs that went to review since it: a decision is taken from the moment open_review_task commits (the
task is readable then). Earlier runs took none until its completion reached them, and a fast reviewer's was lost."""
STATUS_AFTER_RECORD_PATCH = "review-ack-after-job-recorded"
"""Recorded by every run that ends since it: the status a query or an update reads turns final only once
mark_job_finished has recorded the job's end. Earlier runs turned it first, so a reviewer's answer could name an end
Postgres did not hold yet."""

RECORD_CANCELLATION_PATCH = "record-cancellation"
"""Recorded by runs cancelled since it: their review task is closed and the job's end recorded after the cancel."""
HELD_OVER_CORRECTIONS_PATCH = "reissue-held-over-corrections"
"""Recorded by every run storing a bill no reviewer saw since it, before persist_bill: that step may hold a re-issue of
a bill a reviewer corrected, which the run then sends to review. A worker of an earlier release meeting such a run
(a rolling deploy, a rollback) fails its task on this marker, where it would have published the held bill as stored."""
FINISH_ONCE_STORING_PATCH = "finish-once-storing"
"""Recorded only by runs cancelled after persist_bill began; earlier runs recorded the cancel instead."""
FINISH_ONCE_ENDING_PATCH = "finish-once-ending"
"""Recorded only by runs cancelled while mark_job_finished ran outside _store; earlier runs let the cancel reach it."""
DECIDED_RUNNING_PATCH = "decided-review-reads-running"
"""Runs from before it kept JobStatus NEEDS_REVIEW in visibility from the decision until they ended."""
SIGNALLED_CORRECTION_PATCH = "signalled-correction-checked-by-activity"
"""Recorded only by runs sent a correction by signal: check_corrected_bill judges it, since a signal
handler runs again on replay and check_bill may judge differently by then. Earlier runs checked it there."""
SIGNALLED_APPROVAL_PATCH = "signalled-approval-checked-by-activity"
"""Recorded only by runs sent an approval by signal: check_corrected_bill asks whether the extraction can be
stored as read (the checks no bill may fail: this account's number, a total, a period...) before it stands.
Earlier runs took a signalled approval as it came."""
REVIEW_CLOSED_AT_END_PATCH = "review-status-closed-at-end"
"""Recorded only by runs that ended while their review was open, some other way than a decision or a cancel
request met in review (a step out of retries, a cancel while the decision was being recorded): ReviewStatus
turns CANCELED, as mark_job_finished closes the task. Earlier runs stayed listed PENDING or ESCALATED."""
UNSEALED_SIGNAL_PATCH = "unsealed-review-signal-dropped"
"""Recorded only by runs sent a review_decision signal not sealed with our payload keys: it is dropped, and
every later one too. Earlier runs acted on it (the README's CLI example once sent one without the codec).
The run's n-th unsealed signal asks its own id (this one, then ``-2``, ``-3`` ...): the SDK memoizes a patch's
answer for the whole run, so one id answered False for a signal received before the patch would answer
False again for every signal after it."""
UNSEALED_START_PATCH = "unsealed-start-refused"
"""Recorded only by runs started with an input not sealed with our payload keys: they fail at once.
Earlier such runs went on as started."""
FOREIGN_WORKFLOW_ID_PATCH = "start-under-another-jobs-id-refused"
"""Recorded only by runs started under another workflow id than their job's (``workflow_id_for``): a sealed
input copied out of one job's history into a start under a new id would run that job again. They fail at once.
The API starts each job under its own id, so no run it started asks this."""
FOREIGN_RUN_PATCH = "start-of-another-chain-refused"
"""Recorded only by runs that mark_job_running refused (``ForeignRun``): started again under their job's own
workflow id, but not by the job's chain (an operator's reset keeps the first run id; a new start has its own).
They fail at once, without recording a job end. Earlier runs took such a job over."""
END_RECORDED_AGAIN_PATCH = "end-recorded-again-when-recording-it-failed"
"""Recorded only by runs whose mark_job_finished failed for good (out of its hour, or refused) while it recorded the
end the job had reached: that end is recorded again, so a stored, published bill stays SUCCEEDED with its bill id.
Earlier runs recorded a FAILED job in its place ("unknown failed: ..."), without the bill, duplicate or artifact.
So is a FAILED end (its step's cause kept) or a CANCELED one. Asked once per run, at the first end whose recording
failed: a second failure fails the run, its row left to the reconciler."""
DECIDED_AS_TIME_RAN_OUT_PATCH = "decision-arriving-with-the-review-timer-stands"
"""Recorded only by runs whose review decision reached them in the same workflow task as the SLA timer's firing
(the expiry timer's: DECIDED_AS_REVIEW_EXPIRED_PATCH): the decision stands, as the update that brought it was
accepted. Only a worker applying a task's jobs all at once meets this (the SDK's flag 2, kept in history: off in
temporalio 1.35, whose source says a later release turns it on); 1.35 by default lets the decision's handler run
first, and the wait sees it. Earlier runs took the timer's side: they escalated a decided task, or expired the
review and lost the decision (the update answered REVIEW_EXPIRED)."""
DECIDED_AS_REVIEW_EXPIRED_PATCH = f"{DECIDED_AS_TIME_RAN_OUT_PATCH}-expiry"
"""The expiry timer's own id: the SDK memoizes a patch's answer for the run, so a run that met the SLA's race on
the old code (False) would answer False again at the expiry's on the new one."""
RESET_REVIEW_PATCH = "review-task-taken-back-after-reset"
"""Recorded only by runs an operator reset to a point where they wait for a decision (``temporal workflow reset``
past ``open_review_task``): the run takes its review task back at once (open_review_task again, as PENDING or
ESCALATED), as the run it replaced may have closed it with its end. Earlier such runs waited unseen until their
SLA's escalation took it back, or, reset past the escalation, until the review expired. The run's n-th reset asks
its own id (this one, then ``-2``...), as for UNSEALED_SIGNAL_PATCH."""
RESET_WAKES_PATCH = "reset-wakes-the-run"
"""Recorded by runs as their review opens: an operator's reset alone then wakes the run, so one reset to a point where
it waits for a decision takes its review task back in the workflow task the reset gave it. The SDK checks a run's wait
conditions only after running something, and a reset's new random seed runs nothing: a reset whose workflow task
brought nothing else (reset to the task that took a decision, the decision left out with ``--reapply-exclude All``
to have it taken again) left the take-back, and the job, to the run's next event (the SLA's timer, or once escalated
the expiry's), the task closed meanwhile. Asked as the review opens, not at the reset: a seed arrives outside the
event loop, where no patch can be asked."""

SIGNALLED_WHILE_ESCALATING_PATCH = "signalled-decision-read-before-escalation-stands"
"""Recorded only by runs sent a decision by signal with the revision the task showed while escalate_review wrote the
new one: it is judged as of the new revision (the same bill and reasons), as the update's validator judges one.
Earlier runs dropped it as stale. Asked only of such a signal the run could take (awaiting review, no decision yet,
not closing); the run's n-th one asks its own id (this one, then ``-2``...), as for UNSEALED_SIGNAL_PATCH: one
dropped on the old code must not, through its memoized False, drop one sent after."""

OPEN_REVIEW = frozenset({ReviewStatus.PENDING, ReviewStatus.ESCALATED})

T = TypeVar("T")


def _foreign_run_refusal(err: BaseException) -> ApplicationError | None:
    """mark_job_running's refusal, if it refused the run: the job belongs to another chain of its workflow id."""
    cause: BaseException | None = err
    while isinstance(cause, ActivityError):
        cause = cause.cause
    return cause if isinstance(cause, ApplicationError) and cause.type == "ForeignRun" else None


def _nothing() -> None:
    """Run by the loop to wake it (``_reset_passed``)."""


def _why_held(persisted: PersistOutcome) -> str:
    """The review reason of a bill persist held over another job's (``PersistOutcome.held_over``)."""
    if persisted.reads_otherwise:
        return READS_OTHERWISE_REASON
    if persisted.overlaps:
        return OVERLAPS_REASON
    return REPLACES_CORRECTION_REASON


def _unreachable(what: str, *, kind: str = "Unreachable") -> NoReturn:
    """Fail the run, saying ``what``: a state the steps before it rule out. Not an ``assert``: its AssertionError
    would fail the workflow task, retried for good, where this fails the job with its cause."""
    raise ApplicationError(what, type=kind, non_retryable=True)


def _root_cause(err: BaseException) -> BaseException:
    """What failed inside an activity's failure (the error it raised, its timeout), else ``err`` itself."""
    cause = err
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    return cause


def _described(cause: BaseException) -> str:
    """A failure as a job's error shows it, "Type: message": the type once (the SDK's own text of an application
    error already starts with it) and a timeout's kind by name (its type is a number)."""
    if isinstance(cause, TemporalTimeout):
        kind = cause.type.name if cause.type is not None else "UNSPECIFIED"
        return f"TimeoutError ({kind}): {cause.message}"
    if isinstance(cause, ApplicationError):
        return f"{cause.type or type(cause).__name__}: {cause.message}"
    if isinstance(cause, FailureError):
        return f"{type(cause).__name__}: {cause.message}"
    return f"{type(cause).__name__}: {cause}"


def _is_cancellation(err: BaseException) -> bool:
    """A cancel request, whether it hit the workflow's own wait or an activity it was running."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, (asyncio.CancelledError, CancelledError)):
            return True
        cause = cause.cause if isinstance(cause, FailureError) else None
    return False


A = TypeVar("A")


@workflow.defn
class BillIngestionWorkflow:
    def __init__(self) -> None:
        self._job_id = ""
        self._status = JobStatus.PENDING
        self._current_step: str | None = None
        self._steps: list[StepRecord] = []
        self._reasons: list[str] = []
        self._extracted: NormalizedBill | None = None
        self._revision: str | None = None
        self._decision: ReviewDecision | None = None
        self._escalating_from: str | None = None
        """The revision escalate_review is replacing, set only while that activity runs: until it commits, the task
        reviewers read still shows this revision, so a decision carrying it was read from the current task. The
        update's validator reads it freely (validators never replay). The signal handler runs again on replay, and
        runs from before SIGNALLED_WHILE_ESCALATING_PATCH dropped such a signal as stale: it reads it only behind
        that patch, so those runs replay as they ran."""
        self._cancel_declined = False
        """Whether a cancel request was declined (``_past_cancel``): one declined while a bill was held, nothing
        stored, ends the job cancelled after all, as the request asked."""
        self._escalated_from: set[str] = set()
        """The revisions escalations replaced, the task's bill and reasons left as they were: a decision carrying one is
        refused as stale, saying it was only escalated (the refusal's detail, no command)."""
        self._signals_read_before_escalation = 0
        """Signals carrying ``_escalating_from`` that the run could take so far: numbers each one's
        SIGNALLED_WHILE_ESCALATING_PATCH id."""
        self._correction_unchecked = False
        self._approval_unchecked = False
        self._account_number: str | None = None
        """The account the fetched bill is for: a correction must be for it too."""
        self._reopened = False
        """Set when the job reviews a stored bill a reviewer reopened: approving it stores nothing, rejecting it
        would remove nothing (refused)."""
        self._held_for = REPLACES_CORRECTION_REASON
        """Why persist_bill held the bill, nothing stored: the review reason its task then gives."""
        self._sending_back: ReviewDecision | None = None
        """A decision persist_bill held (``PERIOD_STORED_SINCE_REASON``), until its task is open again."""
        self._sent_back: ReviewDecision | None = None
        """The last such decision once its task is open again: the update that brought it fails, saying so."""
        self._provider: Provider | None = None
        """The bill's provider once known (the request's, else the account's): a label of the job's metrics."""
        self._review_status: ReviewStatus | None = None
        """As last upserted to the ReviewStatus search attribute (None: never in review)."""
        self._closing = False
        """Set when the job is being failed or cancelled: the update refuses decisions from then on,
        though the status reads NEEDS_REVIEW while the review task is being closed. A signal's
        decision is left to be ignored as before, since its handler runs again on every replay."""
        self._unsealed_signals = 0
        """review_decision signals decoded unsealed so far: numbers each one's UNSEALED_SIGNAL_PATCH id."""
        self._dropping_unsealed = False
        """Set once an unsealed signal was dropped: every later one is, without asking another patch."""
        self._recording_again: bool | None = None
        """END_RECORDED_AGAIN_PATCH's answer once an end's recording failed (None: none failed yet)."""
        self._resets = 0
        """Operator resets this run has passed: the SDK reseeds a run's random at each, where its history says."""
        self._resets_answered = 0
        """Resets the review's own steps answered: a step scheduled after a reset is this run's, not the old one's."""
        self._takebacks = 0
        """Review tasks taken back after a reset so far: numbers each one's RESET_REVIEW_PATCH id."""
        self._step_failed: tuple[ActivityError, int] | None = None
        """The last step whose activity failed, with its index in ``_steps``: a failure is its own step's, which
        need not be the latest (a take-back after a reset runs alongside the review's steps)."""
        self._reset_wakes = False
        """RESET_WAKES_PATCH's answer, asked as the review opens."""
        workflow.register_random_seed_callback(self._reset_passed)
        self._loop = asyncio.get_running_loop()

    def _reset_passed(self, _seed: int) -> None:
        # Core sends a new seed only with the workflow task failed by a reset: the run is past its reset point.
        self._resets += 1
        if self._reset_wakes:
            self._loop.call_soon(_nothing)  # something runs: the SDK then checks the take-back's wait condition

    def _asks_reset_wakes(self) -> bool:
        """RESET_WAKES_PATCH's answer (its own method, so tests can run the code from before it)."""
        return workflow.patched(RESET_WAKES_PATCH)

    # --- queries and messages ----------------------------------------------------

    @workflow.query
    def progress(self) -> JobProgress:
        return JobProgress(
            job_id=self._job_id,
            status=self._status,
            current_step=self._current_step,
            steps=list(self._steps),
            reasons=list(self._reasons),
            review_revision=self._revision if self._awaiting_review() and not self._closing else None,
        )

    @workflow.signal
    def review_decision(self, decision: ReviewDecision) -> None:
        """Fire-and-forget decisions (CLI, scripts). Invalid ones are logged and dropped."""
        if decision.unsealed and self._drops_unsealed_signal():
            workflow.logger.warning(
                "review signal ignored", extra={"job_id": self._job_id, "reason": "not sealed with the payload keys"}
            )
            return
        problem = self._decision_problem(self._signal_as_judged(decision))
        if problem is None and decision.action is ReviewAction.CORRECT and decision.bill is not None:
            # Asked only here, so runs without a signalled correction record no marker.
            if workflow.patched(SIGNALLED_CORRECTION_PATCH):
                # No check_bill here: this handler runs again on every replay, and a changed check would
                # take the other branch. _wait_for_decision has an activity judge it, once, into history.
                self._decision, self._correction_unchecked = decision, True
                return
            problem = self._correction_problem(decision)
        if (
            problem is None
            and decision.action is ReviewAction.APPROVE
            and not self._reopened  # the stored bill stands as it is: nothing to judge
            and workflow.patched(SIGNALLED_APPROVAL_PATCH)
        ):
            # As for corrections: whether the extraction is this account's is judged by an activity, once.
            self._decision, self._approval_unchecked = decision, True
            return
        if problem is not None:
            workflow.logger.warning("review signal ignored", extra={"job_id": self._job_id, "reason": problem[1]})
            return
        self._decision = decision

    def _signal_as_judged(self, decision: ReviewDecision) -> ReviewDecision:
        """The signalled decision as judged: one read before the escalation committed takes the new revision.
        Asks the patch only of such a signal the run could take, so other runs record no marker and a signal dropped
        whatever its revision takes no id; one dropped on the old code replays so."""
        if not (self._read_before_escalation(decision) and self._could_take_signal(decision)):
            return decision
        self._signals_read_before_escalation += 1
        n = self._signals_read_before_escalation
        if not self._takes_signal_read_before_escalation(
            SIGNALLED_WHILE_ESCALATING_PATCH if n == 1 else f"{SIGNALLED_WHILE_ESCALATING_PATCH}-{n}"
        ):
            return decision
        return decision.model_copy(update={"revision": self._revision})

    def _takes_signal_read_before_escalation(self, patch_id: str) -> bool:
        """SIGNALLED_WHILE_ESCALATING_PATCH's answer (its own method, so tests can run the code from before it)."""
        return workflow.patched(patch_id)

    def _could_take_signal(self, decision: ReviewDecision) -> bool:
        """Whether a signalled decision would stand at the current revision: the run awaits review, has no decision
        yet, is not closing (a run being failed or cancelled ignores it), and has something to approve."""
        return not self._closing and self._decision_problem(decision, whatever_revision=True) is None

    def _read_before_escalation(self, decision: ReviewDecision) -> bool:
        """Sent with the revision the task showed until escalate_review commits its new one: the same bill and
        reasons, only the status moves on."""
        return self._escalating_from is not None and decision.revision == self._escalating_from

    def _drops_unsealed_signal(self) -> bool:
        """Whether this unsealed signal is dropped. Asked only of unsealed signals, so runs sent only sealed ones
        record no marker; on replay a run that once acted on a plaintext signal (no marker) acts on it again."""
        if self._dropping_unsealed:  # one dropped (marker recorded): this signal came after the patch too
            return True
        self._unsealed_signals += 1
        n = self._unsealed_signals
        # A fresh id per signal: a junk plaintext signal acted on before the patch must not, through the SDK's
        # memoized False, let every later one be acted on. The first keeps the id runs have recorded since.
        self._dropping_unsealed = workflow.patched(UNSEALED_SIGNAL_PATCH if n == 1 else f"{UNSEALED_SIGNAL_PATCH}-{n}")
        return self._dropping_unsealed

    @workflow.update
    async def submit_review(self, decision: ReviewDecision) -> ReviewAck:
        """The REST API's decision path: answers with the job's status once it is applied."""
        self._decision = decision
        await workflow.wait_condition(lambda: self._status is not JobStatus.NEEDS_REVIEW)
        await workflow.wait_condition(lambda: self._status.is_terminal or self._sent_back is decision)
        if self._sent_back is decision:  # set only by runs that asked persist (period_seen): older ones replay as ran
            raise ApplicationError(PERIOD_STORED_SINCE, type="PeriodStored", non_retryable=True)
        return ReviewAck(job_id=self._job_id, status=self._status)

    @submit_review.validator
    def _validate_review(self, decision: ReviewDecision) -> None:
        # Raising here rejects the update before anything is written to history.
        problem = self._review_problem(decision)
        if problem is not None:
            error_type, message, details = problem
            raise ApplicationError(message, *details, type=error_type)

    def _awaiting_review(self) -> bool:
        return self._status is JobStatus.NEEDS_REVIEW and self._decision is None

    def _review_problem(self, decision: ReviewDecision) -> tuple[str, str, list[str]] | None:
        """The validator's question (no replay runs it, so it may ask what older runs did not)."""
        if decision.unsealed:  # anyone who reaches the frontend can send plaintext: only key holders decide
            return ("UnsealedMessage", "the decision was not sealed with the payload keys: send it through the API", [])
        if self._closing:  # not in _decision_problem: the signal handler runs on replay, and asks patches
            return ("ReviewNotPending", f"job is being closed (status {self._status})", [])
        if self._read_before_escalation(decision):
            # Judged as of the new revision, the one record_review_decision audits. No patch: validators never replay.
            decision = decision.model_copy(update={"revision": self._revision})
        return (
            self._decision_problem(decision)
            or self._correction_problem(
                decision, self._account_number, provider=self._provider, today=workflow.now().date()
            )
            or self._approval_problem(decision)
        )

    def _decision_problem(
        self, decision: ReviewDecision, *, whatever_revision: bool = False
    ) -> tuple[str, str, list[str]] | None:
        """What refuses any decision, whatever its bill: the job's state and (unless ``whatever_revision``) the
        revision."""
        if not self._awaiting_review():
            return ("ReviewNotPending", f"job is not awaiting review (status {self._status})", [])
        if not whatever_revision and decision.revision != self._revision:
            escalated = ["escalated"] if decision.revision in self._escalated_from else []
            return ("StaleRevision", "the review task changed since it was read", escalated)
        if decision.action is ReviewAction.APPROVE and self._extracted is None:
            return ("InvalidCorrection", "nothing was extracted to approve: correct it or reject it", [])
        if decision.action is ReviewAction.REJECT and self._reopened:
            message = "a reopened bill stays stored: correct it, or approve it as it stands"
            return ("InvalidCorrection", message, [])
        return None

    def _correction_problem(
        self,
        decision: ReviewDecision,
        account_number: str | None = None,
        *,
        provider: Provider | None = None,
        today: date | None = None,
    ) -> tuple[str, str, list[str]] | None:
        """``account_number``, ``provider`` and ``today`` are the validator's: the replayed signal handler of older
        runs checks without them."""
        if decision.action is ReviewAction.CORRECT and decision.bill is not None:
            failing = check_correction(
                decision.bill, override=decision.override, account_number=account_number, provider=provider, today=today
            )
            overridable = passes_with_override(decision.bill, account_number, provider)
            if failing and not decision.override and overridable:
                message = "the corrected bill fails validation; if the bill says so, send it with override and a note"
                return ("InvalidCorrection", message, failing)
            if failing:
                return ("InvalidCorrection", "the corrected bill fails validation", failing)
        return None

    def _approval_problem(self, decision: ReviewDecision) -> tuple[str, str, list[str]] | None:
        """Approving stores the extraction as read: one failing a check no correction may fail (no total, another
        account's number...) would be stored all the same. Validator only, so it may ask what older runs did not."""
        bill = self._extracted if decision.action is ReviewAction.APPROVE and not self._reopened else None
        if bill is None:  # nothing to store, or (reopened) the stored bill standing as it is
            return None
        failing = check_approval(bill, self._account_number, self._provider)
        if failing:
            message = "the extracted bill cannot be stored as read: correct it or reject it"
            return ("InvalidCorrection", message, failing)
        return None

    # --- the pipeline --------------------------------------------------------------

    @workflow.run
    async def run(self, request: IngestionRequest) -> IngestionResult:
        if request.unsealed and workflow.patched(UNSEALED_START_PATCH):
            # Before any step: its job id may name a real job, whose row and review task this run must not touch.
            # An ApplicationError fails the run; any other error would fail the task and retry it forever.
            raise ApplicationError(
                "the workflow input was not sealed with the payload keys: start jobs through the API",
                type="UnsealedMessage",
                non_retryable=True,
            )
        if workflow.info().workflow_id != workflow_id_for(request.job_id) and workflow.patched(
            FOREIGN_WORKFLOW_ID_PATCH
        ):
            # Sealed, but not this job's run: a copy of its input started under a new id. Asked only on a
            # mismatch, so the API's runs record nothing.
            raise ApplicationError(
                f"the workflow id is not job {request.job_id}'s: start jobs through the API",
                type="WorkflowIdMismatch",
                non_retryable=True,
            )
        self._job_id = request.job_id
        self._status = JobStatus.RUNNING
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.JOB_STATUS.value_set(JobStatus.RUNNING),
            sa.CUSTOMER_ID.value_set(request.customer_id),
        ]
        if request.provider:
            updates.append(sa.PROVIDER.value_set(request.provider))
        workflow.upsert_search_attributes(updates)
        try:
            result = await self._ingest(request)
        except (asyncio.CancelledError, FailureError) as err:
            refusal = _foreign_run_refusal(err)
            if refusal is not None and workflow.patched(FOREIGN_RUN_PATCH):
                # Not the job's run, so its end is not the job's either: fail at once, recording none. Its
                # visibility ends, though, or a JobStatus="RUNNING" query would list it for good.
                self._status = JobStatus.FAILED
                workflow.upsert_search_attributes([sa.JOB_STATUS.value_set(JobStatus.FAILED)])
                raise ApplicationError(refusal.message, type="ForeignRun", non_retryable=True) from None
            if not _is_cancellation(err):
                result = await self._fail(request, err)  # type: ignore[arg-type]
            else:
                if workflow.patched(RECORD_CANCELLATION_PATCH):
                    # Cleanup still runs after a cancel request: close the task, record the job's end.
                    await self._record_cancellation(request)
                raise asyncio.CancelledError("cancelled by request") from None
        await workflow.wait_condition(workflow.all_handlers_finished)
        if result.status is JobStatus.FAILED:
            raise ApplicationError(result.error or "ingestion failed", type="IngestionFailed", non_retryable=True)
        return result

    async def _ingest(self, request: IngestionRequest) -> IngestionResult:
        job = request.job_id
        self._provider = request.provider  # the account's, known before the fetch: a label of a job failing there
        # The chain's id, which a reset keeps: a new start under the job's workflow id is not the job's run.
        claim = JobRef(job_id=job, first_run_id=workflow.info().first_execution_run_id)
        await self._step("mark_job_running", JobActivities.mark_job_running, claim, policies.DATABASE)
        if request.reopens is not None:
            return await self._review_stored(request, request.reopens)
        fetched = await self._step(
            "fetch_bill",
            FetchActivities.fetch_bill,
            FetchRequest(
                job_id=job,
                utility_account_id=request.utility_account_id,
                provider=request.provider,
                upload=request.upload,
            ),
            policies.FETCH,
        )
        self._account_number = fetched.account_number
        self._provider = request.provider or fetched.provider
        artifact = await self._step(
            "store_raw_bill",
            StorageActivities.store_raw_bill,
            StoreRequest(job_id=job, fetched=fetched),
            policies.STORAGE,
        )
        if workflow.patched(DUPLICATE_CHECK_PATCH):
            # Added after the first release: the same file again for the same account ends here,
            # before extraction and before a second review task. Old runs replay the old path.
            duplicate = await self._step(
                "find_duplicate",
                BillActivities.find_duplicate,
                DuplicateQuery(job_id=job, utility_account_id=request.utility_account_id, sha256=artifact.sha256),
                policies.DATABASE,
            )
            if duplicate.job_id is not None:
                return await self._finish(
                    IngestionResult(
                        job_id=job,
                        status=JobStatus.DUPLICATE,
                        bill_id=duplicate.bill_id,
                        duplicate_of=duplicate.job_id,
                        total_amount=duplicate.total_amount,
                        currency=duplicate.currency,
                        artifact=artifact,
                    )
                )
        extraction = await self._step(
            "extract_bill",
            ExtractionActivities.extract_bill,
            ExtractRequest(job_id=job, artifact=artifact, provider=self._provider),
            policies.EXTRACT,
        )
        validation = await self._step(
            "validate_bill",
            ExtractionActivities.validate_bill,
            ValidateRequest(
                job_id=job, artifact=artifact, extraction=extraction, account_number=fetched.account_number
            ),
            policies.VALIDATE,
        )
        self._reasons = list(validation.reasons)
        base = IngestionResult(
            job_id=job,
            status=JobStatus.RUNNING,
            decision=validation.decision,
            reasons=validation.reasons,
            artifact=artifact,
        )

        if validation.decision == "reject":
            reason = "rejected: " + ", ".join(validation.reasons or ["unreadable input"])
            if extraction.detail:  # set by activities of this release on: older histories replay without it
                reason += f" ({extraction.detail})"
            return await self._finish(base.model_copy(update={"status": JobStatus.FAILED, "error": reason}))

        to_store: _ToStore = (base, extraction.bill, "extraction")
        if validation.decision == "review":
            reviewed = await self._reviewed(request, extraction, artifact, base)
            if isinstance(reviewed, IngestionResult):
                return reviewed
            to_store = reviewed
        # Read without doubt, a re-issue of a bill a reviewer corrected is not stored over it unasked: persist holds
        # it, writing nothing, and a reviewer decides.
        unseen = validation.decision == "accept" and workflow.patched(HELD_OVER_CORRECTIONS_PATCH)
        stored = await self._stored(request, artifact, to_store, held_over_corrections=unseen)
        while stored is None:  # held, nothing written: a reviewer decides (again, for a decision's period)
            if self._cancel_declined:  # nothing was stored after all: the request declined meanwhile stands
                raise asyncio.CancelledError("cancelled by request")
            if self._held_for not in self._reasons:
                self._reasons = [*self._reasons, self._held_for]
            base = base.model_copy(update={"decision": "review", "reasons": self._reasons})
            self._decision = None  # the held correction's: the task opens again for a new one
            reviewed = await self._reviewed(request, extraction, artifact, base)
            if isinstance(reviewed, IngestionResult):
                return reviewed
            stored = await self._stored(request, artifact, reviewed, held_over_corrections=False)
        return stored

    async def _reviewed(
        self, request: IngestionRequest, extraction: ExtractionOutcome, artifact: ArtifactRef, base: IngestionResult
    ) -> IngestionResult | _ToStore:
        """Review the extraction: the job's end (the review expired, or the bill rejected), or the bill to store."""
        decision = await self._review(request, extraction, artifact)
        if decision is None:
            return await self._finish(
                base.model_copy(
                    update={"status": JobStatus.REVIEW_EXPIRED, "error": "no review decision before the timeout"}
                )
            )
        base = base.model_copy(update={"reviewer": decision.reviewer, "note": decision.note})
        if decision.action is ReviewAction.REJECT:
            return await self._finish(
                base.model_copy(update={"status": JobStatus.REJECTED, "error": decision.note or "rejected by reviewer"})
            )
        if decision.action is ReviewAction.CORRECT:
            return (base, decision.bill, "review")
        return (base, extraction.bill, "extraction")

    async def _stored(
        self, request: IngestionRequest, artifact: ArtifactRef, to_store: _ToStore, *, held_over_corrections: bool
    ) -> IngestionResult | None:
        """Store the bill and end the job; None, nothing written, for a bill ``held_over_corrections`` held."""
        base, bill, source = to_store
        if bill is None:  # validation and review guarantee a bill here
            _unreachable("no bill to persist", kind="ExtractionInvalid")
        storing = self._store(request, base, artifact, bill, source, held_over_corrections=held_over_corrections)
        # Once persisting has begun the bill may be committed: the truthful ending is the one the data
        # reached (SUCCEEDED and published, or DUPLICATE), not a CANCELED job with a stored, unpublished bill.
        return await self._past_cancel(storing, FINISH_ONCE_STORING_PATCH)

    async def _review_stored(self, request: IngestionRequest, reopened: ReopenedBill) -> IngestionResult:
        """A stored bill a reviewer reopened, reviewed as stored: a correction replaces it with a new version (the
        one replaced kept, as a re-issue's is), an approval leaves it as it is."""
        query = StoredBillQuery(
            job_id=request.job_id, bill_id=reopened.bill_id, utility_account_id=request.utility_account_id
        )
        stored = await self._step("load_stored_bill", BillActivities.load_stored_bill, query, policies.DATABASE)
        self._account_number, self._reopened = stored.account_number, True
        self._reasons = [REOPENED_REASON]
        extraction = ExtractionOutcome(bill=stored.bill, reasons=self._reasons, extractor="stored", pages=0)
        base = IngestionResult(
            job_id=request.job_id,
            status=JobStatus.RUNNING,
            decision="review",
            reasons=self._reasons,
            artifact=stored.artifact,
            bill_id=stored.version.bill_id,
            total_amount=stored.bill.total_amount,
            currency=stored.bill.currency,
        )
        decision = await self._review(request, extraction, stored.artifact)
        if decision is None:
            error = "no review decision before the timeout: the stored bill stands"
            return await self._finish(base.model_copy(update={"status": JobStatus.REVIEW_EXPIRED, "error": error}))
        base = base.model_copy(update={"reviewer": decision.reviewer, "note": decision.note})
        if decision.action is not ReviewAction.CORRECT or decision.bill is None:  # approved: it stands, if still it
            now = await self._step("confirm_stored_bill", BillActivities.load_stored_bill, query, policies.DATABASE)
            if now.version != stored.version:
                raise ApplicationError(STORED_BILL_CHANGED, type="StoredBillChanged", non_retryable=True)
            return await self._finish(base.model_copy(update={"status": JobStatus.SUCCEEDED}))
        storing = self._store(request, base, stored.artifact, decision.bill, "review", replaces=stored.version)
        result = await self._past_cancel(storing, FINISH_ONCE_STORING_PATCH)
        if result is None:  # a hold is never asked of a reopened bill's correction
            _unreachable("a reopened bill's correction held")
        return result

    async def _past_cancel(self, steps: Awaitable[T], patch: str) -> T:
        """Run ``steps`` to their end even if a cancel request arrives meanwhile: it is logged and declined.

        Runs from before ``patch`` let the cancel through to the running step; they replay so. A cancel
        is answered by the outermost of nested calls only (it alone awaits in the cancelled task).
        """
        task = asyncio.ensure_future(steps)
        while not task.done():
            try:
                await workflow.wait([task])
            except asyncio.CancelledError:
                if not workflow.patched(patch):
                    task.cancel()  # the old way: the cancel reaches the running step
                    return await task
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()  # this request is answered; later awaits must not see it again
                self._cancel_declined = True
                workflow.logger.info(
                    "cancel request declined: finishing the job",
                    extra={"job_id": self._job_id, "step": self._current_step or "mark_job_finished", "patch": patch},
                )
        return task.result()  # outside the loop: a step that itself ended cancelled still propagates

    async def _store(
        self,
        request: IngestionRequest,
        base: IngestionResult,
        artifact: ArtifactRef,
        bill: NormalizedBill,
        source: Literal["extraction", "review"],
        *,
        replaces: StoredVersion | None = None,
        held_over_corrections: bool = False,
    ) -> IngestionResult | None:
        """Persist and publish the bill, and end the job; None, nothing written, when persist held it over a
        reviewer's correction (``held_over_corrections``)."""
        job = request.job_id
        persisted = await self._step(
            "persist_bill",
            BillActivities.persist_bill,
            PersistRequest(
                job_id=job,
                customer_id=request.customer_id,
                utility_account_id=request.utility_account_id,
                artifact=artifact,
                bill=bill,
                source=source,
                replaces=replaces,
                held_over_corrections=held_over_corrections,
                held_over_copies=held_over_corrections,  # a bill no reviewer has seen, either way
                held_over_overlaps=held_over_corrections,
                period_seen=self._decision.period_seen if self._decision is not None else None,
            ),
            policies.DATABASE,
        )
        if persisted.stored_since_decision:
            self._held_for, self._sending_back = PERIOD_STORED_SINCE_REASON, self._decision
            return None
        if persisted.held_over is not None:
            self._held_for = _why_held(persisted)
            return None
        # Set when Postgres holds another bill: a reset run read it otherwise (the first is kept), persist filled in
        # the current charges its line items imply, or a duplicate's earlier job stored other figures.
        if persisted.stored_bill is not None:
            bill = persisted.stored_bill
        done = base.model_copy(
            update={
                "bill_id": persisted.bill_id,
                "total_amount": bill.total_amount,
                "currency": bill.currency,
                "revises": persisted.revised_job,
            }
        )
        if persisted.duplicate_of_job is not None:
            return await self._finish(
                done.model_copy(update={"status": JobStatus.DUPLICATE, "duplicate_of": persisted.duplicate_of_job})
            )
        await self._step(
            "publish_analytics",
            AnalyticsActivities.publish_analytics,
            PublishRequest(
                job_id=job,
                bill_id=persisted.bill_id,
                customer_id=request.customer_id,
                utility_account_id=request.utility_account_id,
                bill=bill,
                stored_at=persisted.stored_at,
                account_number=self._account_number,
            ),
            policies.ANALYTICS,
        )
        return await self._finish(done.model_copy(update={"status": JobStatus.SUCCEEDED}))

    # --- human review ----------------------------------------------------------------

    async def _review(
        self, request: IngestionRequest, extraction: ExtractionOutcome, artifact: ArtifactRef
    ) -> ReviewDecision | None:
        """Open a review task and wait durably for a decision (None when it expired)."""
        self._extracted = extraction.bill
        reopens = self._revision if self._sending_back is not None else None  # the held correction's task
        self._revision = workflow.uuid4().hex
        self._resets_answered = self._resets  # this run opens the task itself: no earlier reset leaves it closed
        self._reset_wakes = self._asks_reset_wakes()
        if workflow.patched(EARLY_REVIEW_PATCH):
            # The task is readable as soon as open_review_task commits, before its completion reaches
            # us: accept a decision from that moment on, or a fast reviewer's decision would be lost.
            self._status = JobStatus.NEEDS_REVIEW
        await self._step(
            "open_review_task",
            ReviewActivities.open_review_task,
            ReviewTaskOpen(
                job_id=request.job_id,
                reasons=self._reasons,
                bill=extraction.bill,
                artifact_uri=artifact.uri,
                revision=self._revision,
                reopens=reopens,
            ),
            policies.DATABASE,
        )
        self._sent_back, self._sending_back = self._sending_back, None  # its task is open again: its update fails
        self._status = JobStatus.NEEDS_REVIEW
        self._set_review_status(ReviewStatus.PENDING, sa.JOB_STATUS.value_set(JobStatus.NEEDS_REVIEW))
        job_metrics.review_opened(self._reasons)
        workflow.set_current_details("awaiting review: " + ", ".join(self._reasons))
        self._current_step = "awaiting_review"
        # Alongside the wait (its timers untouched): a reset to a point in it finds the task as the old run left it.
        taking_back = asyncio.ensure_future(self._take_back_after_resets(request, artifact))
        decision = await self._wait_for_review(request, extraction)
        await taking_back
        return decision

    async def _wait_for_review(self, request: IngestionRequest, extraction: ExtractionOutcome) -> ReviewDecision | None:
        """Wait for a decision through the SLA, escalate, wait again until the review expires (None)."""
        sla = timedelta(seconds=request.review_sla_seconds)
        expiry = timedelta(seconds=request.review_timeout_seconds)
        if not await self._wait_for_decision(sla, DECIDED_AS_TIME_RAN_OUT_PATCH):
            self._escalating_from, self._revision = self._revision, workflow.uuid4().hex
            if self._escalating_from is not None:
                self._escalated_from.add(self._escalating_from)
            self._set_review_status(ReviewStatus.ESCALATED)
            self._resets_answered = self._resets  # escalate_review takes a task the old run closed back itself
            try:
                await self._step(
                    "escalate_review",
                    ReviewActivities.escalate_review,
                    ReviewTaskUpdate(job_id=request.job_id, status=ReviewStatus.ESCALATED, revision=self._revision),
                    policies.NOTIFY,
                )
            finally:
                self._escalating_from = None  # committed: reviewers read the new revision from here on
            job_metrics.review_escalated()
            self._back_to_waiting()
            if not await self._wait_for_decision(
                max(expiry - sla, timedelta(seconds=1)), DECIDED_AS_REVIEW_EXPIRED_PATCH
            ):
                self._status = JobStatus.RUNNING
                self._set_review_status(ReviewStatus.EXPIRED)
                await self._step(
                    "expire_review",
                    ReviewActivities.close_review_task,
                    ReviewTaskUpdate(job_id=request.job_id, status=ReviewStatus.EXPIRED, revision=self._revision),
                    policies.DATABASE,
                )
                return None

        decision = self._decision
        assert decision is not None
        self._status = JobStatus.RUNNING
        workflow.set_current_details(f"review decided: {decision.action}")
        await self._step(
            "record_review_decision",
            ReviewActivities.record_review_decision,
            ReviewAudit(job_id=request.job_id, decision=decision, before=extraction.bill, revision=self._revision),
            policies.DATABASE,
        )
        decided = [sa.JOB_STATUS.value_set(JobStatus.RUNNING)] if workflow.patched(DECIDED_RUNNING_PATCH) else []
        self._set_review_status(ReviewStatus.DONE, *decided)
        job_metrics.review_decided(decision.action)
        return decision

    async def _take_back_after_resets(self, request: IngestionRequest, artifact: ArtifactRef) -> None:
        """While the review is open: after each operator reset that lands in the wait, open the task again as the
        workflow sees it (status, revision), only where another run wrote it last (``taking_back``): a later
        escalation or decision of this run stands. The run the reset replaced may have ended the job and closed
        the task (terminated, say); the reset run's steps before this point are that run's, so none reopens it."""

        def reset_while_waiting() -> bool:
            return self._resets > self._resets_answered and self._awaiting_review() and not self._closing

        while True:
            await workflow.wait_condition(
                lambda: reset_while_waiting() or self._closing or self._review_status not in OPEN_REVIEW
            )
            if not reset_while_waiting():
                return
            self._resets_answered = self._resets
            self._takebacks += 1
            n = self._takebacks
            if not workflow.patched(RESET_REVIEW_PATCH if n == 1 else f"{RESET_REVIEW_PATCH}-{n}"):
                continue
            status, revision = self._review_status, self._revision
            if status is None or revision is None:  # unreachable: both are set before the wait begins
                return
            try:
                await self._step(
                    "take_back_review",
                    ReviewActivities.open_review_task,
                    ReviewTaskOpen(
                        job_id=request.job_id,
                        reasons=self._reasons,
                        bill=self._extracted,
                        artifact_uri=artifact.uri,
                        revision=revision,
                        status=status,
                        taking_back=True,  # scheduled with what the run saw then: its later steps' writes stand
                    ),
                    policies.DATABASE,
                )
            except ActivityError as err:
                if _is_cancellation(err):
                    raise
                self._step_ended_failing(err)
                # Only the escalation (it takes the task over) or a decision (record_review_decision) opens it now.
                workflow.logger.warning(
                    "review task not taken back after a reset: the escalation or a decision takes it back",
                    extra={"job_id": self._job_id, "step": "take_back_review", "error": str(_root_cause(err))},
                )
            self._back_to_waiting()

    def _set_review_status(self, status: ReviewStatus, *also: SearchAttributeUpdate[Any]) -> None:
        """Upserted and remembered: the job's end must know whether visibility still lists it for a reviewer."""
        self._review_status = status
        workflow.upsert_search_attributes([sa.REVIEW_STATUS.value_set(status), *also])

    async def _wait_for_decision(self, within: timedelta, race_patch: str) -> bool:
        """A durable timer: True when a decision arrived within the time, False when it ran out.

        A dropped correction does not extend the wait: the next one waits for what is left of ``within``.
        ``race_patch`` is this timer's own: asked at most once, as the timer fires once."""
        deadline = workflow.now() + within
        remaining = within
        while True:
            try:
                await workflow.wait_condition(lambda: self._decision is not None, timeout=remaining)
            except TimeoutError:
                if not self._decided_as_time_ran_out(race_patch):
                    return False
            if await self._decision_stands():
                return True
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                return False

    def _decided_as_time_ran_out(self, race_patch: str) -> bool:
        """Whether a decision reached the run in the workflow task that fired the timer: the timer's wait raises
        before it sees the decision, which the update's validator accepted all the same. Asked only then, so
        other runs record no marker."""
        return self._decision is not None and workflow.patched(race_patch)

    async def _decision_stands(self) -> bool:
        """False when the decision came by signal and fails its check (a correction failing the checks, an
        approval of an extraction that cannot be stored as read: no total, another account's...): it is
        dropped, and the review waits on."""
        decision = self._decision
        if decision is None:
            return True
        if self._correction_unchecked and decision.bill is not None:
            bill, approving, reason = decision.bill, False, "the corrected bill fails validation"
        elif self._approval_unchecked and self._extracted is not None:
            bill, approving, reason = self._extracted, True, "the extracted bill cannot be stored as read"
        else:
            return True
        verdict = await self._step(
            "check_corrected_bill",
            ExtractionActivities.check_corrected_bill,
            CorrectionCheck(
                job_id=self._job_id,
                bill=bill,
                account_number=self._account_number,
                provider=self._provider,
                override=decision.override,
                approving=approving,
            ),
            policies.CHECK,
        )
        self._correction_unchecked = self._approval_unchecked = False
        if not verdict.failing:
            return True
        workflow.logger.warning(
            "review signal ignored",
            extra={"job_id": self._job_id, "reason": reason, "failing_checks": verdict.failing},
        )
        # The task and its revision stay as they were, so the reviewer can send a fixed decision.
        self._decision = None
        self._back_to_waiting()
        return False

    # --- bookkeeping -------------------------------------------------------------------

    @overload
    async def _step(
        self, name: str, activity_fn: Callable[[Any, A], Awaitable[T]], arg: A, policy: ActivityPolicy
    ) -> T: ...

    @overload
    async def _step(self, name: str, activity_fn: Callable[[Any, A], T], arg: A, policy: ActivityPolicy) -> T: ...

    async def _step(self, name: str, activity_fn: Any, arg: Any, policy: ActivityPolicy) -> Any:
        """Run one activity and record the step (name, start, duration) for the progress query."""
        self._current_step = name
        record = StepRecord(name=name, started_at=workflow.now())
        index = len(self._steps)  # not [-1] at the end: a review step taken back after a reset runs alongside
        self._steps.append(record)
        try:
            result = await workflow.execute_activity_method(activity_fn, arg, summary=name, **policy.options())
        except ActivityError as err:
            self._step_failed = (err, index)
            raise
        finished = workflow.now()
        self._steps[index] = record.model_copy(
            update={"finished_at": finished, "duration_ms": int((finished - record.started_at).total_seconds() * 1000)}
        )
        return result

    def _failed_step(self, err: BaseException) -> int | None:
        """The index in ``_steps`` of the step whose activity raised ``err`` (None: not a step's failure)."""
        failed = self._step_failed
        return failed[1] if failed is not None and failed[0] is err else None

    def _step_ended_failing(self, err: ActivityError) -> None:
        """A step whose failure the run outlives ends there, with its error: it runs no more."""
        index = self._failed_step(err)
        if index is None:
            return
        record, ended = self._steps[index], workflow.now()
        self._steps[index] = record.model_copy(
            update={
                "finished_at": ended,
                "duration_ms": int((ended - record.started_at).total_seconds() * 1000),
                "attempt_error": str(_root_cause(err))[:500],
            }
        )

    def _back_to_waiting(self) -> None:
        """After a review step: the step still running (a take-back after a reset runs alongside the others), else
        the wait for a decision."""
        running = [step.name for step in self._steps if step.finished_at is None and step.attempt_error is None]
        if running:
            self._current_step = running[-1]
        elif self._awaiting_review():
            self._current_step = "awaiting_review"

    async def _finish(self, result: IngestionResult) -> IngestionResult:
        recorded_first = workflow.patched(STATUS_AFTER_RECORD_PATCH)
        if not recorded_first:
            self._status = result.status
        self._current_step = "mark_job_finished"
        try:
            await self._record_end(result)
        except ActivityError as err:
            if _is_cancellation(err) or not self._records_end_again():
                raise
            # Only the recording failed (the database out for its whole hour, say): the bill stored and
            # published, the duplicate found, the step's cause or the cancel is still the job's truth.
            workflow.logger.warning(
                "recording the job's end failed: recording it again",
                extra={"job_id": self._job_id, "step": "mark_job_finished", "status": str(result.status)},
            )
            await self._record_end(result)
        # Updates answer once the status is terminal: only after Postgres says so too.
        self._status = result.status
        ended: list[SearchAttributeUpdate[Any]] = [sa.JOB_STATUS.value_set(result.status)]
        if self._review_status in OPEN_REVIEW and workflow.patched(REVIEW_CLOSED_AT_END_PATCH):
            # mark_job_finished closed the task (CANCELED): an operator listing ReviewStatus="PENDING"
            # (or ESCALATED) must not find a job nobody can review any more.
            self._review_status = ReviewStatus.CANCELED
            ended.append(sa.REVIEW_STATUS.value_set(ReviewStatus.CANCELED))
        workflow.upsert_search_attributes(ended)
        workflow.set_current_details(f"{result.status}" + (f": {result.error}" if result.error else ""))
        job_metrics.job_ended(
            result.status,
            provider=self._provider,
            reviewed=self._revision is not None,
            took=workflow.now() - workflow.info().workflow_start_time,
        )
        return result

    async def _record_end(self, result: IngestionResult) -> None:
        # Started here, not in _past_cancel's task, so the command is issued exactly where it always was.
        recording = workflow.start_activity_method(
            JobActivities.mark_job_finished,
            JobStatusUpdate(
                job_id=result.job_id,
                status=result.status,
                error=result.error,
                result=result,
                steps=self._steps,
                first_run_id=workflow.info().first_execution_run_id,
            ),
            summary="mark_job_finished",
            **policies.DATABASE.options(),
        )
        # The end is decided: a cancel request now would write a second one, or lose a failure's cause.
        await self._past_cancel(recording, FINISH_ONCE_ENDING_PATCH)

    def _records_end_again(self) -> bool:
        """Whether an end whose recording failed is recorded again: the first such end of the run asks the patch;
        any later one is not (the end was recorded again and failed again, or the run began on the old code)."""
        if self._recording_again is not None:
            return False
        self._recording_again = workflow.patched(END_RECORDED_AGAIN_PATCH)
        return self._recording_again

    async def _record_cancellation(self, request: IngestionRequest) -> None:
        self._closing = True
        if self._revision is not None and self._status is JobStatus.NEEDS_REVIEW:
            await self._step(
                "cancel_review",
                ReviewActivities.close_review_task,
                ReviewTaskUpdate(job_id=request.job_id, status=ReviewStatus.CANCELED, revision=self._revision),
                policies.DATABASE,
            )
            self._set_review_status(ReviewStatus.CANCELED)
        await self._finish(
            IngestionResult(
                job_id=request.job_id, status=JobStatus.CANCELED, error="cancelled by request", reasons=self._reasons
            )
        )

    async def _fail(self, request: IngestionRequest, err: FailureError) -> IngestionResult:
        """A step failed for good: record FAILED with the root cause, then fail the workflow.

        Not when the step was the recording of an end the job had already reached, recorded again and failed again:
        a FAILED in its place would hide that end."""
        self._closing = True
        if self._recording_again:
            raise err
        cause = _root_cause(err)
        # The failing step's own record and name: the latest step may be another, running alongside (a take-back).
        index = self._failed_step(err)
        if index is None:  # not a step's failure (the workflow's own refusal): the step it was at
            index, step = len(self._steps) - 1, self._current_step or "unknown"
        else:
            step = self._steps[index].name
        reason = f"{step} failed: {_described(cause)}"
        if index >= 0 and self._steps[index].finished_at is None:
            self._steps[index] = self._steps[index].model_copy(update={"attempt_error": str(cause)[:500]})
        return await self._finish(
            IngestionResult(job_id=request.job_id, status=JobStatus.FAILED, error=reason, reasons=self._reasons)
        )
