"""The extraction activities' failures: which are a bill's fault (final) and which are the moment's (retried)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.extraction import ExtractionActivities
from shared.artifacts import LocalArtifactStore
from shared.bill import NormalizedBill
from shared.models import ExtractionOutcome, ValidateRequest
from shared.settings import Settings
from workflows.policies import NON_RETRYABLE


def test_a_bill_that_does_not_read_again_at_validation_is_retried_not_failed(
    tmp_path: Path, settings: Settings
) -> None:
    """validate_bill rereads the stored bill when another worker extracted it. The bill was read once,
    so a reread that fails (a parse timing out under load, say) is the moment's fault: retryable."""
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.ensure_bucket()
    job_id = str(uuid.uuid4())
    artifact = store.put_once(
        job_id=job_id, data=b"%PDF-1.7 not really", content_type="application/pdf", ext="pdf", metadata={}
    )
    extracted = ExtractionOutcome(
        bill=NormalizedBill(total_amount=Decimal("10.00")), reasons=[], extractor="rules:generic", pages=1
    )
    activities = ExtractionActivities(store, settings)  # a fresh worker: nothing cached

    with pytest.raises(ApplicationError) as raised:
        ActivityEnvironment().run(
            activities.validate_bill, ValidateRequest(job_id=job_id, artifact=artifact, extraction=extracted)
        )
    assert raised.value.type == "DocumentRereadFailed" and raised.value.type not in NON_RETRYABLE
    assert not raised.value.non_retryable
