"""Soft claims on review tasks: who has a task open and since when, kept in Postgres for every API process.

A claim is soft: it tells a colleague opening the task that someone is on it, and they take it over only
deliberately (a button), so two reviewers do not correct the same bill at once and the second lose their work
to a 409. It lapses once its holder has not loaded or sent the page for ``REVIEW_CLAIM_LAPSE_MINUTES`` (``lapse``), and
it ends with the task however it closes: a claim counts only if its holder was seen since the task's current opening
(``created_at``, which a take-back sets anew), so one written just after the close by a page that read the task open
never comes back with the task. Every close deletes it in the transaction that closes the task (the worker's
``record_review_decision`` and ``close_review_task``, the reconciler's record of a workflow ended from outside:
``activities.review.end_claim``; ``mark_job_finished`` in its closing statement), so a refused decision keeps it. Its
holder may end it sooner (``release``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg
from pydantic import BaseModel

from api.auth import Principal
from shared.settings import Settings


def lapse(settings: Settings) -> timedelta:
    """How long a claim holds after its holder last loaded or sent the task's page (30 minutes by default): long
    enough to read a bill and type its corrections (the page sends nothing while they type), short enough that a task
    left open in a tab over lunch is free for a colleague again."""
    return timedelta(minutes=settings.review_claim_lapse_minutes)


class Claim(BaseModel):
    """Who has a task open: ``reviewer`` as the audit trail names them, since ``claimed_at``."""

    key_id: int
    reviewer: str
    claimed_at: datetime

    def held_by_other(self, principal: Principal) -> bool:
        return self.key_id != principal.key_id


def active_sql(settings: Settings) -> str:
    """SQL: a claim (aliased ``c``) that holds: its holder seen within the ``lapse`` and since the task's current
    opening, and its key not revoked (a revoked reviewer's claim held the task from colleagues for the lapse). The
    lapse is a whole number of seconds from the settings, not a value a caller sent."""
    return (
        f"c.seen_at > now() - interval '{int(lapse(settings).total_seconds())} seconds'"
        " AND c.seen_at >= (SELECT o.created_at FROM review_tasks o WHERE o.job_id = c.job_id)"
        " AND NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.id = c.key_id AND k.revoked_at IS NOT NULL)"
    )


async def current(pool: asyncpg.Pool, job_id: uuid.UUID, *, settings: Settings) -> Claim | None:
    """The task's claim while it holds (``active_sql``), else None."""
    row = await pool.fetchrow(
        f"SELECT key_id, reviewer, claimed_at FROM review_claims c WHERE job_id = $1 AND {active_sql(settings)}",
        job_id,
    )
    return Claim(**dict(row)) if row is not None else None


async def claim(
    pool: asyncpg.Pool, job_id: uuid.UUID, principal: Principal, *, settings: Settings, take_over: bool = False
) -> Claim:
    """Claim the task for ``principal`` unless a colleague's claim holds (``take_over``: even then); returns the
    claim that holds now, theirs or the colleague's. Safe to repeat: their own claim keeps its ``claimed_at`` and
    is only seen again; two reviewers claiming at once get one winner (a single upsert)."""
    active = active_sql(settings)
    row = await pool.fetchrow(
        f"""
        INSERT INTO review_claims AS c (job_id, key_id, reviewer) VALUES ($1, $2, $3)
        ON CONFLICT (job_id) DO UPDATE
           SET key_id = EXCLUDED.key_id, reviewer = EXCLUDED.reviewer, seen_at = now(),
               claimed_at = CASE WHEN c.key_id = EXCLUDED.key_id AND {active} THEN c.claimed_at ELSE now() END
         WHERE c.key_id = EXCLUDED.key_id OR NOT ({active}) OR $4
        RETURNING key_id, reviewer, claimed_at
        """,
        job_id,
        principal.key_id,
        principal.identity,
        take_over,
    )
    if row is not None:
        return Claim(**dict(row))
    held = await current(pool, job_id, settings=settings)
    if held is None:  # the colleague's lapsed between the two statements: try once more, taking it
        return await claim(pool, job_id, principal, settings=settings, take_over=True)
    return held


async def release(pool: asyncpg.Pool, job_id: uuid.UUID, principal: Principal) -> None:
    """End ``principal``'s own claim on the task, so a colleague opening it has it at once; a colleague's claim (one
    who took it over meanwhile) is left to them. Safe to repeat: a claim already ended is not there to delete."""
    await pool.execute("DELETE FROM review_claims WHERE job_id = $1 AND key_id = $2", job_id, principal.key_id)
