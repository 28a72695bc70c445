"""Runs that outlive their testbed: failover when a testbed or host stops answering, the
withdrawal of runs that wait too long in a queue, and the fencing of superseded runners.

Never twice at once: an attempt is superseded only once it is known gone or may be treated
so. A run that had not started (pending in a scheduler's queue) is moved at once when its
testbed stops answering; a started one only after `lost_after_s` without an answer. Either
way its attempt is marked `fence_pending`: when the host answers again, `fence` stops its
runner (or job) and records what it did as superseded, never as the run's result.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services import worker
from services.monitor import inventory
from shared import attempts, testbeds
from shared.celery_app import send
from shared.config import get_settings
from shared.db.models import Node, Run, RunAttempt, Testbed, utcnow
from shared.lifecycle import cas_run, refresh_parent
from shared.placement import ACTIVE
from shared.testbeds.base import Connector, Tracked, Unreachable

log = logging.getLogger(__name__)


def fail_over(now: datetime | None = None) -> dict[str, int]:
    """Move the active runs of testbeds and hosts that stopped answering: those not started
    at once (unless pinned to the testbed), the others once `lost_after_s` has passed when
    `lost` is in their retry policy. Without that they wait for the testbed to answer again;
    `lost` only once their own wall time has passed too."""
    now = now or utcnow()
    lost_after = timedelta(seconds=get_settings().lost_after_s)
    counts = {"moved": 0, "retried": 0, "lost": 0}
    resend: list[tuple[uuid.UUID, float]] = []
    with worker.transaction() as session:
        rows = session.execute(
            select(Run, Testbed.kind, Testbed.state_reason, Testbed.unreachable_since, Node)
            .join(Testbed, Run.testbed_id == Testbed.id)
            .outerjoin(Node, (Node.testbed_id == Run.testbed_id) & (Node.name == Run.node_name))
            .where(
                Run.state.in_(ACTIVE),
                or_(Testbed.unreachable_since.is_not(None), Node.unreachable_since.is_not(None)),
            )
        ).all()
        for run, kind, testbed_reason, testbed_since, node in rows:
            node_since = node.unreachable_since if node is not None else None
            since = min(t for t in (testbed_since, node_since) if t is not None)
            what = "host" if node_since is not None else "testbed"
            why = (node.state_reason if node_since is not None and node else testbed_reason) or ""
            rules = attempts.policy(session, run)
            if run.state == "placed" and _queues(kind) and not rules.pinned:
                note = f"its {what} stopped answering before it started ({why})"
                if _supersede(session, run, "withdrawn", note, f"attempt {run.attempt} moved"):
                    resend.append((run.id, 0.0))
                    counts["moved"] += 1
                continue
            if now - since <= lost_after:
                continue
            note = f"its {what} has not answered for {(now - since).total_seconds():.0f} s ({why})"
            if attempts.again(session, run, "lost", rules):
                backoff = rules.retry.backoff_s
                next_note = f"attempt {run.attempt} lost: {note}; attempt {run.attempt + 1}"
                if _supersede(session, run, "lost", note, next_note):
                    resend.append((run.id, backoff))
                    counts["retried"] += 1
            # Without a retry nothing is gained by giving up early: a scheduler keeps running
            # its jobs while its login node is away, and the real end is read when it is back.
            # Past the run's own wall time, nothing more can come.
            elif now - since > lost_after + timedelta(seconds=rules.timeout_s):
                if _end(session, run, note):
                    counts["lost"] += 1
    for run_id, countdown in resend:
        send("deployer.place", str(run_id), countdown=countdown or None)
    if any(counts.values()):
        log.info("failover: %s", counts)
    return counts


def _queues(kind: str) -> bool:
    try:
        return bool(testbeds.connector(kind).queues)
    except ValueError:
        return False


def _supersede(session: Session, run: Run, state: str, reason: str, note: str) -> bool:
    """End the run's attempt as `state` (its runner fenced when its host is back) and queue
    the run for its next attempt."""
    number = run.attempt
    if not attempts.requeue(session, run, tuple(ACTIVE), note):
        return False
    attempts.mark(session, run.id, number, state, state_reason=reason[:500], fence_pending=True)
    refresh_parent(session, run)
    return True


def _end(session: Session, run: Run, reason: str) -> bool:
    """The run is lost (cancelled, if that was asked) with its attempt, to be fenced."""
    state = "cancelled" if run.cancel_requested else "lost"
    if not cas_run(session, run.id, ACTIVE, state, state_reason=reason[:500]):
        return False
    attempts.mark(
        session, run.id, run.attempt, state, state_reason=reason[:500], fence_pending=True
    )
    refresh_parent(session, run)
    return True


def queue_timeout(
    testbed: Testbed, run: Run, connector: Connector, reason: str | None, now: datetime
) -> bool:
    """Withdraw a run that has waited in its testbed's queue past its `queue_timeout_s`
    (cancelled, acknowledged by the scheduler) and queue it for another testbed, when its
    policy retries on `no_capacity`. True when it was withdrawn."""
    rules = attempts.known_policy(run)  # each cycle asks for every queued run: no query
    if rules is None:
        with worker.transaction() as session:
            rules = attempts.policy(session, run)
    limit = rules.queue_timeout_s
    if limit is None or rules.pinned or run.placed_at is None:
        return False
    if now - run.placed_at <= timedelta(seconds=limit):
        return False
    with worker.transaction() as session:
        if not attempts.again(session, run, "no_capacity", rules):
            return False
    tracked = Tracked(attempts.current_key(run), run.backend_ref, run.node_name)
    with worker.reaching(testbed):
        connector.cancel(testbed, tracked)  # raises unless the scheduler took it
    waited = (now - run.placed_at).total_seconds()
    note = f"waited {waited:.0f} s in {testbed.name}'s queue ({reason or 'pending'})"
    with worker.transaction() as session:
        current = session.get(Run, run.id)
        if current is None or current.attempt != run.attempt:
            return False
        number = current.attempt
        if not attempts.requeue(session, current, ("placed",), f"attempt {number}: {note}"):
            return False
        attempts.mark(session, run.id, number, "withdrawn", state_reason=f"no capacity: {note}")
        refresh_parent(session, current)
    send("deployer.place", str(run.id))
    return True


@worker.one_at_a_time
def fence() -> int:
    """Stop the runners of superseded attempts whose host answers again; how many were.
    One pass at a time in a process: a host that still does not answer holds it a while."""
    with worker.transaction() as session:
        rows = session.execute(
            select(RunAttempt, Testbed)
            .join(Testbed, RunAttempt.testbed_id == Testbed.id)
            .where(RunAttempt.fence_pending.is_(True))
            .order_by(RunAttempt.placed_at)
        ).all()
    groups: dict[tuple[uuid.UUID, str], tuple[Testbed, list[RunAttempt]]] = {}
    for attempt, testbed in rows:
        where = (testbed.id, attempt.node_name or "")
        groups.setdefault(where, (testbed, []))[1].append(attempt)
    fenced = 0
    for (testbed_id, node), (testbed, found) in groups.items():
        try:
            connector = testbeds.connector(testbed.kind)
        except ValueError:
            continue
        for attempt in found:
            try:
                outcome = _stop(testbed, connector, attempt)
            except Unreachable:
                break  # the host still does not answer: the rest of its attempts wait too
            except Exception:
                log.exception("fencing attempt %s of run %s failed", attempt.number, attempt.run_id)
                continue
            with worker.transaction() as session:
                reason = f"{attempt.state_reason or attempt.state}; fenced: {outcome}"
                attempts.mark(
                    session,
                    attempt.run_id,
                    attempt.number,
                    "superseded",
                    state_reason=reason[:1000],
                    fence_pending=False,
                    finished_at=utcnow(),
                )
            fenced += 1
        else:
            _answered(testbed_id, node, testbed)
    if fenced:
        log.info("fenced %d superseded attempts", fenced)
    return fenced


def _stop(testbed: Testbed, connector: Connector, attempt: RunAttempt) -> str:
    """Stop a superseded attempt's runner; what it had done by then."""
    tracked = Tracked(attempt.key, attempt.backend_ref, attempt.node_name)
    left = connector.collect(testbed, tracked, 64 * 1024)
    if left.status.get("end"):
        code = left.status.get("exit_code")
        return f"it had ended by itself (exit code {code}) while its host did not answer"
    connector.cancel(testbed, tracked)
    return "its runner was stopped when its host answered again"


def _answered(testbed_id: uuid.UUID, node: str, testbed: Testbed) -> None:
    """A host that took the fencing calls is back: its node (and testbed) online again."""
    if node:
        inventory.mark_hosts(testbed_id, {}, [node])
    if testbed.state == "offline":
        worker.mark_online(testbed_id, testbed.name)
