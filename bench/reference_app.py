"""The submit benchmark's yardstick: FastAPI, one asyncpg INSERT, one Redis LPUSH, nothing else.

No ORM, no validation, no auth: the least a submit endpoint can do on the same stack. Run by
bench/submit.py as `python bench/reference_app.py --port N` with BENCH_REF_DSN (PostgreSQL),
BENCH_REF_REDIS_URL and BENCH_REF_QUEUE (the Redis list) in the environment.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

TABLE = "bench_submit"
# The API's SQLAlchemy pool holds 20 connections (plus 10 overflow); the same base size here.
POOL_SIZE = 20


def create_app(dsn: str, redis_url: str, queue: str) -> FastAPI:
    """The reference app: POST /submit stores the body as a row and queues its id."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=POOL_SIZE)
        redis = Redis.from_url(redis_url)
        try:
            await pool.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                " id uuid PRIMARY KEY,"
                " body jsonb NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now())"
            )
            app.state.pool = pool
            app.state.redis = redis
            yield
        finally:
            await redis.aclose()
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/submit", status_code=202)
    async def submit(request: Request) -> JSONResponse:
        body = await request.body()
        item = uuid.uuid4()
        # asyncpg sends jsonb as text: PostgreSQL parses it, the app does not.
        await request.app.state.pool.execute(
            f"INSERT INTO {TABLE} (id, body) VALUES ($1, $2)", item, body.decode()
        )
        redis: Redis = request.app.state.redis
        await redis.lpush(queue, str(item))
        return JSONResponse({"id": str(item)}, status_code=202)

    return app


def main() -> None:
    """Serve the reference app the way `tessera api` serves the API: one uvicorn worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(
        os.environ["BENCH_REF_DSN"],
        os.environ["BENCH_REF_REDIS_URL"],
        os.environ.get("BENCH_REF_QUEUE", "bench:submit"),
    )
    # The same settings as services/cli/server.py `api`: loop and http "auto" (uvloop, httptools).
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
