"""Every committed history replays with the current workflow code: CI fails on non-determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from shared.codec import KeyRing, data_converter
from tests.workflows.history_codec import replay_converter
from tests.workflows.predeploy import (
    PreRaceBillIngestionWorkflow,
    PreWakeBillIngestionWorkflow,
    PreWindowBillIngestionWorkflow,
)
from tests.workflows.reordered import ReorderedBillIngestionWorkflow
from tests.workflows.test_patch_markers import patch_ids_in
from worker.sandbox_runner import workflow_runner_for
from workflows.bill_ingestion import RESET_WAKES_PATCH, SIGNALLED_WHILE_ESCALATING_PATCH, BillIngestionWorkflow
from workflows.rollup import AnalyticsRollupWorkflow

HISTORIES = sorted((Path(__file__).parents[1] / "histories").rglob("*.json"))
FIRST_RELEASE_SCENARIOS = {"accepted", "failed_job", "review_corrected", "review_rejected", "step_retried"}


def load(path: Path) -> WorkflowHistory:
    data = json.loads(path.read_text())
    started = data["events"][0]["workflowExecutionStartedEventAttributes"]
    return WorkflowHistory.from_json(started.get("workflowId") or path.stem, data)


def test_histories_are_committed() -> None:
    recorded = {f"{p.parent.name}/{p.stem}" for p in HISTORIES}
    scenarios = {
        "accepted",
        "review_corrected",
        "review_corrected_by_signal",
        "review_approved_by_signal",
        "review_rejected",
        "reopened_corrected",
        "step_retried",
        "failed_job",
        "cancelled_in_review",
        "cancelled_while_persisting",
        "cancelled_while_finishing",
        "failed_in_review",
        "review_plaintext_signal",
        "started_unsealed",
        "review_plaintext_signal_across_deploy",
        "review_sealed_between_plaintext",
        "started_anew_under_its_id",
        "end_recorded_again",
        "review_decided_as_it_expired",
        "review_signalled_as_it_expired",
        "review_decided_as_it_expired_across_deploy",
        "started_under_another_jobs_id",
        "review_decided_as_it_escalated",
        "review_reset_past_its_escalation",
        "review_signalled_while_escalating",
        "review_retaken_after_reset",
        "rollup_ran",
        "rollup_started_unsealed",
        "reissue_held_over_correction",
        "reissue_held_then_cancelled",
        "copy_read_otherwise_held",
        "correction_met_a_period_stored_since",
    }
    # Runs recorded by earlier releases or before a patch, which replay down its old branch: each kept.
    earlier = {f"{v}/{name}" for v in ("v1", "v2") for name in scenarios if name in FIRST_RELEASE_SCENARIOS} | {
        "v3/cancelled_while_persisting",
        "v4/review_corrected_by_signal",
        "v5/cancelled_while_finishing",
        "v6/review_corrected",
        "v6/review_corrected_by_signal",
        "v6/review_rejected",
        "v7/review_approved_by_signal",
        "v8/failed_in_review",
        "v9/review_plaintext_signal",
        "v10/end_recorded_again",
        "v10/review_decided_as_it_expired",
        "v10/review_signalled_as_it_expired",
        "v11/review_reset_past_its_escalation",
        "v12/review_signalled_while_escalating",
        "v13/review_retaken_after_reset",
        "v14/accepted",
    }
    assert {f"current/{name}" for name in scenarios} | earlier <= recorded


def test_readme_says_what_each_earlier_history_folder_holds() -> None:
    """Whoever changes the workflow reads the README's list to learn what each kept folder guards: a folder
    committed without its words there (v8 was) leaves them to guess whether it may go."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    folders = {path.parent.name for path in HISTORIES} - {"current"}
    assert folders, "no earlier histories found"
    assert {
        folder for folder in folders if f"`{folder}/`" not in readme and f"histories/{folder}/`" not in readme
    } == set()


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_history_replays_with_current_code(path: Path) -> None:
    # Committed histories are stored decrypted. A payload recorded sealed carries a mark, and opens sealed
    # here; one without (every message of histories recorded before the mark) opens tagged unsealed, as a
    # plaintext message would: runs that recorded no unsealed-message patch marker replay the same regardless
    # (the patches are asked only of unsealed messages).
    converter = replay_converter()
    replayer = Replayer(
        workflows=[BillIngestionWorkflow, AnalyticsRollupWorkflow],
        data_converter=converter,
        workflow_runner=workflow_runner_for(converter),  # the worker's sandbox, as build_worker picks it
    )
    await replayer.replay_workflow(load(path))


async def test_recorded_seals_are_what_replays_a_sealed_signal_between_plaintext_ones() -> None:
    """Read unsealed, as histories recorded before the mark read every message, its sealed correction would be
    dropped as the plaintext signals were, without the check_corrected_bill the run scheduled."""
    recorded = load(Path(__file__).parents[1] / "histories" / "current" / "review_sealed_between_plaintext.json")
    all_unsealed = Replayer(workflows=[BillIngestionWorkflow], data_converter=data_converter(KeyRing.generate()))
    with pytest.raises(NondeterminismError):
        await all_unsealed.replay_workflow(recorded)


def corrected_by_signal(version: str) -> WorkflowHistory:
    return load(Path(__file__).parents[1] / "histories" / version / "review_corrected_by_signal.json")


@pytest.mark.parametrize("failing", [[], ["sum_mismatch"]], ids=["passes-all", "fails-all"])
async def test_signalled_corrections_replay_whatever_the_checks_say_now(
    failing: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Since SIGNALLED_CORRECTION_PATCH the verdict on a signalled correction comes back from history."""
    monkeypatch.setattr("extraction.checks.check_bill", lambda bill, *, text: list(failing))
    replayer = Replayer(workflows=[BillIngestionWorkflow], data_converter=replay_converter())
    await replayer.replay_workflow(corrected_by_signal("current"))


async def test_before_the_patch_changed_checks_broke_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """v4/ ran before the patch: its signal handler judged the correction, so checks that now refuse
    the one it accepted break its replay. This also proves the stand-in is what replay calls."""
    monkeypatch.setattr("extraction.checks.check_bill", lambda bill, *, text: ["sum_mismatch"])
    replayer = Replayer(workflows=[BillIngestionWorkflow], data_converter=replay_converter())
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(corrected_by_signal("v4"))


async def test_a_decision_taken_with_the_sla_timer_replays_only_down_the_patched_branch() -> None:
    """The code before DECIDED_AS_TIME_RAN_OUT_PATCH escalates where the run recorded the decision: the history
    takes the patch's new branch, so a change to its commands fails replay."""
    recorded = load(Path(__file__).parents[1] / "histories" / "current" / "review_decided_as_it_escalated.json")
    replayer = Replayer(workflows=[PreRaceBillIngestionWorkflow], data_converter=replay_converter())
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(recorded)


def signalled_while_escalating(version: str) -> Path:
    return Path(__file__).parents[1] / "histories" / version / "review_signalled_while_escalating.json"


def signals_while_escalating(history: WorkflowHistory) -> int:
    """Signals the run took between escalate_review's scheduling and its completion."""
    count, escalating = 0, False
    for event in history.events:
        scheduled = event.activity_task_scheduled_event_attributes.activity_type.name
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and scheduled == "escalate_review":
            escalating = True
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            escalating = False
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED and escalating:
            count += 1
    return count


async def test_a_signal_dropped_while_escalating_on_the_old_code_replays_dropped() -> None:
    """v12/ ran before SIGNALLED_WHILE_ESCALATING_PATCH: its signal read before the escalation committed was dropped
    as stale, and a second one decided. The current code, asked the patch on replay, drops it again."""
    path = signalled_while_escalating("v12")
    recorded = load(path)
    assert signals_while_escalating(recorded) == 1  # the one dropped; the one that decided came after
    assert not any(p.startswith(SIGNALLED_WHILE_ESCALATING_PATCH) for p in patch_ids_in(path))
    await Replayer(workflows=[BillIngestionWorkflow], data_converter=replay_converter()).replay_workflow(recorded)


async def test_a_signal_taken_while_escalating_replays_only_down_the_patched_branch() -> None:
    """The code before the patch drops the signal the run took: its replay waits where the run recorded the
    decision, so the patch's branch is the one that replays."""
    path = signalled_while_escalating("current")
    recorded = load(path)
    assert signals_while_escalating(recorded) == 1 and SIGNALLED_WHILE_ESCALATING_PATCH in patch_ids_in(path)
    replayer = Replayer(workflows=[PreWindowBillIngestionWorkflow], data_converter=replay_converter())
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(recorded)


def retaken_after_reset(version: str) -> Path:
    return Path(__file__).parents[1] / "histories" / version / "review_retaken_after_reset.json"


def take_backs(history: WorkflowHistory) -> list[int]:
    """The event ids of open_review_task's schedulings after the reset: the take-backs."""
    events = list(history.events)
    reset_at = next(e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    return [
        e.event_id
        for e in events
        if e.event_id > reset_at
        and e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "open_review_task"
    ]


async def test_a_reset_that_brought_nothing_else_replays_asleep_on_the_old_code() -> None:
    """v13/ ran before RESET_WAKES_PATCH: reset to the task that took its decision, the decision left out, the run
    never took its task back (the approval sent straight to it ended the job). The current code, asking the patch as
    the review opened and told no, replays it so."""
    path = retaken_after_reset("v13")
    recorded = load(path)
    assert take_backs(recorded) == [] and RESET_WAKES_PATCH not in patch_ids_in(path)
    await Replayer(workflows=[BillIngestionWorkflow], data_converter=replay_converter()).replay_workflow(recorded)


async def test_a_run_a_reset_alone_woke_replays_only_down_the_patched_branch() -> None:
    """The current run took its task back in the workflow task the reset gave it; the code before the patch sleeps
    there, so its replay misses the take-back."""
    path = retaken_after_reset("current")
    recorded = load(path)
    assert len(take_backs(recorded)) == 1 and RESET_WAKES_PATCH in patch_ids_in(path)
    replayer = Replayer(workflows=[PreWakeBillIngestionWorkflow], data_converter=replay_converter())
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(recorded)


@pytest.mark.parametrize("path", [p for p in HISTORIES if p.stem == "accepted"], ids=lambda p: p.parent.name)
async def test_reordered_workflow_fails_replay(path: Path) -> None:
    replayer = Replayer(workflows=[ReorderedBillIngestionWorkflow], data_converter=replay_converter())
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(load(path))
