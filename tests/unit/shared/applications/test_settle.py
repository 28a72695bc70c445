"""An executable takes its build's outcome once, by compare-and-set, from the stored result."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

from services import worker
from shared.applications import settle
from shared.config import Settings
from shared.db.migrate import upgrade
from shared.db.models import Application, Deployment, Executable, Project, Run, utcnow
from shared.store import run_result_key

ARCHIVE = b"not really gzip, but bytes with a digest"


def _build(package: str = "tar.gz") -> tuple[uuid.UUID, uuid.UUID]:
    """A project's application with one executable and its build run (queued)."""
    with worker.transaction() as session:
        project = Project(name=f"p-{uuid.uuid4().hex[:6]}")
        session.add(project)
        session.flush()
        app = Application(project_id=project.id, name="a", state="active", source_digest="d")
        executable_id = uuid.uuid4()
        deployment = Deployment(
            project_id=project.id,
            specification={"command": ["python3"], settle.BUILD_OF: str(executable_id)},
            batch_size=1,
        )
        session.add_all([app, deployment])
        session.flush()
        session.add(
            Executable(
                id=executable_id,
                project_id=project.id,
                application_id=app.id,
                configuration="generic",
                spec={"build_script": ["make"], "artifacts": ["bin/*"]},
                build_hash="h" * 64,
                source_digest="d",
                deployment_id=deployment.id,
                package=package,
            )
        )
        run = Run(project_id=project.id, deployment_id=deployment.id, index=0, state="queued")
        session.add(run)
        session.flush()
        return executable_id, run.id


def _end(run_id: uuid.UUID, state: str, stdout: Any) -> None:
    worker.store().put(run_result_key(run_id), json.dumps({"stdout": stdout}).encode())
    with worker.transaction() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.state, run.node_name = state, "node-1"


def _built(blob: bytes = ARCHIVE) -> dict[str, Any]:
    return {
        "tessera_build": {
            "archive_b64": base64.b64encode(blob).decode(),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "artifacts": ["bin/app"],
        }
    }


def _state(executable_id: uuid.UUID) -> Executable:
    with worker.transaction() as session:
        row = session.get(Executable, executable_id)
        assert row is not None
        session.expunge(row)
        return row


def test_outcomes_say_why() -> None:
    run = Run(id=uuid.uuid4(), state="succeeded")
    assert settle.outcome(run, {"stdout": _built()})[:2] == ("compiled", None)
    failed = Run(id=uuid.uuid4(), state="failed", state_reason="exit code 2")
    assert settle.outcome(failed, {"stdout": "x"})[:2] == (
        "failed",
        "the build failed: exit code 2",
    )
    assert settle.outcome(Run(state="cancelled"), None)[1] == "the build was cancelled"
    lacking = {"stdout": {"tessera_build": {"exit_code": 4, "missing": ["gfortran", "cmake"]}}}
    assert settle.outcome(failed, lacking)[1] == (
        "the build failed: the node lacks the packages gfortran, cmake"
    )
    truncated = {"stdout": "...", "stdout_truncated": True}
    assert "log cap" in str(settle.outcome(Run(state="failed"), truncated)[1])


def test_placed_then_compiled_once(settings: Settings) -> None:
    upgrade(settings.db_url)
    executable_id, run_id = _build()
    assert _state(executable_id).state == "not_compiled"
    with worker.transaction() as session:
        assert settle.settle(session, worker.store(), executable_id) is None  # not ended
        settle.started(session, executable_id)
    assert _state(executable_id).state == "compiling"
    _end(run_id, "succeeded", _built())
    with worker.transaction() as session:
        done = settle.settle(session, worker.store(), executable_id)
    assert done == settle.Settled("compiled", package=False)
    row = _state(executable_id)
    digest = hashlib.sha256(ARCHIVE).hexdigest()
    assert (row.artifact_digest, row.artifact_size, row.node_name) == (
        digest,
        len(ARCHIVE),
        "node-1",
    )
    assert worker.store().get(settle.artifact_key(digest)) == ARCHIVE
    with worker.transaction() as session:  # asked again: nothing happens
        assert settle.settle(session, worker.store(), executable_id) is None


def test_a_damaged_artifact_fails(settings: Settings) -> None:
    upgrade(settings.db_url)
    executable_id, run_id = _build()
    damaged = _built()
    damaged["tessera_build"]["sha256"] = "0" * 64
    _end(run_id, "succeeded", damaged)
    with worker.transaction() as session:
        assert settle.settle(session, worker.store(), executable_id) == settle.Settled(
            "failed", package=False
        )
    assert _state(executable_id).state_reason == "the build's artifact arrived damaged"


def test_an_image_executable_waits_for_its_image(settings: Settings) -> None:
    upgrade(settings.db_url)
    executable_id, run_id = _build(package="image")
    _end(run_id, "succeeded", _built())
    with worker.transaction() as session:
        assert settle.settle(session, worker.store(), executable_id) == settle.Settled(
            "compiling", package=True
        )
        # Asked again (a crashed packager, the reconcile loop): the image step is due again.
        assert settle.settle(session, worker.store(), executable_id) == settle.Settled(
            "compiling", package=True
        )
        fresh = settle.unsettled_with_ended_runs(session, utcnow() - timedelta(minutes=5))
        assert executable_id not in fresh  # its image is being made: left alone a while
        assert executable_id in settle.unsettled_with_ended_runs(
            session, utcnow() + timedelta(minutes=5)
        )
    row = _state(executable_id)
    assert (row.state, row.state_reason, row.finished_at) == ("compiling", settle.PACKAGING, None)
    with worker.transaction() as session:
        assert settle.packaged(session, executable_id, "reg/app:exe-h", None)
        assert not settle.packaged(session, executable_id, "reg/app:exe-h", None)  # once
    row = _state(executable_id)
    assert (row.state, row.image) == ("compiled", "reg/app:exe-h") and row.finished_at


def test_a_build_that_never_ran_fails_and_is_found_by_reconcile(settings: Settings) -> None:
    upgrade(settings.db_url)
    executable_id, run_id = _build()
    with worker.transaction() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.state, run.state_reason = "failed", "no node can take it now: no node has avx512f"
        session.flush()
        assert settle.unsettled_with_ended_runs(session, utcnow()) == [executable_id]
        assert settle.build_of(session, run) == executable_id
        assert settle.settle(session, worker.store(), executable_id) is not None
    row = _state(executable_id)
    assert row.state == "failed" and "avx512f" in str(row.state_reason)
