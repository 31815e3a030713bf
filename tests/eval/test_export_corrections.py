"""The eval case of a reviewer's correction: what the pipeline must decide on the bill it corrects."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from pydantic import SecretStr
from temporalio.testing import ActivityEnvironment

from activities.review import ReviewActivities
from activities.storage import record_artifact
from eval.export_corrections import Correction, corrections, export, golden_case, write_case
from eval.run import evaluate
from eval.scoring import summarize
from extraction.rules.extractor import extract_with_rules
from shared.artifacts import LocalArtifactStore
from shared.bill import NormalizedBill
from shared.db import create_pool, migrate
from shared.models import ArtifactRef
from shared.review import ReviewAction, ReviewAudit, ReviewDecision, ReviewTaskOpen
from shared.settings import ExtractorMode, Settings
from tests.extraction.test_pipeline import NO_CURRENT_CHARGES_LINE
from tests.helpers import insert_job

DUE_IN_NINE_MONTHS = NO_CURRENT_CHARGES_LINE.replace("April 24, 2025", "December 24, 2025")
"""A true bill a reviewer may store past ``bad_due_date`` (an override): no bill failing it is accepted."""


def correction(job_id: str, text: str, overridden: tuple[str, ...]) -> Correction:
    read = extract_with_rules([text], provider_hint=None)
    assert read.bill is not None
    return Correction(job_id, read.bill, f"raw/bills/{job_id}/0.txt", "text/plain", overridden)


def test_a_bill_stored_by_override_is_a_case_the_pipeline_must_review(tmp_path: Path) -> None:
    """Exported as expecting an acceptance, it was a miss no pipeline may avoid ("review (golden accept)"),
    and accepting it, which must never happen, would have matched its golden decision."""
    write_case(tmp_path, golden_case(correction("a", NO_CURRENT_CHARGES_LINE, ()), NO_CURRENT_CHARGES_LINE.encode()))
    overridden = correction("b", DUE_IN_NINE_MONTHS, ("bad_due_date",))
    write_case(tmp_path, golden_case(overridden, DUE_IN_NINE_MONTHS.encode()))
    outcomes = evaluate(tmp_path, settings=Settings(extractor=ExtractorMode.RULES, gemini_api_key=None))
    assert [(o.file, o.decision, o.golden["decision"]) for o in outcomes] == [
        ("review_a.txt", "accept", "accept"),
        ("review_b.txt", "review", "review"),
    ]
    assert outcomes[1].golden["reasons"] == ["bad_due_date"] and outcomes[1].category == "adversarial"
    assert summarize(outcomes)["decision_agreement"] == 1.0


async def test_a_correction_is_paired_with_the_bill_it_corrects_not_a_later_one(pg_url: str, tmp_path: Path) -> None:
    """A reset that fetched another bill after the correction moved the review task to it: the correction was
    exported beside the newer bill, and the eval case expected the old bill's values of it."""
    pool = await create_pool(Settings(database_url=SecretStr(pg_url)), dsn=pg_url)
    try:
        await migrate(pool)
        corrected_at = datetime(2026, 3, 1, 12, tzinfo=UTC)
        reset = await _job(
            pool, "reset", [("a", corrected_at - timedelta(days=1)), ("b", corrected_at + timedelta(days=1))]
        )
        single = await _job(pool, "single", [("a", corrected_at + timedelta(days=1))])
        refetched = await _job(
            pool, "refetched", [("a", corrected_at + timedelta(days=2)), ("b", corrected_at + timedelta(days=1))]
        )
        for job_id in (reset, single, refetched):
            await _corrected(pool, job_id, corrected_at)
        await _succeeded(pool, reset, single, refetched)
        found = await corrections(pool)
    finally:
        await pool.close()
    uris = {c.job_id: (c.artifact_uri, c.content_type) for c in found.paired}
    assert uris[reset] == (f"raw/bills/{reset}/a.txt", "text/plain")
    assert uris[single] == (f"raw/bills/{single}/a.txt", "text/plain")  # its one bill, whenever dated
    assert refetched not in uris and refetched in found.unpaired  # A, B, then A again: which one is unknown


async def _job(pool: asyncpg.Pool, name: str, stored: list[tuple[str, datetime]]) -> str:
    """A job that stored ``stored`` bills (by name, when), its review task on the last one stored."""
    customer = await pool.fetchval("INSERT INTO customers (name) VALUES ($1) RETURNING id", f"Customer {name}")
    account = await pool.fetchval(
        "INSERT INTO utility_accounts (customer_id, provider, account_number) VALUES ($1, NULL, $2) RETURNING id",
        customer,
        f"{name}-{uuid.uuid4().hex[:8]}",
    )
    job_id = await insert_job(pool, {"customer_id": customer, "id": account}, status="RUNNING")
    for bill, at in stored:
        await pool.execute(
            "INSERT INTO artifacts (job_id, uri, sha256, size, content_type, created_at)"
            " VALUES ($1, $2, $3, 1, $4, $5)",
            uuid.UUID(job_id),
            f"raw/bills/{job_id}/{bill}.txt",
            bill * 64,
            "text/plain",
            at,
        )
    latest = max(stored, key=lambda item: item[1])[0]
    await pool.execute(
        "INSERT INTO review_tasks (job_id, status, reasons, artifact_uri, revision)"
        " VALUES ($1, 'PENDING', '[]', $2, 'r2')",
        uuid.UUID(job_id),
        f"raw/bills/{job_id}/{latest}.txt",
    )
    return job_id


async def _corrected(pool: asyncpg.Pool, job_id: str, at: datetime) -> None:
    bill = extract_with_rules([NO_CURRENT_CHARGES_LINE], provider_hint=None).bill
    assert bill is not None
    await pool.execute(
        "INSERT INTO review_decisions (job_id, revision, action, reviewer, after, diff, decided_at)"
        " VALUES ($1, 'r1', 'correct', 'ana', $2, '{}', $3)",
        uuid.UUID(job_id),
        bill.model_dump(mode="json"),
        at,
    )


async def test_a_correction_a_later_decision_withdrew_is_not_exported(pg_url: str) -> None:
    """The job's latest correction was exported, not its latest decision: corrected, then taken back by a reset
    and rejected, the withdrawn correction became an eval case's truth."""
    pool = await create_pool(Settings(database_url=SecretStr(pg_url)), dsn=pg_url)
    try:
        await migrate(pool)
        job_id = await _new_job(pool, "withdrawn")
        bill_a = await _stored(pool, job_id, "a")
        await _decide(pool, job_id, "run-1", bill_a, _correct("r1"))
        await _decide(pool, job_id, "run-2", bill_a, ReviewDecision(action=ReviewAction.REJECT, revision="r2"))
        kept = await _new_job(pool, "kept")
        bill_k = await _stored(pool, kept, "a")
        await _decide(pool, kept, "run-1", bill_k, ReviewDecision(action=ReviewAction.REJECT, revision="r1"))
        await _decide(pool, kept, "run-2", bill_k, _correct("r2"))
        await _succeeded(pool, job_id, kept)
        found = await corrections(pool)
    finally:
        await pool.close()
    assert job_id not in {c.job_id for c in found.paired} | set(found.unpaired)
    assert [c.artifact_uri for c in found.paired if c.job_id == kept] == [bill_k.uri]


async def test_a_correction_its_job_did_not_store_is_not_exported(pg_url: str) -> None:
    """Two uploads of one file, each corrected: the second ended DUPLICATE (the first job holds the statement) and
    both were exported, two truths of one file contradicting each other; so was a reopened bill's correction refused
    as stale (FAILED). Neither is stored anywhere (a reviewer's probe). One stored and replaced since by a re-issue
    (kept in bill_revisions), or whose job failed only after storing it (its publish), stays a case."""
    pool = await create_pool(Settings(database_url=SecretStr(pg_url)), dsn=pg_url)
    try:
        await migrate(pool)
        jobs = {}
        for name in ("stored", "replaced", "publish-failed", "duplicate", "refused"):
            jobs[name] = await _new_job(pool, name)
            await _decide(pool, jobs[name], "run-1", await _stored(pool, jobs[name], "a"), _correct("r1"))
        await _succeeded(pool, jobs["stored"], jobs["replaced"], jobs["publish-failed"])
        await pool.execute(  # a re-issue replaced it: the version it stored is kept, under another job's bill
            "INSERT INTO bill_revisions (bill_id, job_id, replaced_by_job, content_sha256, source, payload)"
            " SELECT id, job_id, job_id, content_sha256, source, payload FROM bills WHERE job_id = $1",
            uuid.UUID(jobs["replaced"]),
        )
        await pool.execute("DELETE FROM bills WHERE job_id = $1", uuid.UUID(jobs["replaced"]))
        for name, status in (("publish-failed", "FAILED"), ("duplicate", "DUPLICATE"), ("refused", "FAILED")):
            await pool.execute("UPDATE ingestion_jobs SET status = $2 WHERE id = $1", uuid.UUID(jobs[name]), status)
        found = await corrections(pool)
    finally:
        await pool.close()
    exported = {c.job_id for c in found.paired} | set(found.unpaired)
    assert {jobs["stored"], jobs["replaced"], jobs["publish-failed"]} <= exported
    assert not {jobs["duplicate"], jobs["refused"]} & exported, "stored nowhere"


async def test_a_correction_taken_again_after_a_reset_is_exported_again(pg_url: str) -> None:
    """Corrected, rejected after a reset, then corrected again word for word after another: the correction's audit
    row kept its first time, so the rejection read as the latest decision and the correction as withdrawn."""
    pool = await create_pool(Settings(database_url=SecretStr(pg_url)), dsn=pg_url)
    try:
        await migrate(pool)
        job_id = await _new_job(pool, "retaken")
        bill_a = await _stored(pool, job_id, "a")
        await _decide(pool, job_id, "run-1", bill_a, _correct("r1"))
        await _decide(pool, job_id, "run-2", bill_a, ReviewDecision(action=ReviewAction.REJECT, revision="r1"))
        await _decide(pool, job_id, "run-3", bill_a, _correct("r1"))
        await _succeeded(pool, job_id)
        found = await corrections(pool)
        actions = await pool.fetch(
            "SELECT action FROM review_decisions WHERE job_id = $1 ORDER BY decided_at", uuid.UUID(job_id)
        )
    finally:
        await pool.close()
    assert [c.artifact_uri for c in found.paired if c.job_id == job_id] == [bill_a.uri]
    assert [r["action"] for r in actions] == ["reject", "correct"]


async def test_a_decision_recorded_again_by_its_own_run_keeps_its_row_and_time(pg_url: str) -> None:
    """An activity's retry of the decision it recorded (its answer lost) adds no row and does not date it anew."""
    pool = await create_pool(Settings(database_url=SecretStr(pg_url)), dsn=pg_url)
    try:
        await migrate(pool)
        job_id = await _new_job(pool, "retried")
        bill_a = await _stored(pool, job_id, "a")
        await _decide(pool, job_id, "run-1", bill_a, _correct("r1"))
        first = await pool.fetchval("SELECT decided_at FROM review_decisions WHERE job_id = $1", uuid.UUID(job_id))
        audit = ReviewAudit(job_id=job_id, decision=_correct("r1"), before=_bill(), revision="r1")
        await _in_run("run-1").run(ReviewActivities(pool).record_review_decision, audit)
        rows = await pool.fetch("SELECT decided_at FROM review_decisions WHERE job_id = $1", uuid.UUID(job_id))
    finally:
        await pool.close()
    assert [r["decided_at"] for r in rows] == [first]


async def test_a_correction_is_exported_beside_the_bill_it_was_recorded_on(pg_url: str) -> None:
    """A stored, a reset fetched B, B corrected, a later reset fetched B again: storing B again dated it after
    the decision, and the correction went out beside A, the last bill dated before it, saying nothing."""
    pool = await create_pool(Settings(database_url=SecretStr(pg_url)), dsn=pg_url)
    try:
        await migrate(pool)
        job_id = await _new_job(pool, "restored")
        await _stored(pool, job_id, "a")
        bill_b = await _stored(pool, job_id, "b")
        await _decide(pool, job_id, "run-2", bill_b, _correct("r2"))
        await _stored(pool, job_id, "b")  # the next reset's fetch of the same bytes
        await _succeeded(pool, job_id)
        found = await corrections(pool)
    finally:
        await pool.close()
    paired = [(c.artifact_uri, c.content_type) for c in found.paired if c.job_id == job_id]
    assert paired == [(bill_b.uri, "text/plain")]


async def _new_job(pool: asyncpg.Pool, name: str) -> str:
    customer = await pool.fetchval("INSERT INTO customers (name) VALUES ($1) RETURNING id", f"Customer {name}")
    account = await pool.fetchval(
        "INSERT INTO utility_accounts (customer_id, provider, account_number) VALUES ($1, NULL, $2) RETURNING id",
        customer,
        f"{name}-{uuid.uuid4().hex[:8]}",
    )
    return await insert_job(pool, {"customer_id": customer, "id": account}, status="RUNNING")


def _correct(revision: str) -> ReviewDecision:
    return ReviewDecision(action=ReviewAction.CORRECT, revision=revision, bill=_bill(), reviewer="ana")


def _bill() -> NormalizedBill:
    bill = extract_with_rules([NO_CURRENT_CHARGES_LINE], provider_hint=None).bill
    assert bill is not None
    return bill


async def _stored(pool: asyncpg.Pool, job_id: str, name: str) -> ArtifactRef:
    """What the storage step records of a bill it fetched (again, if the job stored these bytes before)."""
    ref = ArtifactRef(uri=f"raw/bills/{job_id}/{name}.txt", sha256=name * 64, size=1, content_type="text/plain")
    await record_artifact(pool, job_id, ref)
    return ref


async def _decide(pool: asyncpg.Pool, job_id: str, run_id: str, bill: ArtifactRef, decision: ReviewDecision) -> None:
    """The review steps of run ``run_id`` (a reset's, after the first): the task opened on ``bill``, decided."""
    env = _in_run(run_id)
    activities = ReviewActivities(pool)
    opening = ReviewTaskOpen(
        job_id=job_id, reasons=["balance_mismatch"], bill=_bill(), artifact_uri=bill.uri, revision=decision.revision
    )
    await env.run(activities.open_review_task, opening)
    audit = ReviewAudit(job_id=job_id, decision=decision, before=_bill(), revision=decision.revision)
    await env.run(activities.record_review_decision, audit)


async def _succeeded(pool: asyncpg.Pool, *job_ids: str) -> None:
    """The jobs ended, their last decision's bill stored (a row of each in ``bills``), as their runs end them."""
    await pool.execute(
        "INSERT INTO bills (id, job_id, customer_id, utility_account_id, currency, content_sha256, source, payload)"
        " SELECT gen_random_uuid(), id, customer_id, utility_account_id, 'USD', md5(id::text), 'review', '{}'"
        " FROM ingestion_jobs WHERE id = ANY($1::uuid[])",
        list(job_ids),
    )
    await pool.execute("UPDATE ingestion_jobs SET status = 'SUCCEEDED' WHERE id = ANY($1::uuid[])", list(job_ids))


def _in_run(run_id: str) -> ActivityEnvironment:
    """Activities run as steps of run ``run_id``, scheduled now (a later run's are a reset's)."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_run_id=run_id, scheduled_time=datetime.now(UTC))
    return env


async def test_a_correction_is_audited_shown_and_exported_with_the_charges_it_was_stored_with(
    pg_url: str, tmp_path: Path
) -> None:
    """A corrected bill that states no current charges is stored with those its line items imply: its audit, its
    task and its golden file kept none, and the eval counted the pipeline's right reading of them as a miss."""
    store = LocalArtifactStore(tmp_path / "store")
    out = tmp_path / "cases"
    out.mkdir()
    assert _bill().current_charges is None
    pool = await create_pool(Settings(database_url=SecretStr(pg_url)), dsn=pg_url)
    try:
        await migrate(pool)
        job_id = await _new_job(pool, "implied")
        await _decide(pool, job_id, "run-1", await _stored_in(store, pool, job_id), _correct("r1"))
        audited = await pool.fetchrow(
            "SELECT d.after, d.diff, t.bill FROM review_decisions d JOIN review_tasks t USING (job_id)"
            " WHERE d.job_id = $1",
            uuid.UUID(job_id),
        )
        older = await _new_job(pool, "implied-before")
        await _decide(pool, older, "run-1", await _stored_in(store, pool, older), _correct("r1"))
        await pool.execute(  # as an earlier release recorded it, without them
            "UPDATE review_decisions SET after = jsonb_set(after, '{current_charges}', 'null') WHERE job_id = $1",
            uuid.UUID(older),
        )
        await _succeeded(pool, job_id, older)
        await export(out, pool=pool, store=store)
    finally:
        await pool.close()
    assert audited["after"]["current_charges"] == audited["bill"]["current_charges"] == "85.00"
    assert audited["diff"]["current_charges"] == {"before": None, "after": "85.00"}
    for exported in (job_id, older):
        golden = json.loads((out / f"review_{exported}.expected.json").read_text(encoding="utf-8"))
        assert golden["bill"]["current_charges"] == "85.00", exported


async def test_an_export_again_removes_a_withdrawn_case_and_skips_an_unreadable_correction(
    pg_url: str, tmp_path: Path
) -> None:
    """A corrected bill an earlier release stored that no longer reads (a 13-digit total) stopped the whole export,
    every run; a correction withdrawn since kept its files, so eval.run still scored against it; and skips ended 0."""
    store = LocalArtifactStore(tmp_path / "store")
    out = tmp_path / "cases"
    out.mkdir()
    pool = await create_pool(Settings(database_url=SecretStr(pg_url)), dsn=pg_url)
    try:
        await migrate(pool)
        withdrawn = await _new_job(pool, "withdrawn-later")
        bill_w = await _stored_in(store, pool, withdrawn)
        await _decide(pool, withdrawn, "run-1", bill_w, _correct("r1"))
        unreadable = await _new_job(pool, "unreadable")
        await _decide(pool, unreadable, "run-1", await _stored_in(store, pool, unreadable), _correct("r1"))
        await pool.execute(
            "UPDATE review_decisions SET after = jsonb_set(after, '{total_amount}', '\"9999999999999.99\"')"
            " WHERE job_id = $1",
            uuid.UUID(unreadable),
        )
        await _succeeded(pool, withdrawn, unreadable)
        first = await export(out, pool=pool, store=store)
        # An operator's reset: its run takes the job back (mark_job_running) and the task is decided otherwise.
        await pool.execute("UPDATE ingestion_jobs SET status = 'RUNNING' WHERE id = $1", uuid.UUID(withdrawn))
        await _decide(pool, withdrawn, "run-2", bill_w, ReviewDecision(action=ReviewAction.REJECT, revision="r2"))
        again = await export(out, pool=pool, store=store)
    finally:
        await pool.close()
    assert unreadable in first.unreadable and first.skipped
    assert {case.name for case in first.written} >= {f"review_{withdrawn}"}
    assert sorted(again.removed) == [f"review_{withdrawn}.expected.json", f"review_{withdrawn}.txt"]
    assert not list(out.glob(f"review_{withdrawn}.*"))


async def _stored_in(store: LocalArtifactStore, pool: asyncpg.Pool, job_id: str) -> ArtifactRef:
    """The job's bill in ``store``, recorded as the storage step records it."""
    ref = store.put_once(
        job_id=job_id, data=NO_CURRENT_CHARGES_LINE.encode(), content_type="text/plain", ext="txt", metadata={}
    )
    await record_artifact(pool, job_id, ref)
    return ref
