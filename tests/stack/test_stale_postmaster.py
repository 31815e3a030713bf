"""The embedded Postgres after a crash: a ``postmaster.pid`` whose pid another process has since, and the
handles (``.handle_pids.json``) of processes killed outright."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

from stack import services
from stack.local import LocalStack, StackOptions
from stack.services import (
    StackError,
    embedded_postgres_url,
    postmaster,
    start_embedded_postgres,
    still_running,
    stop_embedded_postgres,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def pgdata(tmp_path: Path) -> Iterator[Path]:
    """A data dir for this test's own server: none of its processes outlives the test, whatever failed."""
    pgdata = tmp_path / "postgres"
    try:
        yield pgdata
    finally:
        with contextlib.suppress(Exception):
            stop_embedded_postgres(pgdata)
        for process in _processes_of(pgdata):
            with contextlib.suppress(psutil.Error):
                process.kill()


@pytest.fixture()
def other() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated long-lived process, to take a dead postmaster's pid."""
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def _processes_of(pgdata: Path) -> list[psutil.Process]:
    """The postmasters of ``pgdata`` (their command line names it) and their children."""
    found: list[psutil.Process] = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if str(pgdata) in (process.info["cmdline"] or []):
                found += [process, *process.children(recursive=True)]
    return found


def crash(pgdata: Path) -> None:
    """SIGKILL the running server, as the OOM killer would: its ``postmaster.pid`` stays behind."""
    server = postmaster(pgdata)
    assert server is not None
    processes = [server, *server.children(recursive=True)]
    server.kill()
    deadline = time.monotonic() + 30
    while any(still_running(p) for p in processes):  # its backends exit on their postmaster's death
        assert time.monotonic() < deadline, "the killed server's processes did not end"
        time.sleep(0.1)
    assert (pgdata / "postmaster.pid").exists()


def give_pid_to(pgdata: Path, process: subprocess.Popen[bytes]) -> None:
    """As if the dead postmaster's pid were reused (after a reboot, in a container): its lock files, the data
    dir's and the socket's, name ``process``."""
    lock_files = [pgdata / "postmaster.pid", *pgdata.glob(".s.PGSQL.*.lock")]
    assert len(lock_files) == 2
    for lock_file in lock_files:
        lines = lock_file.read_text().splitlines()
        lines[0] = str(process.pid)
        lock_file.write_text("\n".join(lines) + "\n")


async def select_one(url: str) -> int:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        return int(await connection.fetchval("SELECT 1"))
    finally:
        await connection.close()


def test_a_stale_pid_file_naming_another_process_is_replaced_by_a_started_server(
    pgdata: Path, other: subprocess.Popen[bytes]
) -> None:
    """embedded_postgres took the process with the file's pid for the server and started none: ``make run``
    then failed on "connection refused", and recorded that process as its Postgres."""
    embedded_postgres_url(pgdata)
    crash(pgdata)
    give_pid_to(pgdata, other)
    assert postmaster(pgdata) is None, "a process that took the dead server's pid was taken for the server"

    url = start_embedded_postgres(pgdata)

    server = postmaster(pgdata)
    assert server is not None and server.pid != other.pid
    assert asyncio.run(select_one(url)) == 1
    stop_embedded_postgres(pgdata)
    assert not still_running(server)
    assert other.poll() is None, "stopping the server signalled the process that had the stale pid"


def test_stopping_never_signals_the_process_a_stale_pid_file_names(
    pgdata: Path, other: subprocess.Popen[bytes]
) -> None:
    """``pg_ctl stop`` (then a SIGINT of our own) went to whatever process had the pid: the user's editor, say."""
    embedded_postgres_url(pgdata)
    crash(pgdata)
    give_pid_to(pgdata, other)

    stop_embedded_postgres(pgdata)

    time.sleep(0.5)
    assert other.poll() is None, f"the unrelated process was signalled (exit {other.returncode})"


def holding(pgdata: Path) -> subprocess.Popen[bytes]:
    """Another process that starts (or attaches to) the server and holds it, as ``make run`` does: it prints
    "up" once it does."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from stack.services import embedded_postgres_url;"
            " embedded_postgres_url(Path(sys.argv[1]), stop_on_exit=True); print('up', flush=True); time.sleep(300)",
            str(pgdata),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )


def test_a_one_shot_command_stops_the_server_it_started_though_a_killed_holder_is_listed(pgdata: Path) -> None:
    """A ``make run`` killed outright stays listed in ``.handle_pids.json``: every later one-shot command found
    another holder at its exit, and left the server it had started running."""
    holder = holding(pgdata)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"up\n"
    finally:
        holder.kill()  # as kill -9 does make run: no exit hook
        holder.wait()
    assert holder.pid in json.loads((pgdata / ".handle_pids.json").read_text())
    stop_embedded_postgres(pgdata)  # the operator stops the server it left (or the machine restarts)
    assert postmaster(pgdata) is None

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"ENV": "test", "DATA_DIR": str(pgdata.parent)}
    listed = subprocess.run(
        [sys.executable, "-m", "api.keys", "list"], cwd=REPO, env=env, capture_output=True, timeout=120
    )

    assert listed.returncode == 0, listed.stderr.decode()
    assert postmaster(pgdata) is None, "the command left the embedded Postgres it started running"
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == []


def test_only_ended_holders_are_dropped(tmp_path: Path) -> None:
    """A holder that still runs keeps the server up for it; a pid no process has, or one a process took only
    after the list was written, is an ended holder's."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    holder = subprocess.Popen(["sleep", "300"])
    try:
        handles = tmp_path / ".handle_pids.json"
        handles.write_text(json.dumps([ended.pid, holder.pid]))
        assert services.drop_dead_handles(tmp_path) == [ended.pid]
        assert json.loads(handles.read_text()) == [holder.pid]

        before = psutil.Process(holder.pid).create_time() - 60
        os.utime(handles, (before, before))  # written before the process with that pid was created
        assert services.drop_dead_handles(tmp_path) == [holder.pid]
        assert json.loads(handles.read_text()) == []
    finally:
        holder.kill()
        holder.wait()


def test_a_stack_that_gives_up_leaves_running_the_server_another_stack_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second ``make run`` with TEMPORAL_ADDRESS set (nothing refused it first) attached to the first one's
    Postgres, found the GCS emulator's port taken, and stopped that Postgres as it gave up: the first stack then
    reported "Postgres exited" and stopped everything."""
    pgdata = tmp_path / "postgres"
    first = holding(pgdata)
    try:
        assert first.stdout is not None and first.stdout.readline() == b"up\n"
        server = postmaster(pgdata)
        assert server is not None
        monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:7233")  # an outside Temporal: none started here
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            second = LocalStack(StackOptions(data_dir=tmp_path, gcs_port=int(taken.getsockname()[1])))
            try:
                with pytest.raises(StackError, match="already in use"):
                    second.start_services()
            finally:
                second.close()
        assert still_running(server), "the second stack stopped the first one's Postgres"
    finally:
        first.kill()
        first.wait()
        stop_embedded_postgres(pgdata)


def test_a_stop_during_the_first_initdb_leaves_a_data_dir_that_starts(pgdata: Path) -> None:
    """SIGTERM to ``make run`` while initdb ran killed it half way (``PG_VERSION`` written, the ``postgres``
    database not): the library never initialises a directory with ``PG_VERSION`` again, and every later start
    failed with 'database "postgres" does not exist'."""
    starting = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from stack.local import stop_on_sigterm;"
            " from stack.services import embedded_postgres_url;"
            " stop_on_sigterm(); embedded_postgres_url(Path(sys.argv[1]))",
            str(pgdata),
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(child.name() == "initdb" for child in _children(starting.pid)):
            assert starting.poll() is None and time.monotonic() < deadline, "initdb never ran"
            time.sleep(0.01)
        starting.send_signal(signal.SIGTERM)
        _, stderr = starting.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            starting.kill()
    assert starting.returncode != 0 and b"KeyboardInterrupt" in stderr, "the stop was delivered, after initdb"
    assert asyncio.run(select_one(embedded_postgres_url(pgdata))) == 1


def _children(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).children(recursive=True)
    return []
