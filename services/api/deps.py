"""Request dependencies: the database session, the unit of work, the caller's identity."""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.api.errors import Forbidden, TooManyRequests, Unauthorized
from services.api.submit import SubmitRows, insert_rows
from services.api.submit_pg import PgSubmits
from shared.config import Settings
from shared.db.models import ApiToken
from shared.security import hash_token


@dataclass(frozen=True)
class Principal:
    project_id: uuid.UUID
    is_admin: bool


Task = tuple[str, str]  # a task's name and its one argument (an id)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for reading: never committed (a request that writes opens a UnitOfWork).

    Closed once the response has been sent: a streamed log reads through it first."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


class UnitOfWork:
    """A request's writes and the tasks they call for; its end is the request's one commit.

    `async with UnitOfWork(request) as work:` in an endpoint that writes. Inside, it writes
    through `work.session` (opened on first use) or hands over a submit's rows
    (`work.submit`), names the tasks to send (`work.send`) and what to do once the writes are
    in (`work.after_commit`). When the block ends without an error the rows are committed,
    and only then are the tasks sent, so a request that fails (or whose commit fails: 503)
    leaves no task behind; a task the broker refuses after the commit is re-sent by the
    reconciler. The block ends before the endpoint returns, so before its response is sent.

    Not a yield dependency: FastAPI's exit of one costs about 40 us a request (an anyio
    cancel scope, a shielded exit), near a tenth of a submit's CPU, and only
    `scope="function"` would run it before the response is sent.
    """

    def __init__(self, request: Request) -> None:
        state = request.app.state
        self._sessions: async_sessionmaker[AsyncSession] = state.sessions
        self._pg: PgSubmits | None = state.pg  # None but on PostgreSQL
        self._publisher = state.publisher
        self._session: AsyncSession | None = None
        self._submits: list[SubmitRows] = []
        self._tasks: list[Task] = []
        self._after: list[Callable[[], None]] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessions()
        return self._session

    def submit(self, rows: SubmitRows) -> None:
        self._submits.append(rows)

    def send(self, *tasks: Task) -> None:
        self._tasks.extend(tasks)

    def after_commit(self, action: Callable[[], None]) -> None:
        self._after.append(action)

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        try:
            if error_type is None:
                await self._commit()
        finally:
            await self._close()

    async def _commit(self) -> None:
        if self._pg is not None and self._session is None:
            # PostgreSQL without a session: each submit is one statement, atomic by itself,
            # coalesced with the submits beside it (services/api/submit_pg.py).
            for rows in self._submits:
                await self._pg.write(rows)
        else:
            for rows in self._submits:
                await insert_rows(self.session, rows)
        if self._session is not None:
            await self._session.commit()
            await self._close()  # the connection is back in its pool before the broker is used
        for action in self._after:
            action()
        # Together: a deployment's runs go in one LPUSH.
        await asyncio.gather(*(self._publisher.send(name, arg) for name, arg in self._tasks))

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()  # rolls back what was not committed
            self._session = None


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


class TokenCache:
    """Token digest -> principal, for a few seconds: saves a query on every request."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, digest: str, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest] = (principal, time.monotonic() + self.ttl)


class RateLimiter:
    """A token bucket per API token: `rate` requests a second, bursts of twice that."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}  # digest -> (tokens, stamp)

    def wait_for(self, digest: str) -> float:
        """0 when the request may go; else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        capacity = 2 * self.rate
        tokens, stamp = self._buckets.get(digest, (capacity, now))
        tokens = min(capacity, tokens + (now - stamp) * self.rate)
        if tokens < 1:
            self._buckets[digest] = (tokens, now)
            return (1 - tokens) / self.rate
        if len(self._buckets) > 100_000:
            self._buckets.clear()
        self._buckets[digest] = (tokens - 1, now)
        return 0.0


async def get_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    digest = hash_token(token.strip())
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.wait_for(digest)
    if wait > 0:
        raise TooManyRequests(
            f"over {limiter.rate:g} requests a second for this token", retry_after=wait
        )
    principal = await principal_of(request, digest)
    if principal is None:
        raise Unauthorized("the token is unknown or revoked")
    return principal


async def principal_of(request: Request, digest: str) -> Principal | None:
    """Who the token with this digest is (None: unknown or revoked), cached for
    `auth_cache_s`; the API's bearer tokens and the dashboard's sessions alike."""
    cache: TokenCache = request.app.state.token_cache
    principal = cache.get(digest)
    if principal is not None:
        return principal
    # Its own short session: a request whose token is cached needs no database to be known.
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        row = (
            await session.execute(
                select(ApiToken.token_hash, ApiToken.project_id, ApiToken.is_admin).where(
                    ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)
                )
            )
        ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    principal = Principal(project_id=row.project_id, is_admin=row.is_admin)
    cache.put(digest, principal)
    return principal


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this endpoint needs an admin token")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
AdminDep = Annotated[Principal, Depends(get_admin)]


def app_state(request: Request) -> Any:
    return request.app.state
