"""The local stack's child processes: none is left running when starting it fails or is interrupted."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stack.services import free_port, start_listening

NEVER_LISTENS = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_server_that_dies_before_listening_is_reported_at_once() -> None:
    """Not after the whole timeout: the wait watches the process as well as the port. The wait here is an
    hour, so one that watched the port alone would fail this test (the suite's per-test timeout, or a
    TimeoutError) instead of naming the exit."""
    with pytest.raises(RuntimeError, match=r"exited \(3\)"):
        start_listening([sys.executable, "-c", "raise SystemExit(3)"], port=free_port(), what="a server", timeout=3600)


def test_a_server_whose_wait_is_cut_short_is_stopped_not_orphaned() -> None:
    """A timeout here, or Ctrl-C or SIGTERM in ``make run``: the half-started server goes too."""
    started: list[subprocess.Popen[bytes]] = []
    with pytest.raises(TimeoutError):
        start_listening(NEVER_LISTENS, port=free_port(), what="a server", timeout=0.5, on_start=started.append)
    [proc] = started
    assert proc.poll() is not None, "the process outlived its failed start"


def test_a_port_already_taken_is_refused_before_anything_starts() -> None:
    """Else the wait would find the old listener (a dev server left by an earlier run) and go on with it."""
    started: list[subprocess.Popen[bytes]] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="already in use"):
            start_listening(NEVER_LISTENS, port=port, what="a server", timeout=5, on_start=started.append)
    assert started == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_server_of_make_run_is_stopped_gracefully_when_make_run_is_killed(tmp_path: Path) -> None:
    """``make run`` killed with SIGKILL stops nothing itself: its worker, left running, joined the next run's task
    queue unseen and ran its jobs with its old code (72C). Each child it starts in a session of its own is sent
    SIGTERM by the kernel instead, which a worker ends gracefully on."""
    ended = tmp_path / "ended"
    port = free_port()
    written = tmp_path / "ended.partial"  # renamed once whole: the test never reads a file half written
    server = (
        "import os, pathlib, signal, socket, sys, time\n"
        f"def ended(*_):\n    pathlib.Path({str(written)!r}).write_text('SIGTERM')\n"
        f"    os.replace({str(written)!r}, {str(ended)!r})\n    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, ended)\n"
        f"listening = socket.create_server(('127.0.0.1', {port}))\n"
        "time.sleep(60)\n"
    )
    make_run = (
        "import sys, time\nfrom stack.services import start_listening\n"
        f"child = start_listening([sys.executable, '-c', {server!r}], port={port}, what='a server', timeout=20)\n"
        "print(child.pid, flush=True)\ntime.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", make_run], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait(timeout=10)

    deadline = time.monotonic() + 20
    while not ended.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ended.exists() and ended.read_text() == "SIGTERM", f"the child (pid {child}) outlived make run"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_unwind_like_ctrl_c(signum: int) -> None:
    """A closed terminal (SIGHUP) must stop the stack's children as Ctrl-C does, through ``finally``."""
    # 'ready' is printed inside the ``try``: printed before it, the signal could arrive (and raise)
    # between the print and the ``try``, skipping the ``finally`` the test is about.
    program = (
        "import time\nfrom stack.local import stop_on_sigterm\nstop_on_sigterm()\n"
        "try:\n    print('ready', flush=True)\n    time.sleep(30)\n"
        "finally:\n    print('stopping the stack', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=20)
    assert "stopping the stack" in out


FINALIZERS = {
    "__del__": (
        "class Slow:\n    def __del__(self):\n        print('finalizing', flush=True)\n"
        "        end = time.monotonic() + 10\n        while time.monotonic() < end:\n            pass\n"
        "try:\n    Slow()\n"
    ),
    "weakref callback": (
        "import weakref\nclass Thing:\n    pass\n"
        "def slow(_ref):\n    print('finalizing', flush=True)\n"
        "    end = time.monotonic() + 10\n    while time.monotonic() < end:\n        pass\n"
        "try:\n    thing = Thing()\n    ref = weakref.ref(thing, slow)\n    del thing\n"
    ),
}
"""Places Python cannot raise in: it prints the exception as ignored and runs on."""


@pytest.mark.parametrize("finalizer", FINALIZERS.values(), ids=FINALIZERS.keys())
def test_a_stop_signal_landing_in_a_finalizer_still_stops(finalizer: str) -> None:
    """Raised inside a ``__del__`` or a weakref callback, the interrupt is printed as ignored and lost: the bench ran
    on after SIGTERM (CI saw one land in aiohttp's ``Connection.__del__``). ``stop_on_sigterm`` sends it again."""
    program = (
        "import time\nfrom stack.local import stop_on_sigterm\nstop_on_sigterm()\n"
        + finalizer
        + "    time.sleep(30)\n    print('ran on', flush=True)\n"
        "finally:\n    print('stopping the stack', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "finalizing"
    proc.send_signal(signal.SIGTERM)  # lands in the finalizer's busy loop
    out, err = proc.communicate(timeout=40)
    assert "stopping the stack" in out and "ran on" not in out, (out, err)
    assert "stop signal lost in" in err, err  # it landed in the finalizer, where the test means it to
    assert proc.returncode != 0
