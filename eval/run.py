"""Run the pipeline over a directory of bills and score it against their golden files.

    python -m eval.run DIR [--json OUT.json] [--extractor rules|auto|gemini]

DIR holds NAME.pdf|.txt|.png|.jpg next to NAME.expected.json. Exits non-zero only on
bad usage (missing or empty directory), never because of the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eval.scoring import Outcome, format_table, summarize
from extraction.pipeline import analyze
from shared.bill import Provider
from shared.settings import ExtractorMode, Settings, settings_or_exit

SUFFIXES = (".pdf", ".txt", ".png", ".jpg", ".jpeg")


def bill_files(directory: Path) -> Iterator[tuple[Path, Path]]:
    """(bill, golden) pairs, sorted by name."""
    for golden in sorted(directory.glob("*.expected.json")):
        stem = golden.name.removesuffix(".expected.json")
        for suffix in SUFFIXES:
            candidate = directory / f"{stem}{suffix}"
            if candidate.exists():
                yield candidate, golden
                break


def evaluate(directory: Path, *, settings: Settings, hint: bool = False) -> list[Outcome]:
    """Analyze every bill; ``hint`` passes the golden provider as the account's provider."""
    outcomes = []
    for path, golden_path in bill_files(directory):
        golden: dict[str, Any] = json.loads(golden_path.read_text(encoding="utf-8"))
        gold_bill = golden.get("bill") or {}
        provider = Provider(gold_bill["provider"]) if hint and gold_bill.get("provider") else None
        report = analyze(path.read_bytes(), provider_hint=provider, settings=settings)
        outcomes.append(
            Outcome(
                file=path.name,
                decision=report.decision,
                reasons=report.reasons,
                bill=report.bill.model_dump(mode="json") if report.bill else None,
                seconds=report.seconds,
                pages=report.pages,
                golden=golden,
            )
        )
    return outcomes


def to_json(outcomes: list[Outcome]) -> dict[str, Any]:
    return {
        "bills": [
            {
                "file": o.file,
                "decision": o.decision,
                "reasons": o.reasons,
                "bill": o.bill,
                "seconds": round(o.seconds, 6),
                "expected_decision": o.golden.get("decision"),
            }
            for o in outcomes
        ],
        "summary": summarize(outcomes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--json", type=Path, help="write per-bill results and the summary here")
    parser.add_argument(
        "--extractor",
        choices=[m.value for m in ExtractorMode],
        help="override EXTRACTOR for this run",
    )
    parser.add_argument("--hint", action="store_true", help="pass the golden provider as a hint")
    args = parser.parse_args(argv)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # corrupt cases are expected here
    if not args.directory.is_dir() or not any(bill_files(args.directory)):
        parser.error(f"{args.directory} holds no NAME.<pdf|txt|png|jpg> + NAME.expected.json pairs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)  # before the run: its figures are not lost after it
    settings = settings_or_exit()
    if args.extractor:
        settings = settings.model_copy(update={"extractor": ExtractorMode(args.extractor)})
    outcomes = evaluate(args.directory, settings=settings, hint=args.hint)
    result = to_json(outcomes)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(format_table(result["summary"]))
    for outcome in outcomes:
        if outcome.decision != outcome.golden.get("decision"):
            print(f"  {outcome.file}: {outcome.decision} {outcome.reasons} (golden {outcome.golden.get('decision')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
