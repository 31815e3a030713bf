"""``POST /jobs`` at its floor: FastAPI, uvicorn and asyncpg doing a start's two statements, nothing more.

The key's lookup, and the insert that reads the account, as the API's start without a rate limit makes them
(``api.services.connector_jobs``; three statements, the account read apart, until session 50).

``python -m bench.api_alone --floor`` serves this in the API's place, on the same stack, pool
settings, tables and frozen start-up heap, and measures it the same way. What the API costs
above it is what MiniMeter adds: middleware, the dependency graph (roles, rate limit,
idempotency), logging, the idempotent insert with the workflow input, the dispatcher. If the
floor alone misses a latency target, no tuning of the API's own code can meet it there.
Not a product path: no roles, scopes or idempotency, and the jobs it inserts never start a
workflow (they stay PENDING), so it belongs on the bench's own stack, not a shared database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

import asyncpg
import uvicorn
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

from api.auth import hash_key
from shared.db import create_pool
from shared.lean import freeze_startup_heap
from shared.models import JobStatus, JobType
from shared.settings import Settings, get_settings
from shared.temporal import workflow_id_for


class FloorJobCreate(BaseModel):
    utility_account_id: int = Field(ge=1)


class FloorJob(BaseModel):
    id: str
    status: JobStatus
    utility_account_id: int
    created_at: datetime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pools.append(await create_pool(settings, open_all=True))
        freeze_startup_heap()  # as the API does: full collections then skip start-up's objects
        yield
        await pools[0].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/jobs", status_code=201)
    async def create_job(body: FloorJobCreate, authorization: Annotated[str, Header()]) -> FloorJob:
        pool = pools[0]
        key_id = await pool.fetchval(
            "SELECT id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            hash_key(authorization.removeprefix("Bearer ")),
        )
        if key_id is None:
            raise HTTPException(401, "unknown key")
        job_id = str(uuid.uuid4())
        row = await pool.fetchrow(
            """
            INSERT INTO ingestion_jobs (id, customer_id, utility_account_id, workflow_id, job_type, status)
            SELECT $1, account.customer_id, account.id, $3, $4, $5 FROM utility_accounts account WHERE account.id = $2
            RETURNING status, created_at
            """,
            job_id,
            body.utility_account_id,
            workflow_id_for(job_id),
            JobType.CONNECTOR,
            JobStatus.PENDING,
        )
        if row is None:
            raise HTTPException(404, "no such account")
        return FloorJob(
            id=job_id, status=row["status"], utility_account_id=body.utility_account_id, created_at=row["created_at"]
        )

    return app


def main() -> None:
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None)


if __name__ == "__main__":
    main()
