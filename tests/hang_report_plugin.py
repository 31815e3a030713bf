"""A test about to reach pytest-timeout prints the stack of every asyncio task first: pytest-timeout's dump shows
only threads, and a hung coroutine's thread is its event loop, idle in ``select``."""

from __future__ import annotations

import asyncio
import gc
import io
import sys
import threading
from collections.abc import Iterator

import pytest

from shared.awaits import awaiting

REPORT_BEFORE_TIMEOUT_SECONDS = 15.0
"""How long before pytest-timeout fails the test the tasks are printed: time for their loop to print them."""


def _timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout") or 0)


def _print_tasks() -> None:
    """Asks every running event loop to print its tasks (asyncio's tasks are not for other threads to read)."""
    for loop in [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]:
        loop.call_soon_threadsafe(_print_tasks_of, loop)


def _print_tasks_of(loop: asyncio.AbstractEventLoop) -> None:
    report = io.StringIO()
    for task in asyncio.all_tasks(loop):
        print(f"--- {task.get_name()}", *awaiting(task), sep="\n", file=report)
    sys.stderr.write(f"+++ asyncio tasks {REPORT_BEFORE_TIMEOUT_SECONDS:g} s before the timeout +++\n")
    sys.stderr.write(report.getvalue())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    timeout = _timeout_of(item)
    timer = None
    if timeout > 2 * REPORT_BEFORE_TIMEOUT_SECONDS:
        timer = threading.Timer(timeout - REPORT_BEFORE_TIMEOUT_SECONDS, _print_tasks)
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
