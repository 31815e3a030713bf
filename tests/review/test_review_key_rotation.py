"""A payload key rotated in on the workers before the API: a decision's answer the API cannot open yet.

The worker seals the update's outcome with its new first key; the API, still on the old ring, cannot read it.
The decision may have been taken, so the answer is the 503 that says to send it again (the same update id
makes the repeat safe), never a bare 500.
"""

from __future__ import annotations

import base64
import secrets

import httpx
from pydantic import SecretStr
from temporalio.client import Client

from shared.settings import Settings
from shared.temporal import converter_for
from tests.review.support import OwnQueue, awaiting_review, job_id_of, result_of, start_upload_on_queue
from worker.main import build_worker
from worker.resources import Resources


def rotated(settings: Settings) -> Settings:
    """``settings`` with a new key put first, as the README's rotation does."""
    assert settings.payload_keys is not None
    new = "rotated:" + base64.b64encode(secrets.token_bytes(32)).decode()
    return settings.model_copy(update={"payload_keys": SecretStr(f"{new},{settings.payload_keys.get_secret_value()}")})


async def test_a_decision_answered_under_a_key_the_api_lacks_is_a_503_to_send_again(
    own_queue: OwnQueue, reviewer_http: httpx.AsyncClient, client: Client, resources: Resources
) -> None:
    settings = rotated(own_queue.settings())
    rotated_client = Client(client.service_client, namespace=client.namespace, data_converter=converter_for(settings))
    async with build_worker(rotated_client, resources, settings):
        started = await start_upload_on_queue(
            http=own_queue.http,
            pool=resources.pool,
            store=resources.store,
            client=client,
            settings=settings,
            unique=own_queue.unique,
        )
        handle = rotated_client.get_workflow_handle(started.id)
        revision = await awaiting_review(handle)
        decision = {"action": "approve", "revision": revision}

        taken = await reviewer_http.post(f"/reviews/{job_id_of(handle)}", json=decision)
        assert taken.status_code == 503, taken.text
        assert taken.headers["content-type"].startswith("application/problem+json")
        assert "send the decision again" in taken.json()["detail"]

        result = await result_of(rotated_client, handle.id)
        assert result.reviewer is not None, "the decision was taken: only its answer was unreadable"
        # The job has ended: a repeat reads the outcome of the decision that ended it, sealed under the new key too.
        repeated = await reviewer_http.post(f"/reviews/{job_id_of(handle)}", json=decision)
        assert repeated.status_code == 503, repeated.text
        assert "send the decision again" in repeated.json()["detail"]
