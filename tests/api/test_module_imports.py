"""Every API module imports on its own, first: a script, a tool or a test may import a router
before ``api.main`` (an import cycle through the review UI broke ``import api.routes.jobs``)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import api

IMPORT_EACH_FIRST = """
import importlib, sys
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "api" or m.startswith("api.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except ImportError as error:
        print(f"{name}: {error}")
"""


def test_every_api_module_imports_first() -> None:
    modules = pkgutil.walk_packages(api.__path__, "api.")
    names = sorted(module.name for module in modules if module.name != "api.__main__")  # __main__ serves
    assert "api.routes.jobs" in names
    run = subprocess.run([sys.executable, "-c", IMPORT_EACH_FIRST, *names], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "", run.stdout
