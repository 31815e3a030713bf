"""The eval case of a reviewer's correction: what the pipeline must decide on the bill it corrects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from pydantic import SecretStr

from eval.export_corrections import Correction, corrections, golden_case, write_case
from eval.run import evaluate
from eval.scoring import summarize
from extraction.rules.extractor import extract_with_rules
from shared.db import create_pool, migrate
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
    job_id = await insert_job(pool, {"customer_id": customer, "id": account}, status="NEEDS_REVIEW")
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
