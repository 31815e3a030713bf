"""Failures of one kind counted across a step's attempts, in the heartbeat details the next attempt reads.

``activity.info().attempt`` counts every attempt of a step, those an outage failed too (a database failover, an
object store down, a portal timing out). A limit on one kind of failure read from it was spent by the others: a
portal asked once, after three attempts a failover had failed, answered "no bill yet" and the job ended FAILED; a PDF
parsed once, after two attempts that could not read it, went to review as timing out "on every attempt".

Temporal keeps a step's last heartbeat details across its attempts, those that failed without heartbeating too. Each
heartbeat replaces them, so a step that counts sends them with every heartbeat (``heartbeat``).
"""

from __future__ import annotations

from collections.abc import Mapping

from temporalio import activity


def counted(kind: str) -> int:
    """How many earlier attempts of this step ended in ``kind``."""
    return _carried().get(kind, 0)


def count(kind: str) -> int:
    """One more ``kind`` for the attempts after this one to read (sent at once): the count with this one."""
    counts = {**_carried(), kind: counted(kind) + 1}
    activity.heartbeat(counts)
    return counts[kind]


def heartbeat() -> None:
    """A heartbeat that keeps the counts earlier attempts left (an empty one would drop them)."""
    activity.heartbeat(*activity.info().heartbeat_details)


def _carried() -> dict[str, int]:
    details = activity.info().heartbeat_details
    if not details or not isinstance(details[0], Mapping):
        return {}  # none yet, or a heartbeat of an earlier release's
    return {str(kind): n for kind, n in details[0].items() if isinstance(n, int)}
