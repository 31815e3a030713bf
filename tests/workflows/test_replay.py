"""Every committed history replays with the current workflow code: CI fails on non-determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from shared.codec import KeyRing, data_converter
from tests.workflows.reordered import ReorderedBillIngestionWorkflow
from workflows.bill_ingestion import BillIngestionWorkflow

HISTORIES = sorted((Path(__file__).parents[1] / "histories").rglob("*.json"))


def load(path: Path) -> WorkflowHistory:
    data = json.loads(path.read_text())
    started = data["events"][0]["workflowExecutionStartedEventAttributes"]
    return WorkflowHistory.from_json(started.get("workflowId") or path.stem, data)


def test_histories_are_committed() -> None:
    names = {p.stem for p in HISTORIES}
    assert {
        "accepted",
        "review_corrected",
        "review_rejected",
        "step_retried",
        "failed_job",
        "cancelled_in_review",
        "cancelled_while_persisting",
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_history_replays_with_current_code(path: Path) -> None:
    # A fresh key ring: committed histories are stored decrypted, and the codec passes plaintext through.
    replayer = Replayer(workflows=[BillIngestionWorkflow], data_converter=data_converter(KeyRing.generate()))
    await replayer.replay_workflow(load(path))


@pytest.mark.parametrize("path", [p for p in HISTORIES if p.stem == "accepted"], ids=lambda p: p.parent.name)
async def test_reordered_workflow_fails_replay(path: Path) -> None:
    replayer = Replayer(workflows=[ReorderedBillIngestionWorkflow], data_converter=data_converter(KeyRing.generate()))
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(load(path))
