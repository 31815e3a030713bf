"""Payload encryption: Temporal stores only ciphertext of bills, accounts and decisions.

Every payload the client, worker, replayer or tests exchange with the server passes
through :class:`EncryptionCodec` (zlib, then AES-256-GCM). Keys rotate by key id: the first
key of the ring encrypts, every key in the ring decrypts, so old histories stay readable.
A payload that arrives unencrypted still decodes (replay must not break), but is tagged, and
the workflow refuses to act on a message decoded from it (``WorkflowMessage.unsealed``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import logging
import os
import re
import secrets
import stat
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec
from temporalio.exceptions import ApplicationError

from shared.models import WorkflowMessage
from shared.settings import Environment, Settings

logger = logging.getLogger(__name__)

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
COMPRESSION_METADATA = "encryption-compression"
UNSEALED_METADATA = "minimeter-unsealed"
"""Set by :meth:`EncryptionCodec.decode` on a payload it found unencrypted: whoever wrote it had no key."""
UNOPENED_METADATA = "minimeter-unopened"
"""Set by :meth:`EncryptionCodec.decode` on a payload marked encrypted that it could not open, its value why:
the converter raises that error when the payload is read (see :meth:`EncryptionCodec.decode`)."""
ZLIB = b"zlib"
COMPRESS_FROM_BYTES = 256
"""Smaller payloads (ids, statuses) are sealed as they are: zlib would save a few bytes at most."""
KEY_FILE_NAME = "payload.keys"
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class PayloadDecryptionError(ValueError):
    """An encrypted payload could not be decrypted: a missing key or tampered data."""


class OpenedElsewhere(PayloadDecryptionError):
    """A payload another worker may open, though this one cannot: it must not be dropped here (``decode``)."""


class UnknownKeyId(OpenedElsewhere):
    """The payload was encrypted with a key id this ring does not hold (a retired or foreign key)."""


class UnknownCompression(OpenedElsewhere):
    """The payload was compressed in a way this release does not read (a later release's)."""


class CodecRequestInvalid(ValueError):
    """A codec-server request body is not protobuf-JSON ``Payloads``."""


class KeyRing:
    """Key ids mapped to AES-256 keys, in order: the first encrypts, all decrypt."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self._ciphers: dict[str, AESGCM] = {}
        for position, (kid, key) in enumerate(keys, start=1):
            if not _KEY_ID.fullmatch(kid):
                raise ValueError(f"key {position}: key id must match {_KEY_ID.pattern}")
            if kid in self._ciphers:
                raise ValueError(f"key {position}: key id repeats an earlier one")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {position}: key must be {KEY_BYTES} bytes (AES-256)")
            self._ciphers[kid] = AESGCM(key)
        self.primary_kid: str = keys[0][0]

    @classmethod
    def generate(cls, kid: str = "local") -> KeyRing:
        """A ring with one fresh random key: tests and throwaway environments."""
        return cls([(kid, AESGCM.generate_key(bit_length=256))])

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def cipher(self, kid: str) -> AESGCM:
        try:
            return self._ciphers[kid]
        except KeyError:
            raise UnknownKeyId(
                f"payload was encrypted with key id {kid[:64]!r}, which is not in PAYLOAD_KEYS "
                f"(known: {', '.join(self._ciphers)}); add the old key back to decrypt it"
            ) from None

    def __repr__(self) -> str:
        # Never show key material, even in tracebacks or debuggers.
        return f"KeyRing(key_ids={list(self._ciphers)!r})"


def parse_key_ring(spec: str) -> KeyRing:
    """Parse ``"kid:base64key[,kid:base64key]"``; errors name positions, never key material."""
    keys: list[tuple[str, bytes]] = []
    entries = [entry.strip() for entry in spec.replace("\n", ",").split(",")]
    for position, entry in enumerate((e for e in entries if e), start=1):
        kid, sep, encoded = entry.partition(":")
        if not sep or not kid.strip() or not encoded.strip():
            raise ValueError(f"payload key {position} is not in 'kid:base64key' form")
        keys.append((kid.strip(), _decode_key(encoded.strip(), position)))
    if not keys:
        raise ValueError("payload key spec is empty")
    return KeyRing(keys)


def _decode_key(encoded: str, position: int) -> bytes:
    try:
        # Accept standard and URL-safe alphabets; validate=True refuses stray characters.
        key = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"payload key {position} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"payload key {position} must decode to {KEY_BYTES} bytes, got {len(key)}")
    return key


def load_key_ring(settings: Settings) -> KeyRing:
    """``PAYLOAD_KEYS`` when set; outside production, a key file made once under ``data_dir``."""
    spec = settings.payload_keys.get_secret_value().strip() if settings.payload_keys else ""
    if spec:  # an empty PAYLOAD_KEYS= (common in compose files) means unset
        return parse_key_ring(spec)
    if settings.env is Environment.PRODUCTION:
        raise RuntimeError("PAYLOAD_KEYS must be set when ENV=production")
    return _local_key_file(settings.data_dir / KEY_FILE_NAME)


def _local_key_file(path: Path) -> KeyRing:
    """Read the local key file, creating it atomically on first use.

    The key is written to a private temp file and hard-linked into place: ``link`` fails
    when the name exists, so concurrent first starts agree on one complete file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        kid = f"local-{secrets.token_hex(4)}"
        line = f"{kid}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}\n"
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race: use its key
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return _read_key_file(path)


def _read_key_file(path: Path) -> KeyRing:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        logger.warning("payload key file is readable by others; chmod 600 it", extra={"path": str(path)})
    try:
        return parse_key_ring(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


class EncryptionCodec(PayloadCodec):
    """zlib, then AES-256-GCM, over the whole serialized payload, tagged with the key id that sealed it.

    Compressing first shrinks a bill's payloads to ~40% (~1.8 KB of JSON → ~0.7 KB), and each of
    the pipeline's workflows carries its bill in five of them: in the benchmark's no-op workflow,
    ~9 KB more payload per run cost the server and worker ~10% of their throughput. A payload
    compresses only when that makes it smaller, and says so in its metadata, which the
    ciphertext's associated data binds. Compressing before encrypting lets a payload's length
    depend on its content. That matters when attacker-chosen text shares a payload with a secret
    the attacker wants and can watch lengths; here a payload carries one account's data, and
    only those who can read Temporal's store see lengths. With ``compress=False`` (the
    ``PAYLOAD_COMPRESSION`` setting) nothing is compressed, but compressed payloads still open.
    """

    def __init__(self, key_ring: KeyRing, *, compress: bool = True) -> None:
        self._ring = key_ring
        self._compress = compress

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.seal_all(payloads)

    def seal_all(self, payloads: Sequence[Payload]) -> list[Payload]:
        """:meth:`encode`'s work, for a caller that runs it off its event loop (the codec endpoint)."""
        kid = self._ring.primary_kid
        cipher = self._ring.cipher(kid)
        return [self._seal(cipher, kid, payload.SerializeToString()) for payload in payloads]

    def _seal(self, cipher: AESGCM, kid: str, plaintext: bytes) -> Payload:
        metadata = {"encoding": ENCODING, KEY_ID_METADATA: kid.encode()}
        compression = b""
        if self._compress and len(plaintext) >= COMPRESS_FROM_BYTES:
            compressed = zlib.compress(plaintext)
            if len(compressed) < len(plaintext):
                plaintext, compression = compressed, ZLIB
                metadata[COMPRESSION_METADATA] = ZLIB
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = cipher.encrypt(nonce, plaintext, _associated_data(kid, compression))
        return Payload(metadata=metadata, data=nonce + ciphertext)

    @property
    def primary_key_id(self) -> str:
        """The key id new payloads are sealed under (key ids are no secret: every payload names its own)."""
        return self._ring.primary_kid

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Every payload opened, or tagged unopened (``UNOPENED_METADATA``) where no worker could ever open it:
        the converter raises :class:`PayloadDecryptionError` as it reads that one. Raising here failed the whole
        workflow activation, so one forged signal failed every workflow task of its run for good: no update,
        timer or query got through. Raised as the payload is read, it costs only its own message: the SDK drops
        such a signal and rejects such an update (a start, an activity's input or result fails its task).

        A key id this ring lacks, or a compression this release does not read, still raises here
        (:class:`OpenedElsewhere`): a worker that holds the key (rotated in before every worker knew it), or of a
        later release, would open the payload, so a signal dropped here would run its handler on that worker's
        replay, a nondeterminism error. The run waits for such a worker instead."""
        return [self._open_or_tag(payload) for payload in payloads]

    async def decode_strictly(self, payloads: Sequence[Payload]) -> list[Payload]:
        """As :meth:`decode`, but a payload that cannot be opened raises at once (the codec endpoint's answer)."""
        return self.open_all(payloads)

    def open_all(self, payloads: Sequence[Payload]) -> list[Payload]:
        """:meth:`decode_strictly`'s work, for a caller that runs it off its event loop (the codec endpoint)."""
        return [self._open(payload) for payload in payloads]

    def _open_or_tag(self, payload: Payload) -> Payload:
        try:
            return self._open(payload)
        except OpenedElsewhere:
            raise
        except PayloadDecryptionError as err:  # no key id, or forged under ours: no worker opens it
            tagged = Payload()
            tagged.CopyFrom(payload)
            tagged.metadata[UNOPENED_METADATA] = f"{type(err).__name__}: {err}".encode()
            return tagged

    def _open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            # Written before encryption was enabled, or by a party without our keys. Refusing it here would
            # also refuse it on replay, where a run that once accepted it must take the same path again: it
            # opens, tagged, and the workflow decides (see SealAwarePayloadConverter).
            return _tagged_unsealed(payload)
        raw_kid = payload.metadata.get(KEY_ID_METADATA)
        if raw_kid is None:
            raise PayloadDecryptionError("encrypted payload carries no key id")
        kid = raw_kid.decode(errors="replace")
        cipher = self._ring.cipher(kid)
        compression = payload.metadata.get(COMPRESSION_METADATA, b"")
        if compression not in (b"", ZLIB):
            raise UnknownCompression(f"payload compressed with {compression[:16]!r}: this release reads zlib only")
        nonce, ciphertext = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plaintext = cipher.decrypt(nonce, ciphertext, _associated_data(kid, compression))
        except (InvalidTag, ValueError):  # ValueError: data too short to hold a nonce (truncated)
            raise PayloadDecryptionError(f"payload sealed with key id {kid!r} failed authentication") from None
        # Only what authenticated under our key is inflated: our own encoder's output, never a stranger's.
        opened = Payload.FromString(zlib.decompress(plaintext) if compression == ZLIB else plaintext)
        if UNSEALED_METADATA in opened.metadata:  # sealed by a key holder, whatever it once was: sealed now
            del opened.metadata[UNSEALED_METADATA]
        return opened


def _tagged_unsealed(payload: Payload) -> Payload:
    tagged = Payload()
    tagged.CopyFrom(payload)
    tagged.metadata[UNSEALED_METADATA] = b"1"
    return tagged


class SealAwarePayloadConverter(PydanticPayloadConverter):
    """Pydantic JSON, plus: a :class:`WorkflowMessage` decoded from a payload the codec tagged unsealed is
    marked so (``message.unsealed``), for the workflow to refuse what it must not act on.

    A payload meant as a :class:`WorkflowMessage` that is ``null``, or unsealed JSON the model refuses, raises
    an :class:`ApplicationError`: the SDK then drops such a signal, rejects such an update and fails such a
    start, where any other error fails the workflow task again and again, stalling the run. Sealed JSON the
    model refuses still raises as before, and the SDK decides: it drops such a signal (logged), rejects such
    an update, and fails such a start's task until a worker that reads it (a newer release) takes it.
    """

    def from_payloads(self, payloads: Sequence[Payload], type_hints: list[type] | None = None) -> list[Any]:
        hints: list[type | None] = [*(type_hints or [])]
        hints += [None] * (len(payloads) - len(hints))
        values = []
        for payload, hint in zip(payloads, hints, strict=False):
            values.append(self._from_payload(payload, hint))
        return values

    def _from_payload(self, payload: Payload, hint: type | None) -> Any:
        if UNOPENED_METADATA in payload.metadata:  # never read as what it claims: see EncryptionCodec.decode
            raise PayloadDecryptionError(payload.metadata[UNOPENED_METADATA].decode(errors="replace"))
        message_type = hint if isinstance(hint, type) and issubclass(hint, WorkflowMessage) else None
        try:
            [value] = super().from_payloads([payload], [hint] if hint is not None else None)
        except Exception as err:
            if message_type is None or UNSEALED_METADATA not in payload.metadata:
                raise
            raise _not_a_message(message_type, payload, "could not be read as one") from err
        if message_type is not None and value is None:  # encoding binary/null: no message, whoever sealed it
            raise _not_a_message(message_type, payload, "was null")
        if isinstance(value, WorkflowMessage) and UNSEALED_METADATA in payload.metadata:
            value.mark_unsealed()
        return value


def _not_a_message(message_type: type, payload: Payload, problem: str) -> ApplicationError:
    unsealed = UNSEALED_METADATA in payload.metadata
    return ApplicationError(
        f"the {message_type.__name__} {'not sealed with the payload keys ' if unsealed else ''}{problem}",
        type="UnsealedMessage" if unsealed else "MessageInvalid",
        non_retryable=True,
    )


def _associated_data(kid: str, compression: bytes = b"") -> bytes:
    # Binding the key id means a payload cannot be relabelled to be opened under another key; binding
    # the compression, that a compressed payload cannot pass for a plain one (or the reverse).
    # Payloads sealed before compression existed carry none, and authenticate as they always did.
    ad = b"minimeter-payload-v1:" + kid.encode()
    return ad + b";compression=" + compression if compression else ad


def data_converter(key_ring: KeyRing, *, compress: bool = True) -> DataConverter:
    """The one converter for client, worker, replayer and tests: pydantic JSON, then encryption.

    Failure messages and stack traces are sealed too (the error type stays readable): an
    exception's text can quote bill fields, and history stores it outside any payload.
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=SealAwarePayloadConverter,
        payload_codec=EncryptionCodec(key_ring, compress=compress),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


MAX_CODEC_PAYLOADS = 10_000
"""Payloads one codec request may carry: the Web UI and the CLI send an event's few. A body of 300,000 empty ones
(7.8 MB, inside the upload limit) took the API 4 s of CPU."""


async def decode_payloads_json(codec: EncryptionCodec, body: Mapping[str, Any]) -> dict[str, Any]:
    """Remote codec protocol ``/decode``: protobuf-JSON ``Payloads`` in, decoded ``Payloads`` out; a payload that
    cannot be opened is :class:`PayloadDecryptionError`, for the endpoint to say so. Off the event loop: a request of
    many payloads held every other request of the API's process (its liveness probe too) until it was done."""
    return await asyncio.to_thread(lambda: _to_json(codec.open_all(_from_json(body))))


async def encode_payloads_json(codec: EncryptionCodec, body: Mapping[str, Any]) -> dict[str, Any]:
    """Remote codec protocol ``/encode``: protobuf-JSON ``Payloads`` in, encoded ``Payloads`` out; off the event
    loop, as ``/decode``."""
    return await asyncio.to_thread(lambda: _to_json(codec.seal_all(_from_json(body))))


def _from_json(body: Mapping[str, Any]) -> list[Payload]:
    sent = body.get("payloads")
    if isinstance(sent, list) and len(sent) > MAX_CODEC_PAYLOADS:
        raise CodecRequestInvalid(
            f"{len(sent)} payloads in one request: send at most {MAX_CODEC_PAYLOADS} a request, in several requests"
        )
    try:
        message = json_format.ParseDict(dict(body), Payloads(), ignore_unknown_fields=True)
    except json_format.ParseError:
        raise CodecRequestInvalid("body must be protobuf-JSON Payloads: {'payloads': [...]}") from None
    return list(message.payloads)


def _to_json(payloads: Sequence[Payload]) -> dict[str, Any]:
    # Built per payload so an empty list still answers {"payloads": []}.
    return {"payloads": [json_format.MessageToDict(payload) for payload in payloads]}
