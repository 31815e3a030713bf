"""The one way MiniMeter connects to Temporal: pydantic payloads, encrypted at rest."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable
from datetime import timedelta
from functools import cache
from typing import NoReturn, TypeVar

from temporalio.client import Client, TLSConfig, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.converter import DataConverter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError, RPCStatusCode

from shared.codec import data_converter, load_key_ring
from shared.job_metrics import HISTOGRAM_BUCKETS
from shared.refusals import StartRefused
from shared.settings import Settings
from shared.temporal_tls import tls_mismatch

WORKFLOW_ID_PREFIX = "bill-ingestion-"

T = TypeVar("T")


def workflow_id_for(job_id: str) -> str:
    """Workflow ids derive from job ids, so a start is idempotent per job."""
    return f"{WORKFLOW_ID_PREFIX}{job_id}"


def went_unanswered(error: BaseException) -> bool:
    """Temporal gave no answer in time: an ``asyncio`` timeout ran out, or the call's own ``rpc_timeout`` did.
    The latter reaches us as DEADLINE_EXCEEDED when the server's deadline passed first, and as CANCELLED
    ("Timeout expired") when the client's timer did, whichever wins the race (the SDK reads both as a timeout
    of an update's call too)."""
    return isinstance(error, TimeoutError) or (
        isinstance(error, RPCError) and error.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
    )


async def update_call_within(call: Awaitable[T], wait: timedelta) -> T:
    """An update's start or result, given up on after ``wait`` in all: ``WorkflowUpdateRPCTimeoutOrCancelledError``,
    as when the call's own ``rpc_timeout`` runs out.

    That ``rpc_timeout`` bounds each RPC, not the call: the SDK asks again while the update is not accepted yet (a
    start) or has no outcome yet (a result), and the server answers with neither once its long-poll interval
    (``history.longPollExpirationInterval``, 20 s by default) has passed. So a wait longer than that interval lasted
    until the update moved on (hours, if no worker runs or the job is held by an outage), and the client tries an
    unreachable server again for ~10 s past its ``rpc_timeout`` too."""
    try:
        return await asyncio.wait_for(call, wait.total_seconds())
    except TimeoutError:  # cut short outside an RPC (the SDK turns a cancelled RPC into its own error)
        raise WorkflowUpdateRPCTimeoutOrCancelledError() from None


def converter_for(settings: Settings) -> DataConverter:
    """The pydantic converter with the payload encryption codec: used by every party."""
    return data_converter(load_key_ring(settings), compress=settings.payload_compression)


CORE_LOGGER = "temporalio.core"


class MetricsAddressUnusable(StartRefused):
    """``WORKER_METRICS_ADDRESS`` cannot be listened on (taken, or not this machine's): the SDK says only
    "Failed starting Prometheus exporter", naming no setting."""


@cache
def core_runtime(metrics_address: str | None = None) -> Runtime:
    """The SDK core's runtime, one per process, its warnings (gRPC calls retried while the server is
    down, heartbeat trouble) forwarded to the ``temporalio.core`` logger: they become the same JSON
    lines as every other log line, instead of coloured text on stderr that a log pipeline cannot parse.

    With ``metrics_address``, it serves Prometheus metrics there: the SDK's and those recorded through its meters
    (``shared.job_metrics``), counters ending ``_total`` and durations in seconds, as Prometheus names them."""
    forwarding = LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER), append_target_to_name=False)
    filter_ = TelemetryFilter(core_level="WARN", other_level="ERROR")  # the SDK's default levels
    metrics = None
    if metrics_address is not None:
        metrics = PrometheusConfig(
            bind_address=metrics_address,
            counters_total_suffix=True,
            durations_as_seconds=True,
            histogram_bucket_overrides=HISTOGRAM_BUCKETS,
        )
    try:
        return Runtime(
            telemetry=TelemetryConfig(logging=LoggingConfig(filter=filter_, forwarding=forwarding), metrics=metrics)
        )
    except ValueError as error:  # only the exporter's start fails this way
        raise MetricsAddressUnusable(
            f"WORKER_METRICS_ADDRESS={metrics_address} cannot be listened on ({error}): set a free port, on an"
            " address of this machine, or unset it"
        ) from None


def exit_past_the_sdk(code: int | str | None) -> NoReturn:
    """End a process that made a Temporal client as ``sys.exit(code)`` would, but past the interpreter's teardown.

    The SDK's core threads may still call into Python while the interpreter finalizes: a command ending right after
    an RPC aborted ("Fatal Python error: PyGILState_Release", exit 134 or 139) one time in three, whatever it had
    decided (temporalio/sdk-python#300). Everything is flushed first; nothing else is left to tear down."""
    if isinstance(code, str):
        sys.stderr.write(f"{code}\n")
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def tls_config(settings: Settings, *, api_key: str | None) -> TLSConfig | bool:
    """TLS when asked for, implied by an API key, a client certificate, a CA or a server name; mTLS with
    the certificate; a self-hosted server's own CA and name verified when given."""
    cert, key, ca = settings.temporal_tls_cert, settings.temporal_tls_key, settings.temporal_tls_ca
    if cert is None and ca is None and settings.temporal_tls_server_name is None:
        return TLSConfig() if settings.temporal_tls or api_key else False
    return TLSConfig(
        client_cert=cert.read_bytes() if cert is not None else None,
        client_private_key=key.read_bytes() if key is not None else None,
        server_root_ca_cert=ca.read_bytes() if ca is not None else None,
        domain=settings.temporal_tls_server_name,
    )


async def connect_client(settings: Settings, *, payloads: bool = True, metrics: bool = False) -> Client:
    """Connect to ``TEMPORAL_ADDRESS`` (dev server by default; TLS, mTLS or an API key for Temporal Cloud).

    ``payloads=False``: without the payload codec, for a caller that reads no payloads (a namespace's description):
    the codec's key ring is the workers' secret, and with none set, loading it makes a key file under ``DATA_DIR``.
    ``metrics=True`` (the worker): Prometheus metrics at ``WORKER_METRICS_ADDRESS``, when it is set."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=converter_for(settings) if payloads else DataConverter.default,
            tls=tls_config(settings, api_key=api_key),
            api_key=api_key,
            runtime=core_runtime(settings.worker_metrics_address if metrics else None),
        )
    except RuntimeError as error:
        if (mismatch := tls_mismatch(settings, error)) is not None:
            raise mismatch from error
        raise


def web_ui_link(settings: Settings, workflow_id: str) -> str:
    base = settings.temporal_ui_url.rstrip("/")
    return f"{base}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}"
