"""Every patched branch of the workflows is replayed: each patch id is a marker in a history under current/."""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil
from pathlib import Path

import workflows

CURRENT = Path(__file__).parents[1] / "histories" / "current"


def patch_constants() -> dict[str, str]:
    """Every ``*_PATCH`` string of the modules in ``workflows/``: id → constant's name."""
    found = {}
    for module_info in pkgutil.iter_modules(workflows.__path__, f"{workflows.__name__}."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if name.endswith("_PATCH") and isinstance(value, str):
                found[value] = f"{module_info.name}.{name}"
    return found


def recorded_patch_ids() -> set[str]:
    """Patch ids of the markers in the histories under current/."""
    return {patch_id for path in CURRENT.glob("*.json") for patch_id in patch_ids_in(path)}


def patch_ids_in(path: Path) -> set[str]:
    """Patch ids of the markers in one committed history (a marker's payload is never sealed)."""
    ids = set()
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                ids.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return ids


def test_every_patch_is_a_marker_in_a_current_history() -> None:
    """A patched branch no history takes is never replayed: a change to its commands would pass CI."""
    constants, recorded = patch_constants(), recorded_patch_ids()
    assert constants, "no *_PATCH constant found in workflows/"
    missing = sorted(name for patch_id, name in constants.items() if patch_id not in recorded)
    assert missing == [], "record a scenario taking each (tests/workflows/scenarios.py)"
