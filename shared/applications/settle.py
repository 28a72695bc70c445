"""An executable takes its build's outcome: in the builder, once the build's run has ended.

The monitor asks for it when it collects a build run (`builder.executable`), the reconcile
loop for any it missed, and the API when it reads an executable whose run has ended. Every
step moves the row by compare-and-set, so asking twice does nothing the second time.

States: `not_compiled` (waiting for a node) -> `compiling` (its run placed) -> `compiled`
or `failed`; `stale` once the application's source is replaced. A tar.gz executable is
compiled when its archive is in the artifact store; an image one once the image holding
that archive is in the registry too (`package` says it is still to be made).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shared.db.models import Deployment, Executable, Run, utcnow
from shared.states import RUN_TERMINAL
from shared.store import ArtifactStore, run_result_key

BUILD_OF = "build_of"  # a build deployment's mark: the executable it builds
UNSETTLED = ("not_compiled", "compiling")
PACKAGING = "packaging the image"


def artifact_key(digest: str) -> str:
    return f"executables/{digest}.tar.gz"


def package_log_key(executable_id: object) -> str:
    return f"executables/{executable_id}/package.log"


@dataclass(frozen=True)
class Settled:
    state: str
    package: bool  # an image is still to be made from the stored archive


def outcome(run: Run, result: dict[str, Any] | None) -> tuple[str, str | None, dict[str, Any]]:
    """(state, reason, build document) of an ended build run."""
    stdout = (result or {}).get("stdout")
    built = stdout.get("tessera_build") if isinstance(stdout, dict) else None
    built = built if isinstance(built, dict) else {}
    if run.state == "succeeded" and built.get("archive_b64"):
        return "compiled", None, built
    if run.state == "cancelled":
        return "failed", "the build was cancelled", built
    reason = run.state_reason or run.state
    if built.get("missing"):
        reason = "the node lacks the packages " + ", ".join(map(str, built["missing"]))
    if result is not None and result.get("stdout_truncated"):
        reason = "the artifacts are over the log cap (TESSERA_LOG_CAP_BYTES)"
    return "failed", f"the build failed: {reason}", built


def build_run(session: Session, executable: Executable) -> Run | None:
    if executable.deployment_id is None:
        return None
    return session.execute(
        select(Run).where(Run.deployment_id == executable.deployment_id)
    ).scalar_one_or_none()


def _artifact(built: dict[str, Any], store: ArtifactStore) -> dict[str, Any] | None:
    """The build's archive checked against its digest and kept by content hash."""
    try:
        blob = base64.b64decode(built["archive_b64"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        return None
    digest = hashlib.sha256(blob).hexdigest()
    if not blob or digest != built.get("sha256"):
        return None
    key = artifact_key(digest)
    store.put(key, blob)
    return {
        "artifact_key": key,
        "artifact_digest": digest,
        "artifact_size": len(blob),
        "artifacts": list(built.get("artifacts") or []),
    }


def settle(session: Session, store: ArtifactStore, executable_id: uuid.UUID) -> Settled | None:
    """Give the executable its ended build's outcome; None when there is nothing to do
    (already settled, or its run has not ended)."""
    executable = session.get(Executable, executable_id)
    if executable is None or executable.state not in UNSETTLED:
        return None
    if executable.state_reason == PACKAGING:
        return Settled("compiling", package=True)  # settled before; the image is pending
    run = build_run(session, executable)
    if run is None or run.state not in RUN_TERMINAL:
        return None
    data = store.get(run_result_key(run.id))
    state, reason, built = outcome(run, json.loads(data) if data else None)
    values: dict[str, Any] = {
        "state": state,
        "state_reason": reason,
        "testbed_id": run.testbed_id,
        "node_name": run.node_name,
        "hwinfo": run.hwinfo,
        "updated_at": utcnow(),
    }
    if state == "compiled":
        kept = _artifact(built, store)
        if kept is None:
            values.update(state="failed", state_reason="the build's artifact arrived damaged")
        else:
            values.update(kept)
    package = values["state"] == "compiled" and executable.package == "image"
    if package:
        values.update(state="compiling", state_reason=PACKAGING)
    else:
        values["finished_at"] = utcnow()
    moved = session.execute(
        update(Executable)
        .where(Executable.id == executable.id, Executable.state.in_(UNSETTLED))
        .where(Executable.state_reason.is_distinct_from(PACKAGING))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 0) != 1:
        return None
    return Settled(str(values["state"]), package)


def packaged(
    session: Session, executable_id: uuid.UUID, image: str | None, failure: str | None
) -> bool:
    """The image step's end: compiled with its image, or failed with the reason."""
    values: dict[str, Any] = {"finished_at": utcnow(), "updated_at": utcnow()}
    if failure is None:
        values.update(state="compiled", state_reason=None, image=image)
    else:
        values.update(state="failed", state_reason=f"the image could not be made: {failure}")
    moved = session.execute(
        update(Executable)
        .where(Executable.id == executable_id, Executable.state == "compiling")
        .where(Executable.state_reason == PACKAGING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return getattr(moved, "rowcount", 0) == 1


def started(session: Session, executable_id: uuid.UUID) -> None:
    """The build's run was placed: its executable is compiling."""
    session.execute(
        update(Executable)
        .where(Executable.id == executable_id, Executable.state == "not_compiled")
        .values(state="compiling", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def build_of(session: Session, run: Run) -> uuid.UUID | None:
    """The executable a run builds, or None for every other run (its deployment is most
    often in the session already)."""
    if run.deployment_id is None:
        return None
    deployment = session.get(Deployment, run.deployment_id)
    marked = deployment.specification.get(BUILD_OF) if deployment is not None else None
    return uuid.UUID(str(marked)) if marked else None


def unsettled_with_ended_runs(
    session: Session, idle: datetime, limit: int = 100
) -> list[uuid.UUID]:
    """Executables still compiling whose build run has ended (the reconcile loop's share);
    one whose image is being made only once it has been quiet since `idle`."""
    rows = session.execute(
        select(Executable.id)
        .join(Run, Run.deployment_id == Executable.deployment_id)
        .where(Executable.state.in_(UNSETTLED), Run.state.in_(RUN_TERMINAL))
        .where(
            or_(Executable.state_reason.is_distinct_from(PACKAGING), Executable.updated_at < idle)
        )
        .limit(limit)
    )
    return list(rows.scalars())
