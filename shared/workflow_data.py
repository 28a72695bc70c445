"""Data between a workflow's stages: outputs collected after a task copy succeeded, inputs
delivered into a dependent copy's run folder before its command starts.

Outputs: the task's globs go to the node as one more job file (OUTPUTS_FILE, in the work
folder, shipped by every connector like any other file); the runner (shared/runner.py) packs
the matching files into status.json after the command exited 0, which every connector
already hands back (a Kubernetes pod's tessera-exec sends them in its log instead:
shared/testbeds/kubernetes/outputs.py). The monitor stores each file in the artifact store by
its SHA-256 (`artifact_key`) and records it (WorkflowOutput). Inputs: the deployer reads
them back from the store and adds them to the job's files, so they reach local, SSH, SLURM
and Kubernetes (ConfigMap, so about 1 MiB in all there) runs the way the request's own files
do.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import posixpath
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from shared.db.models import Run, Workflow, WorkflowOutput, WorkflowTask
from shared.placement import Candidate
from shared.ranking import Load
from shared.store import ArtifactStore
from shared.workflow_spec import WorkflowSpec

OUTPUTS_FILE = ".tessera-outputs.json"  # read by shared/runner.py; keep the two in step
OUTPUTS_CAP = 4 * 1024 * 1024  # bytes of outputs one copy may leave (they ride status.json)
INPUTS_CAP = 64 * 1024 * 1024  # bytes of inputs one copy may receive
# Testbed kinds that cannot hand a copy's outputs back (a copy with outputs avoids them).
# None now: Kubernetes pods, which never run shared/runner.py, send them through
# tessera-exec (shared/testbeds/kubernetes/outputs.py).
NO_OUTPUTS: tuple[str, ...] = ()


class InputsError(Exception):
    """A copy's inputs cannot be delivered (gone from the store, or too large)."""


@dataclass(frozen=True)
class Additions:
    """What a workflow adds to a task copy's job."""

    workflow_id: uuid.UUID
    files: list[tuple[str, bytes, bool]]
    env: dict[str, str]
    testbeds: tuple[str, ...]
    avoid_kinds: tuple[str, ...] = ()  # testbed kinds the copy cannot run on


def artifact_key(sha256: str) -> str:
    return f"artifacts/sha256/{sha256[:2]}/{sha256}"


# The deployment or inspection a run belongs to: a task's copies are the runs of one.
PARENT = func.coalesce(Run.deployment_id, Run.inspection_id)


def parent_id(task: WorkflowTask) -> uuid.UUID | None:
    """The deployment or inspection whose runs are the task's copies (None: not released)."""
    return task.deployment_id or task.inspection_id


def copies_of(ids: list[uuid.UUID]) -> ColumnElement[bool]:
    """The runs of these deployments and inspections (tasks' parents)."""
    return or_(Run.deployment_id.in_(ids), Run.inspection_id.in_(ids))


def task_of(session: Session, run: Run) -> WorkflowTask | None:
    """The workflow task the run is a copy of (by its deployment or its inspection)."""
    if run.inspection_id is not None:
        where = WorkflowTask.inspection_id == run.inspection_id
    elif run.deployment_id is not None:
        where = WorkflowTask.deployment_id == run.deployment_id
    else:
        return None
    return session.execute(select(WorkflowTask).where(where)).scalar_one_or_none()


def job_additions(session: Session, store: ArtifactStore, run: Run) -> Additions | None:
    """The files, variables and allowed testbeds a workflow's copy adds; None for a run that
    belongs to no workflow."""
    task = task_of(session, run)
    if task is None:
        return None
    workflow = session.get(Workflow, task.workflow_id)
    assert workflow is not None
    spec = WorkflowSpec.model_validate(workflow.specification)
    mine = spec.task(task.stage, task.name)
    env = {
        "TESSERA_TASK_INDEX": str(run.index),
        "TESSERA_TASK_COUNT": str(task.count),
        "TESSERA_WORKFLOW_ID": str(workflow.id),
        "TESSERA_STAGE": task.stage,
        "TESSERA_TASK": task.name,
    }
    files: list[tuple[str, bytes, bool]] = []
    if mine.outputs:
        wanted = {"globs": mine.outputs, "cap": OUTPUTS_CAP}
        files.append((OUTPUTS_FILE, json.dumps(wanted).encode(), False))
    files += _inputs(session, store, workflow.id, mine.inputs)
    avoid = NO_OUTPUTS if mine.outputs else ()
    return Additions(workflow.id, files, env, tuple(spec.testbeds or ()), avoid)


def _inputs(
    session: Session, store: ArtifactStore, workflow_id: uuid.UUID, inputs: list[Any]
) -> list[tuple[str, bytes, bool]]:
    files: dict[str, bytes] = {}
    total = 0
    for item in inputs:
        stage, _, name = item.from_.partition("/")
        rows = session.execute(
            select(WorkflowOutput.path, WorkflowOutput.sha256, WorkflowOutput.size)
            .join(WorkflowTask, WorkflowTask.id == WorkflowOutput.task_id)
            .where(
                WorkflowTask.workflow_id == workflow_id,
                WorkflowTask.stage == stage,
                WorkflowTask.name == name,
            )
            .order_by(WorkflowOutput.index, WorkflowOutput.path)
        ).all()
        for path, digest, size in rows:
            total += size
            if total > INPUTS_CAP:
                raise InputsError(f"inputs over {INPUTS_CAP} bytes")
            data = store.get(artifact_key(digest))
            if data is None:
                raise InputsError(f"input {item.from_}:{path} is gone from the artifact store")
            # Copies of one task that leave the same path: the highest index wins.
            files[posixpath.normpath(posixpath.join(item.path, path))] = data
    return [(path, data, False) for path, data in files.items()]


def _safe_path(value: object) -> str | None:
    if not isinstance(value, str) or not value or "\x00" in value or "\\" in value:
        return None
    normal = posixpath.normpath(value)
    if normal.startswith(("/", "..")) or ".." in normal.split("/") or len(normal) > 255:
        return None
    return normal


def record_outputs(
    session: Session, store: ArtifactStore, run: Run, status: dict[str, Any]
) -> WorkflowTask | None:
    """Store what a succeeded copy left (status["outputs"]: path, base64 data) by content
    hash and record it, replacing what an earlier attempt of the copy recorded; its task, or
    None for a run of no workflow."""
    task = task_of(session, run)
    if task is None:
        return None
    session.execute(
        delete(WorkflowOutput).where(
            WorkflowOutput.task_id == task.id, WorkflowOutput.index == run.index
        )
    )
    seen: set[str] = set()
    for item in status.get("outputs") or []:
        if not isinstance(item, dict):
            continue
        path = _safe_path(item.get("path"))
        if path is None or path in seen:
            continue
        try:
            data = base64.b64decode(str(item.get("data") or ""), validate=True)
        except (binascii.Error, ValueError):
            continue
        digest = hashlib.sha256(data).hexdigest()
        key = artifact_key(digest)
        if store.size(key) is None:
            store.put(key, data)
        seen.add(path)
        session.add(
            WorkflowOutput(
                task_id=task.id,
                run_id=run.id,
                index=run.index,
                path=path,
                sha256=digest,
                size=len(data),
            )
        )
    return task


def soonest(found: list[Candidate], load: Load, cpu: float | None) -> list[Candidate]:
    """Late binding: a workflow's copy goes where it can start soonest. Nodes with a core
    free for it now (their cores less Tessera's active runs there, each counted at the
    copy's cpu request or one core) before full ones, then the testbed with the shortest
    queue, then the node with the most cores free; ties keep `found`'s order (the general
    ranking's: nodes without accelerators first)."""
    need = cpu or 1.0

    def key(candidate: Candidate) -> tuple[int, int, float]:
        active = load.active.get((candidate.testbed, candidate.node.name), 0)
        free = (candidate.node.cores or 1) - active * need
        return (0 if free >= need else 1, load.queued.get(candidate.testbed, 0), -free)

    return sorted(found, key=key)
