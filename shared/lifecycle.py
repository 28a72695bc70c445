"""State changes shared by the workers: compare-and-set, and the parent's state kept in step."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from shared.db.models import Build, Deployment, Inspection, Run, utcnow
from shared.states import REQUEST_TERMINAL, RUN_TERMINAL, request_state


def cas_run(
    session: Session, run_id: uuid.UUID, expected: Collection[str], new: str, **values: Any
) -> bool:
    """Move a run to `new` only if it is still in one of `expected`; True if it moved."""
    now = utcnow()
    if new in RUN_TERMINAL:
        values.setdefault("finished_at", now)
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.state.in_(tuple(expected)))
        .values(state=new, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def cas_build(
    session: Session, build_id: uuid.UUID, expected: Collection[str], new: str, **values: Any
) -> bool:
    now = utcnow()
    result = session.execute(
        update(Build)
        .where(Build.id == build_id, Build.state.in_(tuple(expected)))
        .values(state=new, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def refresh_parent(
    session: Session,
    run: Run | None = None,
    *,
    inspection_id: uuid.UUID | None = None,
    deployment_id: uuid.UUID | None = None,
) -> str | None:
    """Recompute an inspection's or deployment's state from its build and runs."""
    if run is not None:
        inspection_id, deployment_id = run.inspection_id, run.deployment_id
    parent: Inspection | Deployment | None
    build_state: str | None = None
    build_reason: str | None = None
    if inspection_id is not None:
        # The row lock orders concurrent finishers: the last one sees every run ended.
        parent = session.execute(
            select(Inspection).where(Inspection.id == inspection_id).with_for_update()
        ).scalar_one_or_none()
        if parent is not None:
            build = session.get(Build, parent.build_id)
            if build is not None:
                build_state, build_reason = build.state, build.state_reason
        runs_filter = Run.inspection_id == inspection_id
    elif deployment_id is not None:
        parent = session.execute(
            select(Deployment).where(Deployment.id == deployment_id).with_for_update()
        ).scalar_one_or_none()
        runs_filter = Run.deployment_id == deployment_id
    else:
        return None
    if parent is None:
        return None
    # Counts by state, in the database: a parent of thousands of runs is not read row by row
    # on every one of their state changes.
    counted = session.execute(
        select(Run.state, func.count(), func.max(case((Run.cancel_requested, 1), else_=0)))
        .where(runs_filter)
        .group_by(Run.state)
    ).all()
    states = [state for state, count, _ in counted for _ in range(count)]
    cancelled = any(flag for _, _, flag in counted) or build_state == "cancelled"
    allowed = int((parent.specification or {}).get("allowed_failures") or 0)
    state = request_state(build_state, states, cancelled, allowed)
    if state != parent.state:
        parent.state = state
        parent.updated_at = utcnow()
        if state in REQUEST_TERMINAL:
            parent.finished_at = utcnow()
        failed = sum(n for s, n, _ in counted if s not in ("succeeded", "cancelled"))
        if state == "succeeded" and failed:
            parent.state_reason = (
                f"{failed} of {len(states)} runs failed, within allowed_failures ({allowed})"
            )
        if state == "failed":
            first = session.execute(
                select(Run.index, Run.state, Run.state_reason)
                .where(runs_filter, Run.state.not_in(("succeeded", "cancelled")))
                .order_by(Run.index)
                .limit(1)
            ).first()
            parent.state_reason = (
                f"build failed: {build_reason}"
                if build_state == "failed"
                else f"{failed} of {len(states)} runs did not succeed; run {first.index}: "
                f"{first.state_reason or first.state}"
                if first is not None
                else None
            )
    return state


TURN = "waits for its turn"


def next_in_turn(session: Session, run: Run) -> list[uuid.UUID]:
    """The queued runs of an ended run's inspection that wait for their turn (its
    parallelism), first by index: the deployer is asked to place them now, not at its next
    retry."""
    if run.inspection_id is None:
        return []
    inspection = session.get(Inspection, run.inspection_id)
    limit = (inspection.specification or {}).get("parallelism") if inspection else None
    if not limit:
        return []
    rows = session.execute(
        select(Run.id)
        .where(
            Run.inspection_id == run.inspection_id,
            Run.state == "queued",
            Run.state_reason.startswith(TURN),
        )
        .order_by(Run.index)
        .limit(int(limit))
    )
    return list(rows.scalars())
