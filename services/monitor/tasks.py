"""monitor.*: poll runs, collect what finished runs left, refresh inventory, reconcile."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services import worker
from services.monitor.results import final_state, result_document
from shared import testbeds
from shared.celery_app import celery_app, send
from shared.config import get_settings
from shared.db.models import Build, Deployment, Inspection, Run, Testbed, utcnow
from shared.lifecycle import cas_run, refresh_parent
from shared.states import REQUEST_TERMINAL
from shared.store import run_log_key, run_result_key
from shared.testbeds.base import Connector, Observation, Tracked

log = logging.getLogger(__name__)
app = celery_app()


def _timeout_of(session: Session, run: Run) -> float | None:
    parent: Inspection | Deployment | None
    if run.inspection_id is not None:
        parent = session.get(Inspection, run.inspection_id)
        spec = parent.specification if parent else {}
        return (spec.get("run") or {}).get("timeout") or get_settings().run_timeout_s
    parent = session.get(Deployment, run.deployment_id)
    return (parent.specification if parent else {}).get("timeout") or get_settings().run_timeout_s


def _finish(
    testbed: Testbed,
    run: Run,
    connector: Connector,
    state: str | None = None,
    reason: str | None = None,
) -> None:
    """Store an ended run's log and result, then move it to its final state.

    With `state` given (a run that vanished), only what is left is stored.
    """
    settings = get_settings()
    store = worker.store()
    tracked = Tracked(run.id, run.backend_ref, run.node_name)
    collected = connector.collect(testbed, tracked, settings.log_cap_bytes)
    if collected.log is not None:
        store.put(run_log_key(run.id), collected.log)
    with worker.transaction() as session:
        current = session.get(Run, run.id)
        if current is None or current.state not in ("placed", "running"):
            return
        hwinfo: dict[str, Any] | None = collected.hwinfo or None
        exit_code = None
        if state is None:
            result = result_document(
                collected,
                run_id=str(run.id),
                index=run.index,
                testbed=testbed.name,
                node=run.node_name or "",
            )
            store.put(run_result_key(run.id), json.dumps(result).encode())
            state, reason = final_state(
                result, current.cancel_requested, _timeout_of(session, current)
            )
            exit_code = result["exit_code"]
        elif current.cancel_requested:
            state, reason = "cancelled", "cancelled by request"
        if cas_run(
            session,
            run.id,
            ["placed", "running"],
            state,
            state_reason=reason,
            hwinfo=hwinfo,
            exit_code=exit_code,
        ):
            refresh_parent(session, current)


def _follow(testbed: Testbed, run: Run, seen: Observation, connector: Connector) -> None:
    """Bring one run's row in step with what its testbed reports."""
    if seen.state == "ended":
        _finish(testbed, run, connector)
        return
    if seen.state == "gone":
        placed_at = run.placed_at or run.updated_at
        if utcnow() - placed_at > timedelta(seconds=get_settings().lost_after_s):
            _finish(
                testbed,
                run,
                connector,
                "lost",
                "the run ended without recording an end "
                "(its node restarted, or its process or job was killed)",
            )
        return
    store = worker.store()
    tracked = Tracked(run.id, run.backend_ref, run.node_name)
    data = connector.live_log(testbed, tracked, store.size(run_log_key(run.id)))
    if data is not None:
        store.put(run_log_key(run.id), data)
    if seen.state == "running" and run.state == "placed":
        with worker.transaction() as session:
            if cas_run(
                session, run.id, ["placed"], "running", started_at=utcnow(), state_reason=None
            ):
                refresh_parent(session, session.get(Run, run.id))
    elif seen.state == "pending" and seen.reason and seen.reason != run.state_reason:
        with worker.transaction() as session:
            cas_run(session, run.id, ["placed"], "placed", state_reason=seen.reason)


@app.task(name="monitor.poll", expires=30)
def poll() -> int:
    """One pass over every placed or running run: one batched look per testbed."""
    with worker.transaction() as session:
        rows = session.execute(
            select(Run, Testbed)
            .join(Testbed, Run.testbed_id == Testbed.id)
            .where(Run.state.in_(("placed", "running")))
        ).all()
    by_testbed: dict[uuid.UUID, tuple[Testbed, list[Run]]] = {}
    for run, testbed in rows:
        by_testbed.setdefault(testbed.id, (testbed, []))[1].append(run)
    for testbed, runs in by_testbed.values():
        try:
            connector = testbeds.connector(testbed.kind)
            seen = connector.observe(
                testbed, [Tracked(r.id, r.backend_ref, r.node_name) for r in runs]
            )
        except Exception:  # one testbed failing must not stop the others being watched
            log.exception("polling testbed %s failed", testbed.name)
            continue
        for run in runs:
            try:
                if run.id in seen:
                    _follow(testbed, run, seen[run.id], connector)
            except Exception:
                log.exception("following run %s failed", run.id)
    return len(rows)


@app.task(name="monitor.refresh", expires=300)
def refresh(testbed_id: str | None = None) -> None:
    """Re-discover one testbed's nodes, or every testbed's."""
    with worker.transaction() as session:
        query = select(Testbed).where(
            Testbed.kind.in_(testbeds.KINDS), Testbed.name.not_like("removed-%")
        )
        if testbed_id is not None:
            query = query.where(Testbed.id == uuid.UUID(testbed_id))
        for testbed in session.execute(query).scalars():
            testbeds.connector(testbed.kind).refresh(session, testbed)


@app.task(name="monitor.reconcile", expires=60)
def reconcile() -> dict[str, int]:
    """Re-send the task of every row stuck longer than the timeout; fix stale parents."""
    settings = get_settings()
    idle = utcnow() - timedelta(seconds=settings.reconcile_after_s)
    stale_build = utcnow() - timedelta(seconds=settings.build_timeout_s)
    counts = {"builds": 0, "runs": 0, "cancels": 0, "parents": 0}
    with worker.transaction() as session:
        builds = (
            session.execute(
                select(Build.id).where(
                    or_(
                        (Build.state == "pending") & (Build.updated_at < idle),
                        (Build.state == "building") & (Build.updated_at < stale_build),
                    )
                )
            )
            .scalars()
            .all()
        )
        queued = (
            session.execute(select(Run.id).where(Run.state == "queued", Run.updated_at < idle))
            .scalars()
            .all()
        )
        cancels = (
            session.execute(
                select(Run.id).where(
                    Run.state.in_(("placed", "running")),
                    Run.cancel_requested.is_(True),
                    Run.updated_at < idle,
                )
            )
            .scalars()
            .all()
        )
        for model in (Inspection, Deployment):
            stale = (
                session.execute(
                    select(model.id).where(
                        model.state.not_in(REQUEST_TERMINAL), model.updated_at < idle
                    )
                )
                .scalars()
                .all()
            )
            for item_id in stale:
                if model is Inspection:
                    refresh_parent(session, inspection_id=item_id)
                else:
                    refresh_parent(session, deployment_id=item_id)
                counts["parents"] += 1
    for build_id in builds:
        counts["builds"] += send("builder.build", str(build_id))
    for run_id in queued:
        counts["runs"] += send("deployer.place", str(run_id))
    for run_id in cancels:
        counts["cancels"] += send("deployer.cancel", str(run_id))
    if any(counts.values()):
        log.info("reconciled %s", counts)
    return counts


def beat_schedule() -> dict[str, dict[str, Any]]:
    settings = get_settings()
    return {
        "poll": {
            "task": "monitor.poll",
            "schedule": settings.poll_interval_s,
            "options": {"expires": settings.poll_interval_s * 5},
        },
        "reconcile": {
            "task": "monitor.reconcile",
            "schedule": settings.reconcile_interval_s,
            "options": {"expires": settings.reconcile_interval_s},
        },
        "refresh": {
            "task": "monitor.refresh",
            "schedule": settings.refresh_interval_s,
            "options": {"expires": settings.refresh_interval_s},
        },
    }
