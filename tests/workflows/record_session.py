"""Run by ``python -m tests.record_histories``: records every scenario's history as JSON.

Not collected by default (no ``test_`` prefix); it uses the suite's real fixtures.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from shared.codec import EncryptionCodec, load_key_ring
from shared.settings import Settings
from tests.workflows.history_codec import decrypt_history
from tests.workflows.scenarios import SCENARIOS
from worker.resources import Resources


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_record(
    name: str, http: httpx.AsyncClient, client: Client, resources: Resources, app_settings: Settings
) -> None:
    out_dir = Path(os.environ["HISTORIES_DIR"])
    workflow_id = await SCENARIOS[name](http, client=client, resources=resources, settings=app_settings)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    plain = await decrypt_history(history, EncryptionCodec(load_key_ring(app_settings)))
    out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a one-off script, not a server
    (out_dir / f"{name}.json").write_text(plain.to_json())
