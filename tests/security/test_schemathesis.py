"""Schemathesis against the app's own OpenAPI schema, as admin: no 5xx, and every response as documented.

Checked: no server error, a documented status code, a documented content type, a body
that matches the documented schema. Generation is positive, bounded and seeded, so a run
is repeatable; every example is run (failures are collected, not stopped at) and the
figures are printed.
"""

from __future__ import annotations

import asyncio
import importlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err

from worker.resources import Resources

SEED = 20_261_122
MAX_EXAMPLES = 15
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance")
EXCLUDED_PATHS = r"^/ui"
"""Built elsewhere; fuzzed once they land."""


@dataclass
class FuzzReport:
    operations: list[str] = field(default_factory=list)
    examples: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: dict[tuple[str, str, int], str] = field(default_factory=dict)
    """(operation, failure, status) -> the first message seen."""
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"schemathesis {schemathesis.__version__}, seed {SEED}, max {MAX_EXAMPLES} examples per operation",
            f"operations: {len(self.operations)}, examples: {sum(self.examples.values())},"
            f" distinct failures: {len(self.failures)}, errors: {len(self.errors)}",
            "",
            "| operation | examples | statuses | failures |",
            "|---|---|---|---|",
        ]
        for op in self.operations:
            statuses = ", ".join(f"{s}×{n}" for s, n in sorted(self.statuses.get(op, Counter()).items()))
            failed = sorted({f"{kind} ({status})" for (o, kind, status) in self.failures if o == op})
            lines.append(f"| `{op}` | {self.examples[op]} | {statuses} | {'; '.join(failed) or '-'} |")
        if self.failures:
            lines += ["", "Failures (first message of each):"]
            lines += [f"- {op} -> {status} {kind}: {msg}" for (op, kind, status), msg in sorted(self.failures.items())]
        lines += [f"- error: {e}" for e in self.errors]
        return "\n".join(lines)


def fuzz_operation(
    operation: schemathesis.APIOperation[Any, Any, Any, Any], report: FuzzReport, api_url: str, auth: dict[str, str]
) -> None:
    label = operation.label
    report.operations.append(label)
    report.statuses[label] = Counter()

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def run(case: schemathesis.Case[Any]) -> None:
        report.examples[label] += 1
        response = case.call(base_url=api_url, headers=auth, timeout=30)
        report.statuses[label][response.status_code] += 1
        try:
            case.validate_response(response, headers=auth)
        except FailureGroup as group:
            for failure in group.exceptions:
                message = " ".join(failure.message.split())[:300]
                report.failures.setdefault((label, failure.title, response.status_code), message)

    try:
        run()
    except Exception as exc:  # a transport error: reported with the rest, not hidden
        report.errors.append(f"{label}: {type(exc).__name__}: {exc}")


def fuzz(api_url: str, admin_key: str) -> FuzzReport:
    """Blocking (requests under the hood): run it in a thread so the in-process server keeps serving."""
    auth = {"Authorization": f"Bearer {admin_key}"}
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": auth,
            "generation": {"mode": "positive", "max-examples": MAX_EXAMPLES},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json", config=config).exclude(path_regex=EXCLUDED_PATHS)
    report = FuzzReport()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            report.errors.append(f"schema error: {result.err()}")
        else:
            fuzz_operation(result.ok(), report, api_url, auth)
    return report


@pytest.fixture(autouse=True)
def gcs_boundaries_from_their_own_random(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis compares the global ``random`` state before and after each draw, and warns ("Do not use the
    `random` module inside strategies", with the case's repr: the admin key) when it moved. The fuzzed uploads
    reach GCS from other threads of this process (the API's upload handler, the in-process worker's activities),
    and the GCS client draws each multipart boundary from that global state (``get_boundary``): one drawn while
    the fuzz thread drew a case set the warning off. Its own ``Random`` leaves the global state to the strategies,
    so a real misuse still warns."""
    # By name: a typed import of this private module makes mypy lose google.cloud.storage's own names.
    gcs_upload = importlib.import_module("google.cloud.storage._media._upload")
    monkeypatch.setattr(gcs_upload, "random", random.Random())


def test_a_gcs_upload_leaves_the_global_random_alone(resources: Resources) -> None:
    """What the fuzz's uploads do in the API's and the worker's threads, with this module's fixture in place."""
    before = random.getstate()
    resources.store.put_once(
        job_id=str(uuid.uuid4()), data=b"%PDF-1.4 x", content_type="application/pdf", ext="pdf", metadata={}
    )
    assert random.getstate() == before


async def test_schema_conformance_and_no_server_errors(api_url: str, admin_key: str) -> None:
    started = time.monotonic()
    report = await asyncio.to_thread(fuzz, api_url, admin_key)
    print(f"\n{report.summary()}\n({time.monotonic() - started:.1f}s)")
    assert report.operations, "no operations found in the schema"
    assert sum(report.examples.values()) >= len(report.operations), "every operation ran at least once"
    assert not report.errors, "\n".join(report.errors)
    assert not report.failures, report.summary()
