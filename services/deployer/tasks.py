"""deployer.place and deployer.cancel: put a run on a node, or take it off."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import worker
from shared import attempts, placement, testbeds
from shared.celery_app import celery_app, send
from shared.config import get_settings
from shared.db.models import Build, Deployment, Inspection, Node, Run, Testbed, utcnow
from shared.environment import python_requirements
from shared.lifecycle import cas_run, refresh_parent
from shared.schemas import HOST_BASE, DeploymentSpec, InspectionSpec, Requests
from shared.testbeds.base import Job, NoCapacity, Tracked

log = logging.getLogger(__name__)
app = celery_app()


@dataclass(frozen=True)
class Placement:
    """A run's job and what choosing its node needs."""

    job: Job
    requests: Requests
    testbed: str | None
    image: str | None
    spec_field: str


def _candidates(session: Session) -> list[placement.Candidate]:
    rows = session.execute(placement.online_nodes().where(Node.state == "online"))
    return [placement.candidate(node, name, kind) for node, name, kind in rows]


def _base_env(run: Run, batch_size: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "TESSERA_RUN_ID": str(run.id),
        "TESSERA_RUN_INDEX": str(run.index),
        "TESSERA_BATCH_SIZE": str(batch_size),
        "TESSERA_ATTEMPT": str(run.attempt + 1),
    }


def _timeout(value: int | None) -> float:
    return float(value or get_settings().run_timeout_s)


def _inspection_placement(session: Session, run: Run, inspection: Inspection) -> Placement:
    spec = InspectionSpec.model_validate(inspection.specification)
    build = session.get(Build, inspection.build_id)
    requests = spec.run_requests()
    env = _base_env(run, inspection.batch_size) | spec.environment
    image = None if spec.base == HOST_BASE else spec.base
    job = Job(
        argv=[],
        env=env,
        files=[(f.path, f.content.encode(), f.executable) for f in spec.files],
        script=("script", (spec.script or "").encode()),
        timeout_s=_timeout(spec.run.timeout if spec.run else None),
        log_cap=get_settings().log_cap_bytes,
        hardware=requests.spec(),
        cpu=float(requests.cpu) if requests.cpu is not None else None,
        memory=requests.memory_bytes(),
        image=build.artifact if build is not None and image is not None else image,
        venv=build.artifact if build is not None and image is None else None,
        python_requirements=tuple(python_requirements(spec)[0]),
        slurm=requests.slurm_options(),
    )
    return Placement(job, requests, spec.testbed, image, "run.requests.hardware")


def _deployment_placement(run: Run, deployment: Deployment) -> Placement:
    spec = DeploymentSpec.model_validate(deployment.specification)
    requests = spec.run_requests()
    job = Job(
        argv=spec.command,
        env=_base_env(run, deployment.batch_size) | spec.environment,
        timeout_s=_timeout(spec.timeout),
        log_cap=get_settings().log_cap_bytes,
        hardware=requests.spec(),
        cpu=float(requests.cpu) if requests.cpu is not None else None,
        memory=requests.memory_bytes(),
        image=spec.image,
        slurm=requests.slurm_options(),
    )
    return Placement(job, requests, spec.testbed, spec.image, "requests.hardware")


def placement_of(session: Session, run: Run) -> Placement:
    if run.inspection_id is not None:
        inspection = session.get(Inspection, run.inspection_id)
        assert inspection is not None
        return _inspection_placement(session, run, inspection)
    deployment = session.get(Deployment, run.deployment_id)
    assert deployment is not None
    return _deployment_placement(run, deployment)


def _fail(run_id: uuid.UUID, reason: str) -> None:
    with worker.transaction() as session:
        if cas_run(session, run_id, ["queued"], "failed", state_reason=reason):
            refresh_parent(session, session.get(Run, run_id))


@dataclass(frozen=True)
class Chosen:
    """Where placement puts a run: the node, its testbed row, its stored inventory, and why
    it was chosen (stored on the attempt)."""

    candidate: placement.Candidate
    testbed: Testbed
    inventory: dict[str, Any]
    why: dict[str, Any]


@dataclass(frozen=True)
class Waiting:
    """Nodes fit the run, but none has the accelerators it asks for free now."""

    reason: str


def _choose(session: Session, run: Run, plan: Placement) -> Chosen | Waiting | str:
    """The best node that fits now, across every allowed testbed (feasibility, then ranking);
    Waiting when every node that fits has its devices held (by Tessera's runs or other work),
    or when a retried run's pinned testbed is offline; or why no node ever fits."""
    found = placement.feasible(
        plan.job.hardware,
        _candidates(session),
        testbed=plan.testbed,
        image=plan.image,
        spec_field=plan.spec_field,
        slurm=plan.job.slurm,
    )
    if isinstance(found, placement.Unmet):
        if run.attempt > 0 and plan.testbed is not None and found.field == "testbed":
            return Waiting(f"attempt {run.attempt + 1} waits for its testbed: {found.reason}")
        return found.reason
    withdrawn = attempts.avoided(session, run.id)
    if withdrawn and any(c.testbed_id not in withdrawn for c in found):
        found = [c for c in found if c.testbed_id not in withdrawn]
    wanted = plan.job.hardware.accelerators
    nodes = [(c.testbed, c.node.name) for c in found]
    held: placement.Held = {}
    load = placement.NO_LOAD
    if len(found) > 1 or wanted:
        held = placement.held_by_node(session.execute(placement.active_requests(nodes)))
        load = placement.load_of(session.execute(placement.load_query({t for t, _ in nodes})))
        found = placement.rank(found, wanted, held, load)
        busy = placement.busy(found, wanted, held)
        if busy is not None:
            return Waiting(busy)
    best = found[0]
    testbed = session.get(Testbed, best.testbed_id)
    if testbed is None:
        return "testbed gone"
    inventory = session.execute(
        select(Node.inventory).where(Node.testbed_id == testbed.id, Node.name == best.node.name)
    ).scalar_one_or_none()
    why = placement.explain(found, wanted, held, load)
    return Chosen(best, testbed, inventory or {}, why)


def _record(run_id: uuid.UUID, number: int, chosen: Chosen, backend_ref: str) -> str:
    """Move the run to `placed` with what was started, as attempt `number`: "placed";
    "adopted" when another delivery of this task recorded the same job first (nothing to
    undo); "unwanted" when the run was cancelled meanwhile (what was started must be
    stopped)."""
    node = chosen.candidate.node.name
    with worker.transaction() as session:
        if cas_run(
            session,
            run_id,
            ["queued"],
            "placed",
            backend_ref=backend_ref,
            state_reason=None,  # the reason it waited, if it did
            testbed_id=chosen.candidate.testbed_id,
            node_name=node,
            placed_at=utcnow(),
            attempt=number,
        ):
            run = session.get(Run, run_id)
            assert run is not None
            attempts.begin(session, run, chosen.candidate.testbed_id, node, backend_ref, chosen.why)
            refresh_parent(session, run)
            return "placed"
        now = session.get(Run, run_id)
        if now is not None and now.backend_ref == backend_ref and not now.cancel_requested:
            return "adopted"
        return "unwanted"


def _wait(run_id: uuid.UUID, reason: str) -> None:
    """The run stays queued, saying why, and its placement is tried again shortly."""
    with worker.transaction() as session:
        waiting = cas_run(session, run_id, ["queued"], "queued", state_reason=reason[:500])
    if waiting:
        send("deployer.place", str(run_id), countdown=get_settings().place_retry_s)


@app.task(name="deployer.place")
def place(run_id: str) -> None:
    """Idempotent: the attempt's key (the run id for the first) is the placement's key on
    every backend, found and adopted."""
    key = uuid.UUID(run_id)
    with worker.transaction() as session:
        run = session.get(Run, key)
        if run is None or run.state != "queued":
            return
        plan = placement_of(session, run)
        number = run.attempt + 1
        start = attempts.not_before(session, run, attempts.policy(session, run).retry.backoff_s)
        chosen = None if start is not None and start > utcnow() else _choose(session, run, plan)
    if chosen is None:  # a retry's backoff has not passed: come back when it has
        assert start is not None
        send("deployer.place", run_id, countdown=(start - utcnow()).total_seconds())
        return
    if isinstance(chosen, str):
        _fail(key, f"no node can take it now: {chosen}")
        return
    if isinstance(chosen, Waiting):
        _wait(key, chosen.reason)
        return
    node = chosen.candidate.node.name
    try:
        connector = testbeds.connector(chosen.candidate.kind)
    except ValueError as error:
        _fail(key, str(error))
        return
    attempt_key = attempts.key(key, number)
    try:
        with worker.reaching(chosen.testbed):
            backend_ref = connector.place(
                chosen.testbed, node, attempt_key, plan.job, chosen.inventory
            )
    except NoCapacity as error:  # the node cannot start it now: it stays queued, tried again
        _wait(key, f"{chosen.testbed.name}/{node}: {error}")
        return
    outcome = _record(key, number, chosen, backend_ref)
    if outcome == "unwanted":  # cancelled while being placed: stop what was started
        with worker.reaching(chosen.testbed):
            connector.cancel(chosen.testbed, Tracked(attempt_key, backend_ref, node))
    elif outcome == "placed":
        log.info(
            "run %s attempt %d placed on %s/%s (%s)",
            run_id,
            number,
            chosen.testbed.name,
            node,
            backend_ref,
        )


@app.task(name="deployer.cancel")
def cancel(run_id: str) -> None:
    """Stop a placed run; the monitor records it as cancelled when it has ended."""
    with worker.transaction() as session:
        run = session.get(Run, uuid.UUID(run_id))
        if run is None or run.state not in ("placed", "running") or run.testbed_id is None:
            return
        testbed = session.get(Testbed, run.testbed_id)
        tracked = Tracked(attempts.current_key(run), run.backend_ref, run.node_name)
    if testbed is not None:
        with worker.reaching(testbed):
            testbeds.connector(testbed.kind).cancel(testbed, tracked)
