"""Decrypt every payload of a recorded history, so committed histories hold no ciphertext.

Recorded runs use synthetic bills only; stored decrypted, they replay under any key
ring (the codec passes unencrypted payloads through on decode).
"""

from __future__ import annotations

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec


def _payloads_in(message: Message) -> list[Payload]:
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            values: list[object] = [value]
        elif field.message_type.GetOptions().map_entry:
            values = list(value.values())
        else:
            values = list(value)
        for item in values:
            if isinstance(item, Payload):
                found.append(item)
            elif isinstance(item, Message):
                found.extend(_payloads_in(item))
    return found


async def decrypt_history(history: WorkflowHistory, codec: PayloadCodec) -> WorkflowHistory:
    """The same history with every payload decoded in place."""
    events = []
    for original in history.events:
        event = type(original)()
        event.CopyFrom(original)
        payloads = _payloads_in(event)
        if payloads:
            decoded = await codec.decode(payloads)
            for target, plain in zip(payloads, decoded, strict=True):
                target.CopyFrom(plain)
        events.append(event)
    return WorkflowHistory(history.workflow_id, events)
