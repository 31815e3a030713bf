"""``python -m api.keys``: create, list and revoke API keys (the plaintext key is printed once).

    python -m api.keys create --role reviewer --name alice [--customer-id 7]
    python -m api.keys list
    python -m api.keys revoke 12

Reads ``DATABASE_URL`` (and every other setting) from the environment, like the API.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from api.auth import Role, create_key, revoke_key
from shared.db import MIGRATE_HELP, SchemaBehind, migrate_for_a_command, open_for_a_command
from shared.settings import settings_or_exit

LIST_COLUMNS = ("id", "name", "role", "customer", "created", "last used", "revoked")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api.keys", description="Manage MiniMeter API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--migrate", action="store_true", help=MIGRATE_HELP)

    create = commands.add_parser("create", parents=[common], help="create a key and print it once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True, help="who or what holds the key (shown in audit trails)")
    create.add_argument("--customer-id", type=database_id, default=None, help="bind the key to one customer's data")

    commands.add_parser("list", parents=[common], help="list keys (never the key or its hash)")

    revoke = commands.add_parser("revoke", parents=[common], help="revoke a key by id")
    revoke.add_argument("key_id", type=database_id, metavar="ID")
    return parser


async def _create(pool: asyncpg.Pool, *, role: Role, name: str, customer_id: int | None) -> int:
    if customer_id is not None and await pool.fetchval("SELECT 1 FROM customers WHERE id = $1", customer_id) is None:
        print(f"error: customer {customer_id} does not exist", file=sys.stderr)
        return 1
    try:
        created = await create_key(pool, name=name, role=role, customer_id=customer_id)
    except ValueError as refused:  # an admin key bound to a customer
        print(f"error: {refused}; bind a viewer, ingest or reviewer key instead", file=sys.stderr)
        return 1
    scope = f"customer {customer_id}" if customer_id is not None else "all customers"
    print(f"created key {created.id} ({role}, {scope}) for {name}", file=sys.stderr)
    print("store it now: it is shown only once", file=sys.stderr)
    print(created.key)
    return 0


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


async def _list(pool: asyncpg.Pool) -> int:
    rows = await pool.fetch(
        "SELECT id, name, role, customer_id, created_at, last_used_at, revoked_at FROM api_keys ORDER BY id"
    )
    table = [LIST_COLUMNS] + [
        (
            str(r["id"]),
            r["name"],
            r["role"],
            str(r["customer_id"]) if r["customer_id"] is not None else "all",
            _when(r["created_at"]),
            _when(r["last_used_at"]),
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
            return await _create(pool, role=Role(args.role), name=args.name, customer_id=args.customer_id)
        if args.command == "list":
            return await _list(pool)
        return await _revoke(pool, args.key_id)
    finally:
        await pool.close()


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(build_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
