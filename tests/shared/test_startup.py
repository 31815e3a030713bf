"""What the worker and the API wait out at start (nothing answers yet) and what they do not (we are refused)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import asyncpg
import grpc
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from shared.db import DatabaseUrlUnusable, PostgresUnreachable, create_pool
from shared.settings import AnalyticsKind, ArtifactStoreKind, Environment, Settings
from shared.startup import Unreachable, is_unreachable, when_reachable
from stack.services import free_port
from tests.helpers import entry_point_env, entry_point_running, start_dev_server, until_logged
from worker.resources import open_resources


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        FileNotFoundError(2, "No such file or directory"),  # Postgres's Unix socket, not there yet
        asyncpg.CannotConnectNowError("the database system is starting up"),
        RuntimeError(
            "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
            'ConnectError(ConnectError("tcp connect error", 127.0.0.1:7233, Os { code: 111 })))'
        ),
        RuntimeError(
            "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
            'ConnectError(ConnectError("dns error", Custom { kind: Uncategorized })))'
        ),
        # A Temporal listening but not serving yet, as a dev server answered right after opening its port.
        RuntimeError(
            "Failed client connect: `get_system_info` call error after connection: Status { code: Unavailable,"
            ' message: "Frontend is not healthy yet", metadata: MetadataMap { headers: {"content-type":'
            ' "application/grpc"} }, source: None }'
        ),
        # A server that took the connection and never answered: the SDK's own timeout, after 30 s (74B).
        RuntimeError(
            "Failed client connect: `get_system_info` call error after connection: Status { code: Cancelled,"
            ' message: "Timeout expired", details: [], metadata: MetadataMap { headers: {} } }'
        ),
        TimeoutError(),
    ],
)
def test_nothing_answering_yet_is_waited_out(error: BaseException) -> None:
    assert is_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InvalidPasswordError("password authentication failed for user"),
        ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate"),
        ConnectionError("PostgreSQL server at 127.0.0.1:5432 rejected SSL upgrade"),
        RuntimeError(
            "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
            "ConnectError(Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) }))"
        ),
        asyncpg.InvalidCatalogNameError('database "minimeter" does not exist'),
        ValueError("DATABASE_URL could not be used"),
        RuntimeError("Failed client connect: Unauthenticated: invalid API key"),
        RuntimeError(
            "Failed client connect: `get_system_info` call error after connection: Status { code: Unauthenticated,"
            ' message: "Request unauthorized.", metadata: MetadataMap { headers: {} }, source: None }'
        ),
    ],
)
def test_a_refusal_of_who_we_are_is_not(error: BaseException) -> None:
    assert not is_unreachable(error)


class Refusing(grpc.GenericRpcHandler):  # type: ignore[misc]  # grpcio has no type hints
    """A gRPC server's every call refused with one status, as a Temporal frontend still starting refuses them."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self.code, self.details = code, details

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        async def refuse(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> None:
            await context.abort(self.code, self.details)

        return grpc.unary_unary_rpc_method_handler(refuse)


@pytest.mark.parametrize(
    ("code", "details", "unreachable"),
    [
        (grpc.StatusCode.UNAVAILABLE, "Frontend is not healthy yet", True),
        (grpc.StatusCode.UNAUTHENTICATED, "Request unauthorized.", False),
        (grpc.StatusCode.PERMISSION_DENIED, "Request unauthorized.", False),
    ],
)
async def test_the_sdks_own_words_for_a_server_not_serving_yet_are_waited_out(
    code: grpc.StatusCode, details: str, unreachable: bool
) -> None:
    """``TEMPORAL_NOT_READY`` matches the text of the SDK core's error: read here from a real ``Client.connect``,
    so an SDK that words it otherwise fails this test rather than every worker starting beside its server."""
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((Refusing(code, details),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        with pytest.raises(RuntimeError) as refused:
            await Client.connect(f"127.0.0.1:{port}")
    finally:
        await server.stop(None)

    assert details in str(refused.value)
    assert is_unreachable(refused.value) is unreachable


async def test_a_refusal_fails_at_once_and_unreachable_until_the_wait_is_over() -> None:
    tries: list[int] = []

    async def refused() -> None:
        tries.append(1)
        raise asyncpg.InvalidPasswordError("password authentication failed")

    with pytest.raises(asyncpg.InvalidPasswordError):
        await when_reachable("Postgres", refused, within=30)
    assert len(tries) == 1

    async def answers_on_the_third_try() -> str:
        tries.append(1)
        if len(tries) < 4:
            raise ConnectionRefusedError(111, "Connection refused")
        return "connected"

    assert await when_reachable("Postgres", answers_on_the_third_try, within=30) == "connected"

    async def never() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(
        Unreachable, match=r"^Postgres did not answer within STARTUP_WAIT_SECONDS \(0 s\): "
    ) as given_up:
        await when_reachable("Postgres", never, within=0)
    assert isinstance(given_up.value.__cause__, ConnectionRefusedError)


@contextlib.asynccontextmanager
async def a_silent_server() -> AsyncIterator[int]:
    """A port that takes connections and never answers (a TCP proxy with no backend, a frozen server): its number."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()


@pytest.mark.parametrize("service", ["Temporal", "Postgres"])
async def test_a_server_that_never_answers_is_given_up_on_within_the_wait(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One try at a server that never answers lasted asyncpg's 60 s or the SDK's 30 s, and then the Temporal client's
    error (a ``Cancelled`` status) was a traceback: with ``STARTUP_WAIT_SECONDS=5`` a start took 61 s (74B). Each try
    now has what is left of the wait (``MIN_TRY_SECONDS`` at least, 1 s here), and then the start is refused in a
    line saying nothing answered."""
    monkeypatch.setattr("shared.startup.MIN_TRY_SECONDS", 1.0)
    async with a_silent_server() as port:
        if service == "Temporal":
            connect = partial(Client.connect, f"127.0.0.1:{port}")
        else:
            url = f"postgresql://app@127.0.0.1:{port}/db?sslmode=disable"
            settings = Settings(env=Environment.TEST, data_dir=tmp_path, database_url=SecretStr(url))
            connect = partial(create_pool, settings)
        started = time.monotonic()
        with pytest.raises(Unreachable) as given_up:
            await when_reachable(service, connect, within=2)
    assert time.monotonic() - started < 15, "the wait, not a try's own timeout"
    assert f"{service} did not answer within STARTUP_WAIT_SECONDS (2 s): NoAnswer: no answer within" in str(
        given_up.value
    )


async def test_a_tls_file_the_database_url_names_that_is_not_there_is_not_waited_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncpg says only ``FileNotFoundError`` (no file name), as it does for a Unix socket not there yet: the
    worker waited a minute for Postgres, then stopped without naming the file."""
    monkeypatch.delenv("PGSSLROOTCERT", raising=False)
    missing = tmp_path / "server-ca.pem"
    url = f"postgresql://app@127.0.0.1:{free_port()}/db?sslmode=verify-full&sslrootcert={missing}"
    settings = Settings(env=Environment.TEST, data_dir=tmp_path, database_url=SecretStr(url))
    tries: list[int] = []

    async def connect() -> asyncpg.Pool:
        tries.append(1)
        return await create_pool(settings)

    with pytest.raises(DatabaseUrlUnusable, match=re.escape(str(missing))):
        await when_reachable("Postgres", connect, within=30)
    assert len(tries) == 1


@pytest.mark.parametrize(
    ("sslmode", "variable"),
    [("", "PGSSLROOTCERT"), ("", "PGSSLCERT"), ("&sslmode=prefer", "PGSSLROOTCERT"), ("&sslmode=prefer", "PGSSLCRL")],
    ids=["no-tls-root-cert", "no-tls-client-cert", "prefer-root-cert", "prefer-crl"],
)
async def test_a_socket_not_there_yet_is_waited_out_whatever_tls_file_asyncpg_would_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sslmode: str, variable: str
) -> None:
    """Cloud Run's ``/cloudsql`` socket appears moments after start: a leftover TLS variable naming no file, which
    asyncpg reads for no socket without TLS (nor a CA or CRL without verifying), stopped the start at once."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGSSLCRL", "PGHOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(tmp_path / "missing.pem"))
    # Not under tmp_path: a socket's path has 107 bytes at most, and CI's temporary directories are longer.
    socket_dir = Path("/tmp") / f"mm-{uuid.uuid4().hex[:8]}" / "cloudsql" / "project:region:instance"
    url = f"postgresql://app@/db?host={socket_dir}{sslmode}"
    settings = Settings(env=Environment.TEST, data_dir=tmp_path, database_url=SecretStr(url))

    with pytest.raises(PostgresUnreachable) as not_there:
        await create_pool(settings)
    assert isinstance(not_there.value.__cause__, FileNotFoundError) and is_unreachable(not_there.value)


async def told_to_stop_while_it_waits_for_temporal(
    module: str, payload_keys: str, tmp_path: Path, **settings: str
) -> tuple[int, Path]:
    """``python -m module`` with nothing listening at its Temporal address, sent SIGTERM once it says it waits
    (``STARTUP_WAIT_SECONDS`` is 300): its exit code, which it must give within 30 s, and its log."""
    env = entry_point_env(
        ENV="test",
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",  # nothing listens there
        PAYLOAD_KEYS=payload_keys,
        DATA_DIR=str(tmp_path / "data"),
        STARTUP_WAIT_SECONDS="300",
        LOG_FORMAT="json",
        **settings,
    )
    log = tmp_path / f"{module}.log"
    async with entry_point_running(module, env, log) as process:
        await until_logged(log, "Temporal is not reachable yet; trying again", process, within=60)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 30)  # not the 300 s of the wait
    return code, log


async def test_an_api_told_to_stop_while_it_waits_for_temporal_stops_at_once(payload_keys: str, tmp_path: Path) -> None:
    """uvicorn only notes a stop signal while the app starts: the API waited out STARTUP_WAIT_SECONDS first,
    past compose's and Kubernetes' grace periods."""
    code, log = await told_to_stop_while_it_waits_for_temporal("api", payload_keys, tmp_path, API_PORT=str(free_port()))
    assert code != 0
    waits = [json.loads(line) for line in log.read_text().splitlines() if "not reachable yet" in line]
    assert len(waits) < 20, "it stopped waiting when told to"


async def test_a_worker_told_to_stop_while_it_waits_for_temporal_stops_at_once(
    payload_keys: str, tmp_path: Path
) -> None:
    """Its signal handlers came only after start-up: until then SIGTERM killed it outright, and as a container's
    PID 1 (no default action) it was ignored for as long as the wait lasted, past every grace period."""
    code, log = await told_to_stop_while_it_waits_for_temporal("worker", payload_keys, tmp_path)
    assert code == 0  # its own exit, not the signal's -15
    messages = [json.loads(line)["message"] for line in log.read_text().splitlines() if line.startswith("{")]
    assert messages[-1] == "worker stopped before it started"


class SilentServer:
    """A TCP server that accepts connections and never answers them (a GCS endpoint that hangs)."""

    def __init__(self) -> None:
        self.accepted = asyncio.Event()
        self._held: list[asyncio.StreamWriter] = []

    async def _hold(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._held.append(writer)
        self.accepted.set()

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[str]:
        """Its URL while listening."""
        server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        async with server:
            try:
                yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            finally:
                for writer in self._held:
                    writer.close()


async def test_a_worker_told_to_stop_while_gcs_does_not_answer_exits_on_its_own(
    pg_url: str, payload_keys: str, tmp_path: Path
) -> None:
    """The bucket lookup ran on the loop's thread pool: the stop signal cancelled the wait, not the thread, and the
    worker logged that it stopped, then hung until the lookup gave up (minutes) or Docker's SIGKILL."""
    silent_gcs = SilentServer()
    temporal_port = free_port()
    log = tmp_path / "worker.log"
    async with (
        silent_gcs.listening() as gcs_url,
        await start_dev_server(log_file=tmp_path / "temporal.log", port=temporal_port),
    ):
        env = entry_point_env(
            ENV="test",
            TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
            TEMPORAL_TASK_QUEUE=f"silent-gcs-{temporal_port}",
            DATABASE_URL=pg_url,
            PAYLOAD_KEYS=payload_keys,
            DATA_DIR=str(tmp_path / "data"),
            ARTIFACT_STORE="gcs",
            STORAGE_EMULATOR_HOST=gcs_url,
            GCS_BUCKET="silent-bucket",
            ANALYTICS="disabled",
            LOG_FORMAT="json",
        )
        async with entry_point_running("worker", env, log) as worker:
            await asyncio.wait_for(silent_gcs.accepted.wait(), 120)  # the worker is looking the bucket up
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(worker.wait, 60) == 0  # the lookup alone waits 120 s for an answer
    messages = [json.loads(line)["message"] for line in log.read_text().splitlines() if line.startswith("{")]
    assert messages[-1] == "worker stopped before it started"


async def test_resources_stopped_while_gcs_does_not_answer_close_their_pool(
    pg_url: str, payload_keys: str, tmp_path: Path
) -> None:
    """Its connections stayed open in the process (a test's, or a worker's own) for as long as it lived."""
    name = f"silent-gcs-{uuid.uuid4().hex[:8]}"
    url = f"{pg_url}{'&' if '?' in pg_url else '?'}application_name={name}"
    silent_gcs = SilentServer()

    async def connections() -> int:
        count: int = await observer.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name)
        return count

    observer = await asyncpg.connect(pg_url)
    try:
        async with silent_gcs.listening() as gcs_url:
            settings = Settings(
                env=Environment.TEST,
                data_dir=tmp_path / "data",
                database_url=SecretStr(url),
                payload_keys=SecretStr(payload_keys),
                artifact_store=ArtifactStoreKind.GCS,
                storage_emulator_host=gcs_url,
                gcs_bucket="silent-bucket",
                analytics=AnalyticsKind.DISABLED,
            )
            opening = asyncio.create_task(open_resources(settings))
            await asyncio.wait_for(silent_gcs.accepted.wait(), 120)
            assert await connections() > 0  # the pool is open, the bucket lookup under way
            opening.cancel()
            with pytest.raises(asyncio.CancelledError):
                await opening
        async with asyncio.timeout(60):  # only so a pool left open fails rather than hangs
            while True:  # Postgres ends a backend once it reads its client's EOF: soon, not at once
                if not await connections():
                    break
                await asyncio.sleep(0.1)
    finally:
        await observer.close()
