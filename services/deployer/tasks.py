"""deployer.place and deployer.cancel: put a run on a node, or take it off."""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services import worker
from shared import attempts, hardware, placement, ranking, testbeds, workflow_data
from shared.applications import jobs as app_jobs
from shared.applications import settle
from shared.celery_app import celery_app, send
from shared.config import get_settings
from shared.db.models import Build, Deployment, Inspection, Node, Run, Testbed, utcnow
from shared.environment import python_requirements
from shared.hardware import HardwareSpec
from shared.hardware.spec import options as hardware_options
from shared.lifecycle import TURN, cas_run, refresh_parent
from shared.schemas import HOST_BASE, Requests
from shared.specs import DeploymentSpec, InspectionSpec
from shared.states import RUN_TERMINAL
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
    testbeds: tuple[str, ...] = ()  # a workflow's allowed testbeds (any when empty)
    workflow: bool = False  # a workflow's copy: placed where it can start soonest
    avoid_kinds: tuple[str, ...] = ()  # testbed kinds a workflow's copy cannot run on
    build: uuid.UUID | None = None  # the executable this run builds


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


FIELD = "run.requests.hardware"


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
    return _workflow_copy(session, run, Placement(job, requests, spec.testbed, image, FIELD))


def _deployment_placement(session: Session, run: Run, deployment: Deployment) -> Placement:
    spec = DeploymentSpec.model_validate(app_jobs.without_build(deployment.specification))
    requests = spec.run_requests()
    # An application's build or executable: its files (the source, the artifact) go along.
    parts = app_jobs.job_parts(session, worker.store(), deployment.specification, spec.command)
    image = parts.image or spec.image
    job = Job(
        argv=parts.argv,
        files=parts.files,
        env=_base_env(run, deployment.batch_size) | spec.environment,
        timeout_s=_timeout(spec.timeout),
        log_cap=get_settings().log_cap_bytes,
        hardware=requests.spec(),
        cpu=float(requests.cpu) if requests.cpu is not None else None,
        memory=requests.memory_bytes(),
        image=image,
        slurm=requests.slurm_options(),
        deadline=spec.deadline,
    )
    build = settle.build_of(session, run)
    plan = Placement(job, requests, spec.testbed, image, "requests.hardware", build=build)
    return _workflow_copy(session, run, plan)


def _workflow_copy(session: Session, run: Run, plan: Placement) -> Placement:
    """A workflow's copy (of a deployment or an inspection task) gets its inputs, outputs
    and variables, its workflow's testbeds, and goes where it can start soonest."""
    extra = workflow_data.job_additions(session, worker.store(), run)
    if extra is None:
        return plan
    job = plan.job
    job = dataclasses.replace(job, files=[*job.files, *extra.files], env={**job.env, **extra.env})
    return dataclasses.replace(
        plan, job=job, testbeds=extra.testbeds, workflow=True, avoid_kinds=extra.avoid_kinds
    )


def placement_of(session: Session, run: Run) -> Placement:
    if run.inspection_id is not None:
        inspection = session.get(Inspection, run.inspection_id)
        assert inspection is not None
        return _inspection_placement(session, run, inspection)
    deployment = session.get(Deployment, run.deployment_id)
    assert deployment is not None
    return _deployment_placement(session, run, deployment)


def given_job(job: Job, given: HardwareSpec) -> Job:
    """The job with the hardware its node gives it (the alternative taken, each count range
    fixed), and the number of GPUs it got in TESSERA_GPU_COUNT."""
    count = sum(a.count for a in given.accelerators if a.kind == "gpu")
    env = {**job.env, "TESSERA_GPU_COUNT": str(count)} if given.accelerators else job.env
    return dataclasses.replace(job, hardware=given, env=env)


def _fail(run_id: uuid.UUID, reason: str) -> None:
    build = None
    with worker.transaction() as session:
        if cas_run(session, run_id, ["queued"], "failed", state_reason=reason):
            run = session.get(Run, run_id)
            refresh_parent(session, run)
            build = settle.build_of(session, run) if run is not None else None
    if build is not None:  # a build that could not be placed: its executable fails
        send("builder.executable", str(build))


@dataclass(frozen=True)
class Chosen:
    """Where placement puts a run: the node, its testbed row, its stored inventory, the
    hardware it is given there (one alternative, count ranges fixed) and why it was chosen
    (stored on the attempt)."""

    candidate: placement.Candidate
    testbed: Testbed
    inventory: dict[str, Any]
    why: dict[str, Any]
    hardware: HardwareSpec


@dataclass(frozen=True)
class Waiting:
    """Nodes fit the run, but none has the accelerators it asks for free now."""

    reason: str


@dataclass(frozen=True)
class _Option:
    """One alternative of the run's hardware, as placement found it."""

    number: int
    spec: HardwareSpec
    ranked: list[placement.Candidate]
    held: placement.Held
    load: ranking.Load
    busy: str | None


def _choose(session: Session, run: Run, plan: Placement) -> Chosen | Waiting | str:
    """The best node that fits now, across every allowed testbed (feasibility, then ranking),
    for each alternative the run's hardware allows (SkyPilot's any-of: the one with the most
    free; its ordered list: the first that can start now); Waiting when every node that fits
    has its devices held (by Tessera's runs or other work), or when a retried run's pinned
    testbed is offline; or why no node ever fits."""
    candidates = _candidates(session)
    if plan.testbeds:
        candidates = [c for c in candidates if c.testbed in plan.testbeds]
    if plan.avoid_kinds:
        candidates = [c for c in candidates if c.kind not in plan.avoid_kinds]
    options: list[_Option] = []
    unmet: placement.Unmet | None = None
    for number, spec in enumerate(hardware_options(plan.job.hardware)):
        found = _option(session, run, plan, candidates, number, spec)
        if isinstance(found, placement.Unmet):
            unmet = unmet or found
        else:
            options.append(found)
    if not options:
        assert unmet is not None
        if run.attempt > 0 and plan.testbed is not None and unmet.field == "testbed":
            return Waiting(f"attempt {run.attempt + 1} waits for its testbed: {unmet.reason}")
        return unmet.reason
    free = [option for option in options if option.busy is None]
    if not free:
        return Waiting(str(options[0].busy))
    best = free[0] if plan.job.hardware.ordered else max(free, key=_spare)
    node = best.ranked[0]
    testbed = session.get(Testbed, node.testbed_id)
    if testbed is None:
        return "testbed gone"
    inventory = session.execute(
        select(Node.inventory).where(Node.testbed_id == testbed.id, Node.name == node.node.name)
    ).scalar_one_or_none()
    given = ranking.grant(node, best.spec, best.held)
    why = ranking.explain(best.ranked, best.spec.accelerators, best.held, best.load)
    why["held"] = hardware.to_dict(HardwareSpec(accelerators=given.accelerators))
    if len(options) > 1 or plan.job.hardware.choices:
        why["alternative"] = {"number": best.number, "hardware": hardware.to_dict(best.spec)}
    return Chosen(node, testbed, inventory or {}, why, given)


def _option(
    session: Session,
    run: Run,
    plan: Placement,
    candidates: list[placement.Candidate],
    number: int,
    spec: HardwareSpec,
) -> _Option | placement.Unmet:
    found = placement.feasible(
        spec,
        candidates,
        testbed=plan.testbed,
        image=plan.image,
        spec_field=plan.spec_field,
        slurm=plan.job.slurm,
    )
    if isinstance(found, placement.Unmet):
        return found
    withdrawn = attempts.avoided(session, run.id)
    if withdrawn and any(c.testbed_id not in withdrawn for c in found):
        found = [c for c in found if c.testbed_id not in withdrawn]
    wanted = spec.accelerators
    nodes = [(c.testbed, c.node.name) for c in found]
    held: placement.Held = {}
    load = ranking.NO_LOAD
    busy = None
    if len(found) > 1 or wanted:
        # What Tessera's runs hold matters on nodes with accelerators only: a run that asks for
        # none reads the runs of those (its ranking keeps free accelerators for others), not
        # of every node it fits (at 10,000 active runs that read was most of a placement).
        counted = (
            nodes if wanted else [(c.testbed, c.node.name) for c in found if c.node.accelerators]
        )
        held = (
            placement.held_by_node(session.execute(placement.active_requests(counted)))
            if counted
            else {}
        )
        load = ranking.load_of(session.execute(ranking.load_query({t for t, _ in nodes})))
        found = ranking.rank(found, wanted, held, load)
        if plan.workflow:  # a workflow's copy: where it can start soonest
            found = workflow_data.soonest(found, load, plan.job.cpu)
        busy = ranking.busy(found, wanted, held)
    return _Option(number, spec, found, held, load, busy)


def _spare(option: _Option) -> int:
    """How many devices the option's best node has free beyond what it asks."""
    return ranking.spare(option.ranked[0], option.spec.accelerators, option.held)


def _turn(session: Session, run: Run) -> str | None:
    """Why the run waits for its turn, when its inspection caps how many run at once (Amun's
    parallelism): a run may start only while fewer than `parallelism` runs before it (by
    index) have not ended. The runs that may go are thus the first `parallelism` unended ones,
    a set that only moves forward, so two deployers never both start one too many."""
    if run.inspection_id is None:
        return None
    inspection = session.get(Inspection, run.inspection_id)
    limit = (inspection.specification or {}).get("parallelism") if inspection else None
    if not limit:
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(Run)
        .where(
            Run.inspection_id == run.inspection_id,
            Run.index < run.index,
            Run.state.not_in(tuple(RUN_TERMINAL)),
        )
    )
    if (ahead or 0) < int(limit):
        return None
    return f"{TURN}: parallelism {limit}, and {ahead} earlier runs have not ended"


def _record(
    run_id: uuid.UUID, number: int, chosen: Chosen, backend_ref: str, build: uuid.UUID | None
) -> str:
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
            if build is not None:
                settle.started(session, build)
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
        turn = _turn(session, run)
        # An application's source or executable deleted since: nothing to place.
        missing = app_jobs.missing(session, worker.store(), run)
        plan = None
        if missing is None:
            try:
                plan = placement_of(session, run)
            except workflow_data.InputsError as error:  # a workflow's inputs gone or too big
                missing = str(error)
        number = run.attempt + 1
        start = attempts.not_before(session, run, attempts.policy(session, run).retry.backoff_s)
        chosen = (
            None
            if plan is None or turn is not None or (start is not None and start > utcnow())
            else _choose(session, run, plan)
        )
    if missing is not None or plan is None:
        _fail(key, missing or "nothing to place")
        return
    if turn is not None:
        _wait(key, turn)
        return
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
    job = given_job(plan.job, chosen.hardware)
    try:
        with worker.reaching(chosen.testbed):
            backend_ref = connector.place(chosen.testbed, node, attempt_key, job, chosen.inventory)
    except NoCapacity as error:  # the node cannot start it now: it stays queued, tried again
        _wait(key, f"{chosen.testbed.name}/{node}: {error}")
        return
    notes = getattr(connector, "placement_notes", None)  # what a cloud launch tried
    found = notes(attempt_key) if notes is not None else None
    if found:
        chosen = dataclasses.replace(chosen, why={**chosen.why, **found})
    outcome = _record(key, number, chosen, backend_ref, plan.build)
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
