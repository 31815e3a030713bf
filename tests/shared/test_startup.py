"""What the worker and the API wait out at start (nothing answers yet) and what they do not (we are refused)."""

from __future__ import annotations

import asyncpg
import pytest

from shared.startup import is_unreachable, when_reachable


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        FileNotFoundError(2, "No such file or directory"),  # Postgres's Unix socket, not there yet
        asyncpg.CannotConnectNowError("the database system is starting up"),
        RuntimeError(
            "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
            'ConnectError(ConnectError("tcp connect error", 127.0.0.1:7233, Os { code: 111 })))'
        ),
    ],
)
def test_nothing_answering_yet_is_waited_out(error: BaseException) -> None:
    assert is_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InvalidPasswordError("password authentication failed for user"),
        asyncpg.InvalidCatalogNameError('database "minimeter" does not exist'),
        ValueError("DATABASE_URL could not be used"),
        RuntimeError("Failed client connect: Unauthenticated: invalid API key"),
    ],
)
def test_a_refusal_of_who_we_are_is_not(error: BaseException) -> None:
    assert not is_unreachable(error)


async def test_a_refusal_fails_at_once_and_unreachable_until_the_wait_is_over() -> None:
    tries: list[int] = []

    async def refused() -> None:
        tries.append(1)
        raise asyncpg.InvalidPasswordError("password authentication failed")

    with pytest.raises(asyncpg.InvalidPasswordError):
        await when_reachable("Postgres", refused, within=30)
    assert len(tries) == 1

    async def answers_on_the_third_try() -> str:
        tries.append(1)
        if len(tries) < 4:
            raise ConnectionRefusedError(111, "Connection refused")
        return "connected"

    assert await when_reachable("Postgres", answers_on_the_third_try, within=30) == "connected"

    async def never() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(ConnectionRefusedError):
        await when_reachable("Postgres", never, within=0)
