"""``python -m tests.record_histories [DIR]``: regenerate tests/histories/ from live runs on the dev server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

DEFAULT_DIR = Path(__file__).parent / "histories" / "current"

if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    os.environ["HISTORIES_DIR"] = str(target.resolve())
    sys.exit(
        pytest.main(["-q", "-p", "no:cacheprovider", str(Path(__file__).parent / "workflows" / "record_session.py")])
    )
