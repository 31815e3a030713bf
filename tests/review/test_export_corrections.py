"""``python -m eval.export_corrections DIR`` turns reviewers' corrections into eval cases ``eval.run`` reads."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from eval.export_corrections import export
from shared.artifacts import ArtifactNotFound
from shared.bill import NormalizedBill
from shared.settings import REPO_ROOT, Settings
from tests.helpers import account_digits, bill_text
from tests.review.support import CORRECT_TOTAL, open_review
from worker.resources import Resources


class EmptyStore:
    """An artifact store that has lost everything."""

    def read(self, uri: str) -> bytes:
        raise ArtifactNotFound(uri)


COMMITTED_GOLDEN = REPO_ROOT / "eval" / "bills" / "adv_balance_mismatch.expected.json"


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment a worker of this session would run with (the CLI reads the same variables)."""
    assert settings.database_url is not None
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "ARTIFACT_STORE": settings.artifact_store.value,
        "GCS_BUCKET": settings.gcs_bucket,
        "GCP_PROJECT": settings.gcp_project,
        "STORAGE_EMULATOR_HOST": settings.storage_emulator_host or "",
    }


async def run_module(module: str, *args: str, env: dict[str, str], exits: tuple[int, ...] = (0,)) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    assert process.returncode in exits, text
    return text


async def test_corrections_are_exported_as_eval_cases_that_eval_run_reads(
    http: httpx.AsyncClient,
    reviewer_http: httpx.AsyncClient,
    resources: Resources,
    app_settings: Settings,
    tmp_path: Path,
    unique: str,
) -> None:
    corrected = await open_review(http, unique)
    reviewed = corrected.corrected(total_amount=CORRECT_TOTAL)
    response = await reviewer_http.post(
        f"/reviews/{corrected.job_id}", json={"action": "correct", "revision": corrected.revision, "bill": reviewed}
    )
    assert response.status_code == 200, response.text
    approved = await open_review(http, unique[::-1])
    response = await reviewer_http.post(
        f"/reviews/{approved.job_id}", json={"action": "approve", "revision": approved.revision}
    )
    assert response.status_code == 200, response.text

    out = tmp_path / "corrections"
    # 1 where it skips other tests' corrections, whose raw bills were never stored: ours is not among them
    printed = await run_module("eval.export_corrections", str(out), env=worker_env(app_settings), exits=(0, 1))
    assert f"skipped job {corrected.job_id}" not in printed

    name = f"review_{corrected.job_id}"
    assert (out / f"{name}.txt").read_bytes() == bill_text(account_digits(unique)).encode()
    golden: dict[str, Any] = json.loads((out / f"{name}.expected.json").read_text(encoding="utf-8"))
    assert set(golden) == set(json.loads(COMMITTED_GOLDEN.read_text(encoding="utf-8")))
    assert golden["decision"] == "accept"
    assert golden["category"] == "known"
    assert golden["bill"]["total_amount"] == CORRECT_TOTAL, "amounts are strings, as in the committed set"
    assert golden["bill"] == NormalizedBill.model_validate(reviewed).model_dump(mode="json")
    stored_after = await resources.pool.fetchval(
        "SELECT after FROM review_decisions WHERE job_id = $1", corrected.job_id
    )
    assert golden["bill"] == stored_after
    assert not list(out.glob(f"review_{approved.job_id}*")), "only corrections become cases"
    exported = {p.name for p in out.glob("review_*.expected.json")}
    assert f"exported {len(exported)} corrected bills" in printed

    gone = await export(tmp_path / "gone", pool=resources.pool, store=EmptyStore())  # type: ignore[arg-type]
    assert corrected.job_id in {c.job_id for c in gone.missing}
    assert gone.written == [], "a correction whose raw bill is gone is skipped, not half-written"

    report = tmp_path / "report.json"
    await run_module("eval.run", str(out), "--extractor", "rules", "--json", str(report), env=worker_env(app_settings))
    scored = {b["file"]: b for b in json.loads(report.read_text(encoding="utf-8"))["bills"]}
    assert scored[f"{name}.txt"]["expected_decision"] == "accept"
    assert len(scored) == len(exported)
