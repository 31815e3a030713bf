"""Payload encryption: round trips, rotation, tampering, key files and the codec-server JSON."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import stat
import subprocess
import sys
import threading
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from pydantic import BaseModel, SecretStr
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from shared.codec import (
    COMPRESS_FROM_BYTES,
    COMPRESSION_METADATA,
    ENCODING,
    KEY_FILE_NAME,
    KEY_ID_METADATA,
    MAX_CODEC_PAYLOADS,
    NONCE_BYTES,
    UNOPENED_METADATA,
    UNSEALED_METADATA,
    ZLIB,
    CodecRequestInvalid,
    EncryptionCodec,
    KeyRing,
    PayloadDecryptionError,
    UnknownCompression,
    UnknownKeyId,
    data_converter,
    decode_payloads_json,
    encode_payloads_json,
    load_key_ring,
    parse_key_ring,
)
from shared.review import ReviewAction, ReviewDecision
from shared.settings import REPO_ROOT, Environment, Settings
from shared.temporal import converter_for
from tests.helpers import start_dev_server

ACCOUNT = "9876543210123"


class Charge(BaseModel):
    account_number: str
    amount: Decimal
    period_start: date


def _spec(*kids: str) -> tuple[str, dict[str, str]]:
    keys = {kid: base64.b64encode(secrets.token_bytes(32)).decode() for kid in kids}
    return ",".join(f"{kid}:{key}" for kid, key in keys.items()), keys


def _dev_settings(data_dir: Path, payload_keys: str | None = None) -> Settings:
    return Settings(
        env=Environment.DEVELOPMENT,
        data_dir=data_dir,
        payload_keys=SecretStr(payload_keys) if payload_keys is not None else None,
    )


async def test_pydantic_models_round_trip_encrypted() -> None:
    converter = data_converter(KeyRing.generate("k1"))
    charge = Charge(account_number=ACCOUNT, amount=Decimal("123.45"), period_start=date(2024, 1, 15))

    payloads = await converter.encode([charge])
    [decoded] = await converter.decode(payloads, [Charge])

    assert decoded == charge
    assert isinstance(decoded.amount, Decimal)
    assert payloads[0].metadata["encoding"] == ENCODING
    assert payloads[0].metadata[KEY_ID_METADATA] == b"k1"
    assert issubclass(converter.payload_converter_class, pydantic_data_converter.payload_converter_class)


async def test_ciphertext_hides_plaintext_and_uses_fresh_nonces() -> None:
    codec = EncryptionCodec(KeyRing.generate())
    plain = (
        await pydantic_data_converter.encode(
            [Charge(account_number=ACCOUNT, amount=Decimal(1), period_start=date.today())]
        )
    )[0]
    assert ACCOUNT.encode() in plain.SerializeToString()

    first, second = await codec.encode([plain, plain])

    assert ACCOUNT.encode() not in first.SerializeToString()
    assert b"json/plain" not in first.SerializeToString()  # the original metadata is sealed too
    assert first.data != second.data


async def test_rotation_old_key_decrypts_new_key_encrypts() -> None:
    old_spec, old_keys = _spec("k1")
    new_spec, _ = _spec("k2")
    old = EncryptionCodec(parse_key_ring(old_spec))
    rotated = EncryptionCodec(parse_key_ring(f"{new_spec},k1:{old_keys['k1']}"))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')

    [sealed_by_k1] = await old.encode([plain])
    [sealed_by_k2] = await rotated.encode([plain])

    assert await rotated.decode([sealed_by_k1]) == [plain]
    assert sealed_by_k2.metadata[KEY_ID_METADATA] == b"k2"
    assert await rotated.decode([sealed_by_k2]) == [plain]


async def test_unknown_key_id_is_a_clear_error() -> None:
    [sealed] = await EncryptionCodec(KeyRing.generate("retired")).encode([Payload(data=b"x")])

    with pytest.raises(UnknownKeyId, match=r"'retired'.*PAYLOAD_KEYS"):
        await EncryptionCodec(KeyRing.generate("current")).decode_strictly([sealed])
    # Temporal's decode raises it too: a worker holding the key would open it, so the run waits for one.
    with pytest.raises(UnknownKeyId):
        await EncryptionCodec(KeyRing.generate("current")).decode([sealed])


async def test_tampered_or_relabelled_ciphertext_fails() -> None:
    ring = parse_key_ring(_spec("a", "b")[0])
    codec = EncryptionCodec(ring)
    [sealed] = await codec.encode([Payload(data=b"secret bill")])

    flipped = Payload()
    flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = b"b"
    truncated = Payload()
    truncated.CopyFrom(sealed)
    truncated.data = sealed.data[:5]  # shorter than a nonce: the cipher's own ValueError, mapped too

    for bad in (flipped, relabelled, truncated):
        with pytest.raises(PayloadDecryptionError, match="failed authentication"):
            await codec.decode_strictly([bad])


async def test_a_payload_that_does_not_open_is_tagged_and_raises_only_when_read() -> None:
    """Temporal's decode opens a whole activation at once: one payload raising there failed the run's every
    workflow task. Forged under our key id (no worker opens it), it is tagged and raises as the converter reads
    it, so only its own message is refused."""
    ring = KeyRing.generate("current")
    converter = data_converter(ring)
    [forged] = await EncryptionCodec(KeyRing.generate("current")).encode(
        [converter.payload_converter.to_payload(ReviewDecision(action=ReviewAction.REJECT, revision="r"))]
    )
    [ours] = await converter.encode(["ok"])

    opened = await EncryptionCodec(ring).decode([forged, ours])

    assert opened[0].data == forged.data, "left sealed, never read as what it claims"
    assert opened[0].metadata[UNOPENED_METADATA].startswith(b"PayloadDecryptionError: ")
    assert converter.payload_converter.from_payloads([opened[1]], [str]) == ["ok"]
    with pytest.raises(PayloadDecryptionError, match="failed authentication"):
        converter.payload_converter.from_payloads([opened[0]], [ReviewDecision])


async def test_unencrypted_payloads_open_tagged_unsealed() -> None:
    """Never refused (a run that once accepted one must replay): opened as they are, tagged for the workflow."""
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')

    [opened] = await EncryptionCodec(KeyRing.generate()).decode([plain])

    assert opened.data == plain.data and opened.metadata["encoding"] == b"json/plain"
    assert opened.metadata[UNSEALED_METADATA] == b"1"
    assert UNSEALED_METADATA not in plain.metadata, "the caller's payload is left as it was"


async def test_only_a_model_decoded_from_an_unsealed_payload_reads_unsealed() -> None:
    ring = KeyRing.generate()
    codec, converter = EncryptionCodec(ring), data_converter(ring)
    decision = ReviewDecision(action=ReviewAction.REJECT, revision="r1")

    [sealed] = await converter.decode(await converter.encode([decision]), [ReviewDecision])
    [unsealed] = await converter.decode(await pydantic_data_converter.encode([decision]), [ReviewDecision])
    # A tag sealed inside by a key holder (the codec endpoint's /encode of a decoded payload) is dropped on opening.
    [tagged] = await codec.decode(await pydantic_data_converter.encode([decision]))
    [resealed] = await converter.decode(await codec.encode([tagged]), [ReviewDecision])

    assert not sealed.unsealed and unsealed.unsealed and not resealed.unsealed
    assert unsealed.model_dump() == decision.model_dump(), "the mark is no field: never serialized, never sent"


@pytest.mark.parametrize(
    ("value", "sealed", "error_type"),
    [
        (None, False, "UnsealedMessage"),
        ({"action": "reject"}, False, "UnsealedMessage"),
        ([1, 2], False, "UnsealedMessage"),
        (None, True, "MessageInvalid"),
    ],
    ids=["null", "incomplete", "list", "sealed-null"],
)
async def test_what_is_no_message_raises_an_application_error(value: Any, sealed: bool, error_type: str) -> None:
    """The SDK drops such a signal, rejects such an update and fails such a start: any other error failed the
    workflow task over and over (a null review_decision signal stalled the run)."""
    converter = data_converter(KeyRing.generate())
    received = await _received(converter, value, sealed=sealed)

    with pytest.raises(ApplicationError) as refused:
        converter.payload_converter.from_payloads(received, [ReviewDecision])

    assert refused.value.type == error_type and refused.value.non_retryable, refused.value
    assert converter.payload_converter.from_payloads(received, None) == [value], "only a message's hint refuses it"


async def test_sealed_json_the_model_refuses_fails_the_task_as_before() -> None:
    """A key holder sent it (a newer release's message, mid-deploy): the task retries until a worker reads it."""
    converter = data_converter(KeyRing.generate())
    received = await _received(converter, {"action": "reject"}, sealed=True)

    with pytest.raises(Exception) as failed:
        converter.payload_converter.from_payloads(received, [ReviewDecision])

    assert not isinstance(failed.value, ApplicationError), failed.value


async def _received(converter: DataConverter, value: Any, *, sealed: bool) -> list[Payload]:
    """``value`` as the worker's codec hands it to the payload converter, sealed with its keys or not."""
    codec = converter.payload_codec
    assert codec is not None
    plain = await pydantic_data_converter.encode([value])
    return await codec.decode(await codec.encode(plain) if sealed else plain)


def _bill_payload() -> Payload:
    """A bill-sized JSON payload, as repetitive as a real one (keys and figures repeat)."""
    lines = [{"description": f"Delivery tier {i}", "amount": f"{i}.25", "category": "delivery"} for i in range(12)]
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"account": ACCOUNT, "lines": lines}).encode())


async def test_large_payloads_are_compressed_before_sealing_small_ones_are_not() -> None:
    codec = EncryptionCodec(KeyRing.generate())
    bill, status = _bill_payload(), Payload(metadata={"encoding": b"json/plain"}, data=b'"RUNNING"')
    assert len(bill.SerializeToString()) >= COMPRESS_FROM_BYTES > len(status.SerializeToString())

    sealed_bill, sealed_status = await codec.encode([bill, status])

    assert sealed_bill.metadata[COMPRESSION_METADATA] == ZLIB
    assert len(sealed_bill.data) < len(bill.SerializeToString()) / 2
    assert COMPRESSION_METADATA not in sealed_status.metadata
    assert await codec.decode([sealed_bill, sealed_status]) == [bill, status]


async def test_payloads_sealed_before_compression_still_open() -> None:
    """Histories written by the previous release: AES-GCM over the payload, the key id bound alone."""
    ring = KeyRing.generate("k1")
    bill = _bill_payload()
    nonce = os.urandom(NONCE_BYTES)
    legacy = Payload(
        metadata={"encoding": ENCODING, KEY_ID_METADATA: b"k1"},
        data=nonce + ring.cipher("k1").encrypt(nonce, bill.SerializeToString(), b"minimeter-payload-v1:k1"),
    )

    assert await EncryptionCodec(ring).decode([legacy]) == [bill]


async def test_compression_off_seals_plainly_and_still_opens_compressed_payloads(tmp_path: Path) -> None:
    """``PAYLOAD_COMPRESSION=false``, the first step of rolling out from a release that cannot read them."""
    spec, _ = _spec("k1")
    settings = _dev_settings(tmp_path, spec).model_copy(update={"payload_compression": False})
    plain_codec = converter_for(settings).payload_codec
    assert plain_codec is not None
    bill = _bill_payload()

    [sealed_plainly] = await plain_codec.encode([bill])
    [compressed] = await EncryptionCodec(parse_key_ring(spec)).encode([bill])

    assert COMPRESSION_METADATA not in sealed_plainly.metadata
    assert compressed.metadata[COMPRESSION_METADATA] == ZLIB
    assert await plain_codec.decode([sealed_plainly, compressed]) == [bill, bill]


async def test_compression_flag_cannot_be_stripped_added_or_unknown() -> None:
    codec = EncryptionCodec(KeyRing.generate())
    sealed_bill, sealed_small = await codec.encode([_bill_payload(), Payload(data=b"x")])

    stripped = Payload()
    stripped.CopyFrom(sealed_bill)
    del stripped.metadata[COMPRESSION_METADATA]
    added = Payload()
    added.CopyFrom(sealed_small)
    added.metadata[COMPRESSION_METADATA] = ZLIB
    for bad in (stripped, added):
        with pytest.raises(PayloadDecryptionError, match="failed authentication"):
            await codec.decode_strictly([bad])

    unknown = Payload()
    unknown.CopyFrom(sealed_bill)
    unknown.metadata[COMPRESSION_METADATA] = b"zstd"
    with pytest.raises(PayloadDecryptionError, match="compressed with b'zstd': this release reads zlib only"):
        await codec.decode_strictly([unknown])
    # Temporal's decode raises it too: a later release's worker may read it, so the run waits for one.
    with pytest.raises(UnknownCompression):
        await codec.decode([unknown])


@pytest.mark.parametrize(
    "spec",
    [
        "{key}",  # no key id
        "k1:{key}!!",  # not base64
        "k1:{key}, k1:{key}",  # repeated key id
        "bad kid!:{key}",  # invalid key id
        "k1:{short}",  # 16 bytes, not 32
        "  ,  ",
    ],
)
def test_bad_specs_never_echo_key_material(spec: str) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    short = base64.b64encode(secrets.token_bytes(16)).decode()

    with pytest.raises(ValueError) as raised:
        parse_key_ring(spec.format(key=key, short=short))

    rendered = "".join(traceback.format_exception(raised.value))
    assert key not in rendered and key[:12] not in rendered
    assert short not in rendered


def test_key_ring_repr_hides_keys() -> None:
    spec, keys = _spec("k1")

    assert repr(parse_key_ring(spec)) == "KeyRing(key_ids=['k1'])"
    assert keys["k1"] not in repr(parse_key_ring(spec))


def test_url_safe_base64_keys_are_accepted() -> None:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

    assert parse_key_ring(f"k1:{key}").key_ids == ("k1",)


async def test_local_key_file_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = _dev_settings(tmp_path / "data")

    first = load_key_ring(settings)
    again = load_key_ring(settings)

    path = settings.data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.key_ids == again.key_ids
    assert os.listdir(settings.data_dir) == [KEY_FILE_NAME]  # no temp files left behind
    sealed = await EncryptionCodec(first).encode([Payload(data=b"x")])
    assert await EncryptionCodec(again).decode(sealed) == [Payload(data=b"x")]


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    settings = _dev_settings(tmp_path)
    start = threading.Barrier(16)

    def first_start() -> tuple[str, ...]:
        start.wait()
        return load_key_ring(settings).key_ids

    with ThreadPoolExecutor(max_workers=16) as pool:
        kids = set(pool.map(lambda _: first_start(), range(16)))

    assert len(kids) == 1


def test_concurrent_processes_agree_on_one_key(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from shared.codec import load_key_ring; "
        "from shared.settings import Settings; "
        "print(load_key_ring(Settings(env='development', data_dir=Path(sys.argv[1]), payload_keys=None)).primary_kid)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, env=env, text=True)
        for _ in range(4)
    ]
    kids = {proc.communicate(timeout=60)[0].strip() for proc in procs}

    assert all(proc.returncode == 0 for proc in procs)
    assert len(kids) == 1 and kids != {""}


def test_payload_keys_setting_wins_and_blank_means_unset(tmp_path: Path) -> None:
    spec, _ = _spec("configured")

    assert load_key_ring(_dev_settings(tmp_path, spec)).key_ids == ("configured",)
    assert not (tmp_path / KEY_FILE_NAME).exists()
    assert load_key_ring(_dev_settings(tmp_path, "  ")).primary_kid.startswith("local-")


def test_production_without_keys_refuses_to_invent_one(tmp_path: Path) -> None:
    # Settings itself refuses this; model_construct skips validation to test the codec's own guard.
    settings = Settings.model_construct(env=Environment.PRODUCTION, data_dir=tmp_path, payload_keys=None)

    with pytest.raises(RuntimeError, match="PAYLOAD_KEYS"):
        load_key_ring(settings)
    assert not (tmp_path / KEY_FILE_NAME).exists()


async def test_codec_server_json_round_trip() -> None:
    codec = EncryptionCodec(KeyRing.generate("k1"))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"account_number": "' + ACCOUNT.encode() + b'"}')
    body = {"payloads": [json_format.MessageToDict(plain)]}

    encoded = await encode_payloads_json(codec, body)
    decoded = await decode_payloads_json(codec, encoded)

    [sealed] = encoded["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
    assert base64.b64decode(sealed["metadata"][KEY_ID_METADATA]) == b"k1"
    assert ACCOUNT not in base64.b64decode(sealed["data"]).decode(errors="replace")
    assert decoded == body


async def test_codec_server_json_edges() -> None:
    codec = EncryptionCodec(KeyRing.generate())

    assert await decode_payloads_json(codec, {"payloads": []}) == {"payloads": []}
    assert await decode_payloads_json(codec, {}) == {"payloads": []}
    with pytest.raises(CodecRequestInvalid):
        await decode_payloads_json(codec, {"payloads": "nope"})


async def test_a_codec_request_is_worked_off_the_event_loop_and_bounded_in_payloads() -> None:
    """One admin's (or an SSO proxy's) request of 300,000 payloads held the API's event loop 4 s: every other request,
    the liveness probe's too, waited for it."""
    codec = EncryptionCodec(KeyRing.generate())
    plain = json_format.MessageToDict(Payload(metadata={"encoding": b"json/plain"}, data=b"{}"))
    sealed = await encode_payloads_json(codec, {"payloads": [plain] * 5_000})
    finished_first: list[str] = []

    async def answered_beside() -> None:
        finished_first.append("beside")

    decoding = asyncio.ensure_future(decode_payloads_json(codec, sealed))
    await asyncio.sleep(0)  # the decode under way
    beside = asyncio.ensure_future(answered_beside())
    decoded = await decoding
    finished_first.append("decode")
    await beside
    assert finished_first == ["beside", "decode"], "the loop served nothing while it decoded"
    assert decoded["payloads"] == [plain] * 5_000

    with pytest.raises(CodecRequestInvalid, match=f"at most {MAX_CODEC_PAYLOADS} a request"):
        await decode_payloads_json(codec, {"payloads": [plain] * (MAX_CODEC_PAYLOADS + 1)})
    with pytest.raises(CodecRequestInvalid, match=f"at most {MAX_CODEC_PAYLOADS} a request"):
        await encode_payloads_json(codec, {"payloads": [plain] * (MAX_CODEC_PAYLOADS + 1)})


@workflow.defn
class EchoChargeWorkflow:
    @workflow.run
    async def run(self, charge: Charge) -> Charge:
        return charge


async def test_server_history_holds_only_ciphertext_and_replays(tmp_path: Path) -> None:
    """Client, worker and replayer share the converter; the server only ever sees ciphertext."""
    converter = data_converter(KeyRing.generate("k1"))
    charge = Charge(account_number=ACCOUNT, amount=Decimal("42.10"), period_start=date(2024, 3, 1))
    task_queue, workflow_id = f"tq-{uuid.uuid4()}", f"wf-{uuid.uuid4()}"
    # A workflow defined in a test module: run it unsandboxed rather than re-import pytest in the sandbox.
    runner = UnsandboxedWorkflowRunner()
    async with await start_dev_server(log_file=tmp_path / "temporal.log", data_converter=converter) as env:
        async with Worker(env.client, task_queue=task_queue, workflows=[EchoChargeWorkflow], workflow_runner=runner):
            result = await env.client.execute_workflow(
                EchoChargeWorkflow.run, charge, id=workflow_id, task_queue=task_queue
            )
        history = await env.client.get_workflow_handle(workflow_id).fetch_history()

    assert result == charge
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == ENCODING
    assert ACCOUNT.encode() not in history.to_json().encode()
    assert ACCOUNT.encode() not in b"".join(event.SerializeToString() for event in history.events)
    await Replayer(workflows=[EchoChargeWorkflow], data_converter=converter, workflow_runner=runner).replay_workflow(
        history
    )
