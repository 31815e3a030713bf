"""Google's clients finding no credentials to use: one line at start naming the remedy, not a traceback.

A first production start without ``GOOGLE_APPLICATION_CREDENTIALS`` (or with a key file's path mistyped) ended
the worker with "worker failed" and forty lines of ``google.auth``, and the API with uvicorn's traceback alone (an
operator's probe, 72C).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from google.auth.exceptions import DefaultCredentialsError

from shared.refusals import StartRefused


class GoogleCredentialsMissing(StartRefused):
    """Application Default Credentials found nothing usable for a Google client."""


@contextmanager
def credentials_or_refusal(service: str, emulator_setting: str) -> Iterator[None]:
    """Around a Google client's construction: a ``DefaultCredentialsError`` becomes ``GoogleCredentialsMissing``,
    naming ``service`` and the settings that mend it (``emulator_setting``: the local emulator's, which needs none)."""
    try:
        yield
    except DefaultCredentialsError as missing:
        found = " ".join(str(missing).split())
        raise GoogleCredentialsMissing(
            f"{service} has no Google credentials to use ({found}): set GOOGLE_APPLICATION_CREDENTIALS to a service"
            f" account's key file, or run with an identity attached (Application Default Credentials); locally, set"
            f" {emulator_setting} to the emulator's address, which needs none"
        ) from None
