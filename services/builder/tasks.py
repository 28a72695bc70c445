"""builder.build: turn an inspection's environment into what its runs need, then queue them."""

from __future__ import annotations

import logging
import socket
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from services import worker
from services.builder import image, lease, native
from services.builder import package as _package  # noqa: F401  (builder.executable)
from shared.celery_app import celery_app, send
from shared.config import get_settings
from shared.db.models import Build, Inspection, Run, utcnow
from shared.lifecycle import cas_build, refresh_parent
from shared.specs import InspectionSpec
from shared.store import StreamingLog, build_log_key

log = logging.getLogger(__name__)
app = celery_app()


def _claim(build_id: uuid.UUID) -> tuple[InspectionSpec, Build] | None:
    """Take the build if nobody holds it (or its holder went quiet); mark its runs building."""
    settings = get_settings()
    with worker.transaction() as session:
        build = session.get(Build, build_id)
        if build is None:
            return None
        stale = utcnow() - timedelta(seconds=settings.build_timeout_s)
        taken = cas_build(session, build_id, ["pending"], "building", started_at=utcnow())
        if not taken and build.state == "building" and build.updated_at < stale:
            taken = cas_build(session, build_id, ["building"], "building", started_at=utcnow())
        if not taken:
            return None
        inspection = session.execute(
            select(Inspection).where(Inspection.build_id == build_id)
        ).scalar_one()
        session.execute(
            update(Run)
            .where(Run.inspection_id == inspection.id, Run.state == "pending")
            .values(state="building", updated_at=utcnow())
        )
        refresh_parent(session, inspection_id=inspection.id)
        return InspectionSpec.model_validate(inspection.specification), build


def _finish(
    build_id: uuid.UUID, ok: bool, reason: str | None, artifact: str | None, cached: bool
) -> list[str]:
    """Record the outcome; on success the runs are queued and their ids returned."""
    with worker.transaction() as session:
        if not cas_build(
            session,
            build_id,
            ["building"],
            "succeeded" if ok else "failed",
            state_reason=reason,
            artifact=artifact,
            cached=cached,
            finished_at=utcnow(),
        ):
            return []
        inspection = session.execute(
            select(Inspection).where(Inspection.build_id == build_id)
        ).scalar_one()
        values = (
            {"state": "queued"}
            if ok
            else {
                "state": "failed",
                "state_reason": f"build failed: {reason}",
                "finished_at": utcnow(),
            }
        )
        queued = (
            session.execute(
                update(Run)
                .where(Run.inspection_id == inspection.id, Run.state == "building")
                .values(updated_at=utcnow(), **values)
                .returning(Run.id)
            )
            .scalars()
            .all()
        )
        refresh_parent(session, inspection_id=inspection.id)
        return [str(run_id) for run_id in queued] if ok else []


@app.task(name="builder.build")
def build(build_id: str) -> None:
    """Idempotent: a build already taken or finished is left alone."""
    settings = get_settings()
    claimed = _claim(uuid.UUID(build_id))
    if claimed is None:
        return
    spec, row = claimed
    sink = StreamingLog(worker.store(), build_log_key(build_id))
    ok, reason, artifact, cached = True, None, None, False
    try:
        sink.write(f"build {build_id}: environment {row.spec_hash[:12]}, runtime {row.runtime}\n")
        if row.runtime == "native":
            native.check_packages(spec.packages, socket.gethostname(), sink.write)
            result = native.build_venv(
                spec,
                row.spec_hash,
                settings.local_venv_dir,
                timeout_s=settings.build_timeout_s,
                index_url=settings.pip_index_url,
                log=sink.write,
            )
            artifact = str(result.venv) if result.venv else None
            cached = result.cached
        else:
            built = image.build_image(
                spec, row.spec_hash, settings, lease=lease.held, log=sink.write
            )
            artifact, cached = built.reference, built.cached
        sink.write("build succeeded\n")
    except (native.BuildFailed, lease.LeaseTimeout) as error:
        ok, reason = False, str(error)
        sink.write(f"build failed: {reason}\n")
    except Exception as error:  # an unexpected failure still ends the build with its reason
        log.exception("build %s failed", build_id)
        ok, reason = False, f"internal error: {type(error).__name__}: {error}"
        sink.write(f"build failed: {reason}\n")
    finally:
        sink.flush()
    for run_id in _finish(uuid.UUID(build_id), ok, reason, artifact, cached):
        send("deployer.place", run_id)
