"""A run's attempts: the key each is known by on its testbed, how one ends, and whether the
run is placed again.

Every placement of a run is an attempt (a `run_attempts` row). The run's own columns
(testbed, node, backend reference, exit code, hwinfo) mirror its current attempt, so the
monitor and the API read one row; the attempts keep the history. A testbed knows an attempt by
its key: the run id for the first (what every version before attempts placed), a UUID made from
the run id and the number for the others, so a later attempt never adopts an earlier one's
runner, folder or job, even on the same node.

Why an attempt ended, as `retry.on` names it: `failed` (an error, a non-zero exit, its
timeout), `lost` (its process vanished, or its node stopped answering past the lost timeout),
`no_capacity` (withdrawn after waiting past `queue_timeout_s`), `interrupted` (the testbed took
its node back). Withdrawn attempts never ran; they do not count against `retry.attempts`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db.models import Deployment, Inspection, Run, RunAttempt, utcnow
from shared.lifecycle import cas_run
from shared.schemas import Retry, default_retry
from shared.specs import DeploymentSpec, InspectionSpec

# The states an attempt ends in; "superseded": re-placed while its host did not answer, and
# stopped (fenced) when the host answered again.
ATTEMPT_STATES = (
    "placed",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "lost",
    "interrupted",
    "withdrawn",
    "superseded",
)
# The retry.on reason of each state an attempt can be retried from.
REASONS = {"failed": "failed", "lost": "lost", "interrupted": "interrupted"}


def key(run_id: uuid.UUID, number: int) -> uuid.UUID:
    """What the testbed knows attempt `number` of the run by."""
    return run_id if number <= 1 else uuid.uuid5(run_id, f"attempt-{number}")


def current_key(run: Run) -> uuid.UUID:
    return key(run.id, run.attempt)


@dataclass(frozen=True)
class Policy:
    """What the run's request says about attempts."""

    retry: Retry
    queue_timeout_s: float | None
    pinned: bool  # `testbed:` in the request: it is never left
    timeout_s: float  # each run's wall time


# Policies by parent id: a request's specification never changes once accepted.
_policies: dict[uuid.UUID, Policy] = {}
_POLICIES_KEPT = 4096


def known_policy(run: Run) -> Policy | None:
    """The run's policy when this process has read it before (no query), else None."""
    parent_id = run.inspection_id or run.deployment_id
    return _policies.get(parent_id) if parent_id is not None else None


def policy(session: Session, run: Run) -> Policy:
    parent_id = run.inspection_id or run.deployment_id
    if parent_id is not None and parent_id in _policies:
        return _policies[parent_id]
    found = _policy(session, run)
    if parent_id is not None:
        if len(_policies) >= _POLICIES_KEPT:
            _policies.clear()
        _policies[parent_id] = found
    return found


def _policy(session: Session, run: Run) -> Policy:
    parent: Inspection | Deployment | None
    try:
        if run.inspection_id is not None:
            parent = session.get(Inspection, run.inspection_id)
            spec: InspectionSpec | DeploymentSpec | None = (
                InspectionSpec.model_validate(parent.specification) if parent else None
            )
        else:
            parent = session.get(Deployment, run.deployment_id)
            spec = DeploymentSpec.model_validate(parent.specification) if parent else None
    except ValueError:  # a row an older version wrote: one attempt, as then
        spec = None
    default_timeout = get_settings().run_timeout_s
    if spec is None:
        return Policy(default_retry(), None, False, default_timeout)
    return Policy(
        spec.retry_policy(),
        spec.queue_timeout(),
        spec.testbed is not None,
        float(spec.run_timeout() or default_timeout),
    )


def counted(session: Session, run_id: uuid.UUID) -> int:
    """The attempts that count against `retry.attempts` (every one but the withdrawn)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(RunAttempt)
            .where(RunAttempt.run_id == run_id, RunAttempt.state != "withdrawn")
        ).scalar_one()
    )


def again(session: Session, run: Run, reason: str, rules: Policy | None = None) -> bool:
    """Whether the run's request asks for another attempt after one ended for `reason`."""
    if run.cancel_requested:
        return False
    rules = rules or policy(session, run)
    return reason in rules.retry.on and counted(session, run.id) < rules.retry.attempts


def begin(
    session: Session,
    run: Run,
    testbed_id: uuid.UUID,
    node: str,
    backend_ref: str,
    placement: dict[str, Any],
) -> RunAttempt:
    """The row of the attempt just placed (number `run.attempt`, already advanced)."""
    row = RunAttempt(
        run_id=run.id,
        number=run.attempt,
        key=key(run.id, run.attempt),
        state="placed",
        testbed_id=testbed_id,
        node_name=node,
        backend_ref=backend_ref,
        placement=placement,
        placed_at=utcnow(),
    )
    session.add(row)
    return row


def mark(session: Session, run_id: uuid.UUID, number: int, state: str, **values: Any) -> None:
    """Move the attempt to `state` (ended states get their end time)."""
    if state not in ("placed", "running"):
        values.setdefault("finished_at", utcnow())
    session.execute(
        update(RunAttempt)
        .where(RunAttempt.run_id == run_id, RunAttempt.number == number)
        .values(state=state, **values)
        .execution_options(synchronize_session=False)
    )


def mark_running(
    session: Session, keys: Sequence[tuple[uuid.UUID, int]], started_at: datetime
) -> None:
    """Move many attempts (run id, number) to running in one statement."""
    if keys:
        session.execute(
            update(RunAttempt)
            .where(tuple_(RunAttempt.run_id, RunAttempt.number).in_(list(keys)))
            .values(state="running", started_at=started_at)
            .execution_options(synchronize_session=False)
        )


def requeue(session: Session, run: Run, expected: tuple[str, ...], why: str) -> bool:
    """Move the run back to `queued` for its next attempt, its placement columns cleared."""
    return cas_run(
        session,
        run.id,
        expected,
        "queued",
        state_reason=why[:500],
        testbed_id=None,
        node_name=None,
        backend_ref=None,
        placed_at=None,
        started_at=None,
        finished_at=None,
        exit_code=None,
        hwinfo=None,
    )


def not_before(session: Session, run: Run, backoff_s: float) -> datetime | None:
    """When the run's next attempt may be placed: its last attempt's end plus the backoff."""
    if backoff_s <= 0 or run.attempt == 0:
        return None
    ended = session.execute(
        select(RunAttempt.finished_at).where(
            RunAttempt.run_id == run.id, RunAttempt.number == run.attempt
        )
    ).scalar_one_or_none()
    return None if ended is None else ended + timedelta(seconds=backoff_s)


def avoided(session: Session, run_id: uuid.UUID) -> set[uuid.UUID]:
    """Testbeds an earlier attempt of the run was withdrawn from for lack of capacity."""
    found = (
        session.execute(
            select(RunAttempt.testbed_id).where(
                RunAttempt.run_id == run_id,
                RunAttempt.state == "withdrawn",
                RunAttempt.testbed_id.is_not(None),
            )
        )
        .scalars()
        .all()
    )
    return {testbed_id for testbed_id in found if testbed_id is not None}
