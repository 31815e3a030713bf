"""A cursor for lists ordered by a growing integer id (customers, utility accounts)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from api.problems import Problem, ProblemCode

MAX_ID = 2**63 - 1


def not_a_cursor() -> Problem:
    """The 422 for a cursor this API did not give (forged, cut short, of another release's shape)."""
    return Problem(422, "cursor is not a next_cursor this API gave", code=ProblemCode.INVALID_CURSOR)


def cursor_of_another_scope() -> Problem:
    """The 422 for a cursor given for another list, or for the same list under other filters."""
    return Problem(
        422,
        "cursor is the next_cursor of another list or other filters: send it with the filters it came with",
        code=ProblemCode.INVALID_CURSOR,
    )


@dataclass(frozen=True)
class IdCursor:
    """Where a page ended, by the id it is ordered by. Ids only grow, so a row created while a client pages lands on
    a later page, never shifting the ones it has read (an offset would). Bound to its list and filters (``scope``,
    from ``api.services.jobs.cursor_scope``), as ``JobCursor`` is."""

    after_id: int
    scope: str

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.after_id}|{self.scope}".encode()).decode()

    @classmethod
    def decode(cls, cursor: str, scope: str) -> IdCursor:
        """The place ``cursor`` names in the list and filters of ``scope``: a 422 for one this API did not give, or
        gave for another list or other filters."""
        try:
            after_id, given = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
            found = cls(after_id=int(after_id), scope=scope)
        except (ValueError, UnicodeError, binascii.Error):
            raise not_a_cursor() from None
        if not 0 < found.after_id <= MAX_ID:  # the driver would refuse it as a bigint: a 500
            raise not_a_cursor()
        if given != scope:
            raise cursor_of_another_scope()
        return found
