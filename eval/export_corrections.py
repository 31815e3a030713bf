"""Export reviewers' corrections as eval cases: each original bill next to its corrected golden file.

    python -m eval.export_corrections DIR

Reads ``DATABASE_URL`` and the artifact store (``ARTIFACT_STORE``, ``GCS_BUCKET``,
``STORAGE_EMULATOR_HOST``...) as the worker does. For every job whose latest decision in
``review_decisions`` is ``correct`` it writes ``review_<job id>.<ext>`` (the stored original; the extension
follows its content type) and ``review_<job id>.expected.json`` (the corrected bill, decision
``accept``; ``review`` for a bill stored by override, which fails checks no accepted bill may), so
``python -m eval.run DIR`` scores the pipeline on what humans had to fix.
Only a correction its job stored (a bill of the job's in ``bills``, or replaced since and kept in ``bill_revisions``):
one whose job ended DUPLICATE, the statement held by another job, or FAILED before storing (a reopened bill changed
meanwhile) is the truth of nothing stored (two readings of one file gave two cases contradicting each other).
Running it again rewrites the same files, and removes the ones of a correction since withdrawn (a later
decision, or a later correction of the same bill reopened) or of a bill exported earlier under another extension.
It exits 1 when it skipped a correction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from pydantic import ValidationError

from activities.storage import extension_for
from eval.generate import Case, Category
from extraction.checks import with_implied_charges
from shared.artifacts import ArtifactNotFound, ArtifactStore, InvalidArtifactName, build_artifact_store
from shared.bill import NormalizedBill
from shared.db import open_for_a_command
from shared.settings import Settings, settings_or_exit

# Each job's latest decision, kept when it is a correction, with the raw bill it was taken on (``decided_uri``,
# recorded with the decision since migration 0020) or, for older rows, the bills it may correct: the job's last
# one stored before the decision (``dated_uri``), the review task's, and how many the job stored.
CORRECTIONS_SQL = """
WITH latest AS (
    SELECT DISTINCT ON (job_id) job_id, action, after, overridden, decided_at, artifact_uri
      FROM review_decisions
     ORDER BY job_id, decided_at DESC
)
SELECT d.job_id, d.after, d.overridden, d.artifact_uri AS decided_uri,
       (SELECT c.content_type FROM artifacts c WHERE c.job_id = d.job_id AND c.uri = d.artifact_uri LIMIT 1)
           AS decided_type,
       t.artifact_uri AS task_uri, a.uri AS dated_uri, a.content_type AS dated_type,
       (SELECT c.content_type FROM artifacts c WHERE c.job_id = d.job_id AND c.uri = t.artifact_uri LIMIT 1)
           AS task_type,
       (SELECT count(*) FROM artifacts c WHERE c.job_id = d.job_id) AS stored
  FROM latest d
  JOIN review_tasks t ON t.job_id = d.job_id
  LEFT JOIN LATERAL (
       SELECT s.uri, s.content_type FROM artifacts s
        WHERE s.job_id = d.job_id AND s.created_at <= d.decided_at
        ORDER BY s.created_at DESC, s.id DESC
        LIMIT 1
  ) a ON true
 WHERE d.action = 'correct' AND d.after IS NOT NULL
   -- stored: not a duplicate of a bill another job holds, nor a reopened bill's correction refused as stale
   AND (EXISTS (SELECT 1 FROM bills b WHERE b.job_id = d.job_id)
        OR EXISTS (SELECT 1 FROM bill_revisions v WHERE v.job_id = d.job_id))
   -- withdrawn by a later correction of the same bill, reopened (a re-issue's replacement is another file's)
   AND NOT EXISTS (SELECT 1 FROM bill_revisions r JOIN ingestion_jobs j ON j.id = r.replaced_by_job
                    WHERE r.job_id = d.job_id AND j.job_type = 'reopen')
 ORDER BY d.job_id
"""


@dataclass(frozen=True)
class Correction:
    job_id: str
    bill: NormalizedBill
    artifact_uri: str
    content_type: str | None
    overridden: tuple[str, ...] = ()
    """The plausibility checks the reviewer stored the bill past (``review_decisions.overridden``)."""

    @property
    def name(self) -> str:
        return f"review_{self.job_id}"

    @property
    def suffix(self) -> str:
        if self.content_type is not None:
            return "." + extension_for(self.content_type)
        return Path(self.artifact_uri).suffix  # objects are named raw/bills/{job}/{sha256}.{ext}


@dataclass(frozen=True)
class Corrections:
    paired: list[Correction]
    unpaired: list[str]
    """Jobs whose corrected bill cannot be told: each bill they stored was (re-)stored after the decision."""
    unreadable: list[str] = field(default_factory=list)
    """Jobs whose corrected bill no longer reads as a bill (an earlier release stored one this one refuses)."""


async def corrections(pool: asyncpg.Pool) -> Corrections:
    """Each job whose latest decision is a correction, with the bill it corrects: the one it was recorded on.

    Not a correction a later decision withdrew (correct, then reject under a later revision): it was exported as
    the truth, nor one a decision taken again after a reset replaced (under the same revision: migration 0021
    audits it beside the first). Decisions recorded
    before the bill was (migration 0020) are paired by date: the last bill the job stored before the decision, not
    the review task's (the job's latest, after a reset's fetch of another); the task's only when the job stored one
    bill, or none recorded (stored before ``artifacts``)."""
    paired: list[Correction] = []
    unpaired: list[str] = []
    unreadable: list[str] = []
    for row in await pool.fetch(CORRECTIONS_SQL):
        if row["decided_uri"] is not None:  # dates alone paired a bill stored again since with another
            uri, content_type = row["decided_uri"], row["decided_type"]
        elif row["dated_uri"] is not None:
            uri, content_type = row["dated_uri"], row["dated_type"]
        elif row["stored"] <= 1:
            uri, content_type = row["task_uri"], row["task_type"]
        else:  # re-fetched since (A, then B, then A again dates A anew): which one was corrected is unknown
            unpaired.append(str(row["job_id"]))
            continue
        try:  # one bad row must not hold back the rest, or every later run, which would stop at it too
            # As it was stored: an earlier release audited a correction without the current charges it implies.
            bill = with_implied_charges(NormalizedBill.model_validate(row["after"]))
        except ValidationError:
            unreadable.append(str(row["job_id"]))
            continue
        paired.append(
            Correction(
                job_id=str(row["job_id"]),
                bill=bill,
                artifact_uri=uri,
                content_type=content_type,
                overridden=tuple(row["overridden"]),
            )
        )
    return Corrections(paired, unpaired, unreadable)


def golden_case(correction: Correction, data: bytes) -> Case:
    """The correction in the eval set's own shape (``eval.generate.Case``): the reviewer's bill is the truth.

    One stored by override fails checks (``bad_due_date``, ``sum_mismatch``) that keep any bill from being
    accepted: its case expects a review, like the set's adversarial ones. Expecting an acceptance, it counted
    as a miss the pipeline must make, and an acceptance that must never happen would have counted as a match."""
    if correction.overridden:
        reasons = list(correction.overridden)
        return Case(correction.name, correction.suffix, data, "review", "adversarial", correction.bill, reasons)
    category: Category = "known" if correction.bill.provider is not None else "unknown"
    return Case(correction.name, correction.suffix, data, "accept", category, correction.bill)


def write_case(directory: Path, case: Case) -> None:
    """Written exactly as ``eval.generate.write_set`` writes the committed set."""
    (directory / f"{case.name}{case.suffix}").write_bytes(case.data)
    golden = json.dumps(case.golden(), indent=2, sort_keys=True) + "\n"
    (directory / f"{case.name}.expected.json").write_text(golden, encoding="utf-8")


@dataclass
class Exported:
    written: list[Case] = field(default_factory=list)
    missing: list[Correction] = field(default_factory=list)
    """Corrections whose raw bill is no longer in the store (or was stored elsewhere)."""
    unpaired: list[str] = field(default_factory=list)
    """Jobs whose corrected bill cannot be told from another they stored later (see ``corrections``)."""
    unreadable: list[str] = field(default_factory=list)
    """Jobs whose corrected bill no longer reads as a bill (see ``Corrections.unreadable``)."""
    removed: list[str] = field(default_factory=list)
    """Files of an earlier export this one no longer stands behind: a correction withdrawn, or an old extension."""

    @property
    def skipped(self) -> bool:
        return bool(self.missing or self.unpaired or self.unreadable)


_EXPORTED_FILE = re.compile(r"review_(?P<job>[0-9a-f-]{36})\.(?:expected\.json|[a-z0-9]{1,10})")


async def export(directory: Path, *, pool: asyncpg.Pool, store: ArtifactStore) -> Exported:
    """Write every correction whose raw bill can be read to ``directory`` (which must exist), and remove what an
    earlier export wrote there that no longer stands: a withdrawn correction's case still scored the pipeline
    against a truth the reviewer took back, and a bill exported under another extension (a PDF, then a PNG
    fetched again) was the one ``eval.run`` paired with the new golden file. A correction skipped now (its bill
    unreadable for the moment) keeps its files."""
    found = await corrections(pool)
    done = Exported(unpaired=found.unpaired, unreadable=found.unreadable)
    for correction in found.paired:
        try:
            data = await asyncio.to_thread(store.read, correction.artifact_uri)
        except (ArtifactNotFound, InvalidArtifactName):
            done.missing.append(correction)
            continue
        case = golden_case(correction, data)
        await asyncio.to_thread(write_case, directory, case)
        done.written.append(case)
    standing = {c.job_id for c in found.paired} | set(found.unpaired) | set(found.unreadable)
    done.removed = await asyncio.to_thread(_remove_stale, directory, standing, done.written)
    return done


def _remove_stale(directory: Path, standing: set[str], written: list[Case]) -> list[str]:
    """Remove the files of an earlier export whose job's correction no longer ``standing``, and those of a job
    ``written`` now that this export did not write (its bill under another extension); the names removed."""
    kept = {f"{case.name}{case.suffix}" for case in written} | {f"{case.name}.expected.json" for case in written}
    rewritten = {case.name for case in written}
    removed: list[str] = []
    if not directory.is_dir():  # nothing written, nothing exported there before
        return removed
    for path in sorted(directory.iterdir()):
        exported = _EXPORTED_FILE.fullmatch(path.name)
        if exported is None or path.name in kept:
            continue
        if exported["job"] not in standing or f"review_{exported['job']}" in rewritten:
            path.unlink()
            removed.append(path.name)
    return removed


async def _run(directory: Path, settings: Settings) -> Exported:
    pool = await open_for_a_command(settings)
    try:
        return await export(directory, pool=pool, store=build_artifact_store(settings))
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.export_corrections", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where to write the bills and golden files")
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    done = asyncio.run(_run(args.directory, settings_or_exit()))
    for correction in done.missing:
        print(f"skipped job {correction.job_id}: {correction.artifact_uri} cannot be read", file=sys.stderr)
    for job_id in done.unpaired:
        print(f"skipped job {job_id}: its bills were stored again after the correction", file=sys.stderr)
    for job_id in done.unreadable:
        print(f"skipped job {job_id}: its corrected bill no longer reads as a bill", file=sys.stderr)
    for name in done.removed:
        print(f"removed {name}: its correction was withdrawn or stored nothing, or exported under another extension")
    print(f"exported {len(done.written)} corrected bills to {args.directory}")
    return 1 if done.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
