"""Decrypt every payload of a recorded history, so committed histories hold no ciphertext.

Recorded runs use synthetic bills only; stored decrypted, they replay under any key
ring (the codec opens unencrypted payloads too, tagged unsealed). Payloads stored
unencrypted (search attributes, patch markers, a message sent without the codec) are
kept exactly as stored; a payload that was sealed is marked so (``minimeter-recorded-sealed``),
and :func:`replay_converter` opens it as sealed, so its message replays as it ran. Histories
recorded before the mark read every message unsealed, as they always did.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter, PayloadCodec

from shared.codec import ENCODING, UNSEALED_METADATA, EncryptionCodec, KeyRing, data_converter

RECORDED_SEALED_METADATA = "minimeter-recorded-sealed"
"""Set on a committed history's payload that was sealed when recorded. Only :class:`RecordedHistoryCodec`
(tests) reads it: the real codec tags any unencrypted payload unsealed, whatever its metadata says."""


def nested(message: Message, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Message]]:
    """``message`` and every message inside it (repeated and map fields too), with its field path."""
    yield path, message
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            items: list[Any] = [value]
        elif field.message_type.GetOptions().map_entry:
            items = list(value.values())
        else:
            items = list(value)
        for item in items:
            if isinstance(item, Message):
                yield from nested(item, (*path, field.name))


def _payloads_in(message: Message) -> list[Payload]:
    return [m for _, m in nested(message) if isinstance(m, Payload)]


async def decrypt_history(history: WorkflowHistory, codec: PayloadCodec) -> WorkflowHistory:
    """The same history with every payload decoded in place."""
    events = []
    for original in history.events:
        event = type(original)()
        event.CopyFrom(original)
        payloads = [p for p in _payloads_in(event) if p.metadata.get("encoding") == ENCODING]
        if payloads:
            decoded = await codec.decode(payloads)
            for target, plain in zip(payloads, decoded, strict=True):
                target.CopyFrom(plain)
                target.metadata[RECORDED_SEALED_METADATA] = b"1"
        events.append(event)
    return WorkflowHistory(history.workflow_id, events)


class RecordedHistoryCodec(EncryptionCodec):
    """The payload codec with a fresh key ring, for replaying committed histories: a payload marked
    recorded-sealed opens as a sealed one would (untagged), any other as the real codec opens it."""

    def __init__(self) -> None:
        super().__init__(KeyRing.generate())

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = await super().decode(payloads)
        for recorded, payload in zip(payloads, opened, strict=True):
            if RECORDED_SEALED_METADATA in recorded.metadata:
                del payload.metadata[UNSEALED_METADATA]
                del payload.metadata[RECORDED_SEALED_METADATA]
        return opened


def replay_converter() -> DataConverter:
    """The workers' data converter, opening committed histories as they were recorded."""
    return dataclasses.replace(data_converter(KeyRing.generate()), payload_codec=RecordedHistoryCodec())
