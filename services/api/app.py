"""The API process: app factory, lifespan (engines live here, not at import), routers."""

from __future__ import annotations

import gc
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api import errors, web
from services.api import metrics as api_metrics
from services.api.deps import RateLimiter, TokenCache
from services.api.routers import (
    applications,
    deployments,
    executions,
    health,
    inspections,
    nodes,
    offers,
    runs,
    testbeds,
    workflows,
)
from services.api.service import CandidateCache
from services.api.submit_pg import PgSubmits
from shared.broker import make_publisher
from shared.config import Settings, get_settings
from shared.db.session import async_sessions, make_async_engine
from shared.store import open_store


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, declared or streamed."""

    def __init__(
        self, app: ASGIApp, limit: int, larger: tuple[re.Pattern[str], int] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger  # paths (a source upload) that stream a larger body to disk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.larger is not None and self.larger[0].fullmatch(scope.get("path", "")):
            await BodyLimit(self.app, self.larger[1])(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = (
            b'{"error":"too_large","detail":"the request body is over the limit of '
            + str(self.limit).encode()
            + b' bytes","fields":[]}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_async_engine(settings.db_url, "api")
        app.state.sessions = async_sessions(engine)
        app.state.publisher = make_publisher(settings)
        # PostgreSQL: submits in one statement (services/api/submit_pg.py).
        app.state.pg = PgSubmits(settings.db_url) if engine.dialect.name == "postgresql" else None
        # What the process holds after start (modules, the app, its routes) never becomes
        # garbage: out of the collector's generations, a full collection no longer walks it.
        gc.collect()
        gc.freeze()
        yield
        if app.state.pg is not None:
            await app.state.pg.close()
        await app.state.publisher.close()
        await engine.dispose()

    app = FastAPI(
        title="Tessera",
        version="0.1.0",
        summary="Build the environment an application needs and run it on the hardware "
        "it asks for.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = open_store(settings)
    app.state.token_cache = TokenCache(settings.auth_cache_s)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_s)
    app.state.candidates = CandidateCache(settings.inventory_cache_s)
    errors.install(app)
    # Each router included once, straight into the app: every level of inclusion is matched
    # again on each request.
    for module in (
        inspections,
        deployments,
        runs,
        testbeds,
        nodes,
        offers,
        applications,
        executions,
        workflows,
    ):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(health.router)
    app.include_router(api_metrics.router)
    # The dashboard at / (services/api/web/): pages, none of them in the OpenAPI document.
    web.install(app)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        larger=(applications.SOURCE_PATH, settings.max_source_upload_bytes),
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # Added last, so outermost: refused bodies and errors are counted too.
    app.add_middleware(api_metrics.HttpMetrics)
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory: `uvicorn --factory services.api.app:app_from_env`."""
    return create_app()
