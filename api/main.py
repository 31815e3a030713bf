"""The FastAPI application: a thin assembly of routers around one lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import Depends, FastAPI

from api import docs_page, ui
from api.auth_first import AuthenticateBeforeBody
from api.cors import CodecCORS, codec_origins
from api.multipart_end import MultipartEnding
from api.openapi import MiniMeterAPI
from api.problems import install_problem_handlers, problem_responses
from api.query_params import refuse_unknown_query_params
from api.ratelimit import RateLimiter
from api.recent_keys import RecentKeys
from api.routes import admin, bills, customers, dashboard, health, jobs, reviews
from api.services.dispatch import JobDispatcher
from api.services.reconcile import JobReconciler
from api.state import AppState
from api.ui.session import SessionStore
from api.uploads import BodySizeLimit
from api.warm_pool import warm_connections
from shared.artifacts import ArtifactStore, build_artifact_store
from shared.codec import EncryptionCodec
from shared.db import create_pool, migrate, refuse_an_unusable_database_url
from shared.ensured import ensure_or_continue
from shared.lean import freeze_startup_heap
from shared.logs import configure_logging
from shared.refusals import StartRefused
from shared.settings import Settings, get_settings, warn_misspelled_settings
from shared.startup import check_search_attributes, stop_signals_cancel, when_reachable
from shared.temporal import connect_client

logger = logging.getLogger(__name__)


async def ensure_bucket_or_warn(store: ArtifactStore, *, within: float) -> asyncio.Task[None] | None:
    """Create the bucket if it is missing; object storage down is only a warning, credentials it refuses for
    good (``ArtifactStoreMisconfigured``: a revoked key) stop the start, where a warning meant 503s forever.

    Its routes answer 503 while storage is down, so ending the start over it took the whole API down with GCS; and
    waiting out the client's two minutes of retries left the API unanswered that long. ``within`` seconds, then the
    start goes on and the bucket is made sure of in the background (the task returned, if any)."""
    return await ensure_or_continue(
        "object storage", store.ensure_bucket, within=within, meanwhile="uploads and raw bills answer 503 until it is"
    )


@contextmanager
def refusal_logged() -> Iterator[None]:
    """A refused start (``StartRefused``) said first in one line, before uvicorn logs its traceback."""
    try:
        yield
    except StartRefused as refused:
        logger.critical(f"api refused to start: {refused}")
        raise


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        warn_misspelled_settings()
        if settings.auth_disabled:
            logger.warning("AUTH_DISABLED=true: every request is treated as admin. Local experiments only!")
        starting = asyncio.current_task()
        assert starting is not None
        # Told to stop while waiting (for Temporal, Postgres, another process's migration, GCS): stop now.
        with stop_signals_cancel(starting), refusal_logged():
            refuse_an_unusable_database_url(settings)
            client = await when_reachable(
                "Temporal", lambda: connect_client(settings), within=settings.startup_wait_seconds
            )
            await check_search_attributes(
                client, namespace=settings.temporal_namespace, address=settings.temporal_address
            )
            pool = await when_reachable(
                "Postgres",
                lambda: create_pool(settings, open_all=True, wait_seconds=settings.api_db_timeout_seconds),
                within=settings.startup_wait_seconds,
            )
            try:
                await migrate(pool)
                await warm_connections(pool)
                store = build_artifact_store(settings)
                ensuring = await ensure_bucket_or_warn(store, within=settings.startup_wait_seconds)
            except BaseException:  # a stop signal (cancelled) or a failure: nothing will use the pool
                pool.terminate()
                raise
        # The codec server seals and opens with the client's own codec: one configuration, one key ring.
        codec = client.data_converter.payload_codec
        assert isinstance(codec, EncryptionCodec), "connect_client always seals payloads"
        dispatcher = JobDispatcher(pool, client, settings)
        reconciler = JobReconciler(pool, client, settings)
        app.state.minimeter = AppState(
            settings=settings,
            client=client,
            pool=pool,
            store=store,
            codec=codec,
            dispatcher=dispatcher,
            sessions=await SessionStore.open(pool),
            limiter=RateLimiter(pool),
            reconciler=reconciler,
            recent_keys=RecentKeys(settings.api_key_cache_seconds),
        )
        # FastAPI builds an included router's routes on the first request that reaches them (their dependencies
        # analysed, a validator per parameter: ~20 ms in cProfile up to the jobs router's, on the event loop, every
        # request sent with it waiting); writing the OpenAPI document walks them all, so a fresh API pays it here.
        app.openapi()
        freeze_startup_heap()
        # Started last, so a failed start-up above leaves no loop running against a pool nobody closes.
        dispatcher.start()
        reconciler.start()
        try:
            yield
        finally:
            if ensuring is not None:
                ensuring.cancel()
            await reconciler.stop()
            await dispatcher.stop()
            await pool.close()

    app = MiniMeterAPI(
        title="MiniMeter",
        version="0.1.0",
        summary="Utility bills in, clean validated data out, on Temporal.",
        lifespan=lifespan,
        # A path with a slash too many is a 404: Starlette's redirect to it without was built from the request's
        # Host header, before any key check ("Host: evil.example" came back as a Location there, a security probe).
        redirect_slashes=False,
        docs_url=None,  # ``api.docs_page``'s: Swagger UI pinned and checked
        redoc_url=None,  # it loaded redoc@2 and Google's fonts unchecked, as /docs did (73D): /docs is the one page
    )
    install_problem_handlers(app)
    app.include_router(health.router)  # no key: none of the key's answers
    app.include_router(docs_page.router)
    for module in (customers, jobs, bills, dashboard, reviews, admin):
        # 429 only where a rate limit applies: the routes that start jobs or take uploads say so.
        # 503: any route while Postgres or object storage cannot be reached (``problems.database_down_response``).
        app.include_router(
            module.router,
            responses=problem_responses(401, 403, 404, 422, 503),
            dependencies=[Depends(refuse_unknown_query_params)],
        )
    app.include_router(ui.router)
    # The last added runs first: CORS (so every answer, a 413 too, is readable cross-origin), then the
    # body limit (so no middleware or route reads a body it has not measured), then UI sessions, then
    # the key check that answers 401 before FastAPI parses a body, then the watch for a multipart body cut short.
    app.add_middleware(MultipartEnding)
    app.add_middleware(AuthenticateBeforeBody)
    app.add_middleware(ui.UISessionMiddleware)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.request_max_bytes,
        upload_bytes=settings.upload_max_bytes,
        upload_paths=("/bills", "/codec/encode", "/codec/decode"),  # the codec: Temporal payloads up to 2 MB
    )
    # Refused here, not on the first request: Starlette builds its middleware only once the server runs.
    app.add_middleware(CodecCORS, allow_origins=codec_origins(settings.cors_origins))
    return app
