"""The reconciler: re-send the task of every row idle in a state longer than it should be.

Each re-send claims a dedupe key (`task:entity id`) that lives for `reconcile_after_s`:
a second pass, concurrent or the next one, finds the key and sends nothing, so a run's
task is never re-sent twice while the first re-send may still be on its way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services import worker
from shared.applications import settle
from shared.celery_app import send
from shared.config import get_settings
from shared.db.models import Build, DedupeKey, Deployment, Inspection, Run, utcnow
from shared.lifecycle import refresh_parent
from shared.states import REQUEST_TERMINAL

log = logging.getLogger(__name__)


def reconcile() -> dict[str, int]:
    settings = get_settings()
    now = utcnow()
    idle = now - timedelta(seconds=settings.reconcile_after_s)
    stale_build = now - timedelta(seconds=settings.build_timeout_s)
    counts = {"builds": 0, "runs": 0, "cancels": 0, "parents": 0, "executables": 0}
    with worker.transaction() as session:
        stuck = _stuck(session, idle, stale_build)
        counts["parents"] = _refresh_parents(session, idle)
        keys = [f"{task}:{entity}" for task, entity in stuck]
        claimed = claim(session, keys, now + timedelta(seconds=settings.reconcile_after_s))
    kinds = {
        "builder.build": "builds",
        "deployer.place": "runs",
        "deployer.cancel": "cancels",
        "builder.executable": "executables",
    }
    failed = []
    for (task, entity), key in zip(stuck, keys, strict=True):
        if key not in claimed:
            continue
        if send(task, entity):
            counts[kinds[task]] += 1
        else:
            failed.append(key)
    if failed:  # not sent: the next pass may try again
        with worker.transaction() as session:
            session.execute(delete(DedupeKey).where(DedupeKey.key.in_(failed)))
    if any(counts.values()):
        log.info("reconciled %s", counts)
    return counts


def _stuck(session: Session, idle: datetime, stale_build: datetime) -> list[tuple[str, str]]:
    """(task, entity id) of every row whose task should be sent again."""
    builds = session.execute(
        select(Build.id).where(
            or_(
                (Build.state == "pending") & (Build.updated_at < idle),
                (Build.state == "building") & (Build.updated_at < stale_build),
            )
        )
    ).scalars()
    queued = session.execute(
        select(Run.id).where(Run.state == "queued", Run.updated_at < idle)
    ).scalars()
    cancels = session.execute(
        select(Run.id).where(
            Run.state.in_(("placed", "running")),
            Run.cancel_requested.is_(True),
            Run.updated_at < idle,
        )
    ).scalars()
    executables = settle.unsettled_with_ended_runs(session, idle)
    return [
        *(("builder.build", str(i)) for i in builds),
        *(("builder.executable", str(i)) for i in executables),
        *(("deployer.place", str(i)) for i in queued),
        *(("deployer.cancel", str(i)) for i in cancels),
    ]


def _refresh_parents(session: Session, idle: datetime) -> int:
    """Recompute the state of inspections and deployments idle while unfinished."""
    count = 0
    for model in (Inspection, Deployment):
        stale = session.execute(
            select(model.id).where(model.state.not_in(REQUEST_TERMINAL), model.updated_at < idle)
        ).scalars()
        for item_id in stale.all():
            if model is Inspection:
                refresh_parent(session, inspection_id=item_id)
            else:
                refresh_parent(session, deployment_id=item_id)
            count += 1
    return count


def claim(session: Session, keys: Sequence[str], expires_at: datetime) -> set[str]:
    """The keys this pass takes (those no live key holds); expired keys are dropped first."""
    session.execute(delete(DedupeKey).where(DedupeKey.expires_at <= utcnow()))
    if not keys:
        return set()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    claimed: set[str] = set()
    for chunk in _chunks(keys, 500):
        statement = (
            insert(DedupeKey)
            .values([{"key": key, "expires_at": expires_at} for key in chunk])
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(DedupeKey.key)
        )
        claimed.update(session.execute(statement).scalars())
    return claimed


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
