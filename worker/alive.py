"""``python -m worker.alive URL MAX_AGE``: exit 0 when the worker serving ``URL`` (its ``/metrics``) ticked within
``MAX_AGE`` seconds, 1 otherwise, saying why in one line: a container's healthcheck.

The SDK core's own thread serves ``/metrics``, and answers for a worker whose event loop is wedged: the loop's tick
(``LOOP_TICK``) is what says it is working.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request

LOOP_TICK = "minimeter_worker_loop_tick_seconds"
"""The Unix time the worker's event loop last read the backlog (``worker.backlog_metrics``, each
``WORKER_METRICS_BACKLOG_SECONDS``, whether or not Postgres answered). Named here, where a healthcheck reads it with
the standard library alone: a check every 30 s imports no pydantic, asyncpg or SDK."""


def tick_age(metrics: str, now: float) -> float | None:
    """Seconds since the loop's last tick, as ``metrics`` (Prometheus text) gives it; None when it has none yet."""
    for line in metrics.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name == LOOP_TICK:
            return now - float(line.rsplit(" ", 1)[1])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m worker.alive",
        description="Exit 0 when the worker serving URL ticked within MAX_AGE seconds, else 1 saying why.",
    )
    parser.add_argument("url", metavar="URL", help="the worker's /metrics (WORKER_METRICS_ADDRESS)")
    parser.add_argument("max_age", metavar="MAX_AGE", type=float, help="seconds since its event loop's last tick")
    arguments = parser.parse_args()
    url, max_age = arguments.url, arguments.max_age
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            metrics = answer.read().decode()
    except OSError as error:
        sys.exit(f"worker not alive: {url} did not answer ({error})")
    age = tick_age(metrics, time.time())
    if age is None:
        sys.exit(f"worker not alive: no {LOOP_TICK} at {url} (WORKER_METRICS_ADDRESS set on a worker of this release?)")
    if age > max_age:
        sys.exit(f"worker not alive: its event loop last ticked {age:.0f} s ago (more than {max_age:g} s)")


if __name__ == "__main__":
    main()
