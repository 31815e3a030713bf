"""``python -m bench.api_alone``: ``POST /jobs`` on an otherwise idle stack, no worker.

What the API alone answers: C clients send N starts as fast as they are answered, twice
(the first round includes warm-up: new pool connections, first-time code paths). Prints
requests/s, latency p50/p95/p99, and the CPU each request cost the API and the clients.
The dispatcher starts the first ``JOB_DISPATCH_MAX_RUNNING`` jobs; with no worker the rest
wait in Postgres, as they would behind a busy worker.

    python -m bench.api_alone --requests 2000 --clients 32 [--api-processes 2]
    python -m bench.api_alone --floor    # bench.floor_app instead: the framework's floor here
    python -m bench.api_alone --rate-limit 100000000    # each start paid from its key's budget, as by default
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.api_clients import JobStarter, job_starter
from bench.harness import BenchStack, where_it_runs
from bench.load import drive
from bench.pipeline import seed_accounts
from bench.sampler import cpu_seconds, process_tree
from bench.stats import distribution
from stack.local import finish_stopping_undisturbed, stop_on_sigterm


def _tree_cpu_seconds(root: psutil.Process) -> float:
    """Of the API and its live children (``API_PROCESSES`` > 1 serves from children)."""
    total = 0.0
    for proc in process_tree(root):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += cpu_seconds(proc)
    return total


async def measure(stack: BenchStack, *, requests: int, clients: int, rounds: int) -> None:
    accounts = await seed_accounts(stack.database_url, run_id=stack.run_id, bills=requests, bills_per_account=10)
    assert stack.local.api is not None
    api = psutil.Process(stack.local.api.pid)
    async with job_starter(
        stack.api_url, stack.admin_key, clients=clients, account_ids=[a.id for a in accounts]
    ) as starter:
        for number in range(1, rounds + 1):
            print(await one_round(starter, api, number=number, requests=requests, clients=clients), flush=True)


async def one_round(starter: JobStarter, api: psutil.Process, *, number: int, requests: int, clients: int) -> str:
    """One round's line: its rate, latency, CPU per request and the starts it retried (its own, not the rounds'
    before it: the starter counts them all)."""
    bench = psutil.Process()  # the bench alone, never its children: they are the stack (Temporal, Postgres, API)
    retries = starter.retries
    api_cpu, bench_cpu, began = _tree_cpu_seconds(api), cpu_seconds(bench), time.perf_counter()
    started = await drive(requests, clients, starter.start)
    seconds = time.perf_counter() - began
    retried = starter.retries - retries
    latency = distribution([s.latency_ms for s in started])
    return (
        f"round {number}: {requests} POST /jobs by {clients} clients, {requests / seconds:.0f}/s, "
        f"p50/p95/p99 {latency['p50']}/{latency['p95']}/{latency['p99']} ms, CPU per request: "
        f"API {(_tree_cpu_seconds(api) - api_cpu) * 1000 / requests:.2f} ms, "
        f"clients {(cpu_seconds(bench) - bench_cpu) * 1000 / requests:.2f} ms"
        + (f", {retried} retried" if retried else "")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api_alone", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="POSTs per round (default 2000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds on the same API (default 2)")
    parser.add_argument("--api-processes", type=int, default=1, help="API processes on one port (default 1)")
    parser.add_argument(
        "--floor", action="store_true", help="serve bench.floor_app (a start's two statements, nothing more)"
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        help="RATE_LIMIT_PER_MINUTE (default 0, as every bench runs; the API's default is 600 a minute: one the clients"
        " never exhaust measures a start paid from its key's budget)",
    )
    args = parser.parse_args(argv)
    if args.floor and args.api_processes != 1:
        parser.error("--floor serves one process")
    if args.floor and args.rate_limit:
        parser.error("--floor has no rate limit")
    stop_on_sigterm()
    print(f"api_alone: {where_it_runs()}", file=sys.stderr, flush=True)  # stdout's first line is round 1's
    with tempfile.TemporaryDirectory(prefix="minimeter-api-alone-") as data_dir:
        env = {"API_PROCESSES": str(args.api_processes), "RATE_LIMIT_PER_MINUTE": str(args.rate_limit)}
        stack = BenchStack(Path(data_dir), run_id=secrets.token_hex(4), env=env, temporal_in_memory=True)
        try:
            stack.start_services()
            if args.floor:
                stack.start_floor_api()
            else:
                stack.local.start_api()
            asyncio.run(measure(stack, requests=args.requests, clients=args.clients, rounds=args.rounds))
        finally:
            finish_stopping_undisturbed()  # a second Ctrl-C cut the stop short and left the servers running
            stack.close()


if __name__ == "__main__":
    main()
