"""What every worker process needs: a unit of work on its engine, the artifact store, and
the bookkeeping of its calls to testbeds (a testbed that cannot be reached is offline)."""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db.models import Testbed, utcnow
from shared.db.session import process_sessions, unit_of_work
from shared.store import ArtifactStore, open_store
from shared.testbeds.base import Unreachable

log = logging.getLogger(__name__)


def transaction() -> AbstractContextManager[Session]:
    """One unit of work on this process's engine: commits on success."""
    return unit_of_work(process_sessions(get_settings().db_url))


_stores: dict[str, ArtifactStore] = {}


def store() -> ArtifactStore:
    """The configured artifact store, made once per process (an S3 one keeps its client)."""
    settings = get_settings()
    where = f"{settings.artifact_store}|{settings.home}|{settings.s3_endpoint_url}"
    if where not in _stores:
        _stores[where] = open_store(settings)
    return _stores[where]


@contextmanager
def reaching(testbed: Testbed) -> Iterator[None]:
    """Around a connector's call: an `Unreachable` marks the testbed offline with its reason
    (and goes on); a call that went through brings an offline testbed back online."""
    try:
        yield
    except Unreachable as error:
        mark_offline(testbed.id, str(error), testbed.name)
        raise
    if testbed.state != "online" and testbed.refreshed_at is not None:
        if mark_online(testbed.id, testbed.name):
            testbed.state, testbed.state_reason = "online", None


def mark_offline(testbed_id: uuid.UUID, reason: str, name: str = "") -> None:
    """Best effort, in its own unit of work: the testbed is offline, and why."""
    try:
        with transaction() as session:
            row = session.get(Testbed, testbed_id)
            if row is not None and (row.state, row.state_reason) != ("offline", reason):
                row.state, row.state_reason = "offline", reason
            if row is not None and row.unreachable_since is None:
                row.unreachable_since = utcnow()
    except Exception:  # the database being down must not hide the testbed's failure
        log.exception("could not mark testbed %s offline", name or testbed_id)


def mark_online(testbed_id: uuid.UUID, name: str = "") -> bool:
    """Best effort: an offline testbed that answers again (and was discovered once) is back."""
    try:
        with transaction() as session:
            row = session.get(Testbed, testbed_id)
            if row is not None and row.state == "offline" and row.refreshed_at is not None:
                row.state, row.state_reason, row.unreachable_since = "online", None, None
            return row is not None and row.state == "online"
    except Exception:
        log.exception("could not mark testbed %s online", name or testbed_id)
        return False


def one_at_a_time(work: Callable[[], int]) -> Callable[[], int]:
    """`work` one pass at a time in this process: a call while a pass runs returns 0 at once
    (for loops whose pass can wait out a host that does not answer: the beat's next calls
    must not take the worker's other threads)."""
    lock = threading.Lock()

    @functools.wraps(work)
    def solo() -> int:
        if not lock.acquire(blocking=False):
            return 0
        try:
            return work()
        finally:
            lock.release()

    return solo
