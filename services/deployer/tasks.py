"""deployer.place and deployer.cancel: put a run on a node, or take it off."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from services import worker
from shared import inventory, testbeds
from shared.celery_app import celery_app
from shared.config import get_settings
from shared.db.models import Build, Deployment, Inspection, Node, Run, Testbed, utcnow
from shared.environment import python_requirements
from shared.lifecycle import cas_run, refresh_parent
from shared.schemas import HOST_BASE, DeploymentSpec, InspectionSpec, Requests
from shared.testbeds.base import Job, Tracked

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


def _candidates(session: Session) -> list[inventory.Candidate]:
    rows = session.execute(inventory.online_nodes().where(Node.state == "online"))
    return [inventory.candidate(node, name, kind) for node, name, kind in rows]


def _base_env(run: Run, batch_size: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "TESSERA_RUN_ID": str(run.id),
        "TESSERA_RUN_INDEX": str(run.index),
        "TESSERA_BATCH_SIZE": str(batch_size),
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


@app.task(name="deployer.place")
def place(run_id: str) -> None:
    """Idempotent: the run id is the placement's key on every backend, found and adopted."""
    key = uuid.UUID(run_id)
    with worker.transaction() as session:
        run = session.get(Run, key)
        if run is None or run.state != "queued":
            return
        plan = placement_of(session, run)
        found = inventory.feasible(
            plan.job.hardware,
            _candidates(session),
            testbed=plan.testbed,
            image=plan.image,
            spec_field=plan.spec_field,
        )
        if not isinstance(found, inventory.Unmet) and len(found) > 1:
            nodes = [(c.testbed, c.node.name) for c in found]
            held = inventory.held_by_node(session.execute(inventory.active_requests(nodes)))
            found = inventory.rank(found, plan.job.hardware.accelerators, held)
        chosen_testbed = (
            session.get(Testbed, found[0].testbed_id)
            if not isinstance(found, inventory.Unmet)
            else None
        )
    if isinstance(found, inventory.Unmet) or chosen_testbed is None:
        reason = found.reason if isinstance(found, inventory.Unmet) else "testbed gone"
        _fail(key, f"no node can take it now: {reason}")
        return
    chosen = found[0]
    try:
        connector = testbeds.connector(chosen.kind)
    except ValueError as error:
        _fail(key, str(error))
        return
    backend_ref = connector.place(chosen_testbed, chosen.node.name, key, plan.job)
    adopted = False
    with worker.transaction() as session:
        placed = cas_run(
            session,
            key,
            ["queued"],
            "placed",
            backend_ref=backend_ref,
            testbed_id=chosen.testbed_id,
            node_name=chosen.node.name,
            placed_at=utcnow(),
        )
        if placed:
            refresh_parent(session, session.get(Run, key))
        else:
            now = session.get(Run, key)
            # Another delivery of this task placed it first and this one adopted the same
            # job: nothing to undo. Only a run no longer wanted has what was started stopped.
            adopted = (
                now is not None and now.backend_ref == backend_ref and not now.cancel_requested
            )
    if not placed:
        if not adopted:  # cancelled while being placed: stop what was started
            connector.cancel(chosen_testbed, Tracked(key, backend_ref, chosen.node.name))
        return
    log.info("run %s placed on %s/%s (%s)", run_id, chosen.testbed, chosen.node.name, backend_ref)


@app.task(name="deployer.cancel")
def cancel(run_id: str) -> None:
    """Stop a placed run; the monitor records it as cancelled when it has ended."""
    with worker.transaction() as session:
        run = session.get(Run, uuid.UUID(run_id))
        if run is None or run.state not in ("placed", "running") or run.testbed_id is None:
            return
        testbed = session.get(Testbed, run.testbed_id)
        tracked = Tracked(run.id, run.backend_ref, run.node_name)
    if testbed is not None:
        testbeds.connector(testbed.kind).cancel(testbed, tracked)
