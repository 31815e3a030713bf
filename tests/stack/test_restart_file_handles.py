"""Restarting a service leaves this process no file handle more: the chaos run restarts them again and again.

Each start opened the child's log here and let it go still open (the child writes through its own
copy): closed only when the garbage collector came by, or never while a traceback held it.

The suite runs this beside its own session services in the same process (an in-process worker whose
Temporal client lives on in its own threads): a TCP socket that reaches none of this stack's ports is
theirs, opened while the restart ran, not the restart's (CI failed once on one)."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import warnings
from collections.abc import Callable, Iterator

from stack.local import LocalStack
from stack.services import stop_process


def tcp_ports_by_socket() -> dict[str, set[int]]:
    """Each of this process's TCP sockets (``socket:[inode]``) and the ports at both its ends."""
    ports: dict[str, set[int]] = {}
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                local, remote, inode = (row.split()[i] for i in (1, 2, 9))
                ports[f"socket:[{inode}]"] = {int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)}
    return ports


def stack_ports(stack: LocalStack) -> set[int]:
    """Every port a service of this stack listens on."""
    emulators = [e for e in (stack.gcs, stack.bigquery) if e is not None]
    grpc = [stack.bigquery.grpc_port] if stack.bigquery is not None else []
    return {stack.temporal_port, stack.ui_port, stack.api_port, *(e.port for e in emulators), *grpc}


def open_files() -> dict[str, str]:
    """This process's file descriptors and what each one is."""
    files = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the directory's own descriptor, closed by now
            files[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return files


@contextlib.contextmanager
def no_file_handle_left(what: str, ports: set[int]) -> Iterator[None]:
    """Fails when the block leaves a descriptor open (a TCP socket only when it reaches one of ``ports``),
    or one open for the garbage collector to close."""
    gc.collect()
    before = open_files()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()  # an unclosed file collected here warns here
    left = {fd: target for fd, target in open_files().items() if before.get(fd) != target}
    tcp = tcp_ports_by_socket()
    left = {fd: target for fd, target in left.items() if target not in tcp or tcp[target] & ports}
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not left and not unclosed, f"{what}: left open {left}; closed only by the collector {unclosed}"


def kill_worker(stack: LocalStack) -> None:
    """As the chaos run does: SIGKILL its whole process group, start the next one."""
    worker = stack.workers[-1]
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    stack.start_worker()


def restart_api(stack: LocalStack) -> None:
    assert stack.api is not None
    stop_process(stack.api)
    stack.start_api()


def restart_temporal(stack: LocalStack) -> None:
    stack.stop_temporal()
    stack.start_temporal()


def restart_postgres(stack: LocalStack) -> None:
    stack.stop_postgres()
    stack.start_postgres()


def restart_emulators(stack: LocalStack) -> None:
    for emulator in (stack.gcs, stack.bigquery):
        assert emulator is not None
        emulator.stop()
        emulator.start()


RESTARTS: dict[str, Callable[[LocalStack], None]] = {
    "worker killed": kill_worker,
    "api": restart_api,
    "temporal": restart_temporal,
    "postgres": restart_postgres,
    "emulators": restart_emulators,
}


def test_no_restart_leaves_a_file_handle_open(stack: LocalStack) -> None:
    stack.admin_key()  # migrated: the workers start as in the chaos run
    stack.start_worker()
    stack.start_api()
    for name, restart in RESTARTS.items():  # each as the chaos run restarts it
        with no_file_handle_left(f"{name} restart", stack_ports(stack)):
            restart(stack)
