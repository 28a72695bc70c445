"""monitor.*: poll runs, collect what finished runs left, refresh inventory (and recheck
what does not answer), reconcile."""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, update

from services import worker
from services.monitor import failover, inventory, orphans, workflows
from services.monitor import reconcile as reconciler
from services.monitor.lease import lease
from services.monitor.results import final_state, result_document
from shared import attempts, testbeds
from shared.applications import settle
from shared.celery_app import celery_app, send
from shared.config import get_settings
from shared.db.models import Node, Run, Testbed, utcnow
from shared.lifecycle import cas_run, next_in_turn, refresh_parent
from shared.store import ArtifactStore, run_log_key, run_result_key
from shared.testbeds.base import Connector, Observation, Observations, Tracked

log = logging.getLogger(__name__)
app = celery_app()


def _finish(
    testbed: Testbed,
    run: Run,
    connector: Connector,
    state: str | None = None,
    reason: str | None = None,
) -> None:
    """Store an ended attempt's log and result, then move the run to its final state, or back
    to `queued` for another attempt when its request's retry policy says so.

    With `state` given (a run that vanished), only what is left is stored.
    """
    settings = get_settings()
    store = worker.store()
    tracked = Tracked(attempts.current_key(run), run.backend_ref, run.node_name)
    with worker.reaching(testbed):
        collected = connector.collect(testbed, tracked, settings.log_cap_bytes)
    if collected.log is not None:
        store.put(run_log_key(run.id), collected.log)
    retry_in: float | None = None
    turn: list[uuid.UUID] = []
    workflow: uuid.UUID | None = None
    build: uuid.UUID | None = None
    with worker.transaction() as session:
        current = session.get(Run, run.id)
        if current is None or current.state not in ("placed", "running"):
            return
        if current.attempt != run.attempt:
            return  # another pass moved it on meanwhile
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
            result["attempt"] = run.attempt
            store.put(run_result_key(run.id), json.dumps(result).encode())
            state, reason = final_state(
                result, current.cancel_requested, attempts.policy(session, current).timeout_s
            )
            exit_code = result["exit_code"]
            if state == "succeeded" and collected.status.get("outputs_error"):
                state, reason = "failed", str(collected.status["outputs_error"])
        elif current.cancel_requested:
            state, reason = "cancelled", "cancelled by request"
        ended: dict[str, Any] = {"state_reason": reason, "hwinfo": hwinfo, "exit_code": exit_code}
        began = _started(collected.status) if current.started_at is None else None
        if began is not None:  # it ran and ended between two looks: it started when it says
            ended["started_at"] = began
        why = attempts.REASONS.get(state)
        rules = attempts.policy(session, current)
        if why is not None and attempts.again(session, current, why, rules):
            attempts.mark(session, run.id, run.attempt, state, **ended)
            backoff = rules.retry.backoff_s
            note = f"attempt {run.attempt} {state}: {reason}; attempt {run.attempt + 1}"
            note += f" in {backoff:g} s" if backoff else " is being placed"
            if attempts.requeue(session, current, ("placed", "running"), note):
                refresh_parent(session, current)
                retry_in = backoff
        elif cas_run(session, run.id, ["placed", "running"], _run_state(state), **ended):
            attempts.mark(session, run.id, run.attempt, state, **ended)
            refresh_parent(session, current)
            turn = next_in_turn(session, current)
            workflow = workflows.run_ended(session, store, current, state, collected.status)
            build = settle.build_of(session, current)
    if build is not None:  # an application's build: its executable takes the outcome
        send("builder.executable", str(build))
    if workflow is not None:  # its workflow's next stage may be ready now
        send("monitor.workflow_advance", str(workflow))
    for waiting in turn:  # its inspection's parallelism lets the next ones go now
        send("deployer.place", str(waiting))
    if retry_in is not None:
        _keep_log(store, run)
        send("deployer.place", str(run.id), countdown=retry_in or None)


def _started(status: dict[str, Any]) -> datetime | None:
    """When the run's command started, as its testbed recorded it (ISO 8601, UTC)."""
    text = status.get("start")
    if not isinstance(text, str):
        return None
    try:
        began = datetime.fromisoformat(text)
    except ValueError:
        return None
    return began if began.tzinfo is not None else began.replace(tzinfo=UTC)


def _run_state(state: str) -> str:
    """The run's state for an attempt that ended so: an interrupted one not retried is lost
    (the attempt keeps `interrupted`)."""
    return "lost" if state == "interrupted" else state


def _keep_log(store: ArtifactStore, run: Run) -> None:
    """An ended attempt's log moves beside the run's (the next attempt's starts empty)."""
    data = store.get(run_log_key(run.id))
    if data:
        store.put(f"runs/{run.id}/attempts/{run.attempt}/log", data)
    store.put(run_log_key(run.id), b"")


def _follow(
    testbed: Testbed, run: Run, seen: Observation, connector: Connector, now: datetime
) -> bool:
    """Bring one run's row in step with what its testbed reports. True for a placed run
    first seen running: the caller marks those together (_mark_running)."""
    if seen.state == "ended":
        _finish(testbed, run, connector)
        return False
    if seen.state == "interrupted":  # the testbed took its machine back (a spot instance)
        _finish(testbed, run, connector, "interrupted", seen.reason)
        return False
    if seen.state == "gone":
        placed_at = run.placed_at or run.updated_at
        if now - placed_at > timedelta(seconds=get_settings().lost_after_s):
            _finish(
                testbed,
                run,
                connector,
                "lost",
                "the run ended without recording an end "
                "(its node restarted, or its process or job was killed)",
            )
        return False
    if run.log_watched_until is not None and run.log_watched_until > now:  # someone reads it
        store = worker.store()
        tracked = Tracked(attempts.current_key(run), run.backend_ref, run.node_name)
        with worker.reaching(testbed):
            data = connector.live_log(testbed, tracked, store.size(run_log_key(run.id)))
        if data is not None:
            store.put(run_log_key(run.id), data)
    if seen.state == "running" and run.state == "placed":
        return True
    if seen.state == "pending" and run.state == "placed":
        if seen.reason and seen.reason != run.state_reason:
            with worker.transaction() as session:
                cas_run(session, run.id, ["placed"], "placed", state_reason=seen.reason)
        failover.queue_timeout(testbed, run, connector, seen.reason, now)
    return False


def _mark_running(runs: Sequence[Run], now: datetime) -> int:
    """Placed runs first seen running, in one unit of work: one UPDATE of the runs still
    placed, one of their attempts, and each parent recomputed once (a deployment of a
    thousand runs that start in one cycle is counted once, not a thousand times). Parents
    are locked in one order, so two monitors marking runs of one parent cannot deadlock.
    How many moved."""
    if not runs:
        return 0
    with worker.transaction() as session:
        moved = session.execute(
            update(Run)
            .where(Run.id.in_([r.id for r in runs]), Run.state == "placed")
            .values(state="running", started_at=now, state_reason=None, updated_at=now)
            .returning(Run.id, Run.attempt, Run.inspection_id, Run.deployment_id)
            .execution_options(synchronize_session=False)
        ).all()
        attempts.mark_running(session, [(r.id, r.attempt) for r in moved], now)
        for inspection_id in sorted({r.inspection_id for r in moved if r.inspection_id}):
            refresh_parent(session, inspection_id=inspection_id)
        for deployment_id in sorted({r.deployment_id for r in moved if r.deployment_id}):
            refresh_parent(session, deployment_id=deployment_id)
    return len(moved)


def _store_nodes(testbed: Testbed, seen: Observations, asked_at: datetime) -> None:
    """What the cycle's call read of the nodes (the devices other work holds, the hosts that
    did not answer), for placement and failover."""
    try:
        inventory.store_held_by_others(testbed.id, seen.held_by_others)
        inventory.mark_hosts(testbed.id, seen.unreachable, seen.answered, asked_at)
    except Exception:  # the runs are still followed; the next cycle writes them again
        log.exception("storing the nodes of testbed %s failed", testbed.name)


ACTIVE = ("placed", "running")


def _active_testbeds() -> list[Testbed]:
    """The testbeds with placed or running runs (read through the partial index of active
    runs: ended runs cost nothing here), in an order of this call's own, so monitors that
    start a cycle together try different testbeds first."""
    with worker.transaction() as session:
        busy = select(Run.testbed_id).where(Run.state.in_(ACTIVE)).distinct()
        found = list(session.execute(select(Testbed).where(Testbed.id.in_(busy))).scalars())
    random.shuffle(found)
    return found


# What a cycle reads of every active run: enough to ask the testbed and to see whether the
# answer changes anything. The whole row is loaded only for the runs where it does.
_GLANCE = (Run.id, Run.attempt, Run.state, Run.backend_ref, Run.node_name, Run.log_watched_until)
_CHUNK = 1000  # ids per IN (...) when loading the runs to act on


def _acts(state: str, watched_until: datetime | None, seen: Observation, now: datetime) -> bool:
    """Whether what the testbed said of a run asks for anything (see _follow): a running run
    still running, its log unwatched, asks for nothing."""
    if seen.state not in ("running", "pending"):
        return True
    return state == "placed" or (watched_until is not None and watched_until > now)


def _poll_testbed(testbed: Testbed) -> int:
    """One batched look at one testbed's active runs (read by index), and each run whose
    state the answer changes brought in step with it."""
    with worker.transaction() as session:
        rows = session.execute(
            select(*_GLANCE).where(Run.testbed_id == testbed.id, Run.state.in_(ACTIVE))
        ).all()
    if not rows:
        return 0
    by_key = {attempts.key(r.id, r.attempt): r for r in rows}
    asked_at = utcnow()
    try:
        connector = testbeds.connector(testbed.kind)
        with worker.reaching(testbed):
            seen = connector.observe(
                testbed, [Tracked(k, r.backend_ref, r.node_name) for k, r in by_key.items()]
            )
    except Exception:  # one testbed failing must not stop the others being watched
        log.exception("polling testbed %s failed", testbed.name)
        return len(rows)
    if isinstance(seen, Observations):
        _store_nodes(testbed, seen, asked_at)
    now = utcnow()
    acting = [
        (key, row)
        for key, row in by_key.items()
        if key in seen and _acts(row.state, row.log_watched_until, seen[key], now)
    ]
    runs: dict[uuid.UUID, Run] = {}
    for at in range(0, len(acting), _CHUNK):
        ids = [row.id for _, row in acting[at : at + _CHUNK]]
        with worker.transaction() as session:
            runs.update(
                (r.id, r) for r in session.execute(select(Run).where(Run.id.in_(ids))).scalars()
            )
    starting: list[Run] = []
    for key, row in acting:
        run = runs.get(row.id)
        if run is None or run.attempt != row.attempt or run.state not in ACTIVE:
            continue  # moved on since the glance
        try:
            if _follow(testbed, run, seen[key], connector, now):
                starting.append(run)
        except Exception:
            log.exception("following run %s failed", run.id)
    for at in range(0, len(starting), _CHUNK):
        try:
            _mark_running(starting[at : at + _CHUNK], now)
        except Exception:  # they are still placed: the next cycle marks them
            log.exception("marking runs of testbed %s running failed", testbed.name)
    return len(rows)


def poll_cycle() -> dict[uuid.UUID, int]:
    """One cycle: every testbed with active runs whose lease this monitor can take (another
    monitor polling one now keeps it: lease.py), one batched look each; then the runs of
    testbeds and hosts that stopped answering are failed over. Returns the runs it polled
    by testbed."""
    polled: dict[uuid.UUID, int] = {}
    for testbed in _active_testbeds():
        with lease(testbed.id) as mine:
            if mine:
                polled[testbed.id] = _poll_testbed(testbed)
    try:
        failover.fail_over()
    except Exception:
        log.exception("failing over the runs of unreachable testbeds failed")
    return polled


@app.task(name="monitor.poll", expires=30)
def poll() -> int:
    """One monitor cycle (poll_cycle); the number of runs it polled."""
    return sum(poll_cycle().values())


@app.task(name="monitor.fence", expires=30)
def fence() -> int:
    """Stop the runners of superseded attempts on hosts that answer again."""
    return failover.fence()


@app.task(name="monitor.refresh", expires=300)
def refresh(testbed_id: str | None = None) -> int:
    """Re-discover one testbed's nodes, or every testbed's: each in its own units of work, so
    a testbed that hangs holds no transaction open for the others. How many were asked."""
    query = select(Testbed.id, Testbed.name).where(Testbed.kind.in_(testbeds.KINDS), Testbed.live())
    if testbed_id is not None:
        query = query.where(Testbed.id == uuid.UUID(testbed_id))
    return _refresh_each(query)


@app.task(name="monitor.recheck", expires=60)
@worker.one_at_a_time
def recheck() -> int:
    """Re-discover the testbeds that do not answer, or have hosts that do not: a host that
    comes back is online within one recheck interval, whether or not a run of it is followed
    (the poll only asks the hosts of active runs), not at the next full refresh. One pass at
    a time in a process: a host that still does not answer holds it up to the SSH connect
    timeout."""
    lost_hosts = select(Node.testbed_id).where(Node.unreachable_since.is_not(None))
    query = select(Testbed.id, Testbed.name).where(
        Testbed.kind.in_(testbeds.KINDS),
        Testbed.live(),
        or_(Testbed.unreachable_since.is_not(None), Testbed.id.in_(lost_hosts)),
    )
    return _refresh_each(query)


def _refresh_each(query: Select[uuid.UUID, str]) -> int:
    with worker.transaction() as session:
        found = session.execute(query).all()
    for key, name in found:
        try:
            inventory.refresh_testbed(key)
        except Exception:  # one testbed failing must not keep the others stale
            log.exception("refreshing testbed %s failed", name)
    return len(found)


@app.task(name="monitor.reconcile", expires=60)
def reconcile() -> dict[str, int]:
    """Re-send the task of every row stuck longer than the timeout; fix stale parents;
    terminate cloud instances that no run has (orphans)."""
    counts = reconciler.reconcile()
    try:
        counts["orphans"] = orphans.reap()
    except Exception:  # the database or a cloud API away: the next pass looks again
        log.exception("reaping orphan instances failed")
    return counts


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The monitor's loops (each left out when its `*_enabled` setting is off)."""
    settings = get_settings()
    loops = {
        "poll": (settings.poll_enabled, settings.poll_interval_s, settings.poll_interval_s * 5),
        "reconcile": (
            settings.reconcile_enabled,
            settings.reconcile_interval_s,
            settings.reconcile_interval_s,
        ),
        "refresh": (
            settings.refresh_enabled,
            settings.refresh_interval_s,
            settings.refresh_interval_s,
        ),
        "recheck": (
            settings.refresh_enabled,
            settings.recheck_interval_s,
            settings.recheck_interval_s,
        ),
        "fence": (settings.poll_enabled, settings.fence_interval_s, settings.fence_interval_s),
        "workflow_tick": (settings.poll_enabled, workflows.TICK_S, workflows.TICK_S * 5),
    }
    return {
        name: {
            "task": f"monitor.{name}",
            "schedule": interval,
            "options": {"expires": expires},
        }
        for name, (enabled, interval, expires) in loops.items()
        if enabled
    }
