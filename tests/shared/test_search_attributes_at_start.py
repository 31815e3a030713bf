"""The worker and the API refuse to start on a namespace without MiniMeter's search attributes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

from stack.services import free_port
from tests.helpers import entry_point_env, entry_point_running, start_dev_server

CREATE = "temporal operator search-attribute create"


def _logged_text(log: Path) -> str:
    """The log's messages and their errors, whether written as JSON lines or plain text."""
    parts: list[str] = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            parts.append(line)
            continue
        parts += [str(entry.get("message", "")), str(entry.get("exc_info", ""))]
    return "\n".join(parts)


async def _refused_at_start(module: str, address: str, payload_keys: str, tmp_path: Path, **extra: str) -> Path:
    """Run ``module`` against Temporal at ``address`` until it exits, which it must; its log."""
    env = entry_point_env(
        ENV="test",
        TEMPORAL_ADDRESS=address,
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",  # refused before Postgres is ever needed
        PAYLOAD_KEYS=payload_keys,
        DATA_DIR=str(tmp_path / "data"),
        API_PORT=str(free_port()),
        STARTUP_WAIT_SECONDS="0",
        LOG_FORMAT="json",
        **extra,
    )
    log = tmp_path / f"{module}.log"
    async with entry_point_running(module, env, log) as process:
        code = await asyncio.to_thread(process.wait, 120)
    assert code != 0
    return log


def _said_once(log: Path, module: str) -> str:
    """The one CRITICAL line, with no traceback to read through (the API's uvicorn adds its own after it)."""
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    [said] = [entry for entry in entries if entry["level"] == "CRITICAL"]
    assert said["message"].startswith(f"{module} refused to start: "), said
    assert "exc_info" not in said
    return str(said["message"])


@pytest.mark.parametrize("module", ["worker", "api"])
async def test_a_namespace_without_the_search_attributes_is_refused_by_name(
    module: str, payload_keys: str, tmp_path: Path
) -> None:
    """Against a plain dev server (or a cluster where the README's step was skipped) both started cleanly,
    ``POST /jobs`` answered 201, and then every workflow start was refused (INVALID_ARGUMENT): every job PENDING."""
    async with await start_dev_server(log_file=tmp_path / "temporal.log", with_search_attributes=False) as server:
        # A deployment where JobStatus was registered with another type: named too, apart from the missing ones.
        await server.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace="default", search_attributes={"JobStatus": IndexedValueType.INDEXED_VALUE_TYPE_INT}
            )
        )
        address = server.client.service_client.config.target_host
        log = await _refused_at_start(module, address, payload_keys, tmp_path)
    logged = _logged_text(log)
    refusals = [line for line in logged.splitlines() if CREATE in line]
    assert refusals, logged[-3000:]
    refusal = refusals[0]
    assert "CustomerId" in refusal and "ReviewStatus" in refusal and "Provider" in refusal
    assert "--name CustomerId --type Int" in refusal
    assert "JobStatus" in refusal and "Int" in refusal  # registered as Int, wanted Keyword
    assert "Postgres" not in logged  # it stopped before waiting for anything else
    assert CREATE in _said_once(log, module)


@pytest.mark.parametrize("module", ["worker", "api"])
async def test_a_namespace_temporal_does_not_have_is_refused_by_name(
    module: str, payload_keys: str, tmp_path: Path
) -> None:
    """A mistyped TEMPORAL_NAMESPACE (the first deployment's likeliest slip on Temporal Cloud): the worker logged
    "worker failed" over a traceback ending in "Namespace nosuchns is not found", the API only uvicorn's traceback
    (an inheriting engineer's probe, 70A)."""
    async with await start_dev_server(log_file=tmp_path / "temporal.log") as server:
        address = server.client.service_client.config.target_host
        log = await _refused_at_start(module, address, payload_keys, tmp_path, TEMPORAL_NAMESPACE="nosuchns")
    said = _said_once(log, module)
    assert f"Temporal at {address} has no namespace 'nosuchns': correct TEMPORAL_NAMESPACE" in said, said
    assert "temporal operator namespace create --namespace nosuchns" in said
