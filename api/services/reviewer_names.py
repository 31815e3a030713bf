"""Who decided a review, as a key bound to a customer is told: the customer's own reviewer by the key's name, anyone
else by a fixed label.

The audit trail names a reviewer by its key (``Principal.identity``: "name (key 6)"). An operator reads it whole; a
customer's key read a MiniMeter staff member's key name and number in its own jobs (a privacy probe, 76A).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable

import asyncpg

from api.auth import Principal

STAFF_REVIEWER = "MiniMeter reviewer"
"""A reviewer not of the reading key's customer, as that key is told: MiniMeter's staff, by role alone."""

_IDENTITY = re.compile(r"(?P<name>.*) \(key (?P<key_id>\d+)\)", re.S)
"""``Principal.identity`` and ``identity_within`` (its name maybe cut with "…"): the name, then the key's id."""

ReviewerShown = Callable[[str | None], str | None]
"""How a key is shown a reviewer's identity: ``reviewer_shown`` of it."""


def _named(identity: str) -> tuple[str, int] | None:
    """An identity's key name and id; None for a string of no key's."""
    named = _IDENTITY.fullmatch(identity)
    return (named["name"], int(named["key_id"])) if named else None


def reviewer_shown(principal: Principal, own_keys: Collection[int] = ()) -> ReviewerShown:
    """How ``principal`` is shown a reviewer: an operator's key, whole; a customer's, the name of a key among
    ``own_keys`` (its customer's) without the id, any other as ``STAFF_REVIEWER``."""

    def shown(identity: str | None) -> str | None:
        if identity is None or principal.customer_id is None:
            return identity
        named = _named(identity)
        return named[0] if named and named[1] in own_keys else STAFF_REVIEWER

    return shown


async def reviewers_shown_to(
    pool: asyncpg.Pool, principal: Principal, identities: Iterable[str | None]
) -> ReviewerShown:
    """``reviewer_shown`` with the keys among ``identities`` that are ``principal``'s customer's: one query, and none
    for an operator's key or without a reviewer to show. A revoked key still counts: it was the customer's when it
    decided."""
    key_ids = {named[1] for identity in identities if identity and (named := _named(identity)) is not None}
    if principal.customer_id is None or not key_ids:
        return reviewer_shown(principal)
    own = "SELECT id FROM api_keys WHERE id = ANY($1::bigint[]) AND customer_id = $2"
    rows = await pool.fetch(own, sorted(key_ids), principal.customer_id)
    return reviewer_shown(principal, frozenset(row["id"] for row in rows))
