"""Request dependencies: the database session and the caller's identity."""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.api.errors import Forbidden, TooManyRequests, Unauthorized
from shared.config import Settings
from shared.db.models import ApiToken
from shared.security import hash_token


@dataclass(frozen=True)
class Principal:
    project_id: uuid.UUID
    is_admin: bool


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


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
        raise Unauthorized("the token is unknown or revoked")
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
