"""One build per content hash at a time, across builder processes and hosts.

On Postgres a session-level advisory lock, held on its own connection for the length of the
build: a builder that dies drops its connection and with it the lease. On SQLite (the
embedded default, one host) a file lock does the same.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

POLL_S = 0.5


class LeaseTimeout(Exception):
    """An identical build held the lease for longer than this build may wait."""


def advisory_key(spec_hash: str) -> int:
    """A signed 64-bit key (Postgres bigint) from the first 16 hex digits of the hash."""
    return int.from_bytes(bytes.fromhex(spec_hash[:16]), "big", signed=True)


@contextmanager
def postgres_lease(
    engine: Engine,
    spec_hash: str,
    *,
    timeout_s: float,
    on_wait: Callable[[], None],
) -> Iterator[None]:
    key = advisory_key(spec_hash)
    deadline = time.monotonic() + timeout_s
    # A Connection, not a Session: a session hands its connection back to the pool at each
    # commit, and a session-level lock belongs to the connection that took it.
    with engine.connect() as connection:
        waited = False
        while True:
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            connection.commit()  # never sit idle in a transaction while waiting
            if taken.scalar():
                break
            if not waited:
                on_wait()
                waited = True
            if time.monotonic() > deadline:
                raise LeaseTimeout(f"an identical build held the lease over {timeout_s:.0f} s")
            time.sleep(POLL_S)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            connection.commit()


@contextmanager
def file_lease(
    folder: Path, spec_hash: str, *, timeout_s: float, on_wait: Callable[[], None]
) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with open(folder / f"{spec_hash}.lock", "w") as handle:
        waited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    on_wait()
                    waited = True
                if time.monotonic() > deadline:
                    raise LeaseTimeout(
                        f"an identical build held the lease over {timeout_s:.0f} s"
                    ) from None
                time.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def held(spec_hash: str, timeout_s: float, on_wait: Callable[[], None]) -> Iterator[None]:
    """The lease of `spec_hash` on the configured database: Postgres, else a file lock."""
    from shared.config import get_settings
    from shared.db.session import process_sessions

    settings = get_settings()
    if settings.db_url.startswith("postgresql"):
        engine = process_sessions(settings.db_url).kw["bind"]
        with postgres_lease(engine, spec_hash, timeout_s=timeout_s, on_wait=on_wait):
            yield
    else:
        with file_lease(
            settings.home / "build-leases", spec_hash, timeout_s=timeout_s, on_wait=on_wait
        ):
            yield
