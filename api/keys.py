"""``python -m api.keys``: create, list and revoke API keys (the plaintext key is printed once).

    python -m api.keys create --role reviewer --name alice [--customer-id 7] [--expires-in 90d]
    python -m api.keys list
    python -m api.keys revoke 12

Reads ``DATABASE_URL`` (and every other setting) from the environment, like the API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
from pydantic import TypeAdapter, ValidationError

from api.auth import Role, create_key, revoke_key
from shared.db import MIGRATE_HELP, SchemaBehind, migrate_for_a_command, open_for_a_command
from shared.settings import settings_or_exit

LIST_COLUMNS = ("id", "name", "role", "customer", "created", "last used", "expires", "revoked")
_LIFETIME = re.compile(r"\s*(?P<count>\d{1,6})\s*(?P<unit>[dh])\s*", re.IGNORECASE)
LONGEST_LIFETIME = timedelta(days=3650)


def database_id(text: str) -> int:
    """An id as Postgres stores it (1 to 2^63 - 1): argparse's own message for anything else, not
    an asyncpg OverflowError traceback after the database was opened."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 < value < 2**63:
        raise argparse.ArgumentTypeError(f"no such id: {value} (ids are 1 to {2**63 - 1})")
    return value


def lifetime(text: str) -> timedelta:
    """How long a new key lives: ``90d``, ``12h`` (or an ISO 8601 duration, ``P90D``), from an hour to ten years."""
    match = _LIFETIME.fullmatch(text)
    span: timedelta | None = None
    if match is not None:
        count, unit = int(match["count"]), match["unit"].lower()
        span = timedelta(days=count) if unit == "d" else timedelta(hours=count)
    elif text.strip().upper().startswith("P"):  # ISO 8601 alone: pydantic read a bare 3600 as seconds, 90 as 90 s
        with contextlib.suppress(ValidationError):
            span = TypeAdapter(timedelta).validate_python(text.strip())
    if span is None:
        raise argparse.ArgumentTypeError(f"not a lifetime: {text!r} (say 90d, 12h or P90D)")
    if not timedelta(hours=1) <= span <= LONGEST_LIFETIME:
        raise argparse.ArgumentTypeError(f"a key lives from an hour to {LONGEST_LIFETIME.days} days, not {span}")
    return span


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api.keys", description="Manage MiniMeter API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--migrate", action="store_true", help=MIGRATE_HELP)

    create = commands.add_parser("create", parents=[common], help="create a key and print it once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True, help="who or what holds the key (shown in audit trails)")
    create.add_argument("--customer-id", type=database_id, default=None, help="bind the key to one customer's data")
    create.add_argument(
        "--expires-in",
        type=lifetime,
        default=None,
        metavar="LIFETIME",
        help="the key stops working this long from now (90d, 12h or P90D); without it, only when revoked",
    )

    commands.add_parser("list", parents=[common], help="list keys (never the key or its hash)")

    revoke = commands.add_parser("revoke", parents=[common], help="revoke a key by id")
    revoke.add_argument("key_id", type=database_id, metavar="ID")
    return parser


async def _create(
    pool: asyncpg.Pool, *, role: Role, name: str, customer_id: int | None, expires_in: timedelta | None
) -> int:
    if customer_id is not None and await pool.fetchval("SELECT 1 FROM customers WHERE id = $1", customer_id) is None:
        print(f"error: customer {customer_id} does not exist", file=sys.stderr)
        return 1
    try:
        expires_at = datetime.now(UTC) + expires_in if expires_in is not None else None
        created = await create_key(pool, name=name, role=role, customer_id=customer_id, expires_at=expires_at)
    except ValueError as refused:  # an admin key bound to a customer
        print(f"error: {refused}; bind a viewer, ingest or reviewer key instead", file=sys.stderr)
        return 1
    scope = f"customer {customer_id}" if customer_id is not None else "all customers"
    until = f", until {_when(expires_at)}" if expires_at is not None else ""
    print(f"created key {created.id} ({role}, {scope}{until}) for {name}", file=sys.stderr)
    print("store it now: it is shown only once", file=sys.stderr)
    print(created.key)
    return 0


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


async def _list(pool: asyncpg.Pool) -> int:
    rows = await pool.fetch(
        "SELECT id, name, role, customer_id, created_at, last_used_at, expires_at, revoked_at FROM api_keys ORDER BY id"
    )
    table = [LIST_COLUMNS] + [
        (
            str(r["id"]),
            r["name"],
            r["role"],
            str(r["customer_id"]) if r["customer_id"] is not None else "all",
            _when(r["created_at"]),
            _when(r["last_used_at"]),
            _when(r["expires_at"]),
            _when(r["revoked_at"]),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(LIST_COLUMNS))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


async def _revoke(pool: asyncpg.Pool, key_id: int) -> int:
    if await revoke_key(pool, key_id):
        print(f"revoked key {key_id}")
        return 0
    print(f"error: key {key_id} does not exist or is already revoked", file=sys.stderr)
    return 1


async def run(args: argparse.Namespace) -> int:
    pool = await open_for_a_command(settings_or_exit())
    try:
        try:
            applied = await migrate_for_a_command(
                pool, asked=args.migrate, command=f"python -m api.keys {args.command}"
            )
        except SchemaBehind as behind:
            print(f"error: {behind}", file=sys.stderr)
            return 2
        if applied:
            print(f"applied migrations: {', '.join(applied)}", file=sys.stderr)
        if args.command == "create":
            return await _create(
                pool, role=Role(args.role), name=args.name, customer_id=args.customer_id, expires_in=args.expires_in
            )
        if args.command == "list":
            return await _list(pool)
        return await _revoke(pool, args.key_id)
    finally:
        await pool.close()


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(build_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
