"""Where an asyncio task is waiting, told in the lines of a traceback.

``Task.print_stack`` shows a suspended task's outermost coroutine alone ("await stuck_somewhere()"); what a stuck
task waits on is at the end of its chain of awaits, one coroutine inside the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator


def awaiting(task: asyncio.Task[object]) -> Iterator[str]:
    """The task's chain of awaits, outermost first, down to what it waits on."""
    awaited: object = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            yield f"  waiting on {awaited!r}"
            return
        yield f'  File "{frame.f_code.co_filename}", line {frame.f_lineno}, in {frame.f_code.co_name}'
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
