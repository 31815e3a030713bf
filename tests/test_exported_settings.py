"""A developer's shell exports MiniMeter settings; ``make test`` must not read them (``tests/conftest.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT
from tests.helpers import is_setting_variable

RULES_EXTRACTION_TEST = "tests/durability/test_no_workflow_cache.py"
"""A text bill through the whole pipeline: extracted by the rules, sent to review, approved."""


@pytest.mark.timeout(300)
def test_an_exported_gemini_key_sends_no_fixture_bill_to_gemini(tmp_path: Path) -> None:
    """Gemini at a closed port: a bill sent there never gets extracted, and the test waiting for its review fails."""
    exported = {"GEMINI_API_KEY": "bogus", "extractor": "gemini", "GEMINI_BASE_URL": "http://127.0.0.1:9"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={tmp_path}", RULES_EXTRACTION_TEST],
        cwd=REPO_ROOT,
        env=os.environ | exported,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 passed" in run.stdout, run.stdout[-3000:]


def test_no_setting_is_left_in_this_process_environment() -> None:
    assert [name for name in os.environ if is_setting_variable(name)] == []
