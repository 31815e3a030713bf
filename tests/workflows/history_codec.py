"""Decrypt every payload of a recorded history, so committed histories hold no ciphertext.

Recorded runs use synthetic bills only; stored decrypted, they replay under any key
ring (the codec opens unencrypted payloads too, tagged unsealed). Payloads stored
unencrypted (search attributes, patch markers, a message sent without the codec) are
kept exactly as stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec

from shared.codec import ENCODING


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
        events.append(event)
    return WorkflowHistory(history.workflow_id, events)
