"""Live logs as server-sent events: new bytes as `data:` events, then `event: end`.

Logs live in the artifact store and grow while work runs (the monitor copies a run's log
every poll while someone reads it, the builder flushes its log every second); the state
lives in the database. Reading a run's log (here, or its dashboard page) marks it watched for
TESSERA_LOG_WATCH_S, renewed while a stream is open: the monitor copies the logs of watched
runs only, so logs nobody reads cost no remote call per cycle (they are collected at the end). A
stream polls both, each check in a fresh session so that a stream open for an hour does not
hold one of the API's pooled connections for that hour.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.concurrency import run_in_threadpool

from services.api.errors import NotFound, TesseraError, Unauthorized, Unavailable, Unprocessable
from shared.config import get_settings
from shared.db.models import Build, Run, utcnow
from shared.states import BUILD_TERMINAL, RUN_TERMINAL
from shared.store import ArtifactStore

log = logging.getLogger(__name__)

POLL_S = 0.5
HEARTBEAT_S = 10.0
RETRY_MS = 2000
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

SSE_DOC = (
    "With `follow=true`: `text/event-stream`. Each `data:` event carries the bytes that "
    "arrived since the last one, decoded as UTF-8, one `data:` line per line (join them with "
    "newlines to get the text back; CR and CRLF count as line ends, as in the SSE format); "
    "its `id:` is the byte offset reached, which `Last-Event-ID` or `offset` resume from. "
    "Comments (`: keep-alive`) are sent while nothing happens. When the work has ended and "
    'the whole log was sent, one `event: end` carries `{"state", "state_reason", '
    '"exit_code"}` as JSON and the stream closes.'
)
_LOG_200: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The log so far, or a live stream of it with `follow=true`.",
        "content": {
            "text/plain": {"schema": {"type": "string"}, "example": "hello\n"},
            "text/event-stream": {
                "schema": {"type": "string", "description": SSE_DOC},
                "example": "retry: 2000\n\ndata: hello\ndata: \nid: 6\n\nevent: end\ndata: "
                '{"state": "succeeded", "state_reason": null, "exit_code": 0}\n\n',
            },
        },
    }
}


def log_responses(
    *errors: type[TesseraError],
) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a log endpoint: its text 200 and its errors, which are JSON.

    A route whose response class is text would document the errors' model as text too;
    spelled out here, they say what the API sends.
    """
    documented = dict(_LOG_200)
    every: tuple[type[TesseraError], ...] = (Unauthorized, NotFound, Unprocessable, Unavailable)
    for error in (*every, *errors):
        documented[error.status_code] = {
            "description": error.error,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
    return documented


@dataclass(frozen=True)
class End:
    """How the work ended: the payload of the final `end` event."""

    state: str
    state_reason: str | None = None
    exit_code: int | None = None


Probe = Callable[[], Awaitable[End | None]]


def event(text: str, *, name: str | None = None, event_id: str | None = None) -> bytes:
    """One SSE event; every line of `text` becomes a `data:` line, so joining gives it back."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fields = [f"event: {name}"] if name else []
    fields += [f"data: {line}" for line in lines]
    if event_id is not None:
        fields.append(f"id: {event_id}")
    return ("\n".join(fields) + "\n\n").encode()


async def watch(session: AsyncSession, run_id: uuid.UUID) -> None:
    """Mark the run's log as read for the next TESSERA_LOG_WATCH_S (written only when half
    of that has passed, and without touching the run's updated_at, which the reconciler
    reads)."""
    span = timedelta(seconds=get_settings().log_watch_s)
    now = utcnow()
    await session.execute(
        update(Run)
        .where(
            Run.id == run_id,
            or_(Run.log_watched_until.is_(None), Run.log_watched_until < now + span / 2),
        )
        .values(log_watched_until=now + span, updated_at=Run.updated_at)
        .execution_options(synchronize_session=False)
    )
    await session.commit()


def run_probe(sessions: async_sessionmaker[AsyncSession], run_id: uuid.UUID) -> Probe:
    async def probe() -> End | None:
        async with sessions() as session:
            row = (
                await session.execute(
                    select(Run.state, Run.state_reason, Run.exit_code).where(Run.id == run_id)
                )
            ).first()
            if row is not None and row.state not in RUN_TERMINAL:
                await watch(session, run_id)  # a stream open keeps it watched
        if row is None:
            return End("gone", "the run no longer exists")
        if row.state in RUN_TERMINAL:
            return End(row.state, row.state_reason, row.exit_code)
        return None

    return probe


def build_probe(sessions: async_sessionmaker[AsyncSession], build_id: uuid.UUID) -> Probe:
    async def probe() -> End | None:
        async with sessions() as session:
            row = (
                await session.execute(
                    select(Build.state, Build.state_reason).where(Build.id == build_id)
                )
            ).first()
        if row is None:
            return End("gone", "the build no longer exists")
        if row.state in BUILD_TERMINAL:
            return End(row.state, row.state_reason)
        return None

    return probe


async def stream(
    store: ArtifactStore,
    key: str,
    probe: Probe,
    *,
    offset: int = 0,
    poll_s: float = POLL_S,
    heartbeat_s: float = HEARTBEAT_S,
) -> AsyncIterator[bytes]:
    """Events of the log at `key` from byte `offset` until `probe` says the work has ended."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    sent = offset
    held = ""  # a trailing CR waits: the LF of a CRLF may come in the next chunk
    yield f"retry: {RETRY_MS}\n\n".encode()
    quiet_since = time.monotonic()
    while True:
        try:
            # The state first, the log second: the monitor and the builder store the final
            # log before they record the end, so an end seen here means the log is complete.
            end = await probe()
        except (OperationalError, DBAPIError, PoolTimeout, OSError) as error:
            log.warning("log stream of %s: database unavailable: %s", key, error)
            end = None
        size = await run_in_threadpool(store.size, key)
        if size is not None and size > sent:
            data = await run_in_threadpool(store.get, key) or b""
            text = held + decoder.decode(data[sent:])
            sent = max(sent, len(data))
            held = ""
            if text.endswith("\r") and end is None:
                text, held = text[:-1], "\r"
            if text:
                pending = len(decoder.getstate()[0]) + len(held)
                yield event(text, event_id=str(sent - pending))
                quiet_since = time.monotonic()
        if end is not None:
            tail = held + decoder.decode(b"", final=True)
            if tail:
                yield event(tail, event_id=str(sent))
            yield event(json.dumps(asdict(end)), name="end")
            return
        if time.monotonic() - quiet_since >= heartbeat_s:
            yield b": keep-alive\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(poll_s)


def resume_offset(offset: int | None, last_event_id: str | None) -> int:
    """Where a stream starts: `Last-Event-ID` (a reconnecting EventSource) wins over `offset`."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id.strip())
    return offset or 0


@dataclass(frozen=True)
class Follow:
    """The query of a log endpoint: the log so far, or a live stream from an offset."""

    live: bool
    offset: int


def follow_query(
    follow: Annotated[
        bool, Query(description="Stream the log as server-sent events until the work ends.")
    ] = False,
    offset: Annotated[
        int | None, Query(ge=0, description="With follow: start at this byte of the log.")
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(description="With follow: resume after this event id (a byte offset)."),
    ] = None,
) -> Follow:
    return Follow(live=follow, offset=resume_offset(offset, last_event_id))


FollowDep = Annotated[Follow, Depends(follow_query)]


async def respond(
    request: Request,
    session: AsyncSession,
    key: str,
    probe: Probe,
    follow: Follow,
    run_id: uuid.UUID | None = None,
) -> Response:
    """The log at `key` as text, or (follow) as a stream until `probe` sees the end; a run's
    log (`run_id`) is marked watched."""
    store: ArtifactStore = request.app.state.store
    if run_id is not None:
        await watch(session, run_id)
    if not follow.live:
        data = store.get(key) or b""
        return PlainTextResponse(data.decode(errors="replace"))
    await session.close()  # the stream checks with fresh sessions; free this connection now
    events = stream(store, key, probe, offset=follow.offset)
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
