"""What stops a process's start for a reason it can name: a setting that does not fit its surroundings (the Temporal
server's TLS, a port), or surroundings not fit to start in (Postgres too old or unreachable, search attributes
missing). The worker and the API log such a refusal as one line saying why, not as a traceback."""

from __future__ import annotations


class StartRefused(RuntimeError):
    """A start refused, its message the one line an operator reads (naming the setting or the service)."""
