"""Lower a process's CPU priority so that it really yields, also where the kernel groups by session.

With autogroup (``CONFIG_SCHED_AUTOGROUP``, on in most distributions' kernels and on the
benchmark's VMs), the scheduler first shares the CPU equally between sessions, and a nice
value only weighs against threads of the same session. A worker started in a session of its
own at nice 10 kept a full share beside the API: under the benchmark's burst of starts the
API got about half a core and answered ``POST /jobs`` in 280–300 ms at p99 (226–242 ms once
the worker's and the dev server's sessions yielded too). A session's own nice value (in
``/proc/<pid>/autogroup``) can be raised without privileges.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def lower_priority(niceness: int) -> None:
    """Make this process ``niceness`` steps nicer: its threads, and its session if it leads one.

    Only a session leader lowers its session: a worker run from a terminal must not slow the
    shell it shares a session with. Call before starting threads (they inherit the value).
    """
    if niceness <= 0:
        return
    os.nice(niceness)
    if os.getsid(0) == os.getpid():
        lower_session_priority(os.getpid(), niceness)


def lower_session_priority(pid: int, niceness: int) -> None:
    """Give the session that ``pid`` leads the nice value ``niceness`` (no-op without autogroup)."""
    if niceness <= 0:
        return
    with contextlib.suppress(OSError):  # no autogroup, or not ours to change: nothing more to do
        Path(f"/proc/{pid}/autogroup").write_text(str(niceness))


def session_niceness(pid: int) -> int | None:
    """The nice value of ``pid``'s session (None without autogroup): ``/autogroup-42 nice 10``."""
    try:
        return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return None
