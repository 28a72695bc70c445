"""Which monitor polls a testbed: a lease per testbed, so monitor replicas share the testbeds
and never poll one at the same time.

On Postgres the lease is a session advisory lock taken with `pg_try_advisory_lock` on a
connection held for the poll: a monitor that takes it polls, the others skip that testbed
this cycle. No transaction stays open across the remote calls, and a killed monitor's
connection closes with it, so its testbeds are taken by the next cycle of another. SQLite
(the embedded default) has one process tree and one monitor: a lock per testbed in the
process does the same there.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from shared.config import get_settings
from shared.db.session import process_sessions

# The advisory-lock key space is shared by everything on the database: Tessera's keys are
# the first 8 bytes of sha256("tessera-monitor:" + testbed id), signed as Postgres wants.
_PREFIX = b"tessera-monitor:"
_local: dict[uuid.UUID, threading.Lock] = {}
_local_guard = threading.Lock()


def key(testbed_id: uuid.UUID) -> int:
    digest = hashlib.sha256(_PREFIX + str(testbed_id).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def lease(testbed_id: uuid.UUID) -> Iterator[bool]:
    """True inside when this monitor holds the testbed's lease (it polls), False when another
    holds it (it skips); released on leaving."""
    url = get_settings().db_url
    if not url.startswith("postgresql"):
        with _local_guard:
            lock = _local.setdefault(testbed_id, threading.Lock())
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    engine = process_sessions(url).kw["bind"]
    with engine.connect() as connection:
        got = bool(
            connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": key(testbed_id)}
            ).scalar()
        )
        connection.commit()  # the lock is the session's, not a transaction's
        try:
            yield got
        finally:
            if got:
                try:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": key(testbed_id)}
                    )
                    connection.commit()
                except Exception:  # never back to the pool still holding it: close it
                    connection.invalidate()
                    raise
