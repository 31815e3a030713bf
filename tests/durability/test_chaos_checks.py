"""The chaos run's Postgres check counts what persist_bill does as it does it."""

from __future__ import annotations

from typing import Any, cast

from bench.chaos import Tally, check_postgres

FIRST, REISSUE = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"


class Rows:
    """An ``asyncpg.Connection`` answering the check's queries: both jobs succeeded, the second one with
    the utility's re-issued statement for the first one's period, which replaced its bill."""

    async def fetch(self, query: str, *args: object) -> list[dict[str, Any]]:
        if "FROM ingestion_jobs" in query:
            return [{"id": job, "status": "SUCCEEDED", "error": None} for job in (FIRST, REISSUE)]
        if "FROM bills" in query:
            return [{"job_id": REISSUE, "id": "bill-1"}]
        if "FROM bill_revisions" in query:
            return [{"job_id": FIRST}]
        if "FROM artifacts" in query:
            return [{"job_id": job} for job in (FIRST, REISSUE)]
        raise AssertionError(query)

    async def fetchval(self, query: str, *args: object) -> int:
        return 0


async def test_a_bill_replaced_by_a_reissued_statement_is_not_lost() -> None:
    """Its version is kept in bill_revisions; counted lost, a run where two statements shared a period failed."""
    tally = Tally()
    await check_postgres(cast(Any, Rows()), [FIRST, REISSUE], tally, {})
    assert tally.problems == []
